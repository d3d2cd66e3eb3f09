// Expiry: on a backend whose files expire by themselves (GitHub artifacts:
// backend.properties.expiry), no snapshot may depend on a file that expires
// before it. The rule has two halves:
//
// - backup: the horizon is when the files it writes now expire
//   (expiry.newFiles()); it deduplicates only against packs that, with the
//   index file listing them, expire at or after the horizon, and diffs chunk
//   lists only against list files that do. Any other chunk is stored afresh.
// - a snapshot's expiry is the earliest expiry of the files it needs (itself,
//   the config and keys, its packs and their index files, its list files);
//   verify names a needed file that expires before the snapshot's own file.
//
// On backends whose files never expire, everything here is a no-op.
import { ExpiredError, type Backend, type FileType, type Handle } from "../../backends/backend.ts";
import { Index } from "../repository/chunk-index.ts";
import type { Repository } from "../repository/repository.ts";
import { parseSnapshotRefs, type SnapshotHead } from "./snapshot.ts";

/**
 * A snapshot's own files are written over its backup's run, and GitHub's
 * expiry is approximate: a needed file may expire this much (plus the
 * backup's duration) before the snapshot file without being "early".
 */
export const EXPIRY_SLACK_MS = 3_600_000;

const TYPES: readonly FileType[] = ["config", "keys", "index", "snapshot", "list", "pack"];

/** Every listed file's expiry (ms), by type and name. Expired files are not listed. */
export class Expiries {
  private readonly times = new Map<string, number>();

  static async load(backend: Backend, types: readonly FileType[] = TYPES): Promise<Expiries> {
    const ex = new Expiries();
    for (const type of types) {
      for await (const f of backend.list(type)) ex.times.set(`${type}/${f.name}`, f.expires?.getTime() ?? Infinity);
    }
    return ex;
  }

  /** When the file expires (Infinity: never); undefined when it is not listed (missing or expired). */
  of(type: FileType, name: string): number | undefined {
    return this.times.get(`${type}/${name}`);
  }

  /** Whether the file is there and expires at or after t. */
  lasts(type: FileType, name: string, t: number): boolean {
    return (this.of(type, name) ?? -Infinity) >= t;
  }
}

/** What a backup may build on where files expire: packs and list files that last past the horizon. */
export interface Lasting {
  /** When the files this backup writes expire. */
  horizon: Date;
  /** Indexed packs that, with the index file listing them, expire at or after the horizon. */
  packs: Set<string>;
  /** Whether a list file expires at or after the horizon. */
  list(name: string): boolean;
}

/** The files a backup may build on; undefined when the backend's files do not expire (all may be used). */
export async function lastingFiles(repo: Repository, index: Index): Promise<Lasting | undefined> {
  const expiry = repo.backend.properties.expiry;
  if (!expiry) return undefined;
  const horizon = expiry.newFiles().getTime();
  const ex = await Expiries.load(repo.backend, ["pack", "index", "list"]);
  const packs = new Set<string>();
  for (const [id, p] of index.packs) if (ex.lasts("pack", id, horizon) && ex.lasts("index", p.indexFile, horizon)) packs.add(id);
  return { horizon: new Date(horizon), packs, list: (name) => ex.lasts("list", name, horizon) };
}

/** Every file a snapshot needs besides itself: config, keys, its packs, the index files listing them, its list files. */
export async function snapshotNeeds(repo: Repository, id: string, index: Index): Promise<{ head: SnapshotHead; needs: Handle[] }> {
  const { snapshot, refs } = parseSnapshotRefs(await repo.loadMetaBytes("snapshot", id), `snapshot ${id}`);
  const needs: Handle[] = [
    { type: "config", name: "" },
    { type: "keys", name: "" },
  ];
  const indexFiles = new Set<string>();
  for (const p of snapshot.packs) {
    needs.push({ type: "pack", name: p });
    const file = index.packs.get(p)?.indexFile;
    if (file) indexFiles.add(file);
  }
  for (const f of [...indexFiles].sort()) needs.push({ type: "index", name: f });
  for (const base of new Set(refs.map((r) => r.ref.base))) needs.push({ type: "list", name: base });
  const { entries, ...head } = snapshot;
  void entries;
  return { head, needs };
}

export interface SnapshotExpiry {
  /** When the first file the snapshot needs (itself included) expires; undefined when none expires. */
  expires: Date | undefined;
  /** Needed files that expire before the snapshot's own file (beyond the slack): expiring dependencies. */
  early: { type: FileType; name: string; expires: Date }[];
  /** Needed files that are not there (missing, or expired already). */
  missing: Handle[];
}

/** The expiry of a snapshot from its needs (snapshotNeeds) and the files' expiries. */
export function snapshotExpiry(ex: Expiries, id: string, head: SnapshotHead, needs: Handle[]): SnapshotExpiry {
  const own = ex.of("snapshot", id) ?? Infinity;
  const bound = own - (head.stats?.durationMs ?? 0) - EXPIRY_SLACK_MS;
  let first = own;
  const early: SnapshotExpiry["early"] = [];
  const missing: Handle[] = [];
  for (const h of needs) {
    const t = ex.of(h.type, h.name);
    if (t === undefined) {
      missing.push(h);
      continue;
    }
    first = Math.min(first, t);
    if (t < bound) early.push({ type: h.type, name: h.name, expires: new Date(t) });
  }
  return { expires: first === Infinity ? undefined : new Date(first), early, missing };
}

/** Every snapshot's expiry, by ID; undefined when the backend's files do not expire. */
export async function snapshotExpiries(repo: Repository, ids: readonly string[]): Promise<Map<string, SnapshotExpiry> | undefined> {
  if (!repo.backend.properties.expiry) return undefined;
  const ex = await Expiries.load(repo.backend);
  const index = await Index.load(repo);
  const out = new Map<string, SnapshotExpiry>();
  for (const id of ids) {
    const { head, needs } = await snapshotNeeds(repo, id, index);
    out.set(id, snapshotExpiry(ex, id, head, needs));
  }
  return out;
}

/** verify's check: each snapshot's expiring dependencies, as sentences naming them. */
export async function expiringDependencies(repo: Repository, index: Index, ids: readonly string[]): Promise<string[]> {
  if (!repo.backend.properties.expiry) return [];
  const ex = await Expiries.load(repo.backend);
  const problems: string[] = [];
  for (const id of ids) {
    let found;
    try {
      found = await snapshotNeeds(repo, id, index);
    } catch {
      continue; // an unreadable snapshot is reported by verify's own check
    }
    const own = ex.of("snapshot", id);
    for (const d of snapshotExpiry(ex, id, found.head, found.needs).early) {
      problems.push(
        `snapshot ${id} depends on ${d.type}${d.name ? ` ${d.name}` : ""}, which expires on ${day(d.expires)}, before the snapshot itself (${own === undefined ? "?" : day(new Date(own))}): an expiring dependency; it cannot be restored after that`,
      );
    }
  }
  return problems;
}

/** Why a needed file is not there: "expired on DATE" where the backend says so, else "is missing". */
export async function goneReason(repo: Repository, h: Handle): Promise<string> {
  if (!repo.backend.properties.expiry) return "is missing";
  try {
    await repo.backend.stat(h);
    return "is missing";
  } catch (err) {
    return err instanceof ExpiredError ? `expired on ${day(err.expired)}` : "is missing";
  }
}

const day = (d: Date) => d.toISOString().replace(/\.\d+Z$/, "Z");
