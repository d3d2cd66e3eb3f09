// Which index entries a backup may deduplicate against. Index files are
// written with the write key, which a compromised runner holds too, and a
// runner cannot decrypt packs to check an entry; so a backup refers only to
// entries that agree with each other and with what storage holds: the pack
// exists with the size its index gives, no other index file lists it, and its
// frames neither overlap nor run past its end. A chunk listed in several
// places (after --full, or planted) is used from the packs the latest
// snapshot uses, or else stored again. `verify --read-data` checks every
// entry against its pack's trailer and content; this only keeps a backup
// from building on entries that are visibly wrong.
import type { Logger } from "../../log.ts";
import { Index, type Location } from "./chunk-index.ts";
import type { Repository } from "./repository.ts";

const TRUSTED = 1;
const PARENT = 2;

export class DedupIndex {
  /** Every entry, trusted or not (for the expiry rule, which narrows it further). */
  readonly index: Index;
  /** Per pack number: 0 (not trusted), TRUSTED, or TRUSTED|PARENT. */
  private readonly flags: Uint8Array;
  /** Packs not trusted, with why. */
  readonly distrusted: Map<string, string>;

  private constructor(index: Index, flags: Uint8Array, distrusted: Map<string, string>) {
    this.index = index;
    this.flags = flags;
    this.distrusted = distrusted;
  }

  /** The repository's index, with the packs it may trust; `parentPacks`: the packs of the snapshot this backup follows. */
  static async load(repo: Repository, parentPacks: Set<string>, log?: Logger): Promise<DedupIndex> {
    const index = await Index.load(repo);
    const stored = new Map<string, number>();
    for await (const f of repo.backend.list("pack")) stored.set(f.name, f.size);
    const distrusted = new Map<string, string>();
    for (const [id, p] of index.packs) {
      const size = stored.get(id);
      if (size === undefined) distrusted.set(id, "it is missing");
      else if (size !== p.size) distrusted.set(id, `it has ${size} bytes, its index says ${p.size}`);
      else if (index.listedTwice.has(id)) distrusted.set(id, `index files ${[p.indexFile, ...index.listedTwice.get(id)!].join(" and ")} both list it`);
    }
    for (const [id, why] of framesProblems(index)) if (!distrusted.has(id)) distrusted.set(id, why);
    const flags = new Uint8Array(index.packIds.length);
    index.packIds.forEach((id, n) => (flags[n] = distrusted.has(id) ? 0 : TRUSTED | (parentPacks.has(id) ? PARENT : 0)));
    if (log && distrusted.size > 0) {
      const [first, why] = distrusted.entries().next().value!;
      log.warn(`${distrusted.size} pack(s) are not deduplicated against (pack ${first}: ${why}); their chunks are stored again; run \`cairn verify --read-data\` with the identity`);
    }
    return new DedupIndex(index, flags, distrusted);
  }

  /**
   * Where the repository already has this chunk, if that can be trusted: its
   * locations in trusted packs agree on its size, and are one place or one
   * of them is in a pack the latest snapshot uses.
   */
  lookup(id: Uint8Array): Location | undefined {
    let found: Uint32Array | undefined;
    let inParent = false;
    let disagree = false;
    this.index.visit(id, (v) => {
      const f = this.flags[v[0]];
      if (!f) return false;
      if (!found) [found, inParent] = [v.slice(), (f & PARENT) !== 0];
      else if (v[3] !== found[3]) disagree = true;
      else if (!inParent && f & PARENT) [found, inParent] = [v.slice(), true];
      else if (!inParent && (v[0] !== found[0] || v[1] !== found[1] || v[4] !== found[4])) disagree = true;
      return false;
    });
    if (!found || (disagree && !inParent) || (disagree && this.sizesDiffer(id))) return undefined;
    return { pack: this.index.packIds[found[0]], offset: found[1], length: found[2], rawLength: found[3], inner: found[4] };
  }

  private sizesDiffer(id: Uint8Array): boolean {
    let size = -1;
    let differ = false;
    this.index.visit(id, (v) => {
      if (!this.flags[v[0]]) return false;
      if (size >= 0 && v[3] !== size) differ = true;
      size = v[3];
      return false;
    });
    return differ;
  }
}

/** Packs whose frames (as all index files list them) overlap one another or end past the pack file. */
export function framesProblems(index: Index): Map<string, string> {
  const frames = new Map<number, Map<number, number>>();
  for (const [n, offset, length] of index.values()) {
    let m = frames.get(n);
    if (!m) frames.set(n, (m = new Map()));
    const known = m.get(offset);
    m.set(offset, known === undefined ? length : known === length ? known : -1);
  }
  const out = new Map<string, string>();
  for (const [n, m] of frames) {
    const id = index.packIds[n];
    const size = index.packs.get(id)!.size;
    let end = 0;
    for (const [offset, length] of [...m].sort((a, b) => a[0] - b[0])) {
      if (length < 0) out.set(id, `two frames of different lengths at offset ${offset}`);
      else if (offset < end) out.set(id, `frames overlap at offset ${offset}`);
      else if (offset + length > size) out.set(id, `a frame at offset ${offset} runs past the pack's end`);
      else {
        end = offset + length;
        continue;
      }
      break;
    }
  }
  return out;
}
