// Groups compressed chunks into pack files of about packSize bytes, each one
// age file encrypted to the data recipients. A pack's plaintext is the chunks'
// zstd frames back to back, then a JSON trailer listing them and its length
// (uint32 LE), so an index can be rebuilt from the packs alone.
import type { Backend } from "../backends/backend.ts";
import { encrypt } from "./age.ts";
import type { PackInfo } from "./index.ts";
import { sha256 } from "./repository.ts";

const MAX_SAVING = 2;

export class Packer {
  private parts: Buffer[] = [];
  private size = 0;
  private chunks: PackInfo["chunks"] = [];
  private saving: Promise<void>[] = [];
  readonly written: PackInfo[] = [];
  private readonly backend: Backend;
  private readonly recipients: Buffer[];
  private readonly packSize: number;
  private readonly onPack: (p: PackInfo) => void;

  constructor(backend: Backend, recipients: Buffer[], packSize: number, onPack: (p: PackInfo) => void = () => {}) {
    this.backend = backend;
    this.recipients = recipients;
    this.packSize = packSize;
    this.onPack = onPack;
  }

  /** Add one compressed chunk; resolves when there is room for more (backpressure). */
  async add(id: string, frame: Buffer, rawLength: number): Promise<void> {
    this.chunks.push([id, this.size, frame.length, rawLength]);
    this.parts.push(frame);
    this.size += frame.length;
    if (this.size >= this.packSize) await this.seal();
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
      this.written.push(info);
      this.onPack(info);
    });
    save.catch(() => {}); // observed by finish() or settle(); avoid an unhandled rejection meanwhile
    this.saving.push(save);
    if (this.saving.length >= MAX_SAVING) await this.saving.shift();
  }

  /** Seal the last pack and wait for every save. */
  async finish(): Promise<PackInfo[]> {
    await this.seal();
    await Promise.all(this.saving);
    this.saving = [];
    return this.written;
  }

  /** Wait for saves in flight without throwing (cleanup after a failure). */
  async settle(): Promise<void> {
    await Promise.allSettled(this.saving);
  }
}
