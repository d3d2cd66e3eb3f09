// A snapshot: what one backup saw. Every entry lists its chunks in order, so
// a snapshot is complete on its own however little new data it stored.
import { IntegrityError, UsageError } from "../errors.ts";
import { IdList, startsAt } from "./idtable.ts";
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
  /** Chunk IDs in order (JSON: an array of hex strings). */
  chunks: IdList;
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

/** A snapshot without its entries: what listing needs. */
export type SnapshotHead = Omit<Snapshot, "entries">;

export interface SnapshotHeadRef {
  id: string;
  snapshot: SnapshotHead;
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

const CHUNKS = Buffer.from('"chunks":[');

/**
 * Parse a snapshot's JSON, reading each chunk list straight into binary IDs:
 * a 2 GiB database lists half a million chunks, which as JS strings would
 * take ~60 MB and most of the parse time. Strings are skipped with their
 * escapes, so a "chunks" key is only ever matched outside one.
 */
export function parseSnapshot(json: Buffer, what: string): Snapshot {
  const bad = (why: string) => new IntegrityError(`${what}: ${why}`);
  const lists: IdList[] = [];
  const parts: Buffer[] = [];
  let copied = 0;
  for (let i = 0; i < json.length; i++) {
    if (json[i] !== 0x22) continue;
    if (startsAt(json, CHUNKS, i)) {
      const list = new IdList();
      let j = i + CHUNKS.length;
      if (json[j] !== 0x5d) {
        for (;;) {
          if (json[j] !== 0x22 || json[j + 65] !== 0x22) throw bad("malformed chunk list");
          if (!list.pushHex(json, j + 1)) throw bad("malformed chunk list (an ID is not 64 hex digits)");
          j += 66;
          if (json[j] === 0x2c) j++;
          else if (json[j] === 0x5d) break;
          else throw bad("malformed chunk list");
        }
      }
      parts.push(json.subarray(copied, i), Buffer.from(`"chunks":${lists.length}`));
      lists.push(list);
      copied = j + 1;
      i = j;
      continue;
    }
    // Skip a string.
    for (i++; i < json.length && json[i] !== 0x22; i++) if (json[i] === 0x5c) i++;
  }
  parts.push(json.subarray(copied));
  let s: Snapshot;
  try {
    s = JSON.parse(Buffer.concat(parts).toString("utf8"));
  } catch {
    throw bad("not valid JSON");
  }
  if (s?.version !== 1 || !Array.isArray(s.entries) || !Array.isArray(s.packs) || !Array.isArray(s.sources)) throw bad("malformed");
  const used = new Set<number>();
  for (const e of s.entries) {
    const n = e?.chunks as unknown;
    if (typeof n !== "number" || !lists[n] || used.has(n)) throw bad("malformed chunk list (an entry has none, or shares one)");
    used.add(n);
    e.chunks = lists[n];
  }
  if (used.size !== lists.length) throw bad("malformed chunk list (outside the entries)");
  return s;
}

export async function loadSnapshot(repo: Repository, id: string): Promise<Snapshot> {
  return parseSnapshot(await repo.loadMetaBytes("snapshot", id), `snapshot ${id}`);
}

/**
 * A snapshot's head: its first line, as snapshotText writes it. The whole
 * file is still decrypted and its MAC checked; only the entries go unparsed.
 */
function parseHead(json: Buffer, what: string): SnapshotHead {
  const nl = json.indexOf(10);
  const line = json.subarray(0, nl < 0 ? json.length : nl).toString("utf8");
  try {
    if (line.endsWith(',"entries":[')) return JSON.parse(line.slice(0, -',"entries":['.length) + "}");
  } catch {
    // fall through to the full parse
  }
  const { entries, ...head } = parseSnapshot(json, what);
  void entries;
  return head;
}

/** Every snapshot's head, oldest first (one file in memory at a time). */
export async function loadSnapshots(repo: Repository): Promise<SnapshotHeadRef[]> {
  const refs: SnapshotHeadRef[] = [];
  for (const id of await repo.listNames("snapshot")) refs.push({ id, snapshot: parseHead(await repo.loadMetaBytes("snapshot", id), `snapshot ${id}`) });
  return refs.sort((a, b) => a.snapshot.time.localeCompare(b.snapshot.time) || a.id.localeCompare(b.id));
}

/** "latest", a full ID, or a unique ID prefix (at least 4 hex digits). */
export async function findSnapshot(repo: Repository, ref: string): Promise<SnapshotRef> {
  if (ref === "latest") {
    const all = await loadSnapshots(repo);
    if (all.length === 0) throw new UsageError("the repository has no snapshots yet", "run `cairn backup` first");
    const id = all[all.length - 1].id;
    return { id, snapshot: await loadSnapshot(repo, id) };
  }
  if (!/^[0-9a-f]{4,64}$/.test(ref)) throw new UsageError(`invalid snapshot ID ${JSON.stringify(ref)}`, "use an ID from `cairn snapshots`, or latest");
  const matches = (await repo.listNames("snapshot")).filter((n) => n.startsWith(ref));
  if (matches.length === 0) throw new UsageError(`no snapshot ${ref}`, "list them with `cairn snapshots`");
  if (matches.length > 1) throw new UsageError(`snapshot ID ${ref} is ambiguous`, "give more digits");
  return { id: matches[0], snapshot: await loadSnapshot(repo, matches[0]) };
}
