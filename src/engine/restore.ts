// Restore and export: snapshot -> entries -> chunks (from packs) -> files.
// Every chunk is decrypted, decompressed and checked against its keyed ID
// before a byte of it is written; a file is written to a temp name and renamed
// only when complete. Paths come from storage, so they are never trusted: each
// is checked to be a plain relative path, and no parent folder may be a
// symbolic link.
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { chmod, lstat, mkdir, open, rename, rm, utimes, type FileHandle } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createZstdCompress } from "node:zlib";
import { Header, Pax } from "tar";
import { CairnError, ExitCode, IntegrityError, NoKeyError, UsageError } from "../errors.ts";
import { decryptPayload, EncryptStream, openHeader, parseHeader, payloadKeys, SEGMENT, segmentRange, type PayloadKeys } from "./age.ts";
import { Index, type Location } from "./index.ts";
import { chunkId } from "./keys.ts";
import { withLock } from "./lock.ts";
import { Pipeline } from "./pipeline.ts";
import { decompressFrame, type UnpackJob } from "./unpack.ts";
import { Workers } from "./workers.ts";
import type { Repository } from "./repository.ts";
import type { IdList } from "./idtable.ts";
import type { Snapshot, SnapshotEntry } from "./snapshot.ts";

/** Most bytes of a pack read at once. */
const SPAN = 4 * 1024 * 1024;
/** Bytes written between background flushes of a large restored file. */
const SYNC_EVERY = 64 * 1024 * 1024;
/** Files restored at once (each holds an open file). */
const FILES_AT_ONCE = 256;
const BATCH = 1024 * 1024;
/** Decompressed frames kept (each about 512 KiB). */
const CACHED_FRAMES = 32;
const GAP = 256 * 1024;

/** Reads chunks out of packs: header cached per pack, contiguous chunks read in one span. */
export class ChunkReader {
  private readonly keys = new Map<string, PayloadKeys & { totalSegments: number }>();
  readonly repo: Repository;
  readonly index: Index;
  private readonly prefer: Set<string> | undefined;

  constructor(repo: Repository, index: Index, prefer?: Set<string>) {
    if (!repo.canReadData) {
      throw new NoKeyError("reading backed-up data needs the age identity", "pass -i FILE or set CAIRN_IDENTITY");
    }
    this.repo = repo;
    this.index = index;
    this.prefer = prefer;
  }

  private async packKeys(pack: string): Promise<PayloadKeys & { totalSegments: number }> {
    const cached = this.keys.get(pack);
    if (cached) return cached;
    const info = this.index.packs.get(pack);
    const size = info?.size ?? (await this.repo.backend.stat({ type: "pack", name: pack })).size;
    const what = `pack ${pack}`;
    let head = await this.repo.backend.load({ type: "pack", name: pack }, { offset: 0, length: Math.min(size, 4096) });
    let header = parseHeader(head);
    if (!header && size > head.length) {
      head = await this.repo.backend.load({ type: "pack", name: pack }, { offset: 0, length: Math.min(size, 65536) });
      header = parseHeader(head);
    }
    if (!header || head.length < header.length + 16) throw new IntegrityError(`${what}: truncated`);
    const k = payloadKeys(openHeader(header, this.repo.keys.identities, what), head.subarray(header.length, header.length + 16), what);
    const entry = { ...k, totalSegments: Math.ceil((size - k.dataStart) / (SEGMENT + 16)) };
    this.keys.set(pack, entry);
    return entry;
  }

  /** Read a span of a pack: the job that unpacks its chunks. */
  async loadSpan(span: Span): Promise<UnpackJob> {
    const k = await this.packKeys(span.pack);
    const r = segmentRange(k, span.start, span.end - span.start);
    const sealed = await this.repo.backend.load({ type: "pack", name: span.pack }, { offset: r.start, length: r.end - r.start });
    const { located, fileOf, base, positions: allPositions, fds } = span.all;
    const n = span.chunks.length;
    const frames = new Uint32Array(span.frames.length * 2);
    const chunks = new Uint32Array(n * 4);
    const positions = new Float64Array(n);
    const ids = new Uint8Array(n * 32);
    let f = -1;
    span.chunks.forEach((c, i) => {
      const k = fileOf[c];
      const l = located[k];
      const at = (c - base[k]) * 5;
      if (f < 0 || frames[f * 2] !== l.v[at + 1]) {
        f++;
        frames[f * 2] = l.v[at + 1];
        frames[f * 2 + 1] = l.v[at + 2];
      }
      chunks[i * 4] = f;
      chunks[i * 4 + 1] = l.v[at + 4];
      chunks[i * 4 + 2] = l.v[at + 3];
      chunks[i * 4 + 3] = fds[k];
      positions[i] = allPositions[c];
      ids.set(l.ids.get(c - base[k]), i * 32);
    });
    return { pack: span.pack, sealed, first: r.first, totalSegments: k.totalSegments, key: k.key, frames, chunks, positions, ids };
  }

