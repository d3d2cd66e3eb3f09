// Backup: sources -> entries -> chunks -> packs -> index -> snapshot.
// Chunks the repository already has are skipped (unless --full), so each
// snapshot is complete but stores only new data. Write order makes every
// state safe: packs, then an index file naming them (every INDEX_EVERY packs,
// so memory stays flat), then list files for large entries, the snapshot last. A failure removes this run's
// packs that no index names yet; a crash leaves only unreferenced files,
// never a half snapshot. A file that cannot be read is not a failure: it is
// left out and named in the snapshot's `incomplete`.
import { randomBytes } from "node:crypto";
import { ChangedWhileReadingError, errorMessage, UnreadableFileError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Source, SourceEntry } from "../sources/source.ts";
import type { Transport } from "../transport/transport.ts";
import { chunkerFor, gearTable, type Chunker } from "./chunk/chunker.ts";
import { indexText } from "./repository/chunk-index.ts";
import { DedupIndex } from "./repository/dedup.ts";
import { BatchHasher } from "./chunk/hasher.ts";
import { withLock } from "./repository/lock.ts";
import { Packer } from "./pack/packer.ts";
import { FRAME, MAX_CHUNK } from "./pack/frame.ts";
import { Workers } from "./tasks.ts";
import type { Repository } from "./repository/repository.ts";
import { IdList, IdTable } from "./chunk/idtable.ts";
import { lastingFiles } from "./snapshot/expiry.ts";
import { diffIds, latest, LIST_MIN, SALT, sealInfo, listText, loadList, loadSnapshots, parseSnapshotRefs, snapshotText, type ListRef, type NewSnapshot, type SnapshotSource, type Unread } from "./snapshot/snapshot.ts";

const READ_ATTEMPTS = 3;
/** Packs listed per index file (~512 MiB of stored data). */
const INDEX_EVERY = 32;

export interface BackupProgress {
  source: string;
  path: string;
  /** Bytes read so far, all sources. */
  bytes: number;
  newBytes: number;
}

export interface BackupOptions {
  sources: Source[];
  transport: Transport;
  /** Store every chunk afresh in new packs: the snapshot depends on no earlier pack. */
  full?: boolean;
  /** The snapshot's time (as restic's --time: imports, tests); default when the backup started. */
  time?: Date;
  /** Sources whose files are all salted (cairn.yml's secret: true): no chunk ID the write key can test a guess against. */
  secret?: Set<string>;
  log: Logger;
  onProgress?: (p: BackupProgress) => void;
  /**
   * Cancels the backup between pieces of data (backend calls are cancelled by
   * the backend's own signal): this run's unindexed packs are removed and the
   * lock released, as after any failure.
   */
  signal?: AbortSignal;
}

export interface BackupResult {
  id: string;
  snapshot: NewSnapshot;
  /** New data (plaintext bytes of chunks the repository did not have) by source name: for reports, not stored. */
  newBytes: Record<string, number>;
}

