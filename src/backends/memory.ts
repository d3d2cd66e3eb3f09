// An in-memory backend for unit tests.
import { checkHandle, isValidName, NotExistError, type Backend, type CallOptions, type FileEntry, type FileType, type Handle, type Range } from "./backend.ts";

export class MemoryBackend implements Backend {
  readonly properties = { location: "memory:", atomicWrites: true };
  readonly files = new Map<string, Buffer>();

  private key(h: Handle): string {
    checkHandle(h);
    return `${h.type}/${h.name}`;
  }
  async save(h: Handle, data: Buffer | readonly Buffer[], opts?: CallOptions): Promise<void> {
    opts?.signal?.throwIfAborted();
    this.files.set(this.key(h), Buffer.concat(Buffer.isBuffer(data) ? [data] : data));
  }
  async load(h: Handle, range?: Range, opts?: CallOptions): Promise<Buffer> {
    opts?.signal?.throwIfAborted();
    const data = this.files.get(this.key(h));
    if (!data) throw new NotExistError(h);
    return Buffer.from(range ? data.subarray(range.offset, range.offset + range.length) : data);
  }
  async stat(h: Handle, opts?: CallOptions): Promise<FileEntry> {
    opts?.signal?.throwIfAborted();
    const data = this.files.get(this.key(h));
    if (!data) throw new NotExistError(h);
    return { name: h.name, size: data.length };
  }
  async *list(type: FileType, opts?: CallOptions): AsyncIterable<FileEntry> {
    for (const [k, v] of [...this.files]) {
      opts?.signal?.throwIfAborted();
      const [t, name] = k.split("/");
      if (t === type && isValidName(type, name)) yield { name, size: v.length };
    }
  }
  async remove(h: Handle, opts?: CallOptions): Promise<void> {
    opts?.signal?.throwIfAborted();
    if (!this.files.delete(this.key(h))) throw new NotExistError(h);
  }
  async flush(): Promise<void> {}
  isNotExist(err: unknown): boolean {
    return err instanceof NotExistError;
  }
  isRetryable(): boolean {
    return false;
  }
}
