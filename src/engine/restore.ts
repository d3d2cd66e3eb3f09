// Restore and export: snapshot -> entries -> chunks (from packs) -> files.
// Every chunk is decrypted, decompressed and checked against its keyed ID
// before a byte of it is written; a file is written to a temp name and renamed
// only when complete. Paths come from storage, so they are never trusted: each
// is checked to be a plain relative path, and no parent folder may be a
// symbolic link.
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { chmod, lstat, mkdir, open, rename, rm, utimes } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import { createZstdCompress, zstdDecompress } from "node:zlib";
import { Header, Pax } from "tar";
import { CairnError, ExitCode, IntegrityError, NoKeyError, UsageError } from "../errors.ts";
import { decryptPayload, EncryptStream, openHeader, parseHeader, payloadKeys, SEGMENT, segmentRange, type PayloadKeys } from "./age.ts";
import { Index, type Location } from "./index.ts";
import { FRAME } from "./packer.ts";
import { chunkId } from "./keys.ts";
import { withLock } from "./lock.ts";
import type { Repository } from "./repository.ts";
import type { Snapshot, SnapshotEntry } from "./snapshot.ts";

const decompress = promisify(zstdDecompress);
const SPAN = 8 * 1024 * 1024;
const BATCH = 1024 * 1024;
/** Decompressed frames kept (each up to FRAME bytes). */
const CACHED_FRAMES = 32;
/** Output buffer for one frame: larger than FRAME, so a frame decompresses into one buffer. */
const FRAME_OUT = 2 * FRAME;
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

  locate(id: string): Location {
    const loc = this.index.lookup(Buffer.from(id, "hex"), this.prefer);
    if (!loc) throw new IntegrityError(`chunk ${id} is in no index (the repository lost data)`);
    return loc;
  }

  /** Every chunk's location, looked up once, in typed arrays (no object per chunk). */
  locateAll(ids: string[]): Located {
    const v = new Uint32Array(ids.length * 5);
    ids.forEach((id, i) => {
      const loc = this.locate(id);
      // Pack numbers belong to the reader: its frame cache is shared by every entry.
      let n = this.packNumbers.get(loc.pack);
      if (n === undefined) {
        n = this.packs.push(loc.pack) - 1;
        this.packNumbers.set(loc.pack, n);
      }
      v.set([n, loc.offset, loc.length, loc.rawLength, loc.inner], i * 5);
    });
    return { ids, packs: this.packs, v };
  }

  private readonly packs: string[] = [];
  private readonly packNumbers = new Map<string, number>();

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

  /** Decompress zstd frames of a pack; `size`, when known, sizes the output buffer. */
  async frame(pack: string, offset: number, stored: Buffer, size?: number): Promise<Buffer> {
    try {
      return await decompress(stored, { chunkSize: Math.max(size ?? FRAME_OUT, 64) + 1 });
    } catch {
      throw new IntegrityError(`pack ${pack}: the frame at ${offset} does not decompress`);
    }
  }

  /** Cut one chunk out of its decompressed frame and check it against its ID. */
  check(id: string, loc: Location, frame: Buffer): Buffer {
    const plain = frame.subarray(loc.inner, loc.inner + loc.rawLength);
    if (plain.length !== loc.rawLength || chunkId(this.repo.keys, plain).toString("hex") !== id) {
      throw new IntegrityError(`chunk ${id} in pack ${loc.pack} does not match its ID`);
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
      yield this.check(c.ids[i], this.loc(c, i), frame);
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
    const plains = await Promise.all(
      run.map((j) => {
        const stored = span.subarray(v[j * 5 + 1] - start, v[j * 5 + 1] - start + v[j * 5 + 2]);
        return this.frame(packId, v[j * 5 + 1], stored, frameContentSize(stored));
      }),
    );
    run.forEach((j, k) => this.frames.set(frameKey(v, j), plains[k]));
    while (this.frames.size > CACHED_FRAMES) this.frames.delete(this.frames.keys().next().value!);
  }
}

/** Chunks located in the index: per chunk, pack number, frame offset, frame length, raw length, inner offset. */
export interface Located {
  ids: string[];
  packs: string[];
  v: Uint32Array;
}

/** Pack number and frame offset as one number (exact below 2^53): no string per chunk. */
function frameKey(v: Uint32Array, i: number): number {
  return v[i * 5] * 0x1_0000_0000 + v[i * 5 + 1];
}

/** The content size a zstd frame's header records, if it does. */
export function frameContentSize(b: Buffer): number | undefined {
  if (b.length < 6 || b.readUInt32LE(0) !== 0xfd2fb528) return undefined;
  const fhd = b[4];
  const single = (fhd >> 5) & 1;
  const fcsBytes = [single ? 1 : 0, 2, 4, 8][fhd >> 6];
  const pos = 5 + (single ? 0 : 1) + [0, 1, 2, 4][fhd & 3];
  if (fcsBytes === 0 || b.length < pos + fcsBytes) return undefined;
  if (fcsBytes === 1) return b[pos];
  if (fcsBytes === 2) return b.readUInt16LE(pos) + 256;
  if (fcsBytes === 4) return b.readUInt32LE(pos);
  return Number(b.readBigUInt64LE(pos));
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
    if (!Array.isArray(e.chunks) || !e.chunks.every((c) => typeof c === "string" && /^[0-9a-f]{64}$/.test(c))) {
      throw new IntegrityError(`the snapshot entry ${JSON.stringify(e.path)} has a malformed chunk list`);
    }
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
    const located = entries.map((e) => reader.locateAll(e.chunks)); // fail before writing anything
    const target = resolve(opts.target);
    await mkdir(target, { recursive: true, mode: 0o700 });
    const total = entries.reduce((n, e) => n + e.size, 0);
    let bytes = 0;
    for (const [k, e] of entries.entries()) {
      const final = await makeParents(target, checkPath(e.path));
      const tmp = join(dirname(final), `.cairn-restore-${randomBytes(6).toString("hex")}`);
      const f = await open(tmp, "wx", 0o600);
      let written = 0;
      try {
        try {
          for await (const batch of reader.read(located[k])) {
            const n = batch.reduce((a, b) => a + b.length, 0);
            await f.writev(batch, written);
            written += n;
            bytes += n;
            opts.onProgress?.(bytes, total);
          }
          if (written !== e.size) throw new IntegrityError(`${e.path}: restored ${written} bytes, the snapshot says ${e.size}`);
          await f.sync();
        } finally {
          await f.close();
        }
        await chmod(tmp, e.mode & 0o1777);
        await utimes(tmp, new Date(e.mtime), new Date(e.mtime));
        await rename(tmp, final).catch((err: NodeJS.ErrnoException) => {
          throw new CairnError(`cannot restore ${final}: ${err.code === "EISDIR" ? "a folder is in the way" : err.message}`, ExitCode.runtime, "restore into an empty folder");
        });
      } catch (err) {
        await rm(tmp, { force: true });
        throw err;
      }
    }
    return { files: entries.length, bytes };
  });
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
