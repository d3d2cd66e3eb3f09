// Prune: remove the data no remaining snapshot needs. A snapshot names every
// pack it reads from, so the packs to keep are the union of the snapshots'
// pack lists; everything else goes: packs of forgotten snapshots, packs an
// interrupted backup left in no index, list files no snapshot refers to.
// Index files that name a removed pack are written anew without it.
//
// Crash safety is the write order: new index files first, then the old ones
// removed, then packs and list files. A prune killed at any moment leaves a
// valid repository: at worst a pack listed twice, or garbage the next prune
// removes; never a snapshot that lacks something. Before removing anything,
// every snapshot is read whole and each of its chunks must be in one of its
// packs: a damaged snapshot or index stops the prune, so nothing it might
// need is lost. The exclusive lock keeps backups out meanwhile.
import { IntegrityError, errorMessage } from "../errors.ts";
import { Index, indexText } from "./repository/chunk-index.ts";
import { withLock } from "./repository/lock.ts";
import type { Repository } from "./repository/repository.ts";
import type { PackInfo } from "./pack/trailer.ts";
import { loadList, parseSnapshotRefs, applyChanges } from "./snapshot/snapshot.ts";

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
  /** Bytes of removed files (packs, list and index files) less the new index files. */
  bytesFreed: number;
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
    const snapshotNames = (await repo.listNames("snapshot")).filter((n) => !opts.without?.has(n));
    const listCache = new Map<string, ReturnType<typeof loadList>>();
    for (const name of snapshotNames) {
      signal?.throwIfAborted();
      try {
        const { snapshot, refs } = parseSnapshotRefs(await repo.loadMetaBytes("snapshot", name), `snapshot ${name}`);
        const own = new Set(snapshot.packs);
        for (const p of own) {
          neededPacks.add(p);
          if (!packs.has(p)) throw new IntegrityError(`it needs pack ${p}, which is missing`);
        }
        for (const { entry, ref } of refs) {
          neededLists.add(ref.base);
          let base = listCache.get(ref.base);
          if (!base) listCache.set(ref.base, (base = loadList(repo, ref.base)));
          entry.chunks = applyChanges(await base, ref, `snapshot ${name}: ${entry.path}`);
        }
        for (const e of snapshot.entries) {
          for (const id of e.chunks) {
            const loc = index.lookup(id, own);
            if (!loc || !own.has(loc.pack)) throw new IntegrityError(`${e.path} needs chunk ${id.toString("hex")}, which is in none of its packs`);
          }
        }
      } catch (err) {
        throw stop(`snapshot ${name}: ${errorMessage(err)}`);
      }
    }

    const removePacks = [...packs.keys()].filter((p) => !neededPacks.has(p));
    const removeLists = [...lists.keys()].filter((l) => !neededLists.has(l));
    const result: PruneResult = {
      snapshots: snapshotNames.length,
      packsKept: packs.size - removePacks.length,
      bytesKept: [...neededPacks].reduce((n, p) => n + (packs.get(p) ?? 0), 0),
      packsRemoved: removePacks.length,
      unindexed: removePacks.filter((p) => !index.packs.has(p)).length,
      listsRemoved: removeLists.length,
      indexWritten: 0,
      indexRemoved: 0,
      bytesFreed: removePacks.reduce((n, p) => n + packs.get(p)!, 0) + removeLists.reduce((n, l) => n + lists.get(l)!, 0),
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

function stop(what: string): IntegrityError {
  return new IntegrityError(`prune stopped before removing anything: ${what}`, "run `cairn verify` and repair or forget that snapshot first; prune removes nothing while the repository is damaged");
}
