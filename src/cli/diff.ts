// cairn diff: files added, removed and changed between two snapshots; with
// the identity, the redacted text diff of each changed settings file.
import { diff as runDiff } from "../app/diff.ts";
import { settingsFrom, type GlobalFlags } from "./flags.ts";
import { printJson } from "./output.ts";
import { cancelSignal } from "./signals.ts";

export async function diff(from: string, to: string, flags: GlobalFlags & { source?: string }): Promise<void> {
  const r = await runDiff(await settingsFrom(flags), { from, to, source: flags.source, signal: cancelSignal });
  if (flags.json) {
    printJson({ from: r.from, to: r.to, files: r.files.map((f) => ({ source: f.source, path: f.path, change: f.change, diff: f.diff ?? null })) });
    return;
  }
  const head = `snapshot ${r.from.slice(0, 8)} to ${r.to.slice(0, 8)}: `;
  if (r.files.length === 0) {
    process.stdout.write(`${head}no files differ\n`);
    return;
  }
  process.stdout.write(`${head}${r.files.length === 1 ? "1 file differs" : `${r.files.length} files differ`}\n`);
  for (const f of r.files) process.stdout.write(`  ${f.change.padEnd(8)}${f.path}\n`);
  const texts = r.files.filter((f) => f.diff);
  if (texts.length > 0) process.stdout.write("\n" + texts.map((f) => f.diff).join(""));
  if (!r.text) process.stdout.write("(give the identity, -i FILE, for the redacted text diff of settings files)\n");
  if (r.unsure > 0) process.stdout.write(`(${r.unsure === 1 ? "1 of them is" : `${r.unsure} of them are`} salted and the same size, so the write key cannot tell whether it changed; with -i FILE cairn compares the content)\n`);
}
