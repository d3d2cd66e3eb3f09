// Compact in-memory tables keyed by 32-byte chunk IDs. A 2 GiB SQLite
// database is half a million 4 KiB chunks; as JS strings and objects their
// metadata alone would take hundreds of MB. Here an entry is 32 bytes of ID
// plus a few uint32s, in typed arrays with open addressing.

const ID = 32;

/** Whether text holds lit at offset at (a loop: a native compare costs more for a few bytes). */
export function startsAt(text: Uint8Array, lit: Uint8Array, at: number): boolean {
  if (at + lit.length > text.length) return false;
  for (let k = 0; k < lit.length; k++) if (text[at + k] !== lit[k]) return false;
  return true;
}

/** Value of each lowercase hex digit by character code; -1 for anything else. */
export const HEX = new Int8Array(256).fill(-1);
for (let i = 0; i < 16; i++) HEX["0123456789abcdef".charCodeAt(i)] = i;

/** IDs per block of an IdList (1 MiB). */
const BLOCK_BITS = 15;
const BLOCK = 1 << BLOCK_BITS;

/**
 * A growable list of chunk IDs (an entry's content, in order), in blocks of
 * 1 MiB: a long list grows without copying itself or holding twice its size.
 */
export class IdList {
  private blocks: Buffer[] = [Buffer.alloc(ID * 64)];
  length = 0;

  /** Room for one more ID; the block and byte offset it goes to. */
  private reserve(): [Buffer, number] {
    const n = this.length >>> BLOCK_BITS;
    const at = (this.length & (BLOCK - 1)) * ID;
    if (n === this.blocks.length) this.blocks.push(Buffer.alloc(ID * BLOCK));
    let b = this.blocks[n];
    if (at + ID > b.length) {
      const bigger = Buffer.alloc(Math.min(b.length * 2, ID * BLOCK));
      b.copy(bigger, 0, 0, at);
      this.blocks[n] = b = bigger;
    }
    return [b, at];
  }

  push(id: Uint8Array): void {
    const [b, at] = this.reserve();
    b.set(id, at);
    this.length++;
  }

  /** Append the ID written as 64 lowercase hex digits at text[at]; false if they are not. */
  pushHex(text: Uint8Array, at: number): boolean {
    const [b, o] = this.reserve();
    for (let k = 0; k < ID; k++) {
      const hi = HEX[text[at + 2 * k]];
      const lo = HEX[text[at + 2 * k + 1]];
      if (hi < 0 || lo < 0) return false;
      b[o + k] = (hi << 4) | lo;
    }
    this.length++;
    return true;
  }

  get(i: number): Buffer {
    const at = (i & (BLOCK - 1)) * ID;
    return this.blocks[i >>> BLOCK_BITS].subarray(at, at + ID);
  }

  /** Copy every ID, 32 bytes each, into target at offset. */
  copyTo(target: Uint8Array, offset: number): void {
    for (let n = 0; n * BLOCK < this.length; n++) {
      const count = Math.min(BLOCK, this.length - n * BLOCK);
      target.set(this.blocks[n].subarray(0, count * ID), offset + n * BLOCK * ID);
    }
  }

  *[Symbol.iterator](): Iterator<Buffer> {
    for (let i = 0; i < this.length; i++) yield this.get(i);
  }
}

/**
 * A multimap from chunk ID to `width` uint32 values, with linear probing.
 * The IDs are keyed hashes, so their first word is already a good hash.
 */
export class IdTable {
  private cap = 1024;
  private words = new Uint32Array(this.cap * 8);
  private used = new Uint8Array(this.cap);
  private vals: Uint32Array;
  size = 0;
  readonly width: number;

  constructor(width: number) {
    this.width = width;
    this.vals = new Uint32Array(this.cap * width);
  }

  private readonly key = new Uint32Array(8);

  /** The ID as eight little-endian words, in this.key. */
  private load(id: Uint8Array): Uint32Array {
    if (id.length !== ID) throw new Error(`a chunk ID has ${ID} bytes, not ${id.length}`);
    const k = this.key;
    for (let i = 0; i < 8; i++) k[i] = (id[i * 4] | (id[i * 4 + 1] << 8) | (id[i * 4 + 2] << 16) | (id[i * 4 + 3] << 24)) >>> 0;
    return k;
  }

  /** Add an entry (an ID may be added more than once, with other values). */
  add(id: Uint8Array, values: ArrayLike<number>): void {
    // Grow past 3/4 full: random IDs keep linear probes short there, and a
    // 2 GiB database (just over 2^19 pages) fits 2^20 slots, not 2^21.
    if ((this.size + 1) * 4 > this.cap * 3) this.grow();
    this.place(this.load(id), values);
    this.size++;
  }

  private place(k: Uint32Array, values: ArrayLike<number>): void {
    const mask = this.cap - 1;
    let slot = k[0] & mask;
    while (this.used[slot]) slot = (slot + 1) & mask;
    this.used[slot] = 1;
    this.words.set(k, slot * 8);
    for (let i = 0; i < this.width; i++) this.vals[slot * this.width + i] = values[i];
  }

  private grow(): void {
    const { cap, words, used, vals } = this;
    this.cap = cap * 2;
    this.words = new Uint32Array(this.cap * 8);
    this.used = new Uint8Array(this.cap);
    this.vals = new Uint32Array(this.cap * this.width);
    for (let s = 0; s < cap; s++) {
      if (used[s]) this.place(words.subarray(s * 8, s * 8 + 8), vals.subarray(s * this.width, (s + 1) * this.width));
    }
  }

  has(id: Uint8Array): boolean {
    return this.find(id, () => true);
  }

  /** Every entry: its ID (a reused buffer: copy it to keep it) and values. */
  *entries(): Generator<[id: Buffer, values: Uint32Array]> {
    const id = Buffer.alloc(ID);
    for (let s = 0; s < this.cap; s++) {
      if (!this.used[s]) continue;
      for (let i = 0; i < 8; i++) id.writeUInt32LE(this.words[s * 8 + i], i * 4);
      yield [id, this.vals.subarray(s * this.width, (s + 1) * this.width)];
    }
  }

  /** Call visit with each entry's values until it returns true; whether one did. */
  find(id: Uint8Array, visit: (values: Uint32Array) => boolean): boolean {
    const k = this.load(id);
    const w = this.words;
    const mask = this.cap - 1;
    for (let slot = k[0] & mask; this.used[slot]; slot = (slot + 1) & mask) {
      const b = slot * 8;
      if (w[b] === k[0] && w[b + 1] === k[1] && w[b + 2] === k[2] && w[b + 3] === k[3] && w[b + 4] === k[4] && w[b + 5] === k[5] && w[b + 6] === k[6] && w[b + 7] === k[7]) {
        if (visit(this.vals.subarray(slot * this.width, (slot + 1) * this.width))) return true;
      }
    }
    return false;
  }
}