export async function backup(repo: Repository, opts: BackupOptions): Promise<BackupResult> {
  const started = Date.now();
  // Shared: backups only add files, so several may run at once.
  return withLock(repo, false, async () => {
    const full = opts.full ?? false;
    // A damaged earlier snapshot or list must not stop new backups: warn, write chunk lists in full, trust no parent pack.
    const parent = await parentSnapshot(repo).catch((err: unknown) => {
      opts.log.warn(`the latest snapshot is unreadable (${errorMessage(err)}); chunk lists are written in full; run \`cairn verify\``);
      return { lists: new Map<string, ListRef>(), packs: new Set<string>(), id: null, seq: 0 };
    });
    const index = await DedupIndex.load(repo, parent.packs, opts.log);
    // Where files expire, build only on what outlives this backup's files (snapshot/expiry.ts).
    const lasting = await lastingFiles(repo, index.index);
    const gear = gearTable(repo.keys.gearSeed);
    // The main thread reads, chunks, deduplicates and seals; the workers hash and compress.
    const workers = new Workers(repo.keys.chunkIdKey);
    const packer = new Packer(repo.backend, repo.dataRecipients, packSizeFor(repo), workers);
    const added = new IdTable(0);
    const used = new Set<string>();
    const indexed = new Set<string>();
    async function writeIndex() {
      const packs = packer.takeSaved();
      if (packs.length === 0) return;
      await repo.saveMeta("index", () => indexText(packs));
      for (const p of packs) indexed.add(p.id);
    }
    const stats = { bytes: 0, chunks: 0, newChunks: 0, newBytes: 0, storedBytes: 0, durationMs: 0 };
    const entries: NewSnapshot["entries"] = [];
    const sources: SnapshotSource[] = [];
    const newBySource: Record<string, number> = {};

    async function store(chunk: Buffer, id: Buffer): Promise<void> {
      stats.chunks++;
      if (added.has(id)) return;
      if (!full) {
        const loc = index.lookup(id);
        if (loc && (!lasting || lasting.packs.has(loc.pack))) {
          used.add(loc.pack);
          return;
        }
      }
      added.add(id, []);
      stats.newChunks++;
      stats.newBytes += chunk.length;
      await packer.add(id, chunk);
      if (packer.savedCount >= INDEX_EVERY) await writeIndex();
    }

    async function readEntry(source: string, e: SourceEntry): Promise<NewSnapshot["entries"][number]> {
      const ids = new IdList();
      const hasher = new BatchHasher(workers, async (chunk, id) => {
        ids.push(id);
        await store(chunk, id);
      });
      const salting = saltFor(opts.secret?.has(source) ?? false, (c) => hasher.push(c));
      let size = 0;
      let chunker: Chunker | undefined;
      let kind: "sqlite" | "cdc" = "cdc";
      let head: Buffer[] = [];
      let headLength = 0;
      const feed = async (chunks: Buffer[]) => {
        for (const c of chunks) await salting.push(c);
      };
      /** Pick the chunker from the first bytes, and chunk them. */
      const start = (): Buffer[] => {
        const h = Buffer.concat(head);
        head = [];
        ({ chunker, kind } = chunkerFor(h, gear));
        return chunker.push(h);
      };
      const read = async () => {
        for await (const data of untilAborted(e.open(), opts.signal)) {
          size += data.length;
          stats.bytes += data.length;
          if (chunker) await feed(chunker.push(data));
          else {
            head.push(data);
            headLength += data.length;
            if (headLength >= 100) await feed(start());
          }
          opts.onProgress?.({ source, path: e.path, bytes: stats.bytes, newBytes: stats.newBytes });
        }
        if (!chunker) await feed(start());
        await feed(chunker!.end());
        await salting.end();
        await hasher.flush();
      };
      try {
        await read();
      } catch (err) {
        await hasher.abandon();
        throw err;
      }
      return { source, path: e.path, mode: e.mode, mtime: e.mtime, uid: e.uid, gid: e.gid, size, chunker: kind, ...(salting.salted ? { salted: true } : {}), chunks: await listFor(source, e.path, ids) };
    }

    // A file changed in place while read is read again; one that still
    // cannot be read is left out and named: the snapshot is saved, incomplete.
    // Anything else (a failed dump, a lost connection) fails the backup.
    const incomplete: Unread[] = [];
    async function readOrLeaveOut(source: string, e: SourceEntry, log: Logger): Promise<NewSnapshot["entries"][number] | undefined> {
      for (let attempt = 1; ; attempt++) {
        const bytesBefore = stats.bytes;
        try {
          return await readEntry(source, e);
        } catch (err) {
          stats.bytes = bytesBefore;
          if (err instanceof ChangedWhileReadingError && attempt < READ_ATTEMPTS) {
            log.warn(`${err.message}; reading it again`);
            continue;
          }
          if (!(err instanceof ChangedWhileReadingError) && !(err instanceof UnreadableFileError)) throw err;
          const reason = err instanceof UnreadableFileError ? err.reason : `it was changed in place each of the ${READ_ATTEMPTS} times it was read (last: ${err.detail})`;
          incomplete.push({ source, path: err.path, reason });
          log.warn(`source ${source}: left out ${err.path}: ${reason}`);
          return undefined;
        }
      }
    }

    // A large entry's chunk list goes to a list file once; later snapshots
    // store only what changed against it (until that is a quarter of it).
    // A damaged list must not stop new backups: warn and write a new base.
    const parents = parent.lists;
    const bases = new Map<string, IdList | null>();
    async function listFor(source: string, path: string, ids: IdList): Promise<IdList | ListRef> {
      if (ids.length < LIST_MIN) return ids;
      const parent = parents.get(`${source}\0${path}`);
      if (parent && (!lasting || lasting.list(parent.base))) {
        if (!bases.has(parent.base)) {
          bases.set(
            parent.base,
            await loadList(repo, parent.base).catch((err: unknown) => {
              opts.log.warn(`list ${parent.base} is unreadable (${errorMessage(err)}); ${path}'s chunk list is written in full; run \`cairn verify\``);
              return null;
            }),
          );
        }
        const base = bases.get(parent.base);
        if (base) {
          const { changes, changed } = diffIds(base, ids);
          if (changed * 4 <= ids.length) return { base: parent.base, count: ids.length, changes };
        }
      }
      const base = await repo.saveMeta("list", () => listText(ids));
      return { base, count: ids.length, changes: [] };
    }

    try {
      for (const source of opts.sources) {
        const warnings: string[] = [];
        const log: Logger = {
          info: (m) => opts.log.info(m),
          warn: (m) => {
            warnings.push(m);
            opts.log.warn(m);
          },
        };
        const dump = source.dump(opts.transport, log);
        let count = 0;
        let size = 0;
        const newBefore = stats.newBytes;
        for await (const e of dump.entries) {
          const entry = await readOrLeaveOut(source.name, e, log);
          if (!entry) continue;
          entries.push(entry);
          count++;
          size += entry.size;
        }
        sources.push({ name: source.name, kind: source.kind, files: count, size, info: dump.info(), warnings });
        newBySource[source.name] = stats.newBytes - newBefore;
      }
      opts.signal?.throwIfAborted();
      await packer.finish();
      await writeIndex();
      // Full: it uses no pack an earlier run wrote (--full, or the first snapshot).
      const selfContained = used.size === 0;
      for (const p of packer.written) used.add(p);
      stats.storedBytes = packer.writtenBytes;

      stats.durationMs = Date.now() - started;
      const snapshot: NewSnapshot = {
        version: 1,
        time: (opts.time ?? new Date(started)).toISOString(),
        seq: parent.seq + 1,
        parent: parent.id,
        host: opts.transport.host,
        full: full || selfContained,
        incomplete,
        sources,
        stats,
        packs: [...used].sort(),
        entries,
      };
      const stored = sealInfo(snapshot, repo.dataRecipients);
      const id = await repo.saveMeta("snapshot", () => snapshotText(stored));
      await repo.backend.flush();
      return { id, snapshot, newBytes: newBySource };
    } catch (err) {
      await packer.settle();
      for (const p of packer.written) {
        if (!indexed.has(p)) await repo.backend.remove({ type: "pack", name: p }).catch(() => {});
      }
      throw err;
    } finally {
      await workers.close();
    }
  });
}

