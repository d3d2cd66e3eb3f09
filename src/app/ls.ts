// ls: a snapshot's files (all, or at and under a path), as restic's ls. The
// write key is enough: paths, sizes and modes are metadata.
import { findSnapshot } from "../engine/snapshot/snapshot.ts";
import { underPath } from "../engine/snapshot/match.ts";
import { openRepository } from "./repository.ts";
import type { Settings } from "./settings.ts";

export interface LsRequest {
  snapshot: string;
  path?: string;
  source?: string;
  signal?: AbortSignal;
}

export interface LsFile {
  source: string;
  path: string;
  size: number;
  mode: number;
  /** ISO time. */
  mtime: string;
}

export async function ls(settings: Settings, req: LsRequest): Promise<{ snapshot: string; time: string; files: LsFile[] }> {
  const repo = await openRepository(settings, "write", req.signal);
  const ref = await findSnapshot(repo, req.snapshot, req.source);
  const entries = underPath(ref.snapshot.entries, req.path ?? "").filter((e) => req.source === undefined || e.source === req.source);
  return {
    snapshot: ref.id,
    time: ref.snapshot.time,
    files: entries.map((e) => ({ source: e.source, path: e.path, size: e.size, mode: e.mode, mtime: new Date(e.mtime).toISOString() })),
  };
}
