// Forget and prune: the retention policy (flags, or cairn.yml's retention:)
// applied to each group of snapshots, then optionally the data no remaining
// snapshot needs removed.
import { forget as runForget, type GroupDecisions } from "../engine/forget/forget.ts";
import { describePolicy, isEmptyPolicy, parseWithin, type Policy } from "../engine/forget/policy.ts";
import { prune as runPrune, type PruneResult } from "../engine/prune.ts";
import { UsageError } from "../errors.ts";
import { openRepository } from "./repository.ts";
import type { Settings } from "./settings.ts";

/** The --keep-* flags as given (numbers, and --keep-within as text). */
export interface KeepFlags {
  keepLast?: number;
  keepHourly?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
  keepYearly?: number;
  keepWithin?: string;
}

export interface ForgetRequest extends KeepFlags {
  dryRun?: boolean;
  /** Prune after forgetting; default cairn.yml's retention.prune. */
  prune?: boolean;
  signal?: AbortSignal;
}

export interface ForgetReport {
  repository: string;
  /** The policy in words. */
  policy: string;
  dryRun: boolean;
  groups: GroupDecisions[];
  removed: string[];
  prune?: PruneResult;
}

const COUNT_FLAGS = [
  ["keepLast", "keep-last", "last"],
  ["keepHourly", "keep-hourly", "hourly"],
  ["keepDaily", "keep-daily", "daily"],
  ["keepWeekly", "keep-weekly", "weekly"],
  ["keepMonthly", "keep-monthly", "monthly"],
  ["keepYearly", "keep-yearly", "yearly"],
] as const;

/** The policy: from the --keep-* flags when any is given, else from cairn.yml's retention:. */
export function policyFrom(settings: Settings, flags: KeepFlags): Policy {
  const anyFlag = COUNT_FLAGS.some(([f]) => flags[f] !== undefined) || flags.keepWithin !== undefined;
  const fromConfig = settings.config?.retention ?? {};
  const policy: Policy = {};
  for (const [flag, key, counter] of COUNT_FLAGS) {
    const n = anyFlag ? flags[flag] : fromConfig[key];
    if (n === undefined) continue;
    if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`--${key} takes a whole number of snapshots, got ${JSON.stringify(n)}`);
    policy[counter] = n;
  }
  const within = anyFlag ? flags.keepWithin : fromConfig["keep-within"];
  if (within !== undefined) {
    const w = parseWithin(within);
    if (!w) throw new UsageError(`--keep-within takes a duration as restic writes it, got ${JSON.stringify(within)}`, 'e.g. 30d, 12h, 1y6m (y years, m months, d days, h hours)');
    policy.within = w;
  }
  return policy;
}

export async function forget(settings: Settings, req: ForgetRequest): Promise<ForgetReport> {
  const policy = policyFrom(settings, req);
  const repo = await openRepository(settings, "write", req.signal);
  const dryRun = req.dryRun ?? false;
  const r = await runForget(repo, { policy, dryRun, signal: req.signal });
  const report: ForgetReport = { repository: repo.backend.properties.location, policy: describePolicy(policy), dryRun, groups: r.groups, removed: r.removed };
  const prune = req.prune ?? settings.config?.retention?.prune ?? false;
  if (prune && !isEmptyPolicy(policy)) report.prune = await runPrune(repo, { dryRun, without: new Set(r.removed), signal: req.signal });
  return report;
}

export interface PruneRequest {
  dryRun?: boolean;
  signal?: AbortSignal;
}

export async function prune(settings: Settings, req: PruneRequest): Promise<PruneResult & { repository: string; dryRun: boolean }> {
  const repo = await openRepository(settings, "write", req.signal);
  const r = await runPrune(repo, { dryRun: req.dryRun, signal: req.signal });
  return { repository: repo.backend.properties.location, dryRun: req.dryRun ?? false, ...r };
}
