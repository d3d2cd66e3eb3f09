// Snapshots: every snapshot's head, oldest first.
import { withLock } from "../engine/repository/lock.ts";
import { loadSnapshots, type SnapshotHeadRef } from "../engine/snapshot/snapshot.ts";
import { openRepository } from "./repository.ts";
import type { Settings } from "./settings.ts";

export async function snapshots(settings: Settings, req: { signal?: AbortSignal } = {}): Promise<SnapshotHeadRef[]> {
  const repo = await openRepository(settings, "write", req.signal);
  return withLock(repo, false, () => loadSnapshots(repo));
}
