// Restore: snapshot -> entries -> chunks (from packs) -> files. Every chunk is
// decrypted, decompressed and checked against its keyed ID before a byte of
// it is written; a file is written to a temp name and renamed only when
// complete. Paths come from storage and are checked first (paths.ts).
import { randomBytes } from "node:crypto";
import { chmod, lstat, mkdir, open, rename, rm, utimes, type FileHandle } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { CairnError, ExitCode, fromSystemError, IntegrityError, UsageError } from "../../errors.ts";
import { Index } from "../repository/chunk-index.ts";
import { withLock } from "../repository/lock.ts";
import { ChunkReader, type Located } from "../repository/reader.ts";
import type { Repository } from "../repository/repository.ts";
import { SALT, type Snapshot, type SnapshotEntry } from "../snapshot/snapshot.ts";
import { Workers } from "../tasks.ts";
import { Pipeline } from "../workers/pipeline.ts";
import { checkPath, FOLDER_MODE, makeParents, selectEntries } from "./paths.ts";
import { loadSpan, spans } from "./plan.ts";

/** Bytes written between background flushes of a large restored file. */
const SYNC_EVERY = 64 * 1024 * 1024;
/** Files restored at once (each holds an open file). */
const FILES_AT_ONCE = 256;

export interface RestoreOptions {
  target: string;
  source?: string;
  /** Only the files matching one of these globs (as restic's --include; see ../snapshot/match.ts). */
  include?: string[];
  /** Replace files that already exist in the target; without it the restore is refused before anything is written, naming them. */
  overwrite?: boolean;
  onProgress?: (bytes: number, total: number) => void;
}

export interface RestoreResult {
  files: number;
  bytes: number;
}

export async function restore(repo: Repository, ref: { id: string; snapshot: Snapshot }, opts: RestoreOptions): Promise<RestoreResult> {
  return withLock(repo, false, async () => {
    const entries = selectEntries(ref.snapshot, opts.source, opts.include);
    const reader = new ChunkReader(repo, await Index.load(repo), new Set(ref.snapshot.packs));
    // Locate every chunk before writing anything: a missing one fails here.
    const located = entries.map((e) => {
      const l = reader.locateAll(e.chunks, e.salted ? SALT : 0);
      let size = 0;
      for (let i = 0; i < e.chunks.length; i++) {
        if (l.v[i * 5 + 3] < l.skip) throw new IntegrityError(`${e.path}: a chunk is shorter than its salt`);
        size += l.v[i * 5 + 3] - l.skip;
      }
      if (size !== e.size) throw new IntegrityError(`${e.path}: its chunks hold ${size} bytes, the snapshot says ${e.size}`);
      return l;
    });
    const target = resolve(opts.target);
    await prepareTarget(target, entries, opts.overwrite ?? false);
    const total = entries.reduce((n, e) => n + e.size, 0);
    const progress = { bytes: 0, total, report: opts.onProgress };
    opts.onProgress?.(0, total);
    const pool = new Workers(repo.keys.chunkIdKey);
    try {
      for (let at = 0; at < entries.length; at += FILES_AT_ONCE) {
        await restoreFiles(reader, pool, target, entries.slice(at, at + FILES_AT_ONCE), located.slice(at, at + FILES_AT_ONCE), progress);
      }
    } finally {
      await pool.close();
    }
    return { files: entries.length, bytes: progress.bytes };
  });
}

/** How many of the files in the way a refusal names. */
const NAMED_AT_MOST = 10;

/**
 * The target must be a folder (it is created if missing), and no file to be
 * restored may exist there unless `overwrite`: the refusal names them, before
 * anything is written. A folder in the way is refused even with `overwrite`.
 */
async function prepareTarget(target: string, entries: SnapshotEntry[], overwrite: boolean): Promise<void> {
  try {
    await mkdir(target, { recursive: true, mode: FOLDER_MODE });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw fromSystemError(e, `restore into ${target}`, ExitCode.usage, e.code === "EEXIST" || e.code === "ENOTDIR" ? "--target must be a folder (it is created if missing)" : undefined);
  }
  const files: string[] = [];
  const folders: string[] = [];
  for (const e of entries) {
    const path = join(target, ...checkPath(e.path));
    try {
      ((await lstat(path)).isDirectory() ? folders : files).push(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTDIR") throw err;
    }
  }
  const list = (paths: string[]) => paths.slice(0, NAMED_AT_MOST).join(", ") + (paths.length > NAMED_AT_MOST ? `, and ${paths.length - NAMED_AT_MOST} more` : "");
  if (folders.length > 0) {
    throw new UsageError(`cannot restore into ${target}: ${folders.length} folder(s) are where files go: ${list(folders)}`, "restore into an empty folder");
  }
  if (files.length > 0 && !overwrite) {
    throw new UsageError(
      `restoring into ${target} would overwrite ${files.length} existing file(s): ${list(files)}`,
      "pass --overwrite to replace them, or restore into an empty folder",
    );
  }
}

interface Progress {
  bytes: number;
  total: number;
  report?: (bytes: number, total: number) => void;
}

/** Restore some entries: each to a temp file, filled pack by pack, renamed when complete. */
async function restoreFiles(reader: ChunkReader, pool: Workers, target: string, entries: SnapshotEntry[], located: Located[], progress: Progress): Promise<void> {
  const files: { tmp: string; final: string; handle: FileHandle }[] = [];
  const inflight = new Pipeline(pool.size + 1);
  try {
    for (const e of entries) {
      const final = await makeParents(target, checkPath(e.path));
      const tmp = join(dirname(final), `.cairn-restore-${randomBytes(6).toString("hex")}`);
      files.push({ tmp, final, handle: await open(tmp, "wx", 0o600) });
    }
    // Large files are flushed to disk as they fill (every SYNC_EVERY bytes, in
    // the background), so the fsync at the end waits for little.
    const large = files.filter((_, k) => entries[k].size >= SYNC_EVERY);
    let unsynced = 0;
    let syncing: Promise<unknown> | undefined;
    for (const span of spans(located, files.map((f) => f.handle.fd))) {
      const job = await loadSpan(reader, span);
      await inflight.run(async () => {
        const bytes = await pool.unpack(job);
        progress.bytes += bytes;
        progress.report?.(progress.bytes, progress.total);
        unsynced += bytes;
        if (unsynced >= SYNC_EVERY && !syncing && large.length > 0) {
          unsynced = 0;
          syncing = Promise.allSettled(large.map((f) => f.handle.datasync())).then(() => (syncing = undefined));
        }
      });
    }
    // Every job must end before a file is closed: a worker writes by fd number.
    await inflight.drain();
    await syncing;
    for (const [k, e] of entries.entries()) {
      const f = files[k];
      await f.handle.sync();
      await f.handle.close();
      await chmod(f.tmp, e.mode & 0o1777);
      await utimes(f.tmp, new Date(e.mtime), new Date(e.mtime));
      await rename(f.tmp, f.final).catch((err: NodeJS.ErrnoException) => {
        if (err.code === "EISDIR") throw new CairnError(`cannot restore ${f.final}: a folder is in the way`, ExitCode.usage, "restore into an empty folder");
        throw err;
      });
    }
  } catch (err) {
    await inflight.drain().catch(() => {});
    for (const f of files) {
      await f.handle.close().catch(() => {});
      await rm(f.tmp, { force: true });
    }
    throw err;
  }
}
