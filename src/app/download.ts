// Download: the encrypted files one snapshot needs (config, keys, the index,
// the snapshot, its chunk lists and packs), copied as they are into a local
// folder that is a repository of its own. It needs only the write key, so a
// workflow can hand a snapshot to a person (as a run artifact) without the
// identity ever going to GitHub; the person restores it on their machine.
import { openBackend } from "../backends/open.ts";
import type { Handle } from "../backends/backend.ts";
import { UsageError } from "../errors.ts";
import { withLock } from "../engine/repository/lock.ts";
import { findSnapshot, parseSnapshotRefs } from "../engine/snapshot/snapshot.ts";
import { openRepository } from "./repository.ts";
import type { Settings } from "./settings.ts";

export interface DownloadRequest {
  /** A snapshot ID, a unique prefix of one, or "latest". */
  snapshot: string;
  /** A folder path; the downloaded repository is made there. */
  target: string;
  signal?: AbortSignal;
}

export interface DownloadReport {
  snapshot: string;
  target: string;
  files: number;
  bytes: number;
}

export async function download(settings: Settings, req: DownloadRequest): Promise<DownloadReport> {
  const repo = await openRepository(settings, "write", req.signal);
  const into = openBackend(`local:${req.target}`, { signal: req.signal });
  try {
    await into.stat({ type: "config", name: "" });
    throw new UsageError(`${req.target} holds a repository already`, "download into an empty folder");
  } catch (err) {
    if (!into.isNotExist(err)) throw err;
  }
  return await withLock(repo, false, async () => {
    const ref = await findSnapshot(repo, req.snapshot);
    const { refs } = parseSnapshotRefs(await repo.loadMetaBytes("snapshot", ref.id), `snapshot ${ref.id}`);
    const handles: Handle[] = [
      { type: "keys", name: "" },
      ...(await repo.listNames("index")).map((name) => ({ type: "index" as const, name })),
      ...[...new Set(refs.map((r) => r.ref.base))].map((name) => ({ type: "list" as const, name })),
      ...ref.snapshot.packs.map((name) => ({ type: "pack" as const, name })),
      { type: "snapshot", name: ref.id },
      // config last: a folder without it is no repository, so a cut-short download is never taken for one.
      { type: "config", name: "" },
    ];
    let bytes = 0;
    for (const h of handles) {
      const data = await repo.backend.load(h, undefined, { signal: req.signal });
      await into.save(h, data, { signal: req.signal });
      bytes += data.length;
    }
    await into.flush();
    return { snapshot: ref.id, target: req.target, files: handles.length, bytes };
  });
}
