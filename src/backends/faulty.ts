// A backend that misbehaves on purpose, for tests: it fails, truncates or
// delays chosen calls of the backend it wraps, so each failure path of the
// engine and of the retry wrapper can be driven on demand.
import type { Backend, CallOptions, FileEntry, FileType, Handle, Range } from "./backend.ts";

export type Op = "save" | "load" | "stat" | "list" | "remove" | "flush";

export interface Fault {
  op: Op;
  /** Only calls for this file type. */
  type?: FileType;
  /** The nth matching call (1-based) misbehaves; without it, every matching call. */
  nth?: number;
  /** How many matching calls misbehave from the nth on (default 1 with nth, all without). */
  times?: number;
  /** fail: reject with error; truncate: a load returns only the first half; delay: wait delayMs first. */
  fault: "fail" | "truncate" | "delay";
  error?: Error;
  delayMs?: number;
}

/** An error the faulty backend calls retryable (a stand-in for a dropped connection). */
export class TransientError extends Error {
  constructor(message = "injected transient failure") {
    super(message);
    this.name = "TransientError";
  }
}

export class FaultyBackend implements Backend {
  readonly inner: Backend;
  readonly faults: Fault[];
  /** Calls seen per fault (index into faults). */
  private readonly seen: number[];
  /** Every call made, in order: "save pack 1234...". */
  readonly calls: string[] = [];

  constructor(inner: Backend, faults: Fault[] = []) {
    this.inner = inner;
    this.faults = faults;
    this.seen = faults.map(() => 0);
  }

  get properties() {
    return this.inner.properties;
  }

  /** The fault that applies to this call, if any. */
  private hit(op: Op, type?: FileType): Fault | undefined {
    let found: Fault | undefined;
    this.faults.forEach((f, i) => {
      if (f.op !== op || (f.type && f.type !== type)) return;
      const n = ++this.seen[i];
      const first = f.nth ?? 1;
      const times = f.times ?? (f.nth ? 1 : Infinity);
      if (n >= first && n < first + times) found ??= f;
    });
    return found;
  }

  private async before(op: Op, h?: Handle | FileType): Promise<Fault | undefined> {
    const type = typeof h === "string" ? h : h?.type;
    this.calls.push(`${op}${type ? ` ${type}` : ""}${typeof h === "object" && h.name ? ` ${h.name}` : ""}`);
    const f = this.hit(op, type);
    if (f?.fault === "delay") await new Promise((r) => setTimeout(r, f.delayMs ?? 100));
    if (f?.fault === "fail") throw f.error ?? new TransientError(`injected failure: ${op}${type ? ` ${type}` : ""}`);
    return f;
  }

  async save(h: Handle, data: Buffer | readonly Buffer[], opts?: CallOptions): Promise<void> {
    await this.before("save", h);
    return this.inner.save(h, data, opts);
  }
  async load(h: Handle, range?: Range, opts?: CallOptions): Promise<Buffer> {
    const f = await this.before("load", h);
    const data = await this.inner.load(h, range, opts);
    return f?.fault === "truncate" ? data.subarray(0, data.length >> 1) : data;
  }
  async stat(h: Handle, opts?: CallOptions): Promise<FileEntry> {
    await this.before("stat", h);
    return this.inner.stat(h, opts);
  }
  async *list(type: FileType, opts?: CallOptions): AsyncIterable<FileEntry> {
    await this.before("list", type);
    yield* this.inner.list(type, opts);
  }
  async remove(h: Handle, opts?: CallOptions): Promise<void> {
    await this.before("remove", h);
    return this.inner.remove(h, opts);
  }
  async flush(opts?: CallOptions): Promise<void> {
    await this.before("flush");
    return this.inner.flush(opts);
  }
  isNotExist(err: unknown): boolean {
    return this.inner.isNotExist(err);
  }
  isRetryable(err: unknown): boolean {
    return err instanceof TransientError || this.inner.isRetryable(err);
  }
}
