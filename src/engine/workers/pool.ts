// A pool of worker threads that runs messages through a script it is given.
// It knows no task: the script answers each message with { result } or
// { error }, and the caller says how an error becomes an exception.
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { CairnError, ExitCode } from "../../errors.ts";

/** What a worker script posts back for each message. */
export type Reply<Out> = { result: Out } | { error: { message: string; kind?: string } };

interface Pending<Out> {
  resolve: (r: Out) => void;
  reject: (err: Error) => void;
}

export interface PoolOptions {
  /** Passed to each worker as workerData. */
  workerData: unknown;
  /** Threads; default one per core, at most 4 (each holds its own heap and garbage, so no more). */
  size?: number;
  /** Turns a worker's error reply into the exception the caller sees. */
  revive?: (error: { message: string; kind?: string }) => Error;
  /** Said when the script cannot start (e.g. the file is missing beside a bundle). */
  startHint?: string;
}

/**
 * One message per worker at a time; a message waits for an idle worker. When
 * a worker fails to start or dies, every pending and later message fails with
 * that error (none waits forever).
 */
export class WorkerPool<In, Out> {
  private readonly idle: Worker[] = [];
  private readonly waiting: { resolve: (w: Worker) => void; reject: (err: Error) => void }[] = [];
  private readonly pending = new Map<Worker, Pending<Out>>();
  private readonly workers: Worker[] = [];
  private broken: Error | undefined;
  private closing = false;

  constructor(script: URL, options: PoolOptions) {
    const revive = options.revive ?? ((e) => new Error(e.message));
    const size = options.size ?? WorkerPool.defaultSize();
    for (let i = 0; i < size; i++) {
      const w = new Worker(script, { workerData: options.workerData });
      w.on("message", (m: Reply<Out>) => {
        const p = this.pending.get(w);
        this.pending.delete(w);
        this.release(w);
        if (!p) return;
        if ("result" in m) p.resolve(m.result);
        else p.reject(revive(m.error));
      });
      w.on("error", (err) => this.fail(new CairnError(`a worker thread failed: ${err.message}`, ExitCode.runtime, options.startHint)));
      w.on("exit", (code) => {
        if (!this.closing) this.fail(new CairnError(`a worker thread stopped (exit code ${code})`, ExitCode.runtime));
      });
      this.workers.push(w);
      this.idle.push(w);
    }
  }

  static defaultSize(): number {
    return Math.max(1, Math.min(availableParallelism(), 4));
  }

  /** Messages that can run at once. */
  get size(): number {
    return this.workers.length;
  }

  async run(message: In, transfer: ArrayBuffer[] = []): Promise<Out> {
    if (this.broken) throw this.broken;
    const w = this.idle.pop() ?? (await new Promise<Worker>((resolve, reject) => this.waiting.push({ resolve, reject })));
    if (this.broken) throw this.broken;
    return new Promise<Out>((resolve, reject) => {
      this.pending.set(w, { resolve, reject });
      w.postMessage(message, transfer);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private fail(err: Error): void {
    this.broken ??= err;
    for (const p of this.pending.values()) p.reject(this.broken);
    this.pending.clear();
    for (const w of this.waiting.splice(0)) w.reject(this.broken);
  }

  private release(w: Worker): void {
    const next = this.waiting.shift();
    if (next) next.resolve(w);
    else this.idle.push(w);
  }
}
