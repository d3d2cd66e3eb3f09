// Prune: remove the data no remaining snapshot needs. A snapshot names every
// pack it reads from, so the packs to keep are the union of the snapshots'
// pack lists; everything else goes: packs of forgotten snapshots, packs an
// interrupted backup left in no index, list files no snapshot refers to.
// Index files that name a removed pack are written anew without it.
//
// A pack most of which no snapshot reads (under half of its frames) is
// repacked when the identity is given (packs are encrypted to the
// recipients): the chunks still read are copied into new packs, and each
// snapshot that read them is written anew naming the new packs, with
// `replaces` naming the file it replaces (same time, host and content; a new
// ID). The old pack then goes like any other.
//
// Crash safety is the write order: new index files first, then the old ones
// removed, then packs and list files. A prune killed at any moment leaves a
// valid repository: at worst a pack listed twice, or garbage the next prune
// removes, or a snapshot and its replacement, the old one hidden and removed
// next time; never a snapshot that lacks something. Before removing anything,
// every snapshot is read whole and each of its chunks must be in one of its
// packs: a damaged snapshot or index stops the prune, so nothing it might
// need is lost. The exclusive lock keeps backups out meanwhile.
import { IntegrityError, errorMessage } from "../errors.ts";
import { IdList, IdTable } from "./chunk/idtable.ts";
import { Packer } from "./pack/packer.ts";
import { Index, indexText } from "./repository/chunk-index.ts";
import { ChunkReader } from "./repository/reader.ts";
import { withLock } from "./repository/lock.ts";
import type { Repository } from "./repository/repository.ts";
import type { PackInfo } from "./pack/trailer.ts";
import { applyChanges, loadList, parseSnapshotRefs, snapshotText, type NewSnapshot, type Snapshot } from "./snapshot/snapshot.ts";
import { Workers } from "./tasks.ts";

/** A pack is repacked when less than this share of it is read by the remaining snapshots. */
export const REPACK_BELOW = 0.5;

export interface PruneOptions {
  /** Say what would be removed; remove nothing. */
  dryRun?: boolean;
  /** Snapshots to count as gone (a dry run after a dry-run forget). */
  without?: Set<string>;
  signal?: AbortSignal;
  /** Called before each removal or write, with what it is (the kill test uses it to see progress). */
  onStep?: (step: string) => void;
}

export interface PruneResult {
  snapshots: number;
  packsKept: number;
  bytesKept: number;
  /** Packs no snapshot needs (of them, `unindexed` were in no index: left by an interrupted backup). */
  packsRemoved: number;
  unindexed: number;
  listsRemoved: number;
  /** Index files written anew without the removed packs, and index files removed. */
  indexWritten: number;
  indexRemoved: number;
  /** Bytes of removed files (packs, list, index and snapshot files) less the files written. */
  bytesFreed: number;
  /** Packs mostly unused, repacked (dry run: to be); snapshots written anew naming the new packs. */
  repacked: number;
  rewritten: number;
  /** What the user should know (a repack that needs the identity). */
  notes: string[];
}

