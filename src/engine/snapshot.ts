// A snapshot: what one backup saw. Every entry lists its chunks in order, so
// a snapshot is complete on its own however little new data it stored.
import { IntegrityError, UsageError } from "../errors.ts";
import type { IdList } from "./idtable.ts";
import type { Repository } from "./repository.ts";

export interface SnapshotEntry {
  source: string;
  /** Relative path under the restore target ("/" separated). Untrusted on restore. */
  path: string;
  mode: number;
  /** Modification time, ms since the epoch. */
  mtime: number;
  uid: number;
  gid: number;
  size: number;
  chunker: "sqlite" | "cdc";
  chunks: string[];
}

export interface SnapshotSource {
  name: string;
  kind: string;
  entries: number;
  size: number;
  info: Record<string, unknown>;
  warnings: string[];
}

export interface SnapshotStats {
  /** Bytes read from the sources. */
  bytes: number;
  chunks: number;
  newChunks: number;
  /** Plaintext bytes of chunks the repository did not have. */
  newBytes: number;
  /** Bytes of pack files this backup added to the repository. */
  storedBytes: number;
  durationMs: number;
}

export interface Snapshot {
  version: 1;
  time: string;
  host: string;
  full: boolean;
  sources: SnapshotSource[];
  stats: SnapshotStats;
  /** Every pack this snapshot's chunks are read from: it depends on nothing else. */
  packs: string[];
  entries: SnapshotEntry[];
}

export interface SnapshotRef {
  id: string;
  snapshot: Snapshot;
}

/** A snapshot as written by a backup: chunk lists kept as binary IDs. */
export type NewSnapshot = Omit<Snapshot, "entries"> & { entries: (Omit<SnapshotEntry, "chunks"> & { chunks: IdList | string[] })[] };

/**
 * The snapshot's JSON text in pieces, one entry per line (greppable after
 * `age -d | zstd -d`, see RECOVERY.md). A large database's chunk list is
 * written a slice at a time, never as one string.
 */
export function* snapshotText(s: NewSnapshot): Generator<string> {
  const { entries, ...head } = s;
  yield `${JSON.stringify(head).slice(0, -1)},"entries":[\n`;
  for (let i = 0; i < entries.length; i++) {
    const { chunks, ...rest } = entries[i];
    yield `${JSON.stringify(rest).slice(0, -1)},"chunks":[`;
    const ids = Array.isArray(chunks) ? chunks : null;
    const n = chunks.length;
    for (let j = 0; j < n; j += 1024) {
      const part: string[] = [];
      for (let k = j; k < Math.min(n, j + 1024); k++) part.push(`"${ids ? ids[k] : (chunks as IdList).get(k).toString("hex")}"`);
      yield (j > 0 ? "," : "") + part.join(",");
    }
    yield i < entries.length - 1 ? "]},\n" : "]}";
  }
  yield "]}\n";
}

export function encodeSnapshot(s: NewSnapshot): string {
  return [...snapshotText(s)].join("");
}

export async function loadSnapshots(repo: Repository): Promise<SnapshotRef[]> {
  const names = await repo.listNames("snapshot");
  const refs = await Promise.all(names.map(async (id) => ({ id, snapshot: await repo.loadMeta<Snapshot>("snapshot", id) })));
  return refs.sort((a, b) => a.snapshot.time.localeCompare(b.snapshot.time) || a.id.localeCompare(b.id));
}

/** "latest", a full ID, or a unique ID prefix (at least 4 hex digits). */
export async function findSnapshot(repo: Repository, ref: string): Promise<SnapshotRef> {
  if (ref === "latest") {
    const all = await loadSnapshots(repo);
    if (all.length === 0) throw new UsageError("the repository has no snapshots yet", "run `cairn backup` first");
    return all[all.length - 1];
  }
  if (!/^[0-9a-f]{4,64}$/.test(ref)) throw new UsageError(`invalid snapshot ID ${JSON.stringify(ref)}`, "use an ID from `cairn snapshots`, or latest");
  const matches = (await repo.listNames("snapshot")).filter((n) => n.startsWith(ref));
  if (matches.length === 0) throw new UsageError(`no snapshot ${ref}`, "list them with `cairn snapshots`");
  if (matches.length > 1) throw new UsageError(`snapshot ID ${ref} is ambiguous`, "give more digits");
  const snapshot = await repo.loadMeta<Snapshot>("snapshot", matches[0]);
  if (snapshot.version !== 1 || !Array.isArray(snapshot.entries)) throw new IntegrityError(`snapshot ${matches[0]} is malformed`);
  return { id: matches[0], snapshot };
}
