// Snapshots: every snapshot's head, oldest first, with its expiry where the repository's files expire.
import { withLock } from "../engine/repository/lock.ts";
import { snapshotExpiries } from "../engine/snapshot/expiry.ts";
import { loadSnapshots, type SnapshotHeadRef } from "../engine/snapshot/snapshot.ts";
import { openRepository } from "./repository.ts";
import type { Settings } from "./settings.ts";

export interface SnapshotListing extends SnapshotHeadRef {
  /** When the first file the snapshot needs expires (then it cannot be restored); null where files do not expire. */
  expires: Date | null;
}

export async function snapshots(settings: Settings, req: { signal?: AbortSignal } = {}): Promise<SnapshotListing[]> {
  const repo = await openRepository(settings, "write", req.signal);
  return withLock(repo, false, async () => {
    const all = await loadSnapshots(repo);
    const expiries = await snapshotExpiries(
      repo,
      all.map((s) => s.id),
    );
    return all.map((s) => ({ ...s, expires: expiries?.get(s.id)?.expires ?? null }));
  });
}
