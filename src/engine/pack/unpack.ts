// Unpacking: sealed pack bytes -> frames -> checked chunks -> file writes.
// Restore reads each pack once and hands its needed span to unpack(), run on
// a worker thread (../tasks.ts), which decrypts, decompresses, checks every
// chunk against its keyed ID and writes it at its offset in the restored file
// (pwrite on a shared fd).
import { createSecretKey, type KeyObject } from "node:crypto";
import { writevSync } from "node:fs";
import { IntegrityError } from "../../errors.ts";
import { openSegment, SEGMENT, TAG } from "../crypto/age.ts";
import { decompressFrame } from "./frame.ts";

/** Bytes given to one writev. */
const MAX_WRITE = 4 * 1024 * 1024;

/** One span of one pack and the chunks to cut out of it. */
export interface UnpackJob {
  pack: string;
  /** Sealed age segments, starting with segment `first`. */
  sealed: Uint8Array;
  first: number;
  totalSegments: number;
  /** The pack's payload key. */
  key: Uint8Array;
  /** Frames as (offset in the pack's plaintext, length) pairs, ascending. */
  frames: Uint32Array;
  /** Per chunk: frame number (into frames), offset in the frame, length, fd. Ordered by frame. */
  chunks: Uint32Array;
  /** Per chunk: where it goes in its file. */
  positions: Float64Array;
  /** Per chunk: its 32-byte ID. */
  ids: Uint8Array;
  /** Per chunk: bytes at its start that are not content (a salted entry's salt), checked with the chunk, not written. */
  skips: Uint8Array;
}

export type Write = (fd: number, buffers: Buffer[], position: number) => void;

const writeAll: Write = (fd, buffers, position) => {
  let left = buffers.reduce((n, b) => n + b.length, 0);
  let at = position;
  while (left > 0) {
    const n = writevSync(fd, buffers, at);
    left -= n;
    at += n;
    if (left > 0) buffers = dropBytes(buffers, n);
  }
};

function dropBytes(buffers: Buffer[], n: number): Buffer[] {
  const out: Buffer[] = [];
  for (const b of buffers) {
    if (n >= b.length) n -= b.length;
    else {
      out.push(b.subarray(n));
      n = 0;
    }
  }
  return out;
}

/**
 * A job's sealed segments, opened one at a time as frames need them. A frame's
 * stored bytes are copied out of its segments into one reused buffer: no
 * plaintext copy of the whole span, and little garbage per frame.
 */
class Segments {
  private readonly sealed: Buffer;
  private readonly key: KeyObject;
  private readonly first: number;
  private readonly total: number;
  private readonly what: string;
  private openNo = -1;
  private open: Buffer = Buffer.alloc(0);
  private static scratch = Buffer.alloc(0);

  constructor(job: UnpackJob, what: string) {
    this.sealed = Buffer.from(job.sealed.buffer, job.sealed.byteOffset, job.sealed.byteLength);
    this.key = createSecretKey(job.key);
    this.first = job.first;
    this.total = job.totalSegments;
    this.what = what;
  }

  private segment(counter: number): Buffer {
    if (counter !== this.openNo) {
      const at = (counter - this.first) * (SEGMENT + TAG);
      const sealed = this.sealed.subarray(at, at + SEGMENT + TAG);
      if (at < 0 || sealed.length <= TAG) throw new IntegrityError(`${this.what}: shorter than the index says`);
      this.open = openSegment(this.key, counter, counter === this.total - 1, sealed, this.what);
      this.openNo = counter;
    }
    return this.open;
  }

  /** Plaintext bytes [offset, offset+length) of the pack, valid until the next call. */
  read(offset: number, length: number): Buffer {
    if (Segments.scratch.length < length) Segments.scratch = Buffer.allocUnsafe(Math.max(length, 2 * 1024 * 1024));
    const out = Segments.scratch.subarray(0, length);
    let done = 0;
    while (done < length) {
      const at = offset + done;
      const seg = this.segment(Math.floor(at / SEGMENT));
      const n = seg.copy(out, done, at % SEGMENT, Math.min(seg.length, (at % SEGMENT) + length - done));
      if (n === 0) throw new IntegrityError(`${this.what}: shorter than the index says`);
      done += n;
    }
    return out;
  }
}

/** Decrypt, decompress and check a job's chunks, and write them; the bytes written. */
export function unpack(job: UnpackJob, chunkId: (data: Uint8Array) => Buffer, write: Write = writeAll): number {
  const what = `pack ${job.pack}`;
  const segments = new Segments(job, what);
  const { frames, chunks, positions, ids, skips } = job;
  let frameNo = -1;
  let frame: Buffer = Buffer.alloc(0);
  // The run of bytes waiting to be written: one fd, contiguous in the file.
  let run: Buffer[] = [];
  let runFd = -1;
  let runStart = 0;
  let runEnd = 0;
  let bytes = 0;
  // The last piece checked: a chunk repeated in a file (zero pages) is hashed once.
  let checkedFrame = -1;
  let checkedInner = -1;
  let checkedId = -1;
  const flush = () => {
    if (run.length > 0) write(runFd, run, runStart);
    run = [];
  };
  const n = positions.length;
  for (let c = 0; c < n; c++) {
    const f = chunks[c * 4];
    const inner = chunks[c * 4 + 1];
    const length = chunks[c * 4 + 2];
    const fd = chunks[c * 4 + 3];
    if (f !== frameNo) {
      frame = decompressFrame(job.pack, frames[f * 2], segments.read(frames[f * 2], frames[f * 2 + 1]));
      frameNo = f;
    }
    const stored = frame.subarray(inner, inner + length);
    const id = ids.subarray(c * 32, c * 32 + 32);
    const same = f === checkedFrame && inner === checkedInner && Buffer.compare(id, ids.subarray(checkedId * 32, checkedId * 32 + 32)) === 0;
    if (!same) {
      if (stored.length !== length || length < skips[c] || !chunkId(stored).equals(id)) {
        throw new IntegrityError(`chunk ${Buffer.from(id).toString("hex")} in ${what} does not match its ID`);
      }
      checkedFrame = f;
      checkedInner = inner;
      checkedId = c;
    }
    const piece = skips[c] ? stored.subarray(skips[c]) : stored;
    const position = positions[c];
    if (fd !== runFd || position !== runEnd || runEnd - runStart >= MAX_WRITE) {
      flush();
      runFd = fd;
      runStart = position;
    } else {
      // Pages next to each other in the frame and in the file: one buffer.
      const last = run[run.length - 1];
      if (last.buffer === piece.buffer && last.byteOffset + last.length === piece.byteOffset) {
        run[run.length - 1] = Buffer.from(last.buffer, last.byteOffset, last.length + piece.length);
        runEnd = position + piece.length;
        bytes += piece.length;
        continue;
      }
    }
    run.push(piece);
    runEnd = position + piece.length;
    bytes += piece.length;
  }
  flush();
  return bytes;
}
