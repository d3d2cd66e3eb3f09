// Verify: the repository's structure, with readData (or a subset) its stored
// data, and with maxAge its freshness: a newest snapshot older than that means
// backups stopped (a schedule GitHub disabled, a runner that died), which
// fails the verify like damage does.
import { verify as runVerify, type VerifyResult } from "../engine/verify.ts";
import { UsageError } from "../errors.ts";
import { openRepository } from "./repository.ts";
import type { Settings } from "./settings.ts";

export interface VerifyRequest {
  /** Percentage of packs to read (0: structure only). */
  readData: number;
  /** Read slice n of t of the packs instead ("2/7"): t scheduled runs read everything. */
  subset?: string;
  /** Fail when the newest snapshot is older than this ("26h", "2d"). */
  maxAge?: string;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
  /** The current time (tests). */
  now?: Date;
}

const UNITS: Record<string, number> = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 };

/** "26h", "2d", "1w", "90m": milliseconds. */
export function parseAge(text: string): number {
  const m = /^(\d+)([smhdw])$/.exec(text.trim());
  if (!m || Number(m[1]) === 0) throw new UsageError(`--max-age: ${JSON.stringify(text)} is not a duration`, 'e.g. 26h (a daily backup and some slack), 2d, 1w; units s, m, h, d, w');
  return Number(m[1]) * UNITS[m[2]];
}

/** "n/t" with 1 <= n <= t. */
export function parseSubset(text: string): { n: number; t: number } {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const n = Number(m?.[1]);
  const t = Number(m?.[2]);
  if (!m || n < 1 || t < 1 || n > t) throw new UsageError(`a read-data slice is n/t with 1 <= n <= t, got ${JSON.stringify(text)}`, "e.g. 3/7: the third of seven slices (run n = day of the week to read everything weekly)");
  return { n, t };
}

function ago(ms: number): string {
  const h = ms / 3600e3;
  return h < 48 ? `${h.toFixed(1)} h` : `${(h / 24).toFixed(1)} days`;
}

export async function verify(settings: Settings, req: VerifyRequest): Promise<VerifyResult> {
  const maxAge = req.maxAge === undefined ? undefined : parseAge(req.maxAge);
  const subset = req.subset === undefined ? undefined : parseSubset(req.subset);
  const repo = await openRepository(settings, "write", req.signal);
  const r = await runVerify(repo, { readData: req.readData, subset, onProgress: req.onProgress });
  if (maxAge !== undefined) {
    const now = (req.now ?? new Date()).getTime();
    if (!r.newest) r.errors.push(`the repository has no snapshot, so none is newer than --max-age ${req.maxAge}: backups are not running`);
    else if (now - Date.parse(r.newest) > maxAge) {
      r.errors.push(`the newest snapshot is from ${r.newest} (${ago(now - Date.parse(r.newest))} ago), older than --max-age ${req.maxAge}: backups have stopped (a disabled schedule, a failing backup job?)`);
    }
  }
  return r;
}
