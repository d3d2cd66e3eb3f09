// cairn snapshots: list them.
import { snapshots as listSnapshots } from "../app/snapshots.ts";
import { settingsFrom, type GlobalFlags } from "./flags.ts";
import { formatBytes, printJson } from "./output.ts";
import { cancelSignal } from "./signals.ts";

export async function snapshots(flags: GlobalFlags): Promise<void> {
  const all = await listSnapshots(await settingsFrom(flags), { signal: cancelSignal });
  if (flags.json) {
    printJson(all.map(({ id, snapshot: s }) => ({ id, time: s.time, host: s.host, full: s.full, sources: s.sources, stats: s.stats })));
    return;
  }
  if (all.length === 0) {
    process.stdout.write("no snapshots\n");
    return;
  }
  const rows = [["ID", "Time", "Host", "Type", "Sources", "Size", "Stored"]];
  for (const { id, snapshot: s } of all) {
    rows.push([
      id.slice(0, 8),
      s.time.replace("T", " ").replace(/\.\d+Z$/, "Z"),
      s.host,
      s.full ? "full" : "incremental",
      s.sources.map((x) => x.name).join(","),
      formatBytes(s.stats.bytes),
      formatBytes(s.stats.storedBytes),
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  process.stdout.write(rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd()).join("\n") + "\n");
}