  /** Every chunk's location, looked up once, in typed arrays (no object per chunk); pack numbers are the index's. */
  locateAll(ids: IdList): Located {
    this.preferred ??= this.prefer && this.index.packFlags(this.prefer);
    const v = new Uint32Array(ids.length * 5);
    for (let i = 0; i < ids.length; i++) {
      if (!this.index.locateInto(ids.get(i), this.preferred, v, i * 5)) {
        throw new IntegrityError(`chunk ${ids.get(i).toString("hex")} is in no index (the repository lost data)`);
      }
    }
    return { ids, packs: this.index.packIds, v };
  }

  private preferred: Uint8Array | undefined;

  /** Plaintext of pack bytes [offset, offset+length). */
  private async readPlain(pack: string, offset: number, length: number): Promise<Buffer> {
    const k = await this.packKeys(pack);
    const r = segmentRange(k, offset, length);
    const sealed = await this.repo.backend.load({ type: "pack", name: pack }, { offset: r.start, length: r.end - r.start });
    const plain = decryptPayload(k, sealed, r.first, `pack ${pack}`, k.totalSegments);
    const at = offset - r.first * SEGMENT;
    if (plain.length < at + length) throw new IntegrityError(`pack ${pack}: shorter than the index says`);
    return plain.subarray(at, at + length);
  }

  /** Cut one chunk out of its decompressed frame and check it against its ID. */
  check(id: Buffer, loc: Location, frame: Buffer): Buffer {
    const plain = frame.subarray(loc.inner, loc.inner + loc.rawLength);
    if (plain.length !== loc.rawLength || !chunkId(this.repo.keys, plain).equals(id)) {
      throw new IntegrityError(`chunk ${id.toString("hex")} in pack ${loc.pack} does not match its ID`);
    }
    return plain;
  }

  /** The chunks' plaintexts, in order, in batches of about 1 MiB (for writev: few writes for 4 KiB pages). */
  async *read(chunks: Located): AsyncGenerator<Buffer[]> {
    let batch: Buffer[] = [];
    let size = 0;
    for await (const plain of this.readChunks(chunks)) {
      batch.push(plain);
      size += plain.length;
      if (size >= BATCH) {
        yield batch;
        batch = [];
        size = 0;
      }
    }
    if (batch.length > 0) yield batch;
  }

  private loc(c: Located, i: number): Location {
    const v = c.v;
    return { pack: c.packs[v[i * 5]], offset: v[i * 5 + 1], length: v[i * 5 + 2], rawLength: v[i * 5 + 3], inner: v[i * 5 + 4] };
  }

  /** The chunks' plaintexts, one by one, in order. */
  private async *readChunks(c: Located): AsyncGenerator<Buffer> {
    const v = c.v;
    for (let i = 0; i < c.ids.length; i++) {
      const key = frameKey(v, i);
      let frame = this.cached(key);
      if (!frame) {
        await this.fetch(c, i);
        frame = this.cached(key)!;
      }
      yield this.check(c.ids.get(i), this.loc(c, i), frame);
    }
  }

  // Decompressed frames by pack and offset, least recently used first. An
  // incremental snapshot alternates between old frames and the new frames of
  // changed pages, so each frame is visited many times.
  private readonly frames = new Map<number, Buffer>();

  private cached(key: number): Buffer | undefined {
    const f = this.frames.get(key);
    if (f) {
      this.frames.delete(key);
      this.frames.set(key, f);
    }
    return f;
  }

  /** Read and decompress the frame of chunk i, and the uncached frames stored right after it that the next chunks need. */
  private async fetch(c: Located, i: number): Promise<void> {
    const v = c.v;
    const run = [i];
    let last = i;
    const pack = v[i * 5];
    const start = v[i * 5 + 1];
    for (let j = i + 1; j < c.ids.length && run.length < CACHED_FRAMES / 2; j++) {
      const offset = v[j * 5 + 1];
      const lastEnd = v[last * 5 + 1] + v[last * 5 + 2];
      if (v[j * 5] === v[last * 5] && offset === v[last * 5 + 1]) continue;
      if (this.frames.has(frameKey(v, j))) continue;
      if (v[j * 5] !== pack || offset < lastEnd || offset - lastEnd > GAP || offset + v[j * 5 + 2] - start > SPAN) break;
      run.push(j);
      last = j;
    }
    const packId = c.packs[pack];
    const span = await this.readPlain(packId, start, v[last * 5 + 1] + v[last * 5 + 2] - start);
    for (const j of run) {
      const stored = span.subarray(v[j * 5 + 1] - start, v[j * 5 + 1] - start + v[j * 5 + 2]);
      this.frames.set(frameKey(v, j), decompressFrame(packId, v[j * 5 + 1], stored));
    }
    while (this.frames.size > CACHED_FRAMES) this.frames.delete(this.frames.keys().next().value!);
  }
}

