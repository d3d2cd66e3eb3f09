// Paths from storage are never trusted on restore: each is checked to be a
// plain relative path, folders are created only through real folders (never
// a symbolic link), and a path listed twice is refused.
import { lstat, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { IntegrityError, UsageError } from "../../errors.ts";
import { matchesGlob } from "../snapshot/match.ts";
import type { Snapshot, SnapshotEntry } from "../snapshot/snapshot.ts";

/** Folders restore creates: rwxr-xr-x less the umask, as mkdir(1) makes them (a snapshot keeps no folder modes). */
export const FOLDER_MODE = 0o755;

/** A stored path as parts, or an error: relative, "/"-separated, no empty, "." or ".." part. */
export function checkPath(path: unknown): string[] {
  if (typeof path !== "string" || path.length === 0 || path.length > 4096 || path.includes("\0") || path.startsWith("/") || path.includes("\\")) {
    throw new IntegrityError(`refusing unsafe path ${JSON.stringify(path)} in the snapshot`, "the snapshot was crafted or damaged; nothing was restored");
  }
  const parts = path.split("/");
  if (parts.some((p) => p === "" || p === "." || p === "..")) {
    throw new IntegrityError(`refusing unsafe path ${JSON.stringify(path)} in the snapshot`, "the snapshot was crafted or damaged; nothing was restored");
  }
  return parts;
}

/** The entries to restore (all, or one source's), their paths checked. */
export function selectEntries(snapshot: Snapshot, source?: string, include?: string[]): SnapshotEntry[] {
  if (source !== undefined && !snapshot.sources.some((s) => s.name === source)) {
    throw new UsageError(`the snapshot has no source "${source}"`, `its sources: ${snapshot.sources.map((s) => s.name).join(", ")}`);
  }
  const entries = snapshot.entries.filter((e) => (source === undefined || e.source === source) && (!include?.length || include.some((g) => matchesGlob(e.path, g))));
  if (include?.length && entries.length === 0) {
    throw new UsageError(`no file in the snapshot${source ? ` (source ${source})` : ""} matches --include ${include.join(", ")}`, "list its files with `cairn ls SNAPSHOT`");
  }
  const seen = new Set<string>();
  for (const e of entries) {
    const key = checkPath(e.path).join("/");
    if (seen.has(key)) throw new IntegrityError(`the snapshot lists ${JSON.stringify(e.path)} twice`);
    seen.add(key);
  }
  return entries;
}

/** Create target/parts[0]/... folders, refusing to pass through anything but real folders. */
export async function makeParents(target: string, parts: string[]): Promise<string> {
  let dir = target;
  for (const p of parts.slice(0, -1)) {
    dir = join(dir, p);
    try {
      const st = await lstat(dir);
      if (!st.isDirectory()) throw new IntegrityError(`refusing to restore through ${dir}: it is not a folder (a symbolic link or a file)`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      await mkdir(dir, { mode: FOLDER_MODE });
    }
  }
  return join(dir, parts[parts.length - 1]);
}
