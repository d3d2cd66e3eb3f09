// Repository locks: a file under locks/ with a lease. Commands that only add
// files (backup) or read (restore, verify, snapshots, export) hold a shared
// lock, so two backups run side by side as in restic; only a command that
// removes files (prune, later) needs the repository alone and holds an
// exclusive one. A command that meets a conflicting lock waits for it up to
// the repository's lockWait (--retry-lock), then gives up with exit 11. The
// holder renews the lease while it runs, so a lock from a runner that died
// expires by itself; a lock from a dead process on this host is stale at once.
import { randomBytes } from "node:crypto";
import { LockedError } from "../../errors.ts";
import { thisHost, type Repository } from "./repository.ts";

export const LEASE_MS = 5 * 60_000;
const RENEW_MS = 60_000;
/** Pauses between looks at a conflicting lock: 1 s, doubling, at most 30 s. */
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 30_000;

function formatWait(ms: number): string {
  return ms < 120_000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 60_000)} min`;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const abort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", abort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", abort, { once: true });
  });
}

export interface LockInfo {
  host: string;
  pid: number;
  exclusive: boolean;
  created: string;
  expires: string;
}

export function isStale(l: LockInfo, now = Date.now()): boolean {
  if (Date.parse(l.expires) < now || Number.isNaN(Date.parse(l.expires))) return true;
  if (l.host === thisHost) {
    try {
      process.kill(l.pid, 0);
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === "ESRCH";
    }
  }
  return false;
}

/** A lock file's content, or undefined when it is not a lock (junk, a torn write). */
export function parseLock(text: string): LockInfo | undefined {
  try {
    const l = JSON.parse(text);
    if (typeof l?.host === "string" && Number.isInteger(l.pid) && typeof l.expires === "string" && typeof l.exclusive === "boolean") return l;
  } catch {
    // fall through
  }
  return undefined;
}

export class Lock {
  private name: string;
  private timer: NodeJS.Timeout | undefined;
  private readonly repo: Repository;
  private readonly info: LockInfo;

  private constructor(repo: Repository, info: LockInfo) {
    this.repo = repo;
    this.info = info;
    this.name = randomBytes(32).toString("hex");
  }

  /** Take the lock, waiting up to repo.lockWait.ms for conflicting locks to go (checked again with growing pauses). */
  static async acquire(repo: Repository, exclusive: boolean): Promise<Lock> {
    const started = Date.now();
    const { ms, signal } = repo.lockWait;
    for (let attempt = 0; ; attempt++) {
      try {
        return await Lock.tryAcquire(repo, exclusive);
      } catch (err) {
        const left = started + ms - Date.now();
        if (!(err instanceof LockedError) || left <= 0) {
          if (err instanceof LockedError && ms > 0) err.message += ` (waited ${formatWait(Date.now() - started)})`;
          throw err;
        }
        await sleep(Math.min(left, RETRY_FIRST_MS * 2 ** Math.min(attempt, 5), RETRY_MAX_MS), signal);
      }
    }
  }

  private static async tryAcquire(repo: Repository, exclusive: boolean): Promise<Lock> {
    const now = Date.now();
    const lock = new Lock(repo, {
      host: thisHost,
      pid: process.pid,
      exclusive,
      created: new Date(now).toISOString(),
      expires: new Date(now + LEASE_MS).toISOString(),
    });
    await lock.write();
    try {
      for (const name of await repo.listNames("lock")) {
        if (name === lock.name) continue;
        let other: LockInfo | undefined;
        try {
          other = parseLock((await repo.backend.load({ type: "lock", name })).toString("utf8"));
        } catch (err) {
          if (repo.backend.isNotExist(err)) continue;
          throw err;
        }
        // A stale or unreadable lock holds nothing: remove it so it does not pile up.
        if (!other || isStale(other)) {
          await repo.backend.remove({ type: "lock", name }).catch(() => {});
          continue;
        }
        if (exclusive || other.exclusive) {
          throw new LockedError(
            `the repository is locked by ${other.exclusive ? "a writer" : "a reader"} (pid ${other.pid} on ${other.host}, since ${other.created}, lease until ${other.expires})`,
          );
        }
      }
    } catch (err) {
      await lock.release();
      throw err;
    }
    lock.timer = setInterval(() => {
      lock.info.expires = new Date(Date.now() + LEASE_MS).toISOString();
      lock.write().catch(() => {});
    }, RENEW_MS);
    lock.timer.unref();
    return lock;
  }

  private async write(): Promise<void> {
    await this.repo.backend.save({ type: "lock", name: this.name }, Buffer.from(JSON.stringify(this.info)));
  }

  async release(): Promise<void> {
    clearInterval(this.timer);
    await this.repo.backend.remove({ type: "lock", name: this.name }).catch((err) => {
      if (!this.repo.backend.isNotExist(err)) throw err;
    });
  }
}

export async function withLock<T>(repo: Repository, exclusive: boolean, fn: () => Promise<T>): Promise<T> {
  const lock = await Lock.acquire(repo, exclusive);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}
