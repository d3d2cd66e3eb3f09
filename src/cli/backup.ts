// cairn backup: read the config's sources and store a snapshot.
import { backupEach, failedError, incompleteError } from "../app/backup.ts";
import { settingsFrom, type GlobalFlags } from "./flags.ts";
import { formatBytes, printJson, progressBar, showProgress, stderrLogger } from "./output.ts";
import { cancelSignal } from "./signals.ts";

export async function backup(flags: GlobalFlags & { full?: boolean }): Promise<void> {
  const settings = await settingsFrom(flags);
  const bar = progressBar(showProgress(flags.json), "{source} {value} read, {fresh} new", 0, { source: "backing up", fresh: "0 B" });
  try {
    const results = await backupEach(settings, {
      full: flags.full,
      log: stderrLogger,
      onProgress: (p) => bar.update(p.bytes, { source: p.source, fresh: formatBytes(p.newBytes) }),
      signal: cancelSignal,
    });
    bar.stop();
    const saved = results.filter((r) => r.report);
    const failed = failedError(results);
    if (saved.length === 0) throw failed!;
    const several = results.length > 1;
    if (flags.json) {
      const { id, snapshot } = saved[0].report!;
      printJson({
        id,
        time: snapshot.time,
        host: snapshot.host,
        full: snapshot.full,
        incomplete: snapshot.incomplete ?? [],
        sources: snapshot.sources,
        stats: snapshot.stats,
        repositories: results.map((r) => ({ repository: r.repository, id: r.report?.id ?? null, error: r.error ? { code: r.error.exitCode, message: r.error.message, hint: r.error.hint ?? null } : null })),
      });
    } else {
      for (const r of saved) {
        const { id, snapshot } = r.report!;
        const s = snapshot.stats;
        const unread = snapshot.incomplete ?? [];
        process.stdout.write(
          `snapshot ${id.slice(0, 8)} of ${snapshot.host} saved${several ? ` in ${r.repository}` : ""}${snapshot.full ? " (full)" : ""}${unread.length ? `, incomplete (${unread.length} not read)` : ""}\n` +
            snapshot.sources.map((src) => `  ${src.name} (${src.kind}): ${src.files} file(s), ${formatBytes(src.size)}\n`).join("") +
            `  read ${formatBytes(s.bytes)}, new ${formatBytes(s.newBytes)} in ${s.newChunks} of ${s.chunks} chunks, ` +
            `${storedText(s.bytes, s.storedBytes)}, ${(s.durationMs / 1000).toFixed(1)} s\n`,
        );
      }
    }
    if (failed) throw failed;
    const incomplete = incompleteError(saved[0].report!);
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
