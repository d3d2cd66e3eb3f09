// Turns new chunks into pack files. Consecutive small chunks (SQLite pages)
// are compressed together as one zstd frame of about FRAME bytes: one call
// per frame instead of per chunk, and a better ratio than 4 KiB pieces. A
// pack's plaintext is its frames back to back, then a JSON trailer listing
// the chunks and its length (uint32 LE), so an index can be rebuilt from the
// packs alone. Each pack is one age file encrypted to the data recipients.
import { promisify } from "node:util";
import { constants, zstdCompress } from "node:zlib";
import type { Backend } from "../backends/backend.ts";
import { encrypt } from "./age.ts";
import type { PackInfo } from "./index.ts";
import { Pipeline } from "./pipeline.ts";
import { sha256 } from "./repository.ts";

const compress = promisify(zstdCompress);
export const ZSTD_LEVEL = 3;
/**
 * Raw bytes gathered into one zstd frame. Each zstd call costs ~0.3 ms here
 * whatever its size, so frames are large; reading one 4 KiB page still means
 * decompressing its frame, which is cheap next to the call.
 */
export const FRAME = 512 * 1024;
/** Frames compressed at once (zstd runs on libuv's thread pool). */
const COMPRESSING = 4;
const SAVING = 2;

export class Packer {
  private group: { id: Buffer; data: Buffer }[] = [];
  private groupLength = 0;
  private parts: Buffer[] = [];
  private size = 0;
  private chunks: PackInfo["chunks"] = [];
  private readonly compressing = new Pipeline(COMPRESSING);
  private saving: Promise<void>[] = [];
  /** Packs saved and not yet taken by takeSaved(). */
  private saved: PackInfo[] = [];
  /** Every pack this packer saved, and their bytes. */
  readonly written: string[] = [];
  writtenBytes = 0;
  private readonly backend: Backend;
  private readonly recipients: Buffer[];
  private readonly packSize: number;

  constructor(backend: Backend, recipients: Buffer[], packSize: number) {
    this.backend = backend;
    this.recipients = recipients;
    this.packSize = packSize;
  }

  /** Add one new chunk (plaintext); resolves when there is room for more. */
  async add(id: Buffer, data: Buffer): Promise<void> {
    this.group.push({ id, data });
    this.groupLength += data.length;
    if (this.groupLength >= FRAME) await this.compressGroup();
  }

  private async compressGroup(): Promise<void> {
    if (this.group.length === 0) return;
    const group = this.group;
    const raw = group.length === 1 ? group[0].data : Buffer.concat(group.map((c) => c.data));
    this.group = [];
    this.groupLength = 0;
    await this.compressing.run(async () => {
      const frame = await compress(raw, {
        params: { [constants.ZSTD_c_compressionLevel]: ZSTD_LEVEL },
        pledgedSrcSize: raw.length,
      } as object);
      const offset = this.size;
      let inner = 0;
      for (const c of group) {
        this.chunks.push([c.id.toString("hex"), offset, frame.length, c.data.length, inner]);
        inner += c.data.length;
      }
      this.parts.push(frame);
      this.size += frame.length;
      if (this.size >= this.packSize) await this.seal();
    });
  }

  private async seal(): Promise<void> {
    if (this.chunks.length === 0) return;
    const trailer = Buffer.from(JSON.stringify({ chunks: this.chunks }));
    const len = Buffer.alloc(4);
    len.writeUInt32LE(trailer.length);
    const data = encrypt(Buffer.concat([...this.parts, trailer, len]), this.recipients);
    const info: PackInfo = { id: sha256(data), size: data.length, chunks: this.chunks };
    this.parts = [];
    this.size = 0;
    this.chunks = [];
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
