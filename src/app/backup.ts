// Backup: the config's sources, read over the transport, into a new snapshot.
import { backup as runBackup, type BackupProgress } from "../engine/backup.ts";
import type { NewSnapshot } from "../engine/snapshot/snapshot.ts";
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
    return { repository: repo.backend.properties.location, id, snapshot };
  } finally {
    req.signal?.removeEventListener("abort", stop);
    await transport.close();
  }
}