/** Chunks located in the index: per chunk, pack number, frame offset, frame length, raw length, inner offset. */
export interface Located {
  ids: IdList;
  packs: string[];
  v: Uint32Array;
}

/** Pack number and frame offset as one number (exact below 2^53): no string per chunk. */
function frameKey(v: Uint32Array, i: number): number {
  return v[i * 5] * 0x1_0000_0000 + v[i * 5 + 1];
}

/** A stored path as parts, or an error: relative, "/"-separated, no empty, "." or ".." part. */
export function checkPath(path: unknown): string[] {
  if (typeof path !== "string" || path.length === 0 || path.length > 4096 || path.includes("\0") || path.startsWith("/") || path.includes("\\")) {
    throw new IntegrityError(`refusing unsafe path ${JSON.stringify(path)} in the snapshot`, "the snapshot was crafted or damaged; nothing was restored");
  }
  const parts = path.split("/");
  if (parts.some((p) => p === "" || p === "." || p === "..")) {
    throw new IntegrityError(`refusing unsafe path ${JSON.stringify(path)} in the snapshot`, "the snapshot was crafted or damaged; nothing was restored");
  }
  return parts;
}

function selectEntries(snapshot: Snapshot, source?: string): SnapshotEntry[] {
  if (source !== undefined && !snapshot.sources.some((s) => s.name === source)) {
    throw new UsageError(`the snapshot has no source "${source}"`, `its sources: ${snapshot.sources.map((s) => s.name).join(", ")}`);
  }
  const entries = snapshot.entries.filter((e) => source === undefined || e.source === source);
  const seen = new Set<string>();
  for (const e of entries) {
    const key = checkPath(e.path).join("/");
    if (seen.has(key)) throw new IntegrityError(`the snapshot lists ${JSON.stringify(e.path)} twice`);
    seen.add(key);
  }
  return entries;
}

