// cairn backup: read the config's sources and store a snapshot.
import { incompleteError, backup as runBackup } from "../app/backup.ts";
import { settingsFrom, type GlobalFlags } from "./flags.ts";
import { formatBytes, printJson, progressBar, showProgress, stderrLogger } from "./output.ts";
import { cancelSignal } from "./signals.ts";

export async function backup(flags: GlobalFlags & { full?: boolean }): Promise<void> {
  const settings = await settingsFrom(flags);
  const bar = progressBar(showProgress(flags.json), "{source} {value} read, {fresh} new", 0, { source: "backing up", fresh: "0 B" });
  try {
    const report = await runBackup(settings, {
      full: flags.full,
      log: stderrLogger,
      onProgress: (p) => bar.update(p.bytes, { source: p.source, fresh: formatBytes(p.newBytes) }),
      signal: cancelSignal,
    });
    bar.stop();
    const { id, snapshot } = report;
    const s = snapshot.stats;
    const unread = snapshot.incomplete ?? [];
    if (flags.json) {
      printJson({ id, time: snapshot.time, host: snapshot.host, full: snapshot.full, incomplete: unread, sources: snapshot.sources, stats: s });
      const incomplete = incompleteError(report);
      if (incomplete) throw incomplete;
      return;
    }
    process.stdout.write(
      `snapshot ${id} (number ${snapshot.seq}) of ${snapshot.host} saved${snapshot.full ? " (full)" : ""}${unread.length ? `, incomplete (${unread.length} not read)` : ""}\n` +
        snapshot.sources.map((src) => `  ${src.name} (${src.kind}): ${src.files} file(s), ${formatBytes(src.size)}\n`).join("") +
        `  read ${formatBytes(s.bytes)}, new ${formatBytes(s.newBytes)} in ${s.newChunks} of ${s.chunks} chunks, ` +
        `${storedText(s.bytes, s.storedBytes)}, ${(s.durationMs / 1000).toFixed(1)} s\n`,
    );
    const incomplete = incompleteError(report);
    if (incomplete) throw incomplete;
  } finally {
    bar.stop();
  }
}

/** "stored 1.2 MiB (4.1% of the data read)"; "stored nothing new" when every chunk was there already. */
export function storedText(read: number, stored: number): string {
  if (stored === 0) return "stored nothing new";
  if (read === 0) return `stored ${formatBytes(stored)}`;
  const pct = (100 * stored) / read;
  return `stored ${formatBytes(stored)} (${pct < 10 ? pct.toFixed(1) : pct.toFixed(0)}% of the data read)`;
}
