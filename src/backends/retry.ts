// Retries around a backend (restic's wrapBackend): a call that fails with an
// error the backend calls retryable is tried again after a growing, jittered
// pause; anything else (a missing file, a refused token, a cancelled run)
// fails at once. Saves are safe to repeat: files are named by their content.
// It also gives every call the run's cancellation signal when the caller gave
// none, so a cancelled run stops at its next backend call without the engine
// passing signals around; remove() is the exception: it is how a cancelled
// run cleans up (its lock, its unindexed packs), so it is never cancelled.
import type { Logger } from "../log.ts";
import type { Backend, CallOptions, FileEntry, FileType, Handle, Range } from "./backend.ts";

export interface RetryOptions {
  /** Tries in all, the first included. */
  attempts?: number;
  /** Pause before the first retry; doubled each time, with jitter. */
  delayMs?: number;
  log?: Logger;
  /** The run's cancellation, for calls (other than remove) that give no signal of their own. */
  signal?: AbortSignal;
}

export class RetryBackend implements Backend {
  readonly inner: Backend;
  private readonly attempts: number;
  private readonly delayMs: number;
  private readonly log: Logger | undefined;
  private readonly signal: AbortSignal | undefined;

  constructor(inner: Backend, opts: RetryOptions = {}) {
    this.inner = inner;
    this.attempts = opts.attempts ?? 5;
    this.delayMs = opts.delayMs ?? 500;
    this.log = opts.log;
    this.signal = opts.signal;
  }

  /** The caller's options, with the run's signal when the caller gave none. */
  private withSignal(opts: CallOptions | undefined): CallOptions | undefined {
    return opts?.signal || !this.signal ? opts : { ...opts, signal: this.signal };
  }

  get properties() {
    return this.inner.properties;
  }

  private async retry<T>(what: string, opts: CallOptions | undefined, call: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      opts?.signal?.throwIfAborted();
      try {
        return await call();
      } catch (err) {
        if (attempt >= this.attempts || opts?.signal?.aborted || !this.inner.isRetryable(err)) throw err;
        const pause = this.delayMs * 2 ** (attempt - 1) * (0.5 + Math.random());
        this.log?.warn(`${what} failed (${err instanceof Error ? err.message : String(err)}); trying again in ${(pause / 1000).toFixed(1)} s`);
        await sleep(pause, opts?.signal);
      }
    }
  }

  save(h: Handle, data: Buffer | readonly Buffer[], given?: CallOptions): Promise<void> {
    const opts = this.withSignal(given);
    return this.retry(`saving ${h.type} ${h.name}`, opts, () => this.inner.save(h, data, opts));
  }
  load(h: Handle, range?: Range, given?: CallOptions): Promise<Buffer> {
    const opts = this.withSignal(given);
    return this.retry(`loading ${h.type} ${h.name}`, opts, () => this.inner.load(h, range, opts));
  }
  stat(h: Handle, given?: CallOptions): Promise<FileEntry> {
    const opts = this.withSignal(given);
    return this.retry(`stat of ${h.type} ${h.name}`, opts, () => this.inner.stat(h, opts));
  }
  /** A listing that fails part way is started again from the top; names already yielded are not yielded twice. */
  async *list(type: FileType, given?: CallOptions): AsyncIterable<FileEntry> {
    const opts = this.withSignal(given);
    const seen = new Set<string>();
    for (let attempt = 1; ; attempt++) {
      opts?.signal?.throwIfAborted();
      try {
        for await (const f of this.inner.list(type, opts)) {
          if (seen.has(f.name)) continue;
          seen.add(f.name);
          yield f;
        }
        return;
      } catch (err) {
        if (attempt >= this.attempts || opts?.signal?.aborted || !this.inner.isRetryable(err)) throw err;
        await sleep(this.delayMs * 2 ** (attempt - 1) * (0.5 + Math.random()), opts?.signal);
      }
    }
  }
  /** Never given the run's signal: a cancelled run removes its lock and unindexed packs with it. */
  remove(h: Handle, opts?: CallOptions): Promise<void> {
    return this.retry(`removing ${h.type} ${h.name}`, opts, () => this.inner.remove(h, opts));
  }
  flush(given?: CallOptions): Promise<void> {
    const opts = this.withSignal(given);
    return this.retry("flushing", opts, () => this.inner.flush(opts));
  }
  isNotExist(err: unknown): boolean {
    return this.inner.isNotExist(err);
  }
  isRetryable(err: unknown): boolean {
    return this.inner.isRetryable(err);
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener("abort", abort);
      resolve();
    }
    function abort() {
      clearTimeout(t);
      reject(signal!.reason);
    }
    signal?.addEventListener("abort", abort, { once: true });
  });
}