export async function prune(repo: Repository, opts: PruneOptions = {}): Promise<PruneResult> {
  return withLock(repo, !opts.dryRun, async () => {
    const signal = opts.signal;
    const sizes = async (type: "pack" | "list" | "index") => {
      const m = new Map<string, number>();
      for await (const f of repo.backend.list(type, { signal })) m.set(f.name, f.size);
      return m;
    };
    const packs = await sizes("pack");
    const lists = await sizes("list");
    const indexFiles = await sizes("index");

    // Every index file, parsed (an unreadable one stops the prune: it may name packs a snapshot needs).
    const index = new Index();
    const byFile = new Map<string, PackInfo[]>();
    for (const name of indexFiles.keys()) {
      let json: Buffer;
      try {
        json = await repo.loadMetaBytes("index", name);
        index.addBytes(name, json);
        byFile.set(name, JSON.parse(json.toString("utf8")).packs);
      } catch (err) {
        throw stop(`index ${name} is unreadable (${errorMessage(err)})`);
      }
    }

    // What the snapshots need: their packs and list files, each chunk checked to be in one of its packs.
    const neededPacks = new Set<string>();
    const neededLists = new Set<string>();
    const listCache = new Map<string, ReturnType<typeof loadList>>();
    /** A snapshot with its chunk lists whole (unless only its head is wanted), and the bytes it was parsed from. */
    const load = async (name: string, whole = true) => {
      const bytes = await repo.loadMetaBytes("snapshot", name);
      const { snapshot, refs } = parseSnapshotRefs(bytes, `snapshot ${name}`);
      const head: Head = { packs: snapshot.packs, replaces: snapshot.replaces, bases: refs.map((r) => r.ref.base) };
      if (!whole) return { snapshot, head, bytes };
      for (const { entry, ref } of refs) {
        let base = listCache.get(ref.base);
        if (!base) listCache.set(ref.base, (base = loadList(repo, ref.base)));
        entry.chunks = applyChanges(await base, ref, `snapshot ${name}: ${entry.path}`);
      }
      return { snapshot, head, bytes };
    };
    // A snapshot a repack replaced (the prune was killed before removing it) goes now.
    const heads = new Map<string, Head>();
    const replacedBy = new Map<string, string>();
    let snapshotNames = (await repo.listNames("snapshot")).filter((n) => !opts.without?.has(n));
    for (const name of snapshotNames) {
      try {
        const { head } = await load(name, false);
        heads.set(name, head);
        if (head.replaces) replacedBy.set(head.replaces, name);
      } catch (err) {
        throw stop(`snapshot ${name}: ${errorMessage(err)}`);
      }
    }
    const removeSnapshots = snapshotNames.filter((n) => replacedBy.has(n));
    snapshotNames = snapshotNames.filter((n) => !replacedBy.has(n));
    /** Per pack: the chunks a remaining snapshot reads (by where they sit) and their plaintext sizes. */
    const used = new Map<string, Map<string, number>>();
    for (const name of snapshotNames) {
      signal?.throwIfAborted();
      try {
        const { snapshot } = await load(name);
        const own = new Set(snapshot.packs);
        for (const p of own) {
          neededPacks.add(p);
          if (!packs.has(p)) throw new IntegrityError(`it needs pack ${p}, which is missing`);
        }
        for (const b of heads.get(name)!.bases) neededLists.add(b);
        for (const e of snapshot.entries) {
          for (const id of e.chunks) {
            const loc = index.lookup(id, own);
            if (!loc || !own.has(loc.pack)) throw new IntegrityError(`${e.path} needs chunk ${id.toString("hex")}, which is in none of its packs`);
            let u = used.get(loc.pack);
            if (!u) used.set(loc.pack, (u = new Map()));
            u.set(`${loc.offset}:${loc.inner}`, loc.rawLength);
          }
        }
      } catch (err) {
        throw stop(`snapshot ${name}: ${errorMessage(err)}`);
      }
    }

    // Packs mostly unused: the chunks remaining snapshots read hold under REPACK_BELOW of their plaintext.
    const total = new Map<string, number>();
    for (const infos of byFile.values()) {
      for (const p of infos) if (!total.has(p.id)) total.set(p.id, (p.chunks as [string, number, number, number, number][]).reduce((n, c) => n + c[3], 0));
    }
    const liveShare = (p: string) => [...(used.get(p)?.values() ?? [])].reduce((n, l) => n + l, 0) / (total.get(p) || 1);
    /** Bytes of a pack a repack would copy (estimated from its plaintext share). */
    const live = (p: string) => Math.round(liveShare(p) * (packs.get(p) ?? 0));
    const repack = new Set([...neededPacks].filter((p) => index.packs.has(p) && packs.has(p) && total.has(p) && liveShare(p) < REPACK_BELOW));
    const affected = snapshotNames.filter((n) => heads.get(n)!.packs.some((p) => repack.has(p)));
    const notes: string[] = [];
    let written: Repacked = { packs: [], bytes: 0, rewritten: 0, index: "", infos: [] };
    if (repack.size > 0 && !repo.canReadData) {
      notes.push(`${repack.size} pack(s) are mostly unused; repacking them needs the identity (-i): packs are encrypted to the recipients`);
      repack.clear();
    }
    if (repack.size > 0 && !opts.dryRun) {
      const step = (s: string) => {
        signal?.throwIfAborted();
        opts.onStep?.(s);
      };
      written = await repackPacks(repo, index, repack, affected, load, step, signal);
      for (const p of repack) neededPacks.delete(p);
      for (const info of written.infos) {
        neededPacks.add(info.id);
        packs.set(info.id, info.size);
      }
      // The new index file is one more to consider below.
      byFile.set(written.index, written.infos);
    }

    const removePacks = [...packs.keys()].filter((p) => !neededPacks.has(p));
    const removeLists = [...lists.keys()].filter((l) => !neededLists.has(l));
    const result: PruneResult = {
      snapshots: snapshotNames.length,
      packsKept: packs.size - removePacks.length - (opts.dryRun ? repack.size : 0),
      // A dry run counts a pack to repack as the part of it that would be copied.
      bytesKept: [...neededPacks].reduce((n, p) => n + (opts.dryRun && repack.has(p) ? live(p) : (packs.get(p) ?? 0)), 0),
      packsRemoved: removePacks.length,
      unindexed: removePacks.filter((p) => !index.packs.has(p)).length,
      listsRemoved: removeLists.length,
      indexWritten: 0,
      indexRemoved: 0,
      bytesFreed:
        removePacks.reduce((n, p) => n + packs.get(p)!, 0) +
        removeLists.reduce((n, l) => n + lists.get(l)!, 0) -
        written.bytes -
        (opts.dryRun ? [...repack].reduce((n, p) => n + live(p), 0) - [...repack].reduce((n, p) => n + packs.get(p)!, 0) : 0),
      repacked: repack.size,
      rewritten: opts.dryRun ? (repack.size ? affected.length : 0) : written.rewritten,
      notes,
    };

    // Index files naming a pack that goes (or one already gone): rewritten with the packs that stay.
    const rewrite: { name: string; keep: PackInfo[] }[] = [];
    for (const [name, infos] of byFile) {
      const keep = infos.filter((p) => neededPacks.has(p.id));
      if (keep.length < infos.length) rewrite.push({ name, keep });
    }
    // Packs that stay, in one new index file, each once (and not at all when an
    // index file that stays names it: a prune killed before removing the old files wrote that).
    const rewritten = new Set(rewrite.map((r) => r.name));
    const seen = new Set<string>();
    for (const [name, infos] of byFile) if (!rewritten.has(name)) for (const p of infos) seen.add(p.id);
    const merged = rewrite.flatMap((r) => r.keep).filter((p) => !seen.has(p.id) && seen.add(p.id));
    result.indexRemoved = rewrite.length;
    result.bytesFreed += rewrite.reduce((n, r) => n + indexFiles.get(r.name)!, 0);
    if (opts.dryRun) {
      result.indexWritten = merged.length > 0 ? 1 : 0;
      result.packsRemoved += repack.size;
      return result;
    }

    const step = (s: string) => {
      signal?.throwIfAborted();
      opts.onStep?.(s);
    };
    if (merged.length > 0) {
      step("index write");
      const name = await repo.saveMeta("index", () => indexText(merged));
      result.indexWritten = 1;
      result.bytesFreed -= (await repo.backend.stat({ type: "index", name }, { signal })).size;
      // Durable before anything it replaces is removed.
      await repo.backend.flush({ signal });
    }
    for (const name of removeSnapshots) {
      step(`snapshot remove ${name}`);
      await repo.backend.remove({ type: "snapshot", name }, { signal });
    }
    for (const r of rewrite) {
      step(`index remove ${r.name}`);
      await repo.backend.remove({ type: "index", name: r.name }, { signal });
    }
    for (const p of removePacks) {
      step(`pack remove ${p}`);
      await repo.backend.remove({ type: "pack", name: p }, { signal });
    }
    for (const l of removeLists) {
      step(`list remove ${l}`);
      await repo.backend.remove({ type: "list", name: l }, { signal });
    }
    await repo.backend.flush({ signal });
    return result;
  });
}

