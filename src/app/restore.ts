// Restore: one snapshot (or one source of it) into a folder, or back onto
// the server it was read from.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SourceConfig } from "../config/config.ts";
import { checkPath, selectEntries } from "../engine/restore/paths.ts";
import { restore as runRestore, type RestoreResult } from "../engine/restore/restore.ts";
import { findSnapshot } from "../engine/snapshot/snapshot.ts";
import { UsageError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { cannotRestore, createServerRestore } from "../sources/restore/open.ts";
import { restoreAll, type RestoredSource } from "../sources/restore/restore.ts";
import { createTransport } from "../transport/open.ts";
import { openRepository } from "./repository.ts";
import { requireConfig, type Settings } from "./settings.ts";

export interface RestoreRequest {
  /** A snapshot ID, a unique prefix of one, or "latest". */
  snapshot: string;
  target: string;
  source?: string;
  /** Only files matching one of these globs ("config.json", "settings/**\/*.env"), as restic's --include. */
  include?: string[];
  /** Replace files that exist in the target (otherwise the restore is refused, naming them). */
  overwrite?: boolean;
  onProgress?: (bytes: number, total: number) => void;
  /** Cancels the restore: it stops, removes its temp files and lock. */
  signal?: AbortSignal;
}

export interface RestoreReport extends RestoreResult {
  snapshot: string;
  /** When the snapshot was taken: with its ID, what says which state was restored (a deleted newest snapshot is not visible otherwise). */
  time: string;
  target: string;
}

export async function restore(settings: Settings, req: RestoreRequest): Promise<RestoreReport> {
  const repo = await openRepository(settings, "identity", req.signal);
  const ref = await findSnapshot(repo, req.snapshot, req.source);
  const r = await runRestore(repo, ref, { target: req.target, source: req.source, include: req.include, overwrite: req.overwrite, onProgress: req.onProgress });
  return { snapshot: ref.id, time: ref.snapshot.time, target: req.target, ...r };
}

export interface ServerRestoreRequest {
  /** A snapshot ID, a unique prefix of one, or "latest". */
  snapshot: string;
  /** Only this source (else every source of the snapshot that cairn.yml can put back). */
  source?: string;
  /** Say what would happen; change nothing (nothing is decrypted either). */
  dryRun?: boolean;
  /** PostgreSQL / MySQL: restore into this database (created if missing). */
  database?: string;
  /** PostgreSQL / MySQL: replace the data of the databases that exist (each kept under a dated name). */
  replace?: boolean;
  log: Logger;
  onProgress?: (bytes: number, total: number) => void;
  signal?: AbortSignal;
}

export interface ServerRestoreReport {
  snapshot: string;
  /** The server, as the transport names it ("ssh backup@host:2222", or "local"). */
  server: string;
  dryRun: boolean;
  /** What each source's restore did (or, dry run, would do). */
  sources: RestoredSource[];
  /** Sources of the snapshot left out, and why. */
  skipped: { source: string; reason: string }[];
}

/**
 * Restore onto the server: the snapshot's sources are restored into a private
 * temporary folder here, then each is put back where cairn.yml says it lives
 * (sources/restore/). Every source is planned (and refused, if it must be)
 * before any is changed, and all are swapped in between one run of the stop
 * hooks and one of the start hooks.
 */
export async function restoreToServer(settings: Settings, req: ServerRestoreRequest): Promise<ServerRestoreReport> {
  const config = requireConfig(settings);
  // A dry run reads only the snapshot's metadata: the write key can do that.
  const repo = await openRepository(settings, req.dryRun ? "write" : "identity", req.signal);
  const ref = await findSnapshot(repo, req.snapshot);
  const entries = selectEntries(ref.snapshot, req.source);
  const skipped: ServerRestoreReport["skipped"] = [];
  const chosen: SourceConfig[] = [];
  for (const s of ref.snapshot.sources.filter((x) => req.source === undefined || x.name === req.source)) {
    const c = config.sources.find((x) => x.name === s.name);
    const why = !c
      ? "cairn.yml has no source of that name"
      : c.kind !== s.kind
        ? `it is a ${s.kind} source in the snapshot, a ${c.kind} source in cairn.yml`
        : (cannotRestore(c) ?? (entries.some((e) => e.source === s.name) ? undefined : "the snapshot holds no file of it"));
    if (why === undefined) chosen.push(c!);
    else if (req.source !== undefined) throw new UsageError(`cannot restore source ${s.name} onto the server: ${why}`, "restore it into a folder with --target instead");
    else skipped.push({ source: s.name, reason: why });
  }
  if (chosen.length === 0) throw new UsageError("no source of the snapshot can be restored onto the server", skipped.map((s) => `${s.source}: ${s.reason}`).join("; ") || undefined);
  const databases = chosen.filter((s) => s.kind === "postgres" || s.kind === "mysql");
  if (req.replace && databases.length === 0) throw new UsageError("--replace applies to PostgreSQL and MySQL sources; none is being restored");
  if (req.database !== undefined && databases.length !== 1) {
    throw new UsageError(
      `--database names where one database source goes; ${databases.length === 0 ? "none is" : `${databases.map((s) => s.name).join(", ")} are`} being restored`,
      "name the database source with --source NAME",
    );
  }

  const tmp = await mkdtemp(join(tmpdir(), "cairn-to-server-"));
  const transport = await createTransport(config, settings.ssh).catch(async (err) => {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  });
  const stop = () => void transport.close().catch(() => {});
  req.signal?.addEventListener("abort", stop, { once: true });
  try {
    const restores = chosen.map((s) => {
      const files = entries.filter((e) => e.source === s.name).map((e) => ({ path: e.path, mode: e.mode, mtime: e.mtime, uid: e.uid, gid: e.gid, size: e.size, local: join(tmp, ...checkPath(e.path)) }));
      return createServerRestore(config, s, files, settings.secrets, { database: req.database, replace: req.replace });
    });
    const plans: RestoredSource[] = [];
    for (const r of restores) plans.push(await r.plan(transport));
    if (req.dryRun) return { snapshot: ref.id, server: transport.description, dryRun: true, sources: plans, skipped };

    // The snapshot's data, decrypted and checked, into the private folder.
    let done = 0;
    const total = chosen.reduce((n, s) => n + entries.filter((e) => e.source === s.name).reduce((m, e) => m + e.size, 0), 0);
    for (const s of chosen) {
      const r = await runRestore(repo, ref, { target: tmp, source: s.name, onProgress: (b) => req.onProgress?.(done + b, total) });
      done += r.bytes;
    }
    req.signal?.throwIfAborted();
    const results = await restoreAll(transport, restores, req.log);
    for (const r of results) req.log.info(`source ${r.source}: restored onto ${transport.description}`);
    return { snapshot: ref.id, server: transport.description, dryRun: false, sources: results, skipped };
  } finally {
    req.signal?.removeEventListener("abort", stop);
    await transport.close();
    await rm(tmp, { recursive: true, force: true });
  }
}
