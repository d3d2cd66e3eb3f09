// Turns new chunks into pack files. Consecutive small chunks (SQLite pages)
// are compressed together as one frame (frame.ts). A pack's plaintext is its frames back to back, then a JSON trailer listing
// the chunks and its length (uint32 LE), so an index can be rebuilt from the
// packs alone. Each pack is one age file encrypted to the data recipients,
// sealed frame by frame as they are compressed (no plaintext copy of a pack).
import { createHash } from "node:crypto";
import type { Backend } from "../../backends/backend.ts";
import { Sealer } from "../crypto/age.ts";
import { Pipeline } from "../workers/pipeline.ts";
import { FRAME, MAX_CHUNK } from "./frame.ts";
import { ChunkRecords, trailerText, type PackInfo } from "./trailer.ts";

/** A frame's raw bytes are gathered in a buffer this large (a frame is cut once it holds FRAME bytes). */
const GROUP = FRAME + MAX_CHUNK;
/** Packs being saved at once. */
const SAVING = 2;

/** Compresses frames off the main thread (the worker threads, ../tasks.ts); raw comes back for reuse. */
export interface FrameCompressor {
  readonly size: number;
  compress(raw: Buffer, length: number): Promise<{ frame: Buffer; raw: Buffer }>;
}

export class Packer {
  // The frame being gathered: chunks are copied in at once, so no object per
  // 4 KiB page lives long enough to burden the garbage collector.
  private group: Buffer = Buffer.allocUnsafe(GROUP);
  /** Group buffers back from the workers, for reuse. */
  private spare: Buffer[] = [];
  private groupIds = Buffer.allocUnsafe(32 * 1024);
  private groupSizes: number[] = [];
  private groupLength = 0;
  /** The pack being written: sealed as its frames come, hashed for its name. */
  private sealer: Sealer | null = null;
  private sealed: Buffer[] = [];
  private sealedLength = 0;
  private hash = createHash("sha256");
  /** Plaintext bytes of the pack so far. */
  private size = 0;
  private chunks = new ChunkRecords();
  private readonly compressing: Pipeline;
  private readonly compressor: FrameCompressor;
  private saving: Promise<void>[] = [];
  /** Packs saved and not yet taken by takeSaved(). */
  private saved: PackInfo[] = [];
  /** Every pack this packer saved, and their bytes. */
  readonly written: string[] = [];
  writtenBytes = 0;
  private readonly backend: Backend;
  private readonly recipients: Buffer[];
  private readonly packSize: number;

  constructor(backend: Backend, recipients: Buffer[], packSize: number, compressor: FrameCompressor) {
    this.compressor = compressor;
    // One frame queued per worker beyond those being compressed.
    this.compressing = new Pipeline(2 * compressor.size);
    this.backend = backend;
    this.recipients = recipients;
    this.packSize = packSize;
  }

  /** Add one new chunk (plaintext); resolves when there is room for more. */
  async add(id: Buffer, data: Buffer): Promise<void> {
    if (data.length > MAX_CHUNK) throw new Error(`chunk of ${data.length} bytes exceeds ${MAX_CHUNK}`);
    const n = this.groupSizes.length;
    if ((n + 1) * 32 > this.groupIds.length) {
      const bigger = Buffer.allocUnsafe(this.groupIds.length * 2);
      this.groupIds.copy(bigger);
      this.groupIds = bigger;
    }
    this.groupIds.set(id, n * 32);
    this.group.set(data, this.groupLength);
    this.groupSizes.push(data.length);
    this.groupLength += data.length;
    if (this.groupLength >= FRAME) await this.compressGroup();
  }

  private async compressGroup(): Promise<void> {
    if (this.groupSizes.length === 0) return;
    const raw = this.group;
    const length = this.groupLength;
    const ids = Buffer.from(this.groupIds.subarray(0, this.groupSizes.length * 32));
    const sizes = this.groupSizes;
    this.group = this.spare.pop() ?? Buffer.allocUnsafe(GROUP);
    this.groupSizes = [];
    this.groupLength = 0;
    await this.compressing.run(async () => {
      const done = await this.compressor.compress(raw, length);
      this.spare.push(done.raw);
      const frame = done.frame;
      // Frames are placed in the order they finish: the index records each one's offset.
      const offset = this.size;
      let inner = 0;
      sizes.forEach((size, k) => {
        this.chunks.push(ids.subarray(k * 32, k * 32 + 32), offset, frame.length, size, inner);
        inner += size;
      });
      this.append(frame);
      this.size += frame.length;
      if (this.size >= this.packSize) await this.seal();
    });
  }

  private append(plain: Uint8Array): void {
    if (!this.sealer) {
      this.sealer = new Sealer(this.recipients);
      this.out([this.sealer.head]);
    }
    this.out(this.sealer.push(plain));
  }

  private out(pieces: Buffer[]): void {
    for (const p of pieces) {
      this.sealed.push(p);
      this.hash.update(p);
      this.sealedLength += p.length;
    }
  }

  private async seal(): Promise<void> {
    if (this.chunks.length === 0 || !this.sealer) return;
    const trailer = Buffer.from(trailerText(this.chunks));
    const len = Buffer.alloc(4);
    len.writeUInt32LE(trailer.length);
    this.append(trailer);
    this.append(len);
    this.out(this.sealer.end());
    const info: PackInfo = { id: this.hash.digest("hex"), size: this.sealedLength, chunks: this.chunks };
    const data = this.sealed;
    this.sealer = null;
    this.sealed = [];
    this.sealedLength = 0;
    this.hash = createHash("sha256");
    this.size = 0;
    this.chunks = new ChunkRecords();
    const save = this.backend.save({ type: "pack", name: info.id }, data).then(() => {
      this.saved.push(info);
      this.written.push(info.id);
      this.writtenBytes += info.size;
    });
    save.catch(() => {}); // observed by finish() or settle(); avoid an unhandled rejection meanwhile
    this.saving.push(save);
    if (this.saving.length >= SAVING) await this.saving.shift();
  }

  /** Packs saved since the last call: ready to be listed in an index file. */
  takeSaved(): PackInfo[] {
    const s = this.saved;
    this.saved = [];
    return s;
  }

  get savedCount(): number {
    return this.saved.length;
  }

  /** Compress what is left, seal the last pack and wait for every save. */
  async finish(): Promise<void> {
    await this.compressGroup();
    await this.compressing.drain();
    await this.seal();
    await Promise.all(this.saving);
    this.saving = [];
  }

  /** Wait for work in flight without throwing (cleanup after a failure). */
  async settle(): Promise<void> {
    await this.compressing.drain().catch(() => {});
    await Promise.allSettled(this.saving);
  }
}
