// Backup into several repositories in one run (3-2-1): each repository gets a
// complete snapshot of its own, one after the other, and a repository that
// fails does not stop the others. The caller reads each result and fails the
// run when any failed.
import { backup, type BackupReport, type BackupRequest } from "./backup.ts";
import type { Settings } from "./settings.ts";

export interface RepositoryResult {
  repository: string;
  /** The snapshot saved there; absent when this repository failed. */
  report?: BackupReport;
  /** Why this repository has no snapshot. */
  error?: unknown;
}

export async function backupAll(settings: Settings, req: BackupRequest): Promise<RepositoryResult[]> {
  const results: RepositoryResult[] = [];
  // No repository at all: backup() says how to give one.
  const urls = settings.repositories.length > 0 ? settings.repositories : [undefined];
  for (const url of urls) {
    if (req.signal?.aborted) {
      results.push({ repository: url ?? "", error: req.signal.reason });
      continue;
    }
    try {
      results.push({ repository: url ?? "", report: await backup({ ...settings, repository: url }, req) });
    } catch (error) {
      results.push({ repository: url ?? "", error });
    }
  }
  return results;
}
