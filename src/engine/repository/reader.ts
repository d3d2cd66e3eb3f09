// Reading chunks out of packs: each chunk located in the index once, pack
// headers opened once per pack, nearby frames read in one span and kept
// decompressed in a small cache, and every chunk checked against its keyed ID.
// Restore hands whole spans to the worker threads instead (../restore/plan.ts);
// export and verify read through here.
import { IntegrityError, NoKeyError } from "../../errors.ts";
import type { IdList } from "../chunk/idtable.ts";
import { decryptPayload, openHeader, parseHeader, payloadKeys, SEGMENT, segmentRange, type PayloadKeys } from "../crypto/age.ts";
import { chunkId } from "../crypto/keys.ts";
import { decompressFrame } from "../pack/frame.ts";
import type { Index, Location } from "./chunk-index.ts";
import type { Repository } from "./repository.ts";

/** Most bytes of a pack read at once. */
export const SPAN = 4 * 1024 * 1024;
/** Frames closer than this are read in one span (the bytes between are read and dropped). */
export const GAP = 256 * 1024;
/** Bytes of chunks handed out at once by read(). */
const BATCH = 1024 * 1024;
/** Decompressed frames kept (each about 512 KiB). */
const CACHED_FRAMES = 32;

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

  /** The payload key of a pack (its header read and opened once). */
  async packKeys(pack: string): Promise<PayloadKeys & { totalSegments: number }> {
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

  /** Every chunk's location, looked up once, in typed arrays (no object per chunk); pack numbers are the index's. */
  locateAll(ids: IdList, skip = 0): Located {
    this.preferred ??= this.prefer && this.index.packFlags(this.prefer);
    const v = new Uint32Array(ids.length * 5);
    for (let i = 0; i < ids.length; i++) {
      if (!this.index.locateInto(ids.get(i), this.preferred, v, i * 5)) {
        throw new IntegrityError(`chunk ${ids.get(i).toString("hex")} is in no index (the repository lost data)`);
      }
    }
    return { ids, packs: this.index.packIds, v, skip };
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
      const plain = this.check(c.ids.get(i), this.loc(c, i), frame);
      if (plain.length < c.skip) throw new IntegrityError(`chunk ${c.ids.get(i).toString("hex")} is shorter than its salt`);
      yield c.skip ? plain.subarray(c.skip) : plain;
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
  /** Bytes at the start of each chunk that are not content: the salt of a salted entry (SALT), else 0. */
  skip: number;
}

/** Pack number and frame offset as one number (exact below 2^53): no string per chunk. */
function frameKey(v: Uint32Array, i: number): number {
  return v[i * 5] * 0x1_0000_0000 + v[i * 5 + 1];
}
