// A pack's trailer: the records of the chunks it holds (ID, where its frame
// sits in the pack's plaintext, its size, where it starts in the frame), at
// the end of the pack's plaintext, so an index can be rebuilt from the packs
// alone. Index files list the same records per pack.
import { IntegrityError } from "../../errors.ts";

export type ChunkRecord = [id: string, offset: number, length: number, rawLength: number, inner: number];

/** A pack's chunk records in one buffer (32-byte ID + offset, length, raw length, inner as uint32 LE): no object per chunk. */
export class ChunkRecords {
  private buf = Buffer.alloc(48 * 256);
  length = 0;

  push(id: Uint8Array, offset: number, length: number, rawLength: number, inner: number): void {
    if ((this.length + 1) * 48 > this.buf.length) {
      const bigger = Buffer.alloc(this.buf.length * 2);
      this.buf.copy(bigger);
      this.buf = bigger;
    }
    const at = this.length * 48;
    this.buf.set(id, at);
    this.buf.writeUInt32LE(offset, at + 32);
    this.buf.writeUInt32LE(length, at + 36);
    this.buf.writeUInt32LE(rawLength, at + 40);
    this.buf.writeUInt32LE(inner, at + 44);
    this.length++;
  }

  id(i: number): Buffer {
    return this.buf.subarray(i * 48, i * 48 + 32);
  }

  values(i: number): [offset: number, length: number, rawLength: number, inner: number] {
    const at = i * 48 + 32;
    return [this.buf.readUInt32LE(at), this.buf.readUInt32LE(at + 4), this.buf.readUInt32LE(at + 8), this.buf.readUInt32LE(at + 12)];
  }

  /** Record i as the JSON text of a ChunkRecord. */
  json(i: number): string {
    return `["${this.id(i).toString("hex")}",${this.values(i).join(",")}]`;
  }
}

export interface PackInfo {
  id: string;
  /** Size of the pack file. */
  size: number;
  chunks: ChunkRecord[] | ChunkRecords;
}

export function recordLines(chunks: PackInfo["chunks"]): string[] {
  if (Array.isArray(chunks)) return chunks.map((c) => JSON.stringify(c));
  return Array.from({ length: chunks.length }, (_, i) => chunks.json(i));
}

/** A pack's trailer: its chunk records as JSON. */
export function trailerText(chunks: PackInfo["chunks"]): string {
  return `{"chunks":[${recordLines(chunks).join(",")}]}`;
}


/** The chunk records at the end of a pack's plaintext: JSON trailer, then its length (uint32 LE). */
export function parseTrailer(pack: string, plain: Buffer): ChunkRecord[] {
  const n = plain.length >= 4 ? plain.readUInt32LE(plain.length - 4) : -1;
  try {
    if (n < 0 || n > plain.length - 4) throw new Error();
    const chunks = JSON.parse(plain.subarray(plain.length - 4 - n, plain.length - 4).toString("utf8")).chunks;
    if (!Array.isArray(chunks)) throw new Error();
    return chunks;
  } catch {
    throw new IntegrityError(`pack ${pack}: its trailer is unreadable`);
  }
}
