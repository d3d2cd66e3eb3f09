// The CPU-heavy steps that run on worker threads: hashing chunks and
// compressing frames (backup), unpacking spans of packs (restore). Both cores
// of a small runner then work, while the main thread reads, deduplicates,
// seals and writes in order. This file is also the worker's entry: bundled as
// dist/worker.js beside cairn.js (the CLI's bundle) and action.js.
import { isMainThread, isMarkedAsUntransferable, parentPort, workerData } from "node:worker_threads";
import { IntegrityError } from "../errors.ts";
import { chunkIdHasher } from "./crypto/keys.ts";
import { compressFrame } from "./pack/frame.ts";
import { unpack, type UnpackJob } from "./pack/unpack.ts";
import { WorkerPool, type Reply } from "./workers/pool.ts";

type Task =
  | { kind: "unpack"; job: UnpackJob }
  | { kind: "compress"; raw: Uint8Array; length: number }
  | { kind: "hash"; data: Uint8Array; sizes: Uint32Array };

/** What each task gives back: bytes written; a frame; chunk IDs. Input buffers come back for reuse. */
type Done =
  | { kind: "unpack"; bytes: number }
  | { kind: "compress"; frame: Uint8Array; raw: Uint8Array }
  | { kind: "hash"; data: Uint8Array; ids: Uint8Array };

function runTask(task: Task, chunkId: (data: Uint8Array) => Buffer): { done: Done; transfer: ArrayBuffer[] } {
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
function movable(b: Uint8Array): Uint8Array<ArrayBuffer> {
  const own = b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && owned(b.buffer as ArrayBuffer);
  return own ? (b as Uint8Array<ArrayBuffer>) : new Uint8Array(b); // a copy (Buffer.slice would be a view)
}

const asBuffer = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

// The worker's entry, beside this file: tasks.ts in the source tree, worker.js
// beside the bundles in dist/.
const SCRIPT = new URL(import.meta.url.endsWith(".ts") ? "./tasks.ts" : "./worker.js", import.meta.url);

/**
 * The worker threads of one operation, one per core. The main thread keeps to
 * reading and ordering: when it unpacked too, the reads it could not issue
 * meanwhile starved the workers (restore took 1.9 s of decoding instead of 1.4).
 */
export class Workers {
  private readonly pool: WorkerPool<Task, Done>;

  constructor(chunkIdKey: Uint8Array, size?: number) {
    this.pool = new WorkerPool<Task, Done>(SCRIPT, {
      workerData: { cairnTasks: true, chunkIdKey },
      size,
      revive: (e) => (e.kind === "integrity" ? new IntegrityError(e.message) : new Error(e.message)),
      startHint: "dist/worker.js must sit beside cairn's bundle (cairn.js); reinstall cairn if it is missing",
    });
  }

  /** Tasks that can run at once. */
  get size(): number {
    return this.pool.size;
  }

  /** One zstd frame of raw[0..length); raw comes back for reuse. */
  async compress(raw: Buffer, length: number): Promise<{ frame: Buffer; raw: Buffer }> {
    const moved = movable(raw);
    const done = await this.pool.run({ kind: "compress", raw: moved, length }, [moved.buffer]);
    if (done.kind !== "compress") throw new Error("a worker answered the wrong task");
    return { frame: asBuffer(done.frame), raw: asBuffer(done.raw) };
  }

  /** The chunk IDs of the chunks laid out back to back in data (sizes in order); data comes back for reuse. */
  async hash(data: Buffer, sizes: Uint32Array): Promise<{ data: Buffer; ids: Buffer }> {
    const moved = movable(data);
    const done = await this.pool.run({ kind: "hash", data: moved, sizes }, [moved.buffer]);
    if (done.kind !== "hash") throw new Error("a worker answered the wrong task");
    return { data: asBuffer(done.data), ids: asBuffer(done.ids) };
  }

  /** Decrypt, decompress, check and write one span's chunks; the bytes written. */
  async unpack(job: UnpackJob): Promise<number> {
    const sealed = movable(job.sealed);
    const done = await this.pool.run({ kind: "unpack", job: { ...job, sealed } }, [sealed.buffer]);
    if (done.kind !== "unpack") throw new Error("a worker answered the wrong task");
    return done.bytes;
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

if (!isMainThread && (workerData as { cairnTasks?: boolean } | null)?.cairnTasks) {
  const chunkId = chunkIdHasher(workerData.chunkIdKey as Uint8Array);
  parentPort!.on("message", (task: Task) => {
    try {
      const { done, transfer } = runTask(task, chunkId);
      parentPort!.postMessage({ result: done } satisfies Reply<Done>, transfer);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      parentPort!.postMessage({ error: { message, kind: err instanceof IntegrityError ? "integrity" : undefined } } satisfies Reply<Done>);
    }
  });
}
