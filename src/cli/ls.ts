// cairn ls: a snapshot's files.
import { ls as runLs } from "../app/ls.ts";
import { settingsFrom, type GlobalFlags } from "./flags.ts";
import { formatBytes, printJson } from "./output.ts";
import { cancelSignal } from "./signals.ts";

export async function ls(snapshot: string, path: string | undefined, flags: GlobalFlags & { source?: string }): Promise<void> {
  const r = await runLs(await settingsFrom(flags), { snapshot, path, source: flags.source, signal: cancelSignal });
  if (flags.json) {
    printJson(r);
    return;
  }
  const rows = r.files.map((f) => [modeText(f.mode), formatBytes(f.size), f.mtime.replace("T", " ").replace(/\.\d+Z$/, "Z"), f.path]);
  const widths = [10, Math.max(0, ...rows.map((x) => x[1].length)), 20];
  process.stdout.write(`snapshot ${r.snapshot.slice(0, 8)} of ${r.time}: ${r.files.length} file(s)\n`);
  for (const x of rows) process.stdout.write(`${x[0]}  ${x[1].padStart(widths[1])}  ${x[2]}  ${x[3]}\n`);
}

/** "-rw-r--r--" */
function modeText(mode: number): string {
  const bits = "rwxrwxrwx";
  return "-" + [...bits].map((c, i) => (mode & (1 << (8 - i)) ? c : "-")).join("");
}
