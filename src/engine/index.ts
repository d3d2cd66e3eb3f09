// The index: where each chunk is stored (pack, offset, length). Each backup
// writes one index file listing the packs it added; loading the repository's
// index reads them all. A chunk stored twice (after a --full backup) has
// several locations; readers prefer the packs their snapshot names.
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

export interface PackInfo {
  id: string;
  /** Size of the pack file. */
  size: number;
  chunks: [id: string, offset: number, length: number, rawLength: number, inner: number][];
}

export interface IndexFile {
  version: 1;
  packs: PackInfo[];
}

/** One pack or chunk per line: greppable after `age -d | zstd -d` (RECOVERY.md). */
export function encodeIndex(packs: PackInfo[]): string {
  const lines = packs.map(
    (p) => `{"id":"${p.id}","size":${p.size},"chunks":[\n` + p.chunks.map((c) => JSON.stringify(c)).join(",\n") + "]}",
  );
  return `{"version":1,"packs":[\n${lines.join(",\n")}]}\n`;
}

export class Index {
  private readonly byId = new Map<string, Location>();
  private readonly extra = new Map<string, Location[]>();
  readonly packs = new Map<string, PackInfo>();
  /** Which index file lists each pack. */
  readonly packIndexFile = new Map<string, string>();

  add(p: PackInfo, indexFile = ""): void {
    this.packs.set(p.id, p);
    this.packIndexFile.set(p.id, indexFile);
    for (const [id, offset, length, rawLength, inner] of p.chunks) {
      const loc = { pack: p.id, offset, length, rawLength, inner };
      const prev = this.byId.get(id);
      if (!prev) this.byId.set(id, loc);
      else if (prev.pack !== p.id) this.extra.set(id, [...(this.extra.get(id) ?? []), loc]);
    }
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  get size(): number {
    return this.byId.size;
  }

  /** The chunk's location, from a preferred pack when it is in several. */
  lookup(id: string, prefer?: Set<string>): Location | undefined {
    const first = this.byId.get(id);
    if (!first || !prefer || prefer.has(first.pack)) return first;
    return this.extra.get(id)?.find((l) => prefer.has(l.pack)) ?? first;
  }

  static async load(repo: Repository): Promise<Index> {
    const index = new Index();
    const names = await repo.listNames("index");
    const files = await Promise.all(names.map(async (name) => [name, await repo.loadMeta<IndexFile>("index", name)] as const));
    for (const [name, file] of files) for (const p of file.packs) index.add(p, name);
    return index;
  }
}
