// Snapshots: every snapshot's head, oldest first, who new data is encrypted
// to, and each snapshot's expiry where the repository's files expire.
import { withLock } from "../engine/repository/lock.ts";
import { snapshotExpiries } from "../engine/snapshot/expiry.ts";
import { chainProblems, isFuture, latest, loadSnapshots, type SnapshotHeadRef } from "../engine/snapshot/snapshot.ts";
import { openRepository } from "./repository.ts";
import type { Settings } from "./settings.ts";

export interface SnapshotListing extends SnapshotHeadRef {
  /** Dated in the future: never taken as latest. */
  future: boolean;
  /** When the first file the snapshot needs expires (then it cannot be restored); null where files do not expire. */
  expires: Date | null;
}

export interface SnapshotList {
  recipients: string[];
  snapshots: SnapshotListing[];
  /** The ID `latest` means. */
  latest: string | undefined;
  /** Snapshots missing from the chain, and ones dated in the future. */
  problems: string[];
}

export async function snapshots(settings: Settings, req: { signal?: AbortSignal } = {}): Promise<SnapshotList> {
  const repo = await openRepository(settings, "write", req.signal);
  return withLock(repo, false, async () => {
    const all = await loadSnapshots(repo);
    const expiries = await snapshotExpiries(
      repo,
      all.map((s) => s.id),
    );
    const now = Date.now();
    return {
      recipients: repo.config.recipients,
      snapshots: all.map((r) => ({ ...r, future: isFuture(r.snapshot, now), expires: expiries?.get(r.id)?.expires ?? null })),
      latest: latest(all, now)?.id,
      problems: await chainProblems(repo, all, now),
    };
  });
}
