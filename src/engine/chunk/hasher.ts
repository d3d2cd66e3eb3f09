// Chunk IDs computed on the worker threads: chunks are copied into batches of
// about BATCH bytes, each batch is hashed on a worker, and the results come
// back in input order. Hashing is a third of a backup's main-thread time when
// every 4 KiB SQLite page is a chunk.
import { CDC_DEFAULT } from "./chunker.ts";

/** Hashes chunks laid out back to back off the main thread (the worker threads, ../tasks.ts); data comes back for reuse. */
export interface ChunkHasher {
  readonly size: number;
  hash(data: Buffer, sizes: Uint32Array): Promise<{ data: Buffer; ids: Buffer }>;
}

const BATCH = 1024 * 1024;
const BUFFER = BATCH + CDC_DEFAULT.max;

interface Batch {
  data: Buffer;
  sizes: number[];
  length: number;
  done?: Promise<{ data: Buffer; ids: Buffer }>;
}

export class BatchHasher {
  private batch: Batch;
  private readonly queue: Batch[] = [];
  private readonly spare: Buffer[] = [];
  private readonly workers: ChunkHasher;
  private readonly onChunk: (chunk: Buffer, id: Buffer) => Promise<void>;

  /** onChunk gets every chunk with its ID, in the order they were pushed. */
  constructor(workers: ChunkHasher, onChunk: (chunk: Buffer, id: Buffer) => Promise<void>) {
    this.workers = workers;
    this.onChunk = onChunk;
    this.batch = this.fresh();
  }

  private fresh(): Batch {
    return { data: this.spare.pop() ?? Buffer.allocUnsafe(BUFFER), sizes: [], length: 0 };
  }

  async push(chunk: Buffer): Promise<void> {
    if (chunk.length > BUFFER - this.batch.length) await this.send();
    chunk.copy(this.batch.data, this.batch.length);
    this.batch.length += chunk.length;
    this.batch.sizes.push(chunk.length);
    if (this.batch.length >= BATCH) await this.send();
  }

  private async send(): Promise<void> {
    const b = this.batch;
    if (b.sizes.length === 0) return;
    this.batch = this.fresh();
    b.done = this.workers.hash(b.data, Uint32Array.from(b.sizes));
    b.done.catch(() => {}); // observed in order by take()
    this.queue.push(b);
    // Keep every worker busy, and no more batches in memory than that needs.
    while (this.queue.length > 2 * this.workers.size) await this.take();
  }

  private async take(): Promise<void> {
    const b = this.queue.shift()!;
    const { data, ids } = await b.done!;
    let at = 0;
    for (let k = 0; k < b.sizes.length; k++) {
      await this.onChunk(data.subarray(at, at + b.sizes[k]), ids.subarray(k * 32, k * 32 + 32));
      at += b.sizes[k];
    }
    this.spare.push(data);
  }

  /** Hash what is pushed so far and hand every chunk to onChunk. */
  async flush(): Promise<void> {
    await this.send();
    while (this.queue.length > 0) await this.take();
  }

  /** Wait for batches in flight and drop them (after a failure). */
  async abandon(): Promise<void> {
    const q = this.queue.splice(0);
    await Promise.allSettled(q.map((b) => b.done));
    this.batch = this.fresh();
  }
}
