// Backup: the config's sources, read over the transport, into a new snapshot.
import { backup as runBackup, type BackupProgress } from "../engine/backup.ts";
import { snapshotExpiries } from "../engine/snapshot/expiry.ts";
import type { NewSnapshot } from "../engine/snapshot/snapshot.ts";
import { errorMessage, IncompleteSnapshotError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { createSources } from "../sources/open.ts";
import { createTransport } from "../transport/open.ts";
import { openRepository } from "./repository.ts";
import { requireConfig, type Settings } from "./settings.ts";

export interface BackupRequest {
  /** Store every chunk afresh: a snapshot that depends on no earlier pack. */
  full?: boolean;
  log: Logger;
  onProgress?: (p: BackupProgress) => void;
  /** Cancels the backup: it stops, removes its packs and lock, and rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface BackupReport {
  repository: string;
  id: string;
  snapshot: NewSnapshot;
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

export async function backup(settings: Settings, req: BackupRequest): Promise<BackupReport> {
  const config = requireConfig(settings);
  const repo = await openRepository(settings, "write", req.signal);
  const sources = createSources(config, settings.secrets);
  req.signal?.throwIfAborted();
  const transport = await createTransport(config, settings.ssh);
  // Closing the transport stops a dump that is waiting on the server.
  const stop = () => void transport.close().catch(() => {});
  req.signal?.addEventListener("abort", stop, { once: true });
  try {
    const { id, snapshot } = await runBackup(repo, { sources, transport, full: req.full, log: req.log, onProgress: req.onProgress, signal: req.signal });
    // The snapshot is saved: a failure to tell its expiry is a warning, not a failed backup.
    const expiries = await snapshotExpiries(repo, [id]).catch((err: unknown) => {
      req.log.warn(`snapshot ${id.slice(0, 8)} was saved, but its expiry could not be read: ${errorMessage(err)}; \`cairn snapshots\` shows it`);
      return undefined;
    });
    const expires = expiries?.get(id)?.expires ?? null;
    return { repository: repo.backend.properties.location, id, snapshot, expires };
  } finally {
    req.signal?.removeEventListener("abort", stop);
    await transport.close();
  }
}
