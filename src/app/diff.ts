// Diff: the files added, removed and changed between two snapshots, from
// their metadata (the write key is enough: a changed file is one whose keyed
// chunk IDs differ). With the identity, each changed file of a `files`
// source also gets its text diff, redacted exactly as the settings history
// records it (the source's own rules when it has history: true), so no
// secret is printed.
import { settingsHistoryKey } from "../engine/crypto/keys.ts";
import { readEntries } from "../engine/read.ts";
import { findSnapshot, type SnapshotEntry, type SnapshotRef } from "../engine/snapshot/snapshot.ts";
import { redactedDiff } from "../history/diff.ts";
import { MAX_TEXT_BYTES } from "../history/redact/redact.ts";
import { historySources, rulesOf, serverPath } from "./history.ts";
import { openRepository } from "./repository.ts";
import type { Settings } from "./settings.ts";

export interface DiffRequest {
  /** Snapshot IDs (or unique prefixes, or latest): from A to B. */
  from: string;
  to: string;
  /** Only this source's files. */
  source?: string;
  signal?: AbortSignal;
}

export interface FileDiff {
  source: string;
  /** The entry's path: <source>/<path>. */
  path: string;
  change: "added" | "removed" | "changed";
  /**
   * The redacted text diff: with the identity, for files of files sources up
   * to 512 KiB; "" when the change redacts away (e.g. only a masked value changed).
   */
  diff?: string;
}

export interface DiffReport {
  from: string;
  to: string;
  /** True when text diffs were made (the identity was given). */
  text: boolean;
  /**
   * Without the identity: how many of the changed files are salted (one-chunk
   * files, secret sources: their chunk IDs differ every backup, FORMAT.md) and
   * the same size, so they may not have changed. With it, they are compared by content.
   */
  unsure: number;
  files: FileDiff[];
}

export async function diff(settings: Settings, req: DiffRequest): Promise<DiffReport> {
  const repo = await openRepository(settings, "write", req.signal);
  const a = await findSnapshot(repo, req.from);
  const b = await findSnapshot(repo, req.to);
  const pick = (ref: SnapshotRef) => new Map(ref.snapshot.entries.filter((e) => req.source === undefined || e.source === req.source).map((e) => [e.path, e]));
  const before = pick(a);
  const after = pick(b);
  let files: FileDiff[] = [];
  // Salted entries of the same size: their IDs tell nothing, only their content can.
  const unsure = new Set<string>();
  for (const path of [...new Set([...before.keys(), ...after.keys()])].sort()) {
    const x = before.get(path);
    const y = after.get(path);
    const change = !x ? "added" : !y ? "removed" : sameContent(x, y) ? undefined : "changed";
    if (change) files.push({ source: (x ?? y)!.source, path, change });
    if (change === "changed" && (x!.salted || y!.salted) && x!.size === y!.size) unsure.add(path);
  }
  if (!repo.canReadData) return { from: a.id, to: b.id, text: false, unsure: unsure.size, files };

  if (unsure.size > 0) {
    const entries = (m: Map<string, SnapshotEntry>) => [...unsure].map((p) => m.get(p)!);
    const [x, y] = [await readEntries(repo, a, entries(before)), await readEntries(repo, b, entries(after))];
    const same = new Set([...unsure].filter((_, i) => x[i].equals(y[i])));
    files = files.filter((f) => !same.has(f.path));
  }

  // Text diffs: files sources only (databases are not text to read through),
  // and only what the history would record as text (larger files it records by fingerprint).
  const kinds = new Map([...a.snapshot.sources, ...b.snapshot.sources].map((s) => [s.name, s.kind]));
  const small = (e: SnapshotEntry | undefined) => !e || e.size <= MAX_TEXT_BYTES;
  const textual = files.filter((f) => kinds.get(f.source) === "files" && small(before.get(f.path)) && small(after.get(f.path)));
  const read = async (ref: SnapshotRef, m: Map<string, SnapshotEntry>) => {
    const entries = textual.map((f) => m.get(f.path)).filter((e): e is SnapshotEntry => e !== undefined);
    const data = await readEntries(repo, ref, entries);
    return new Map(entries.map((e, i) => [e.path, data[i]]));
  };
  const old = await read(a, before);
  const now = await read(b, after);
  const history = settings.config ? historySources(settings.config) : [];
  const key = settingsHistoryKey(repo.keys);
  for (const f of textual) {
    req.signal?.throwIfAborted();
    const path = serverPath(f.source, f.path);
    f.diff = await redactedDiff({ label: f.path, path, before: old.get(f.path), after: now.get(f.path) }, rulesOf(history.find((s) => s.name === f.source)), key);
  }
  return { from: a.id, to: b.id, text: true, unsure: 0, files };
}

function sameContent(x: SnapshotEntry, y: SnapshotEntry): boolean {
  if (x.size !== y.size || x.chunks.length !== y.chunks.length) return false;
  for (let i = 0; i < x.chunks.length; i++) if (!x.chunks.get(i).equals(y.chunks.get(i))) return false;
  return true;
}
