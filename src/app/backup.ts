// Backup: the config's sources, read over the transport, into a new snapshot.
import { backup as runBackup, type BackupProgress } from "../engine/backup.ts";
import { snapshotExpiries } from "../engine/snapshot/expiry.ts";
import type { NewSnapshot } from "../engine/snapshot/snapshot.ts";
import { CairnError, errorMessage, IncompleteSnapshotError, PartialBackupError, UsageError, type ExitCode } from "../errors.ts";
import type { Logger } from "../log.ts";
import { createSources } from "../sources/open.ts";
import { createTransport } from "../transport/open.ts";
import { historySources, recordHistory, SettingsCapture, type HistoryOutcome } from "./history.ts";
import { openRepository } from "./repository.ts";
import { requireConfig, requireRepository, type Settings } from "./settings.ts";

export interface BackupRequest {
  /** Store every chunk afresh: a snapshot that depends on no earlier pack. */
  full?: boolean;
  /** The snapshot's time instead of now (restic's --time). */
  time?: Date;
  log: Logger;
  onProgress?: (p: BackupProgress) => void;
  /** Cancels the backup: it stops, removes its packs and lock, and rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface BackupReport {
  repository: string;
  id: string;
  snapshot: NewSnapshot;
  /** New data by source name (bytes the repository did not have). */
  newBytes: Record<string, number>;
  /**
   * The settings history (cairn.yml's history:): what this backup recorded.
   * Absent when cairn.yml has no history:, or when the history could not be
   * recorded (then `historyError` says why).
   */
  history?: HistoryOutcome;
  /**
   * The settings history failed after the snapshot was saved (a refused push
   * or pull request): the front end shows the report, then ends with this.
   */
  historyError?: CairnError;
  /** When the first file the snapshot needs expires; null where files do not expire. */
  expires: Date | null;
}

/** Files named in the error; the snapshot keeps them all. */
const SHOWN = 20;

/**
 * The error a front end ends with when the snapshot was saved but some files
 * could not be read (exit 4), after it has shown the report; undefined when
 * the snapshot is complete.
 */
export function incompleteError(report: BackupReport): IncompleteSnapshotError | undefined {
  const unread = report.snapshot.incomplete ?? [];
  if (unread.length === 0) return undefined;
  return new IncompleteSnapshotError(
    `snapshot ${report.id.slice(0, 8)} was saved, but it is incomplete: ${unread.length === 1 ? "1 file" : `${unread.length} files`} could not be read:\n` +
      unread
        .slice(0, SHOWN)
        .map((u) => `  ${u.source}: ${u.path}: ${u.reason}`)
        .join("\n") + (unread.length > SHOWN ? `\n  and ${unread.length - SHOWN} more (\`cairn snapshots --json\` lists them all)` : ""),
    "everything else is in the snapshot; give the backup user read access, correct the paths in cairn.yml or leave those files out, then run the backup again",
  );
}

/**
 * The error a front end ends with after showing the report: the settings
 * history's failure, else the incomplete snapshot's; undefined when all went well.
 */
export function backupError(report: BackupReport): CairnError | undefined {
  const incomplete = incompleteError(report);
  if (!report.historyError) return incomplete;
  if (!incomplete) return report.historyError;
  const e = report.historyError;
  return new CairnError(`${e.message}\n${incomplete.message}`, e.exitCode, e.hint, { cause: e });
}

/**
 * A snapshot time as restic's --time takes it, "2026-01-31 02:00:00" (or
 * without seconds) in the local time zone, or ISO 8601 with a zone
 * ("2026-01-31T02:00:00Z", "...+01:00").
 */
export function parseSnapshotTime(text: string): Date {
  const local = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?$/.exec(text.trim());
  const t = local
    ? new Date(+local[1], +local[2] - 1, +local[3], +local[4], +local[5], +(local[6] ?? 0))
    : /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(text.trim())
      ? new Date(text.trim())
      : new Date(NaN);
  if (Number.isNaN(t.getTime()) || (local && t.getMonth() !== +local[2] - 1)) {
    throw new UsageError(`--time: ${JSON.stringify(text)} is not a time`, 'give "YYYY-MM-DD HH:MM:SS" (local time) or ISO 8601 with a zone, e.g. 2026-01-31T02:00:00Z');
  }
  return t;
}

