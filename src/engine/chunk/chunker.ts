// Content-defined chunking. Generic data: FastCDC (Xia et al., 2016) with a
// 32-bit gear hash and normalized chunking, so an insertion only changes the
// chunks around it. The gear table is derived from the repository key, so
// chunk boundaries (visible as sizes) cannot be used to fingerprint known
// files. SQLite databases: pages never move and a write touches whole pages,
// so one chunk per page stores exactly the changed pages (3.6x less than
// 64 KiB chunks on the demo's day of trading). Parameters are in FORMAT.md.
import { hkdfSync } from "node:crypto";

export interface CdcParams {
  min: number;
  avg: number;
  max: number;
}

export const CDC_DEFAULT: CdcParams = { min: 64 * 1024, avg: 256 * 1024, max: 1024 * 1024 };
/** Smallest chunk for SQLite files; otherwise one chunk is one page. */
export const SQLITE_MIN_CHUNK = 4096;

export function gearTable(seed: Uint8Array): Int32Array {
  return new Int32Array(hkdfSync("sha256", seed, new Uint8Array(0), "cairn gear table", 1024));
}

/** Splits a byte stream into chunks: push() data, then end(). */
export interface Chunker {
  push(data: Buffer): Buffer[];
  end(): Buffer[];
}

function topBits(n: number): number {
  return n === 0 ? 0 : (0xffffffff << (32 - n)) | 0;
}

export class FastCdc implements Chunker {
  private pending: Buffer[] = [];
  private pendingLength = 0;
  private readonly gear: Int32Array;
  private readonly p: CdcParams;
  private readonly maskS: number;
  private readonly maskL: number;

  constructor(gear: Int32Array, params: CdcParams = CDC_DEFAULT) {
    this.gear = gear;
    this.p = params;
    const bits = Math.round(Math.log2(params.avg));
    this.maskS = topBits(bits + 2); // harder to cut before avg
    this.maskL = topBits(bits - 2); // easier after
  }

  /** The length of the first chunk in data[start..end), end - start if no cut is found. */
  private cut(data: Buffer, start: number, end: number): number {
    const { min, avg, max } = this.p;
    const n = end - start;
    if (n <= min) return n;
    const limit = Math.min(n, max);
    const normal = Math.min(limit, avg);
    const g = this.gear;
    const maskS = this.maskS;
    const maskL = this.maskL;
    let fp = 0;
    let i = start + min;
    const stopS = start + normal;
    for (; i < stopS; i++) {
      fp = ((fp << 1) + g[data[i]]) | 0;
      if ((fp & maskS) === 0) return i + 1 - start;
    }
    const stopL = start + limit;
    for (; i < stopL; i++) {
      fp = ((fp << 1) + g[data[i]]) | 0;
      if ((fp & maskL) === 0) return i + 1 - start;
    }
    return limit;
  }

  push(data: Buffer): Buffer[] {
    this.pending.push(data);
    this.pendingLength += data.length;
    // Cut only with a full window of max bytes in hand, so a boundary never
    // depends on how the input was split into reads.
    if (this.pendingLength < 2 * this.p.max) return [];
    return this.drain(false);
  }

  end(): Buffer[] {
    return this.drain(true);
  }

  private drain(final: boolean): Buffer[] {
    const all = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending);
    const out: Buffer[] = [];
    let pos = 0;
    while (all.length - pos >= this.p.max || (final && pos < all.length)) {
      const len = this.cut(all, pos, all.length);
      // A view, not a copy: `all` is ours or a read buffer nobody reuses.
      out.push(all.subarray(pos, pos + len));
      pos += len;
    }
    this.pending = pos < all.length ? [all.subarray(pos)] : [];
    this.pendingLength = all.length - pos;
    return out;
  }
}

export class FixedChunker implements Chunker {
  private pending: Buffer[] = [];
  private pendingLength = 0;
  private readonly size: number;
  constructor(size: number) {
    this.size = size;
  }
  push(data: Buffer): Buffer[] {
    this.pending.push(data);
    this.pendingLength += data.length;
    return this.pendingLength >= this.size ? this.drain(false) : [];
  }
  end(): Buffer[] {
    return this.drain(true);
  }
  private drain(final: boolean): Buffer[] {
    const all = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending);
    const out: Buffer[] = [];
    let pos = 0;
    for (; all.length - pos >= this.size; pos += this.size) out.push(all.subarray(pos, pos + this.size));
    if (final && pos < all.length) {
      out.push(all.subarray(pos));
      pos = all.length;
    }
    this.pending = pos < all.length ? [all.subarray(pos)] : [];
    this.pendingLength = all.length - pos;
    return out;
  }
}

const SQLITE_MAGIC = Buffer.from("SQLite format 3\0", "latin1");

/** SQLite page size from a file's first 100 bytes, or 0 if it is not a SQLite database. */
export function sqlitePageSize(head: Buffer): number {
  if (head.length < 100 || !head.subarray(0, 16).equals(SQLITE_MAGIC)) return 0;
  const raw = head.readUInt16BE(16);
  const size = raw === 1 ? 65536 : raw;
  return size >= 512 && (size & (size - 1)) === 0 ? size : 0;
}

/** The chunker for a stream whose first bytes are head (at least 100 bytes, or the whole stream). */
export function chunkerFor(head: Buffer, gear: Int32Array): { chunker: Chunker; kind: "sqlite" | "cdc" } {
  const page = sqlitePageSize(head);
  if (page > 0) return { chunker: new FixedChunker(Math.max(page, SQLITE_MIN_CHUNK)), kind: "sqlite" };
  return { chunker: new FastCdc(gear), kind: "cdc" };
}