/** Create target/parts[0]/... folders, refusing to pass through anything but real folders. */
async function makeParents(target: string, parts: string[]): Promise<string> {
  let dir = target;
  for (const p of parts.slice(0, -1)) {
    dir = join(dir, p);
    try {
      const st = await lstat(dir);
      if (!st.isDirectory()) throw new IntegrityError(`refusing to restore through ${dir}: it is not a folder (a symbolic link or a file)`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      await mkdir(dir, { mode: 0o700 });
    }
  }
  return join(dir, parts[parts.length - 1]);
}

export interface RestoreOptions {
  target: string;
  source?: string;
  onProgress?: (bytes: number, total: number) => void;
}

export interface RestoreResult {
  files: number;
  bytes: number;
}

export async function restore(repo: Repository, ref: { id: string; snapshot: Snapshot }, opts: RestoreOptions): Promise<RestoreResult> {
  return withLock(repo, false, async () => {
    const entries = selectEntries(ref.snapshot, opts.source);
    const reader = new ChunkReader(repo, await Index.load(repo), new Set(ref.snapshot.packs));
    // Locate every chunk before writing anything: a missing one fails here.
    const located = entries.map((e) => {
      const l = reader.locateAll(e.chunks);
      let size = 0;
      for (let i = 0; i < e.chunks.length; i++) size += l.v[i * 5 + 3];
      if (size !== e.size) throw new IntegrityError(`${e.path}: its chunks hold ${size} bytes, the snapshot says ${e.size}`);
      return l;
    });
    const target = resolve(opts.target);
    await mkdir(target, { recursive: true, mode: 0o700 });
    const total = entries.reduce((n, e) => n + e.size, 0);
    const progress = { bytes: 0, total, report: opts.onProgress };
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
      const job = await reader.loadSpan(span);
      await inflight.run(async () => {
        const done = await pool.run({ kind: "unpack", job });
        if (done.kind === "unpack") progress.bytes += done.bytes;
        progress.report?.(progress.bytes, progress.total);
        unsynced += done.kind === "unpack" ? done.bytes : 0;
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
        throw new CairnError(`cannot restore ${f.final}: ${err.code === "EISDIR" ? "a folder is in the way" : err.message}`, ExitCode.runtime, "restore into an empty folder");
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

/** One span of a pack to read, and where each of its chunks goes. */
export interface Span {
  pack: string;
  start: number;
  end: number;
  frames: number[];
  /** Global chunk numbers (see spans()), in frame order. */
  chunks: number[];
  all: { located: Located[]; fileOf: Uint16Array; base: number[]; positions: Float64Array; fds: number[] };
}

/**
 * The entries' chunks grouped by pack, then by frame: each pack is read once
 * (in spans of nearby frames), whatever order the files list its chunks in.
 */
function* spans(located: Located[], fds: number[]): Generator<Span> {
  // Chunks are numbered across the files; each number maps back to its file's
  // own arrays (no copy of their locations or IDs).
  const count = located.reduce((n, l) => n + l.ids.length, 0);
  const positions = new Float64Array(count);
  const fileOf = new Uint16Array(count);
  const base: number[] = [];
  let g = 0;
  located.forEach((l, k) => {
    base.push(g);
    let position = 0;
    for (let i = 0; i < l.ids.length; i++, g++) {
      positions[g] = position;
      position += l.v[i * 5 + 3];
      fileOf[g] = k;
    }
  });
  const all = { located, fileOf, base, positions, fds };
  const field = (c: number, f: number) => located[fileOf[c]].v[(c - base[fileOf[c]]) * 5 + f];
  const packs = located[0]?.packs ?? [];
  // Counting sort by pack number (stable: file order within a pack).
  const starts = new Uint32Array(packs.length + 1);
  for (let c = 0; c < count; c++) starts[field(c, 0) + 1]++;
  for (let p = 0; p < packs.length; p++) starts[p + 1] += starts[p];
  const byPack = new Uint32Array(count);
  const fill = starts.slice(0, packs.length);
  for (let c = 0; c < count; c++) byPack[fill[field(c, 0)]++] = c;
  for (let p = 0; p < packs.length; p++) {
    if (starts[p] === starts[p + 1]) continue;
    const order = Array.from(byPack.subarray(starts[p], starts[p + 1])).sort((a, b) => field(a, 1) - field(b, 1) || field(a, 4) - field(b, 4));
    let span: Span | undefined;
    for (const c of order) {
      const offset = field(c, 1);
      const end = offset + field(c, 2);
      if (span && span.frames[span.frames.length - 1] !== offset && (offset - span.end > GAP || end - span.start > SPAN)) {
        yield span;
        span = undefined;
      }
      span ??= { pack: packs[p], start: offset, end, frames: [], chunks: [], all };
      if (span.frames[span.frames.length - 1] !== offset) span.frames.push(offset);
      span.end = Math.max(span.end, end);
      span.chunks.push(c);
    }
    if (span) yield span;
  }
}

/** The snapshot as one tar stream (entries under their paths), for export. */
async function* tarStream(reader: ChunkReader, entries: SnapshotEntry[], located: Located[]): AsyncGenerator<Buffer> {
  for (const [k, e] of entries.entries()) {
    const data = {
      path: checkPath(e.path).join("/"),
      mode: e.mode & 0o1777,
      uid: e.uid,
      gid: e.gid,
      size: e.size,
      mtime: new Date(e.mtime),
      type: "File" as const,
      uname: "",
      gname: "",
    };
    const header = new Header(data);
    if (header.encode()) yield new Pax(data).encode();
    yield header.block!;
    let n = 0;
    for await (const batch of reader.read(located[k])) {
      for (const plain of batch) {
        n += plain.length;
        yield plain;
      }
    }
    if (n !== e.size) throw new IntegrityError(`${e.path}: read ${n} bytes, the snapshot says ${e.size}`);
    if (n % 512) yield Buffer.alloc(512 - (n % 512));
  }
  yield Buffer.alloc(1024);
}

/** Write the snapshot as one .tar.zst.age file, openable with `age -d | zstd -d | tar x`. */
export async function exportSnapshot(repo: Repository, ref: { id: string; snapshot: Snapshot }, output: string, source?: string): Promise<void> {
  await withLock(repo, false, async () => {
    const entries = selectEntries(ref.snapshot, source);
    const reader = new ChunkReader(repo, await Index.load(repo), new Set(ref.snapshot.packs));
    const located = entries.map((e) => reader.locateAll(e.chunks));
    const out = resolve(output);
    const tmp = join(dirname(out), `.${randomBytes(6).toString("hex")}.cairn-export`);
    try {
      await pipeline(Readable.from(tarStream(reader, entries, located)), createZstdCompress(), new EncryptStream(repo.dataRecipients), createWriteStream(tmp, { flags: "wx", mode: 0o600 }));
      await rename(tmp, out);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  });
}
