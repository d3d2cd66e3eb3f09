// A snapshot: what one backup saw. Every entry lists its chunks in order, so
// a snapshot is complete on its own however little new data it stored.
import { IntegrityError, NoKeyError, UsageError } from "../../errors.ts";
import { IdList, startsAt } from "../chunk/idtable.ts";
import { decrypt, encrypt } from "../crypto/age.ts";
import type { Repository } from "../repository/repository.ts";
import { ExpiredError } from "../../backends/backend.ts";

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
  /**
   * Each chunk starts with the same SALT random bytes, which are not content:
   * its IDs cannot be computed from a guess of the content without them, and
   * they are only inside packs (files of one chunk, and sources marked secret).
   */
  salted?: boolean;
  /** Chunk IDs in order (JSON: an array of hex strings). */
  chunks: IdList;
}

/** Bytes of salt at the start of each chunk of a salted entry. */
export const SALT = 32;

export interface SnapshotSource {
  name: string;
  kind: string;
  /** How many entries (files) the source gave. */
  files: number;
  size: number;
  info: Record<string, unknown>;
  warnings: string[];
}

/** Something a backup could not read, left out of the snapshot and named in it. */
export interface Unread {
  source: string;
  /** The path (or pattern) on the source machine. */
  path: string;
  reason: string;
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
  /** 1 for a repository's first snapshot, then the latest's plus one (absent in none written by this format). */
  seq: number;
  /** The snapshot this one follows (the latest when its backup began), or null for the first. */
  parent: string | null;
  /** The machine backed up: cairn.yml's host address, or the name of the machine that ran a local backup. */
  host: string;
  full: boolean;
  /** What could not be read (the snapshot is incomplete); [] or absent (older snapshots) when everything was. */
  incomplete?: Unread[];
  /** Each source's `info` is {} here; the real ones are in `sealed`. */
  sources: SnapshotSource[];
  /** base64 of an age file to the recipients (not the write key): the JSON array of the sources' info, in order. */
  sealed?: string;
  stats: SnapshotStats;
  /** Every pack this snapshot's chunks are read from: it depends on nothing else. */
  packs: string[];
  /** The snapshot file this one replaces: a prune that repacked wrote it anew, naming new packs. */
  replaces?: string;
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

/**
 * A large entry's chunk list as the snapshot stores it: a base list file
 * (lists/, written once) and the runs of IDs that differ from it, so a
 * snapshot's size follows what changed, not the size of the database.
 */
export interface ListRef {
  base: string;
  count: number;
  /** Runs of IDs: [first index, id, id, ...], ascending and apart. */
  changes: (number | string)[][];
}

/** A snapshot as written by a backup: chunk lists kept as binary IDs, or a base list and changes. */
export type NewSnapshot = Omit<Snapshot, "entries"> & { entries: (Omit<SnapshotEntry, "chunks"> & { chunks: IdList | string[] | ListRef })[] };

/** Entries with at least this many chunks keep their list in a list file (2 MiB of SQLite pages). */
export const LIST_MIN = 512;

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
    const end = i < entries.length - 1 ? "},\n" : "}";
    if (!Array.isArray(chunks) && !(chunks instanceof IdList)) {
      yield `${JSON.stringify(rest).slice(0, -1)},"chunks":${JSON.stringify(chunks)}${end}`;
      continue;
    }
    yield `${JSON.stringify(rest).slice(0, -1)},"chunks":[`;
    yield* idsText(chunks);
    yield "]" + end;
  }
  yield "]}\n";
}

/** IDs as quoted hex, comma-separated, 1024 at a time. */
function* idsText(chunks: IdList | string[]): Generator<string> {
  const ids = Array.isArray(chunks) ? chunks : null;
  const n = chunks.length;
  for (let j = 0; j < n; j += 1024) {
    const part: string[] = [];
    for (let k = j; k < Math.min(n, j + 1024); k++) part.push(`"${ids ? ids[k] : (chunks as IdList).get(k).toString("hex")}"`);
    yield (j > 0 ? "," : "") + part.join(",");
  }
}

/** A list file's JSON text: {"version":1,"chunks":[...]}. */
export function* listText(ids: IdList): Generator<string> {
  yield '{"version":1,"chunks":[';
  yield* idsText(ids);
  yield "]}\n";
}

