// Export: one snapshot as a single .tar.zst.age file.
import { exportSnapshot as runExport } from "../engine/export.ts";
import { findSnapshot } from "../engine/snapshot/snapshot.ts";
import { openRepository } from "./repository.ts";
import type { Settings } from "./settings.ts";

export interface ExportRequest {
  snapshot: string;
  output: string;
  source?: string;
  /** Replace an existing output file (otherwise it is refused). */
  force?: boolean;
  /** Keep the snapshot's uid and gid in the tar (otherwise 0 and 0). */
  owners?: boolean;
  /** Cancels the export: it stops, removes its temp file and lock. */
  signal?: AbortSignal;
}

export async function exportSnapshot(settings: Settings, req: ExportRequest): Promise<{ snapshot: string; output: string }> {
  const repo = await openRepository(settings, "identity", req.signal);
  const ref = await findSnapshot(repo, req.snapshot, req.source);
  await runExport(repo, ref, { output: req.output, source: req.source, force: req.force, owners: req.owners });
  return { snapshot: ref.id, output: req.output };
}
