// cairn export: a snapshot as one .tar.zst.age file.
import { exportSnapshot } from "../app/export.ts";
import { settingsFrom, type GlobalFlags } from "./flags.ts";
import { printJson } from "./output.ts";
import { cancelSignal } from "./signals.ts";

export async function exportCmd(snapshot: string, flags: GlobalFlags & { output: string; source?: string; force?: boolean; owners?: boolean }): Promise<void> {
  const r = await exportSnapshot(await settingsFrom(flags), { snapshot, output: flags.output, source: flags.source, force: flags.force, owners: flags.owners, signal: cancelSignal });
  if (flags.json) printJson(r);
  else process.stdout.write(`exported snapshot ${r.snapshot.slice(0, 8)} to ${r.output} (open it with: age -d -i KEY ${r.output} | zstd -d | tar x)\n`);
}
