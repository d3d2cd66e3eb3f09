// Worker threads for the CPU-heavy steps: hashing chunks and compressing
// frames (backup), unpacking spans of packs (restore). Both cores of a small
// runner then work, while the main thread reads, chunks, deduplicates, seals
// and writes in order.
import { availableParallelism } from "node:os";
import { isMarkedAsUntransferable, Worker } from "node:worker_threads";
import { CairnError, ExitCode, IntegrityError } from "../errors.ts";
import { unpack, type UnpackJob } from "./unpack.ts";
import { compressFrame } from "./packer.ts";

export type Task =
  | { kind: "unpack"; job: UnpackJob }
  | { kind: "compress"; raw: Uint8Array; length: number }
  | { kind: "hash"; data: Uint8Array; sizes: Uint32Array };

/** What each task gives back: bytes written; a frame; chunk IDs. Input buffers come back for reuse. */
export type Done =
  | { kind: "unpack"; bytes: number }
  | { kind: "compress"; frame: Uint8Array; raw: Uint8Array }
  | { kind: "hash"; data: Uint8Array; ids: Uint8Array };

/** Run one task on this thread. */
export function runTask(task: Task, chunkId: (data: Uint8Array) => Buffer): { done: Done; transfer: ArrayBuffer[] } {
  if (task.kind === "unpack") return { done: { kind: "unpack", bytes: unpack(task.job, chunkId) }, transfer: [] };
  if (task.kind === "hash") {
    const ids = Buffer.allocUnsafeSlow(task.sizes.length * 32);
    let at = 0;
    task.sizes.forEach((size, k) => {
      ids.set(chunkId(task.data.subarray(at, at + size)), k * 32);
      at += size;
    });
    return { done: { kind: "hash", data: task.data, ids }, transfer: [task.data.buffer as ArrayBuffer, ids.buffer as ArrayBuffer].filter(owned) };
  }
  const frame = compressFrame(task.raw.subarray(0, task.length));
  return { done: { kind: "compress", frame, raw: task.raw }, transfer: [frame.buffer as ArrayBuffer, task.raw.buffer as ArrayBuffer].filter(owned) };
}

function owned(b: ArrayBuffer): boolean {
  return b instanceof ArrayBuffer && !isMarkedAsUntransferable(b);
}

/** Bytes whose memory can be moved to a worker: a view of part of a larger buffer is copied first (cloning would copy all of it). */
export function movable(b: Uint8Array): Uint8Array<ArrayBuffer> {
  const own = b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && owned(b.buffer as ArrayBuffer);
  return own ? (b as Uint8Array<ArrayBuffer>) : new Uint8Array(b); // a copy (Buffer.slice would be a view)
}

// The worker's entry, beside this file: worker.ts in the source tree,
// worker.js beside the bundles in dist/.
const WORKER = new URL(import.meta.url.endsWith(".ts") ? "./worker.ts" : "./worker.js", import.meta.url);

interface Pending {
  resolve: (d: Done) => void;
  reject: (err: Error) => void;
}

/**
 * A pool of worker threads, one per core (each holds its own heap and
 * garbage, so no more). The main thread keeps to reading and ordering: when
 * it unpacked too, the reads it could not issue meanwhile starved the workers
 * (restore took 1.9 s of decoding instead of 1.4).
 */
export class Workers {
  private readonly idle: Worker[] = [];
  private readonly waiting: { resolve: (w: Worker) => void; reject: (err: Error) => void }[] = [];
  private readonly pending = new Map<Worker, Pending>();
  private readonly workers: Worker[] = [];
  /** Set when a worker failed to start or died: every task then fails with it (none waits forever). */
  private broken: Error | undefined;
  private closing = false;

  constructor(chunkIdKey: Uint8Array, workers = Workers.count()) {
    for (let i = 0; i < workers; i++) {
      const w = new Worker(WORKER, { workerData: { chunkIdKey } });
      w.on("message", (m: { done?: Done; error?: string; integrity?: boolean }) => {
        const p = this.pending.get(w);
        this.pending.delete(w);
        this.release(w);
        if (!p) return;
        if (m.error === undefined) p.resolve(m.done!);
        else p.reject(m.integrity ? new IntegrityError(m.error) : new Error(m.error));
      });
      w.on("error", (err) => this.fail(new CairnError(`a worker thread failed: ${err.message}`, ExitCode.runtime, "dist/worker.js must sit beside cairn's bundle (cli.js); reinstall cairn if it is missing")));
      w.on("exit", (code) => {
        if (!this.closing) this.fail(new CairnError(`a worker thread stopped (exit code ${code})`, ExitCode.runtime));
      });
      this.workers.push(w);
      this.idle.push(w);
    }
  }

  /** Workers for this machine: one per core, at most 4. */
  static count(): number {
    return Math.max(1, Math.min(availableParallelism(), 4));
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

  /** Tasks that can run at once. */
  get size(): number {
    return this.workers.length;
  }

  async run(task: Task): Promise<Done> {
    if (this.broken) throw this.broken;
    const w = this.idle.pop() ?? (await new Promise<Worker>((resolve, reject) => this.waiting.push({ resolve, reject })));
    if (this.broken) throw this.broken;
    let transfer: ArrayBuffer[];
    if (task.kind === "unpack") {
      const sealed = movable(task.job.sealed);
      task = { kind: "unpack", job: { ...task.job, sealed } };
      transfer = [sealed.buffer];
    } else if (task.kind === "compress") {
      const raw = movable(task.raw);
      task = { ...task, raw };
      transfer = [raw.buffer];
    } else {
      const data = movable(task.data);
      task = { ...task, data };
      transfer = [data.buffer];
    }
    return new Promise<Done>((resolve, reject) => {
      this.pending.set(w, { resolve, reject });
      w.postMessage(task, transfer);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
