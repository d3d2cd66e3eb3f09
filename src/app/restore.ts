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
  /** Replace files that exist in the target (otherwise the restore is refused, naming them). */
  overwrite?: boolean;
  onProgress?: (bytes: number, total: number) => void;
  /** Cancels the restore: it stops, removes its temp files and lock. */
  signal?: AbortSignal;
}

export interface RestoreReport extends RestoreResult {
  snapshot: string;
  /** When the snapshot was taken: with its ID, what says which state was restored (a deleted newest snapshot is not visible otherwise). */
  time: string;
  target: string;
}

export async function restore(settings: Settings, req: RestoreRequest): Promise<RestoreReport> {
  const repo = await openRepository(settings, "identity", req.signal);
  const ref = await findSnapshot(repo, req.snapshot);
  const r = await runRestore(repo, ref, { target: req.target, source: req.source, overwrite: req.overwrite, onProgress: req.onProgress });
  return { snapshot: ref.id, time: ref.snapshot.time, target: req.target, ...r };
}
