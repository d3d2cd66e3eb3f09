// cairn backup: read the config's sources and store a snapshot.
import { incompleteError, backup as runBackup } from "../app/backup.ts";
import { settingsFrom, type GlobalFlags } from "./flags.ts";
import { formatBytes, printJson, progressBar, showProgress, stderrLogger } from "./output.ts";

export async function backup(flags: GlobalFlags & { full?: boolean }): Promise<void> {
  const settings = await settingsFrom(flags);
  const bar = progressBar(showProgress(flags.json), "{source} {value} read, {fresh} new", 0, { source: "backing up", fresh: "0 B" });
  try {
    const report = await runBackup(settings, {
      full: flags.full,
      log: stderrLogger,
      onProgress: (p) => bar.update(p.bytes, { source: p.source, fresh: formatBytes(p.newBytes) }),
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
    const ratio = s.storedBytes > 0 ? (s.bytes / s.storedBytes).toFixed(1) : "∞";
    process.stdout.write(
      `snapshot ${id.slice(0, 8)} of ${snapshot.host} saved${snapshot.full ? " (full)" : ""}${unread.length ? `, incomplete (${unread.length} not read)` : ""}\n` +
        snapshot.sources.map((src) => `  ${src.name} (${src.kind}): ${src.files} file(s), ${formatBytes(src.size)}\n`).join("") +
        `  read ${formatBytes(s.bytes)}, new ${formatBytes(s.newBytes)} in ${s.newChunks} of ${s.chunks} chunks, ` +
        `stored ${formatBytes(s.storedBytes)} (${ratio}x smaller), ${(s.durationMs / 1000).toFixed(1)} s\n`,
    );
    const incomplete = incompleteError(report);
    if (incomplete) throw incomplete;
  } finally {
    bar.stop();
  }
}