/** Parse a list file. */
export function parseList(json: Buffer, what: string): IdList {
  const bad = (why: string) => new IntegrityError(`${what}: ${why}`);
  const head = Buffer.from('{"version":1,"chunks":[');
  if (!startsAt(json, head, 0)) throw bad("not a version 1 chunk list");
  const list = new IdList();
  const end = readIds(json, head.length - 1, list, bad);
  if (json.subarray(end + 1).toString("latin1").trim() !== "}") throw bad("malformed chunk list");
  return list;
}

/** Read a JSON array of hex IDs starting at json[at] ("[") into list; the index of its "]". */
function readIds(json: Buffer, at: number, list: IdList, bad: (why: string) => Error): number {
  let j = at + 1;
  if (json[j] === 0x5d) return j;
  for (;;) {
    if (json[j] !== 0x22 || json[j + 65] !== 0x22) throw bad("malformed chunk list");
    if (!list.pushHex(json, j + 1)) throw bad("malformed chunk list (an ID is not 64 hex digits)");
    j += 66;
    if (json[j] === 0x2c) j++;
    else if (json[j] === 0x5d) return j;
    else throw bad("malformed chunk list");
  }
}

/**
 * A list from a base list and changes; checks every index is covered once.
 * Also used by backup to tell how far a new list is from its base.
 */
export function applyChanges(base: IdList, ref: ListRef, what: string): IdList {
  const bad = (why: string) => new IntegrityError(`${what}: ${why}`);
  if (!Number.isSafeInteger(ref.count) || ref.count < 0 || !Array.isArray(ref.changes)) throw bad("malformed chunk list reference");
  const out = new IdList();
  const id = Buffer.alloc(32);
  let next = 0; // the first index not yet written
  const copyBase = (until: number) => {
    if (until > next && until > base.length) throw bad(`its chunk list has a gap at ${Math.max(next, base.length)} (the base list is shorter)`);
    for (; next < until; next++) out.push(base.get(next));
  };
  for (const run of ref.changes) {
    const start = run?.[0];
    if (!Array.isArray(run) || typeof start !== "number" || !Number.isSafeInteger(start) || start < next || run.length < 2) throw bad("malformed chunk list changes");
    copyBase(start);
    for (let k = 1; k < run.length; k++) {
      const hex = run[k];
      if (typeof hex !== "string" || !/^[0-9a-f]{64}$/.test(hex)) throw bad("malformed chunk list changes (an ID is not 64 hex digits)");
      id.write(hex, "hex");
      out.push(id);
      next++;
    }
  }
  if (next > ref.count) throw bad("malformed chunk list changes (past its count)");
  copyBase(ref.count);
  return out;
}

/** The changes that turn base into ids, as runs. */
export function diffIds(base: IdList, ids: IdList): { changes: (number | string)[][]; changed: number } {
  const changes: (number | string)[][] = [];
  let changed = 0;
  let run: (number | string)[] | null = null;
  for (let i = 0; i < ids.length; i++) {
    const id = ids.get(i);
    if (i < base.length && base.get(i).equals(id)) {
      run = null;
      continue;
    }
    if (!run) changes.push((run = [i]));
    run.push(id.toString("hex"));
    changed++;
  }
  return { changes, changed };
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
  const { snapshot, refs } = parseSnapshotRefs(json, what);
  if (refs.length > 0) throw new IntegrityError(`${what}: its chunk lists need their list files (use loadSnapshot)`);
  return snapshot;
}

