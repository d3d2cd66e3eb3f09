// The index: where each chunk is stored (pack, frame, offset in the frame).
// Backups write index files listing the packs they added; loading reads them
// all into a compact table. A chunk stored twice (after a --full backup) has
// several locations; readers prefer the packs their snapshot names.
import { IntegrityError } from "../../errors.ts";
import { HEX, IdTable, startsAt } from "../chunk/idtable.ts";
import { recordLines, type ChunkRecord, type PackInfo } from "../pack/trailer.ts";
import type { Repository } from "./repository.ts";

export interface Location {
  pack: string;
  /** Where the zstd frame holding the chunk starts in the pack's plaintext. */
  offset: number;
  /** Length of that frame. */
  length: number;
  /** Length of the chunk's plaintext. */
  rawLength: number;
  /** Where the chunk starts in the frame's decompressed bytes. */
  inner: number;
}

/** One pack or chunk per line: greppable after `age -d | zstd -d` (RECOVERY.md), and parsed line by line. */
export function* indexText(packs: PackInfo[]): Generator<string> {
  yield '{"version":1,"packs":[\n';
  for (let i = 0; i < packs.length; i++) {
    const p = packs[i];
    yield `{"id":"${p.id}","size":${p.size},"chunks":[\n${recordLines(p.chunks).join(",\n")}]}${i < packs.length - 1 ? ",\n" : ""}`;
  }
  yield "]}\n";
}

export function encodeIndex(packs: PackInfo[]): string {
  return [...indexText(packs)].join("");
}

const HEAD = Buffer.from('{"version":1,"packs":[\n');
const PACK_OPEN = Buffer.from('{"id":"');
const PACK_SIZE = Buffer.from('","size":');
const PACK_CHUNKS = Buffer.from(',"chunks":[');
const PACK_CLOSE = Buffer.from("]}");
const CHUNK_OPEN = Buffer.from('["');
const QUOTE_COMMA = Buffer.from('",');
const COMMA = Buffer.from(",");
const CLOSE = Buffer.from("]");

export class Index {
  private readonly table = new IdTable(5); // pack number, offset, length, raw length, inner
  /** Pack IDs by the index's pack number (the first value of each location). */
  readonly packIds: string[] = [];
  private readonly packNumbers = new Map<string, number>();
  /** Every indexed pack: its size and the index file that lists it. */
  readonly packs = new Map<string, { size: number; indexFile: string }>();
  /** Packs listed by more than one index file (a backup lists each pack once): pack ID -> the other files. */
  readonly listedTwice = new Map<string, string[]>();

  addPack(id: string, size: number, indexFile = ""): number {
    let n = this.packNumbers.get(id);
    if (n !== undefined && indexFile !== this.packs.get(id)!.indexFile) this.listedTwice.set(id, [...(this.listedTwice.get(id) ?? []), indexFile]);
    if (n === undefined) {
      n = this.packIds.length;
      this.packIds.push(id);
      this.packNumbers.set(id, n);
      this.packs.set(id, { size, indexFile });
    }
    return n;
  }

  add(p: PackInfo, indexFile = ""): void {
    const n = this.addPack(p.id, p.size, indexFile);
    const c = p.chunks;
    if (Array.isArray(c)) {
      for (const [id, offset, length, rawLength, inner] of c) this.table.add(Buffer.from(id, "hex"), [n, offset, length, rawLength, inner]);
    } else {
      for (let i = 0; i < c.length; i++) this.table.add(c.id(i), [n, ...c.values(i)]);
    }
  }

  get size(): number {
    return this.table.size;
  }

  has(id: Uint8Array): boolean {
    return this.table.has(id);
  }

  /** The chunk's location, from a preferred pack when it is in several. */
  lookup(id: Uint8Array, prefer?: Set<string>): Location | undefined {
    const v = this.found;
    if (!this.locateInto(id, prefer && this.flagsFor(prefer), v, 0)) return undefined;
    return { pack: this.packIds[v[0]], offset: v[1], length: v[2], rawLength: v[3], inner: v[4] };
  }

  private readonly found = new Uint32Array(5);
  private readonly flags = new WeakMap<Set<string>, Uint8Array>();

  /** packFlags for a set, kept while no pack is added. */
  private flagsFor(prefer: Set<string>): Uint8Array {
    let f = this.flags.get(prefer);
    if (!f || f.length !== this.packIds.length) this.flags.set(prefer, (f = this.packFlags(prefer)));
    return f;
  }