/** One repository's part of a backup into several: its snapshot, or why it failed. */
export interface RepositoryResult {
  /** The repository URL as given. */
  repository: string;
  report?: BackupReport;
  error?: { message: string; hint?: string; exitCode: ExitCode };
}

/**
 * Back up into every repository the settings name (3-2-1), one after the
 * other, each a complete snapshot of its own (the sources are read once per
 * repository: chunking and encryption keys differ between repositories).
 * One that fails does not stop the others. With one repository its failure
 * is thrown as it is; with several, see failedError().
 */
export async function backupEach(settings: Settings, req: BackupRequest): Promise<RepositoryResult[]> {
  const urls = settings.repositories.length > 0 ? settings.repositories : [requireRepository(settings)];
  if (urls.length === 1) return [{ repository: urls[0], report: await backup({ ...settings, repository: urls[0] }, req) }];
  const results: RepositoryResult[] = [];
  for (const url of urls) {
    req.signal?.throwIfAborted();
    try {
      results.push({ repository: url, report: await backup({ ...settings, repository: url, repositories: [url] }, req) });
    } catch (err) {
      if (req.signal?.aborted) throw err;
      const e = err instanceof CairnError ? err : undefined;
      results.push({ repository: url, error: { message: errorMessage(err), hint: e?.hint, exitCode: e?.exitCode ?? 1 } });
      req.log.warn(`the backup into ${url} failed: ${errorMessage(err)}; going on with the other repositories`);
    }
  }
  return results;
}

/**
 * The error a front end ends with when some repositories failed (exit 5,
 * naming each), or all did (the first failure's exit code); undefined when
 * none failed.
 */
export function failedError(results: RepositoryResult[]): CairnError | undefined {
  const failed = results.filter((r) => r.error);
  if (failed.length === 0) return undefined;
  const lines = failed.map((r) => `  ${r.repository}: ${r.error!.message}${r.error!.hint ? ` (${r.error!.hint})` : ""}`).join("\n");
  if (failed.length === results.length) {
    return new CairnError(`the backup failed in every repository:\n${lines}`, failed[0].error!.exitCode, "fix each repository's problem above and run the backup again");
  }
  const saved = results.filter((r) => r.report).map((r) => `${r.repository} (snapshot ${r.report!.id.slice(0, 8)})`);
  return new PartialBackupError(
    `the backup failed in ${failed.length} of ${results.length} repositories:\n${lines}\nsaved in ${saved.join(", ")}`,
    "the snapshot is in the other repositories; fix the failed ones and run the backup again",
  );
}

export async function backup(settings: Settings, req: BackupRequest): Promise<BackupReport> {
  const config = requireConfig(settings);
  const repo = await openRepository(settings, "write", req.signal);
  const capture = new SettingsCapture(historySources(config));
  const sources = capture.wrap(createSources(config, settings.secrets));
  req.signal?.throwIfAborted();
  const transport = await createTransport(config, settings.ssh);
  // Closing the transport stops a dump that is waiting on the server.
  const stop = () => void transport.close().catch(() => {});
  req.signal?.addEventListener("abort", stop, { once: true });
  try {
    const secret = new Set(config.sources.filter((s) => s.secret).map((s) => s.name));
    const { id, snapshot, newBytes } = await runBackup(repo, { sources, transport, full: req.full, secret, time: req.time, log: req.log, onProgress: req.onProgress, signal: req.signal });
    // The snapshot is saved: a failure to tell its expiry is a warning, not a failed backup.
    const expiries = await snapshotExpiries(repo, [id]).catch((err: unknown) => {
      req.log.warn(`snapshot ${id.slice(0, 8)} was saved, but its expiry could not be read: ${errorMessage(err)}; \`cairn snapshots\` shows it`);
      return undefined;
    });
    const expires = expiries?.get(id)?.expires ?? null;
    const report: BackupReport = { repository: repo.backend.properties.location, id, snapshot, newBytes, expires };
    if (capture.sources.length === 0) return report;
    // The snapshot is saved: nothing the history does may lose it.
    const r = await recordHistory(settings, capture, { id, snapshot, keys: repo.keys }, req);
    return { ...report, history: r.outcome, historyError: r.error };
  } finally {
    req.signal?.removeEventListener("abort", stop);
    await transport.close();
  }
}
