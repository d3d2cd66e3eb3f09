// Snapshots: every snapshot's head, oldest first, and who new data is encrypted to.
import { withLock } from "../engine/repository/lock.ts";
import { loadSnapshots, type SnapshotHeadRef } from "../engine/snapshot/snapshot.ts";
import { openRepository } from "./repository.ts";
import type { Settings } from "./settings.ts";

export interface SnapshotList {
  recipients: string[];
  snapshots: SnapshotHeadRef[];
}

export async function snapshots(settings: Settings, req: { signal?: AbortSignal } = {}): Promise<SnapshotList> {
  const repo = await openRepository(settings, "write", req.signal);
  return { recipients: repo.config.recipients, snapshots: await withLock(repo, false, () => loadSnapshots(repo)) };
}