  /**
   * Write the chunk's location (pack number, offset, length, raw length,
   * inner) to out[at..at+5], from a preferred pack when it is in several;
   * false when no index lists it. No object per call: restore locates every
   * chunk of a snapshot.
   */
  locateInto(id: Uint8Array, preferred: Uint8Array | undefined, out: Uint32Array, at: number): boolean {
    let found = false;
    this.table.find(id, (v) => {
      if (!found || !preferred || preferred[v[0]]) out.set(v, at);
      found = true;
      return !preferred || preferred[v[0]] === 1;
    });
    return found;
  }

  /** Every location's values (pack number, offset, length, raw length, inner); the array is the table's own. */
  *values(): Generator<Uint32Array> {
    for (const [, v] of this.table.entries()) yield v;
  }

  /** Every chunk location, as (ID, location); the ID buffer is reused between items. */
  *locations(): Generator<[Buffer, Location]> {
    for (const [id, v] of this.table.entries()) yield [id, { pack: this.packIds[v[0]], offset: v[1], length: v[2], rawLength: v[3], inner: v[4] }];
  }

  /** Call visit with each location's values (pack number, offset, length, raw length, inner) until it returns true. */
  visit(id: Uint8Array, visit: (values: Uint32Array) => boolean): void {
    this.table.find(id, visit);
  }

  /** Every location of a chunk. */
  all(id: Uint8Array): Location[] {
    const out: Location[] = [];
    this.table.find(id, (v) => {
      out.push({ pack: this.packIds[v[0]], offset: v[1], length: v[2], rawLength: v[3], inner: v[4] });
      return false;
    });
    return out;
  }

  /** A flag per pack number: 1 for the packs in the set. */
  packFlags(packs: Set<string>): Uint8Array {
    const flags = new Uint8Array(this.packIds.length);
    this.packIds.forEach((id, n) => (flags[n] = packs.has(id) ? 1 : 0));
    return flags;
  }

  /**
   * Add one index file (the layout indexText writes, one pack or chunk per
   * line), parsed from its bytes: no string or regular expression per chunk.
   */
  addBytes(name: string, json: Buffer): void {
    if (!json.subarray(0, HEAD.length).equals(HEAD)) throw new IntegrityError(`index ${name}: not a version 1 index`);
    const id = Buffer.alloc(32);
    const values = [0, 0, 0, 0, 0];
    let pack = -1;
    let pos = HEAD.length;
    // A cursor over one line; each step returns false when the line does not fit.
    let p = 0;
    const lit = (l: Buffer) => startsAt(json, l, p) && ((p += l.length), true);
    const hex = () => {
      for (let k = 0; k < 32; k++) {
        const hi = HEX[json[p + 2 * k]];
        const lo = HEX[json[p + 2 * k + 1]];
        if (hi < 0 || lo < 0) return false;
        id[k] = (hi << 4) | lo;
      }
      p += 64;
      return true;
    };
    const num = (k: number) => {
      let n = 0;
      const start = p;
      while (p < json.length && json[p] >= 0x30 && json[p] <= 0x39 && p - start < 15) n = n * 10 + json[p++] - 0x30;
      values[k] = n;
      return p > start;
    };
    while (pos < json.length) {
      let end = json.indexOf(10, pos);
      if (end < 0) end = json.length;
      p = pos;
      if (end > pos) {
        if (pack >= 0 && lit(CHUNK_OPEN) && hex() && lit(QUOTE_COMMA) && num(1) && lit(COMMA) && num(2) && lit(COMMA) && num(3) && lit(COMMA) && num(4) && lit(CLOSE)) {
          lit(PACK_CLOSE);
          lit(PACK_CLOSE);
          lit(COMMA);
          if (p === end) {
            values[0] = pack;
            this.table.add(id, values);
            pos = end + 1;
            continue;
          }
        }
        p = pos;
        if (lit(PACK_OPEN) && hex() && lit(PACK_SIZE) && num(0) && lit(PACK_CHUNKS) && p === end) {
          pack = this.addPack(id.toString("hex"), values[0], name);
          pos = end + 1;
          continue;
        }
        throw new IntegrityError(`index ${name}: malformed line ${JSON.stringify(json.subarray(pos, Math.min(end, pos + 80)).toString("utf8"))}`);
      }
      pos = end + 1;
    }
  }

  static async load(repo: Repository): Promise<Index> {
    const index = new Index();
    for (const name of await repo.listNames("index")) index.addBytes(name, await repo.loadMetaBytes("index", name));
    return index;
  }
}
