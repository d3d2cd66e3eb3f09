// Snapshots: every snapshot's head, oldest first, and who new data is encrypted to.
import { withLock } from "../engine/repository/lock.ts";
import { chainProblems, isFuture, latest, loadSnapshots, type SnapshotHeadRef } from "../engine/snapshot/snapshot.ts";
import { openRepository } from "./repository.ts";
import type { Settings } from "./settings.ts";

export interface SnapshotList {
  recipients: string[];
  snapshots: (SnapshotHeadRef & { future: boolean })[];
  /** The ID `latest` means. */
  latest: string | undefined;
  /** Snapshots missing from the chain, and ones dated in the future. */
  problems: string[];
}

export async function snapshots(settings: Settings, req: { signal?: AbortSignal } = {}): Promise<SnapshotList> {
  const repo = await openRepository(settings, "write", req.signal);
  const all = await withLock(repo, false, () => loadSnapshots(repo));
  const now = Date.now();
  return {
    recipients: repo.config.recipients,
    snapshots: all.map((r) => ({ ...r, future: isFuture(r.snapshot, now) })),
    latest: latest(all, now)?.id,
    problems: chainProblems(all, now),
  };
}
