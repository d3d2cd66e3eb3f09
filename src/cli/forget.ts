// cairn forget and cairn prune: the retention policy, and the data it frees.
import { forget as runForget, prune as runPrune, type ForgetReport, type KeepFlags } from "../app/forget.ts";
import { settingsFrom, type GlobalFlags } from "./flags.ts";
import { formatBytes, printJson } from "./output.ts";
import { cancelSignal } from "./signals.ts";

type PruneResult = NonNullable<ForgetReport["prune"]>;

export async function forget(flags: GlobalFlags & KeepFlags & { dryRun?: boolean; prune?: boolean }): Promise<void> {
  const r = await runForget(await settingsFrom(flags), { ...flags, signal: cancelSignal });
  if (flags.json) {
    printJson({
      repository: r.repository,
      policy: r.policy,
      dryRun: r.dryRun,
      groups: r.groups.map((g) => ({
        host: g.host,
        sources: g.sources,
        snapshots: g.snapshots.map((s) => ({ id: s.id, time: s.ref.snapshot.time, action: s.keep ? "keep" : "remove", reasons: s.reasons })),
      })),
      removed: r.removed,
      ...(r.prune ? { prune: r.prune } : {}),
    });
    return;
  }
  const out: string[] = [`${r.policy}${r.dryRun ? " (dry run: nothing is removed)" : ""}`];
  for (const g of r.groups) {
    const kept = g.snapshots.filter((s) => s.keep).length;
    out.push("", `${g.host}, sources ${g.sources.join(",")}: keep ${kept}, ${r.dryRun ? "would remove" : "remove"} ${g.snapshots.length - kept}`);
    for (const s of g.snapshots) out.push(`  ${s.keep ? "keep  " : "remove"}  ${s.id.slice(0, 8)}  ${localTime(s.time)}  ${s.reasons.join(", ")}`.trimEnd());
  }
  out.push("", `${r.removed.length} snapshot(s) ${r.dryRun ? "would be " : ""}removed`);
  if (r.prune) out.push(pruneText(r.prune, r.dryRun));
  else if (r.removed.length > 0 && !r.dryRun) out.push("their data stays until `cairn prune` (or forget --prune)");
  process.stdout.write(out.join("\n") + "\n");
}

export async function prune(flags: GlobalFlags & { dryRun?: boolean }): Promise<void> {
  const r = await runPrune(await settingsFrom(flags), { dryRun: flags.dryRun, signal: cancelSignal });
  if (flags.json) printJson(r);
  else process.stdout.write(pruneText(r, r.dryRun) + "\n");
}

function pruneText(p: PruneResult, dryRun: boolean): string {
  const would = dryRun ? "would remove" : "removed";
  return (
    `prune: ${p.snapshots} snapshot(s) need ${p.packsKept} pack(s), ${formatBytes(p.bytesKept)}; ` +
    `${would} ${p.packsRemoved} pack(s)${p.unindexed ? ` (${p.unindexed} left in no index by an interrupted backup)` : ""}, ${p.listsRemoved} list file(s); ` +
    (p.repacked ? `${dryRun ? "would repack" : "repacked"} ${p.repacked} mostly unused pack(s), ${dryRun ? "writing" : "wrote"} ${p.rewritten} snapshot(s) anew (new IDs); ` : "") +
    `${dryRun ? "would free" : "freed"} ${formatBytes(Math.max(0, p.bytesFreed))}` +
    p.notes.map((n) => `\nnote: ${n}`).join("")
  );
}

/** "2026-01-31 02:00:00" in the local time zone: the zone the calendar buckets use. */
export function localTime(t: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${t.getFullYear()}-${p(t.getMonth() + 1)}-${p(t.getDate())} ${p(t.getHours())}:${p(t.getMinutes())}:${p(t.getSeconds())}`;
}