/** Pack size to aim for: the repository's, capped for a backend with a file size limit (a pack overshoots by up to a frame and a chunk). */
function packSizeFor(repo: Repository): number {
  const max = repo.backend.properties.maxFileSize;
  return max === undefined ? repo.config.packSize : Math.min(repo.config.packSize, Math.max(1 << 20, max - 2 * (FRAME + MAX_CHUNK)));
}

/**
 * The latest snapshot's list references, by source and path (the bases a new
 * snapshot diffs against), and its packs (what deduplication prefers).
 */
async function parentSnapshot(repo: Repository): Promise<{ lists: Map<string, ListRef>; packs: Set<string>; id: string | null; seq: number }> {
  const all = await loadSnapshots(repo);
  const lists = new Map<string, ListRef>();
  const head = latest(all);
  // The sequence goes on from the highest number seen, so a rollback to an older snapshot shows as a gap.
  const seq = Math.max(0, ...all.map((r) => (Number.isSafeInteger(r.snapshot.seq) ? r.snapshot.seq : 0)));
  if (!head) return { lists, packs: new Set(), id: null, seq };
  const { snapshot, refs } = parseSnapshotRefs(await repo.loadMetaBytes("snapshot", head.id), `snapshot ${head.id}`);
  for (const { entry, ref } of refs) lists.set(`${entry.source}\0${entry.path}`, ref);
  return { lists, packs: new Set(snapshot.packs), id: head.id, seq };
}

/**
 * Salting (FORMAT.md, "Chunk IDs"): a chunk ID is a keyed hash the write key
 * can compute, so it could confirm a guess of a small file's content (a PIN
 * in a one-line .env). A file that turns out to be one chunk, and every file
 * of a secret source, is stored with a random 32-byte salt before each chunk:
 * its IDs match no guess, and it is never deduplicated. The first chunk is
 * held until a second one shows the file is not one chunk.
 */
function saltFor(secret: boolean, push: (chunk: Buffer) => Promise<void>): { push(c: Buffer): Promise<void>; end(): Promise<void>; salted: boolean } {
  let salt = secret ? randomBytes(SALT) : undefined;
  let held: Buffer | undefined;
  let count = 0;
  return {
    get salted() {
      return salt !== undefined;
    },
    async push(c) {
      if (salt) return push(Buffer.concat([salt, c]));
      if (++count === 1) {
        held = Buffer.from(c); // the chunker may reuse c's memory
        return;
      }
      if (held) await push(held);
      held = undefined;
      await push(c);
    },
    async end() {
      if (!held) return;
      salt = randomBytes(SALT);
      await push(Buffer.concat([salt, held]));
      held = undefined;
    },
  };
}

/**
 * The items of `source`, but a cancelled run stops waiting for the next one
 * at once: a dump stalled on the server must not hold up the cleanup. The
 * stalled source is told to stop without waiting for it.
 */
async function* untilAborted<T>(source: AsyncIterable<T>, signal: AbortSignal | undefined): AsyncGenerator<T> {
  if (!signal) return yield* source;
  const it = source[Symbol.asyncIterator]();
  try {
    for (;;) {
      signal.throwIfAborted();
      const r = await nextOrAbort(it, signal);
      if (r.done) return;
      yield r.value;
    }
  } finally {
    if (signal.aborted) void it.return?.()?.catch(() => {});
    else await it.return?.();
  }
}

/**
 * it.next(), or a rejection when the signal aborts first. One listener per
 * item, removed when the item arrives: racing every item against one
 * long-lived "aborted" promise (Promise.race) would keep every item's buffer
 * reachable from that promise until the run ends, holding the whole source
 * in memory.
 */
function nextOrAbort<T>(it: AsyncIterator<T>, signal: AbortSignal): Promise<IteratorResult<T>> {
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    it.next().then(
      (r) => {
        signal.removeEventListener("abort", onAbort);
        resolve(r);
      },
      (err) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}
