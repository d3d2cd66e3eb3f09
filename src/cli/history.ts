// cairn history: the settings history's changes, newest first.
import { history as readHistory } from "../app/history.ts";
import { settingsFrom, type GlobalFlags } from "./flags.ts";
import { printJson } from "./output.ts";
import { cancelSignal } from "./signals.ts";

const CHANGE = { added: "added", deleted: "removed", modified: "changed" } as const;

export async function history(flags: GlobalFlags & { source?: string }): Promise<void> {
  const r = await readHistory(await settingsFrom(flags), { source: flags.source, signal: cancelSignal });
  const changes = r.changes.map((c) => ({ time: c.time, host: c.host, snapshot: c.snapshot, commit: c.commit, files: c.files.map((f) => ({ path: f.path, change: CHANGE[f.status], added: f.added, removed: f.removed })) }));
  if (flags.json) {
    printJson(changes);
    return;
  }
  if (changes.length === 0) {
    process.stdout.write(`no settings changes recorded${flags.source ? ` for source ${flags.source}` : ""} on ${r.branch} of ${r.repository}\n`);
    return;
  }
  for (const c of changes) {
    process.stdout.write(`${c.time}  ${c.host}  snapshot ${c.snapshot.slice(0, 8)}  commit ${c.commit.slice(0, 12)}\n`);
    for (const f of c.files) process.stdout.write(`  ${f.change.padEnd(8)}${f.path} (+${f.added} -${f.removed})\n`);
  }
}
