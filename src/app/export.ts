// Export: one snapshot as a single .tar.zst.age file.
import { exportSnapshot as runExport } from "../engine/export.ts";
import { findSnapshot } from "../engine/snapshot/snapshot.ts";
import { openRepository } from "./repository.ts";
import type { Settings } from "./settings.ts";

export interface ExportRequest {
  snapshot: string;
  output: string;
  source?: string;
}

export async function exportSnapshot(settings: Settings, req: ExportRequest): Promise<{ snapshot: string; output: string }> {
  const repo = await openRepository(settings, "identity");
  const ref = await findSnapshot(repo, req.snapshot);
  await runExport(repo, ref, req.output, req.source);
  return { snapshot: ref.id, output: req.output };
}