/**
 * Copy the chunks the affected snapshots read from the packs to repack into
 * new packs (and an index file naming them), then write each affected
 * snapshot anew naming the new packs, and remove the file it replaces.
 */
async function repackPacks(
  repo: Repository,
  index: Index,
  repack: Set<string>,
  affected: string[],
  load: (name: string) => Promise<{ snapshot: Snapshot; bytes: Buffer }>,
  step: (s: string) => void,
  signal: AbortSignal | undefined,
): Promise<Repacked> {
  const ids = new IdList();
  const seen = new IdTable(0);
  for (const name of affected) {
    const { snapshot } = await load(name);
    const own = new Set(snapshot.packs);
    for (const e of snapshot.entries) {
      for (const id of e.chunks) {
        const loc = index.lookup(id, own)!;
        if (repack.has(loc.pack) && !seen.has(id)) {
          seen.add(id, []);
          ids.push(id);
        }
      }
    }
  }
  step("repack");
  const workers = new Workers(repo.keys.chunkIdKey);
  const packer = new Packer(repo.backend, repo.dataRecipients, repo.config.packSize, workers);
  let infos: PackInfo[];
  try {
    const reader = new ChunkReader(repo, index, repack);
    let i = 0;
    for await (const batch of reader.read(reader.locateAll(ids))) {
      signal?.throwIfAborted();
      for (const plain of batch) await packer.add(ids.get(i++), plain);
    }
    await packer.finish();
    infos = packer.takeSaved();
  } catch (err) {
    await packer.settle();
    throw err;
  } finally {
    await workers.close();
  }
  // Where each moved chunk is now.
  const moved = new Map<string, string>();
  for (const info of infos) {
    const c = info.chunks;
    if (Array.isArray(c)) for (const r of c) moved.set(r[0], info.id);
    else for (let k = 0; k < c.length; k++) moved.set(c.id(k).toString("hex"), info.id);
  }
  step("index write");
  const indexName = await repo.saveMeta("index", () => indexText(infos));
  for (const info of infos) index.add(info, indexName);
  await repo.backend.flush({ signal });
  let bytes = packer.writtenBytes + (await repo.backend.stat({ type: "index", name: indexName }, { signal })).size;
  let rewritten = 0;
  for (const name of affected) {
    step(`snapshot rewrite ${name}`);
    const { snapshot, bytes: json } = await load(name);
    const own = new Set(snapshot.packs);
    const packs = new Set(snapshot.packs.filter((p) => !repack.has(p)));
    for (const e of snapshot.entries) {
      for (const id of e.chunks) {
        const loc = index.lookup(id, own)!;
        if (repack.has(loc.pack)) packs.add(moved.get(id.toString("hex"))!);
      }
    }
    // The snapshot as stored (chunk lists as they were: inline, or a list file and changes), with its new packs.
    const raw = parseSnapshotRefs(json, `snapshot ${name}`).snapshot;
    const renewed = { ...raw, packs: [...packs].sort(), replaces: name } as NewSnapshot;
    const id = await repo.saveMeta("snapshot", () => snapshotText(renewed));
    bytes += (await repo.backend.stat({ type: "snapshot", name: id }, { signal })).size;
    await repo.backend.flush({ signal });
    await repo.backend.remove({ type: "snapshot", name }, { signal });
    rewritten++;
  }
  return { packs: infos.map((p) => p.id), bytes, rewritten, index: indexName, infos };
}

/** What prune needs of a snapshot besides its chunks. */
interface Head {
  packs: string[];
  /** The snapshot file this one replaces (written by a repack). */
  replaces?: string;
  /** List files it refers to. */
  bases: string[];
}

interface Repacked {
  packs: string[];
  /** Bytes written: packs, the index file, the snapshots written anew. */
  bytes: number;
  rewritten: number;
  index: string;
  infos: PackInfo[];
}

function stop(what: string): IntegrityError {
  return new IntegrityError(`prune stopped before removing anything: ${what}`, "run `cairn verify` and repair or forget that snapshot first; prune removes nothing while the repository is damaged");
}
