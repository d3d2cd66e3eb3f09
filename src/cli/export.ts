// cairn export: a snapshot as one .tar.zst.age file.
import { exportSnapshot } from "../engine/export.ts";
import { findSnapshot } from "../engine/snapshot/snapshot.ts";
import { printJson } from "./output.ts";
import { openRepository, readConfig, type GlobalOptions } from "./settings.ts";

export async function exportCmd(snapshot: string, opts: GlobalOptions & { output: string; source?: string }): Promise<void> {
  const repo = await openRepository(opts, "identity", await readConfig(opts, false));
  const ref = await findSnapshot(repo, snapshot);
  await exportSnapshot(repo, ref, opts.output, opts.source);
  if (opts.json) printJson({ snapshot: ref.id, output: opts.output });
  else process.stdout.write(`exported snapshot ${ref.id.slice(0, 8)} to ${opts.output} (open it with: age -d -i KEY ${opts.output} | zstd -d | tar x)\n`);
}
