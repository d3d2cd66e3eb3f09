// cairn backup: read the config's sources and store a snapshot.
import { backupEach, backupError, failedError, parseSnapshotTime, type BackupReport } from "../app/backup.ts";
import { settingsFrom, type GlobalFlags } from "./flags.ts";
import { formatBytes, printJson, progressBar, showProgress, stderrLogger } from "./output.ts";
import { cancelSignal } from "./signals.ts";

export async function backup(flags: GlobalFlags & { full?: boolean; time?: string }): Promise<void> {
  const time = flags.time === undefined ? undefined : parseSnapshotTime(flags.time);
  const settings = await settingsFrom(flags);
  const bar = progressBar(showProgress(flags.json), "{source} {value} read, {fresh} new", 0, { source: "backing up", fresh: "0 B" });
  try {
    const results = await backupEach(settings, {
      full: flags.full,
      time,
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
        expires: saved[0].report!.expires?.toISOString() ?? null,
        history: historyJson(saved[0].report!),
        repositories: results.map((r) => ({ repository: r.repository, id: r.report?.id ?? null, error: r.error ? { code: r.error.exitCode, message: r.error.message, hint: r.error.hint ?? null } : null })),
      });
    } else {
      for (const r of saved) {
        const { id, snapshot } = r.report!;
        const s = snapshot.stats;
        const unread = snapshot.incomplete ?? [];
        process.stdout.write(
          `snapshot ${id} (number ${snapshot.seq}) of ${snapshot.host} saved${several ? ` in ${r.repository}` : ""}${snapshot.full ? " (full)" : ""}${unread.length ? `, incomplete (${unread.length} not read)` : ""}\n` +
            snapshot.sources.map((src) => `  ${src.name} (${src.kind}): ${src.files} file(s), ${formatBytes(src.size)}\n`).join("") +
            `  read ${formatBytes(s.bytes)}, new ${formatBytes(s.newBytes)} in ${s.newChunks} of ${s.chunks} chunks, ` +
            `${storedText(s.bytes, s.storedBytes)}, ${(s.durationMs / 1000).toFixed(1)} s\n` +
            (r.report!.expires ? `  expires ${r.report!.expires.toISOString().replace(/\.\d+Z$/, "Z")} (when the first file it needs expires)\n` : "") +
            historyText(r.report!),
        );
      }
    }
    if (failed) throw failed;
    // The settings history's failure, else the incomplete snapshot's.
    const after = backupError(saved[0].report!);
    if (after) throw after;
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

/** The backup's `history` in --json: null without history: in cairn.yml (or when it could not be recorded); every key always present. */
function historyJson(r: BackupReport): object | null {
  const h = r.history;
  return h ? { changed: h.changed, files: h.files, commit: h.commit ?? null, pullRequest: h.pullRequest ?? null } : null;
}

/** What the settings history did, for people: "" without history: in cairn.yml. */
export function historyText(r: BackupReport): string {
  const h = r.history;
  if (!h) return r.historyError ? "  settings history: not recorded (see below)\n" : "";
  if (!h.changed) return "  settings history: no settings changed\n";
  const n = h.files.length;
  return (
    `  settings history: ${n === 1 ? "1 file" : `${n} files`} changed, commit ${h.commit!.slice(0, 12)}\n` +
    h.files.map((f) => `    ${f.change.padEnd(8)}${f.path}\n`).join("") +
    (h.pullRequest ? `  pull request: ${h.pullRequest}\n` : "")
  );
}
