// cairn snapshots: list them.
import { snapshots as listSnapshots } from "../app/snapshots.ts";
import { settingsFrom, type GlobalFlags } from "./flags.ts";
import { formatBytes, printJson, say } from "./output.ts";
import { cancelSignal } from "./signals.ts";

export async function snapshots(flags: GlobalFlags): Promise<void> {
  const { recipients, snapshots: all, problems } = await listSnapshots(await settingsFrom(flags), { signal: cancelSignal });
  for (const p of problems) say("warning", p);
  if (flags.json) {
    printJson(all.map(({ id, snapshot: s, future, expires }) => ({ id, seq: s.seq ?? null, parent: s.parent ?? null, time: s.time, future, host: s.host, full: s.full, incomplete: s.incomplete ?? [], sources: s.sources, stats: s.stats, expires: expires?.toISOString() ?? null })));
    return;
  }
  process.stderr.write(`recipients: ${recipients.join(", ")}\n`);
  if (all.length === 0) {
    process.stdout.write("no snapshots\n");
    return;
  }
  // Only where files expire (artifacts:) is there an expiry to show.
  const expiring = all.some((x) => x.expires);
  const rows = [["ID", "Time", "Host", "Type", "Sources", "Size", "Stored", ...(expiring ? ["Expires"] : [])]];
  for (const { id, snapshot: s, future, expires } of all) {
    rows.push([
      id.slice(0, 8),
      timeText(s.time) + (future ? " (in the future)" : ""),
      s.host,
      (s.full ? "full" : "incremental") + (s.incomplete?.length ? ", incomplete" : ""),
      s.sources.map((x) => x.name).join(","),
      formatBytes(s.stats.bytes),
      formatBytes(s.stats.storedBytes),
      ...(expiring ? [expires ? timeText(expires.toISOString()) : "never"] : []),
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  process.stdout.write(rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd()).join("\n") + "\n");
  for (const { id, snapshot: s } of all) {
    const unread = s.incomplete ?? [];
    for (const u of unread.slice(0, 5)) process.stdout.write(`${id.slice(0, 8)} is incomplete: ${u.source}: ${u.path}: ${u.reason}\n`);
    if (unread.length > 5) process.stdout.write(`${id.slice(0, 8)} is incomplete: and ${unread.length - 5} more (--json lists them all)\n`);
  }
}

const timeText = (iso: string) => iso.replace("T", " ").replace(/\.\d+Z$/, "Z");