/** Parse a snapshot, leaving the entries that refer to a list file for the caller to resolve. */
export function parseSnapshotRefs(json: Buffer, what: string): { snapshot: Snapshot; refs: { entry: SnapshotEntry; ref: ListRef }[] } {
  const bad = (why: string) => new IntegrityError(`${what}: ${why}`);
  const lists: IdList[] = [];
  const parts: Buffer[] = [];
  let copied = 0;
  for (let i = 0; i < json.length; i++) {
    if (json[i] !== 0x22) continue;
    if (startsAt(json, CHUNKS, i)) {
      const list = new IdList();
      const j = readIds(json, i + CHUNKS.length - 1, list, bad);
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
  const refs: { entry: SnapshotEntry; ref: ListRef }[] = [];
  for (const e of s.entries) {
    const n = e?.chunks as unknown;
    if (n && typeof n === "object" && !Array.isArray(n)) {
      const ref = n as ListRef;
      if (typeof ref.base !== "string" || !/^[0-9a-f]{64}$/.test(ref.base)) throw bad("malformed chunk list reference");
      refs.push({ entry: e, ref });
      continue;
    }
    if (typeof n !== "number" || !lists[n] || used.has(n)) throw bad("malformed chunk list (an entry has none, or shares one)");
    used.add(n);
    e.chunks = lists[n];
  }
  if (used.size !== lists.length) throw bad("malformed chunk list (outside the entries)");
  return { snapshot: s, refs };
}

/**
 * What a source dumped (table names, row counts, versions) is for the
 * identity only: stored encrypted to the recipients, each source's `info`
 * left empty where the write key reads.
 */
export function sealInfo(s: NewSnapshot, recipients: Buffer[]): NewSnapshot {
  const sealed = encrypt(Buffer.from(JSON.stringify(s.sources.map((x) => x.info))), recipients).toString("base64");
  const { entries, ...head } = s;
  return { ...head, sources: s.sources.map((x) => ({ ...x, info: {} })), sealed, entries };
}

/** Put the sealed info back into the sources, when the repository was opened with an identity. */
function unsealInfo<T extends SnapshotHead>(repo: Repository, s: T, what: string): T {
  if (!repo.canReadData || typeof s.sealed !== "string") return s;
  let plain: Buffer;
  try {
    plain = decrypt(Buffer.from(s.sealed, "base64"), repo.keys.identities, `${what}: its sealed source info`);
  } catch (err) {
    if (err instanceof NoKeyError) return s; // sealed before this identity's recipient was added
    throw err;
  }
  let infos: unknown;
  try {
    infos = JSON.parse(plain.toString("utf8"));
  } catch {
    infos = undefined;
  }
  if (!Array.isArray(infos) || infos.length !== s.sources.length) throw new IntegrityError(`${what}: its sealed source info does not match its sources`);
  s.sources.forEach((x, i) => (x.info = infos[i]));
  return s;
}

/** Load a list file (checksum, MAC, IDs). */
export async function loadList(repo: Repository, id: string): Promise<IdList> {
  return parseList(await repo.loadMetaBytes("list", id), `list ${id}`);
}

/** Load a snapshot with every chunk list whole (list files read and their changes applied). */
export async function loadSnapshot(repo: Repository, id: string): Promise<Snapshot> {
  const what = `snapshot ${id}`;
  const { snapshot, refs } = parseSnapshotRefs(await repo.loadMetaBytes("snapshot", id), what);
  unsealInfo(repo, snapshot, what);
  const lists = new Map<string, IdList>();
  for (const { entry, ref } of refs) {
    let base = lists.get(ref.base);
    if (!base) lists.set(ref.base, (base = await loadList(repo, ref.base)));
    entry.chunks = applyChanges(base, ref, `${what}: ${entry.path}`);
  }
  return snapshot;
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
  const { entries, ...head } = parseSnapshotRefs(json, what).snapshot;
  void entries;
  return head;
}

/**
 * Every snapshot's head, oldest first (one file in memory at a time). A
 * snapshot another one replaces (a prune was stopped before removing it) is
 * left out.
 */
export async function loadSnapshots(repo: Repository): Promise<SnapshotHeadRef[]> {
  const refs: SnapshotHeadRef[] = [];
  for (const id of await repo.listNames("snapshot")) refs.push({ id, snapshot: unsealInfo(repo, parseHead(await repo.loadMetaBytes("snapshot", id), `snapshot ${id}`), `snapshot ${id}`) });
  const replaced = new Set(refs.map((r) => r.snapshot.replaces));
  return refs.filter((r) => !replaced.has(r.id)).sort((a, b) => a.snapshot.time.localeCompare(b.snapshot.time) || a.id.localeCompare(b.id));
}

/** Clocks differ a little; a snapshot dated further ahead than this is in the future. */
export const FUTURE_SLACK_MS = 10 * 60_000;

export function isFuture(s: SnapshotHead, now = Date.now()): boolean {
  const t = Date.parse(s.time);
  return !(t <= now + FUTURE_SLACK_MS);
}

/**
 * The latest snapshot: the newest not dated in the future (a snapshot dated
 * 9999, which the write key can plant, must not stay "latest" forever).
 * `all` oldest first, as loadSnapshots gives them.
 */
export function latest<T extends { snapshot: SnapshotHead }>(all: T[], now = Date.now()): T | undefined {
  return all.findLast((r) => !isFuture(r.snapshot, now));
}

/**
 * What the chain of snapshots shows was removed or planted: a snapshot whose
 * parent is not in the repository (deleted from the middle, or rolled back
 * under a later one), and snapshots dated in the future. A deleted newest
 * snapshot leaves no trace here; see FORMAT.md. Not gaps: a parent forget
 * removed (its record is sealed and MACed, so storage alone cannot forge
 * one), a parent a prune wrote anew, and a parent the host let expire
 * (artifacts: an expired file is still listed as expired, a deleted one is not).
 */
export async function chainProblems(repo: Repository, all: SnapshotHeadRef[], now = Date.now()): Promise<string[]> {
  const known = new Set(all.map((r) => r.id));
  for (const r of all) if (r.snapshot.replaces) known.add(r.snapshot.replaces);
  for (const id of await forgottenSnapshots(repo)) known.add(id);
  const out: string[] = [];
  for (const { id, snapshot: s } of all) {
    if (isFuture(s, now)) out.push(`snapshot ${id} is dated in the future (${s.time}); it is never taken as latest`);
    if (s.parent && !known.has(s.parent) && !(await hasExpired(repo, s.parent))) {
      out.push(`snapshot ${id} (number ${s.seq}) follows snapshot ${s.parent}, which is not in the repository: a snapshot was deleted`);
    }
  }
  return out;
}

/** The snapshots forget removed, from its records (a record that does not check out counts for nothing). */
async function forgottenSnapshots(repo: Repository): Promise<string[]> {
  const out: string[] = [];
  for (const name of await repo.listNames("forgotten")) {
    try {
      const r = JSON.parse((await repo.loadMetaBytes("forgotten", name)).toString("utf8"));
      if (Array.isArray(r?.snapshots)) for (const id of r.snapshots) if (typeof id === "string" && /^[0-9a-f]{64}$/.test(id)) out.push(id);
    } catch {
      // not written with this repository's key: ignored, so the gap shows
    }
  }
  return out;
}

async function hasExpired(repo: Repository, id: string): Promise<boolean> {
  try {
    await repo.backend.stat({ type: "snapshot", name: id });
    return false;
  } catch (err) {
    return err instanceof ExpiredError;
  }
}

/**
 * "latest", a full ID, or a unique ID prefix (at least 4 hex digits). With a
 * source, "latest" is the latest snapshot that has that source (a
 * settings-only backup may have come after the last database one).
 */
export async function findSnapshot(repo: Repository, ref: string, source?: string): Promise<SnapshotRef> {
  if (ref === "latest") {
    const every = await loadSnapshots(repo);
    if (every.length === 0) throw new UsageError("the repository has no snapshots yet", "run `cairn backup` first");
    const all = source === undefined ? every : every.filter((s) => s.snapshot.sources.some((x) => x.name === source));
    if (all.length === 0) {
      const names = [...new Set(every.flatMap((s) => s.snapshot.sources.map((x) => x.name)))].sort();
      throw new UsageError(`no source "${source}" in any snapshot`, `the sources in this repository: ${names.join(", ")}`);
    }
    const head = latest(all);
    if (!head) throw new UsageError("the repository has only snapshots dated in the future", "`cairn snapshots` lists them all; `cairn verify` names them");
    return { id: head.id, snapshot: await loadSnapshot(repo, head.id) };
  }
  if (!/^[0-9a-f]{4,64}$/.test(ref)) throw new UsageError(`invalid snapshot ID ${JSON.stringify(ref)}`, "use an ID from `cairn snapshots`, or latest");
  const matches = (await repo.listNames("snapshot")).filter((n) => n.startsWith(ref));
  if (matches.length === 0) throw new UsageError(`no snapshot ${ref}`, "list them with `cairn snapshots`");
  if (matches.length > 1) throw new UsageError(`snapshot ID ${ref} is ambiguous`, "give more digits");
  return { id: matches[0], snapshot: await loadSnapshot(repo, matches[0]) };
}
