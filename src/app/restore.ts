// Restore: one snapshot (or one source of it) into a folder.
import { restore as runRestore, type RestoreResult } from "../engine/restore/restore.ts";
import { findSnapshot } from "../engine/snapshot/snapshot.ts";
import { openRepository } from "./repository.ts";
import type { Settings } from "./settings.ts";

export interface RestoreRequest {
  /** A snapshot ID, a unique prefix of one, or "latest". */
  snapshot: string;
  target: string;
  source?: string;
  onProgress?: (bytes: number, total: number) => void;
}

export interface RestoreReport extends RestoreResult {
  snapshot: string;
  target: string;
}

export async function restore(settings: Settings, req: RestoreRequest): Promise<RestoreReport> {
  const repo = await openRepository(settings, "identity");
  const ref = await findSnapshot(repo, req.snapshot);
  const r = await runRestore(repo, ref, { target: req.target, source: req.source, onProgress: req.onProgress });
  return { snapshot: ref.id, target: req.target, ...r };
}
