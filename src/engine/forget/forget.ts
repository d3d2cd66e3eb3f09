// Forget: apply a retention policy to each group of snapshots and remove the
// snapshot files it does not keep. A group is one stable identity, the host
// backed up and its set of sources, never the machine that ran the backup
// (a GitHub runner has a new name each run). Forget removes only snapshot
// files; the data they alone used is freed by prune (./prune.ts).
import { withLock } from "../repository/lock.ts";
import type { Repository } from "../repository/repository.ts";
import { loadSnapshots, type SnapshotHeadRef } from "../snapshot/snapshot.ts";
import { applyPolicy, type Decision, type Policy, type PolicyOptions } from "./policy.ts";

export interface ForgetOptions extends PolicyOptions {
  policy: Policy;
  /** Decide and report, remove nothing. */
  dryRun?: boolean;
  signal?: AbortSignal;
}

export interface GroupDecisions {
  host: string;
  /** The group's source names, sorted. */
  sources: string[];
  /** Newest first. */
  snapshots: (Decision & { ref: SnapshotHeadRef })[];
}

export interface ForgetResult {
  groups: GroupDecisions[];
  /** IDs of the snapshots removed (or, in a dry run, that would be). */
  removed: string[];
}

/** Groups by host and source set, in the order of each group's oldest snapshot. */
export function groupSnapshots(all: SnapshotHeadRef[]): { host: string; sources: string[]; refs: SnapshotHeadRef[] }[] {
  const groups = new Map<string, { host: string; sources: string[]; refs: SnapshotHeadRef[] }>();
  for (const ref of all) {
    const sources = ref.snapshot.sources.map((s) => s.name).sort();
    const key = JSON.stringify([ref.snapshot.host, sources]);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { host: ref.snapshot.host, sources, refs: [] }));
    g.refs.push(ref);
  }
  return [...groups.values()];
}

export function decide(all: SnapshotHeadRef[], opts: ForgetOptions): GroupDecisions[] {
  return groupSnapshots(all).map((g) => {
    const byId = new Map(g.refs.map((r) => [r.id, r]));
    const decisions = applyPolicy(
      g.refs.map((r) => ({ id: r.id, time: new Date(r.snapshot.time) })),
      opts.policy,
      opts,
    );
    return { host: g.host, sources: g.sources, snapshots: decisions.map((d) => ({ ...d, ref: byId.get(d.id)! })) };
  });
}

export async function forget(repo: Repository, opts: ForgetOptions): Promise<ForgetResult> {
  // A dry run only reads: a shared lock lets backups go on.
  return withLock(repo, !opts.dryRun, async () => {
    const groups = decide(await loadSnapshots(repo), opts);
    const removed = groups.flatMap((g) => g.snapshots.filter((s) => !s.keep).map((s) => s.id));
    if (!opts.dryRun && removed.length > 0) {
      // First the record of what is removed (sealed and MACed like a snapshot),
      // so the chain check (snapshot.ts) tells a forgotten snapshot from a deleted one.
      const record = JSON.stringify({ version: 1, time: new Date().toISOString(), snapshots: removed }) + "\n";
      await repo.saveMeta("forgotten", () => [record]);
      for (const id of removed) {
        opts.signal?.throwIfAborted();
        await repo.backend.remove({ type: "snapshot", name: id }, { signal: opts.signal });
      }
      await repo.backend.flush({ signal: opts.signal });
    }
    return { groups, removed };
  });
}
