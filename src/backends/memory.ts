// An in-memory backend for unit tests.
import { checkHandle, isValidName, NotExistError, type Backend, type FileEntry, type FileType, type Handle } from "./backend.ts";

export class MemoryBackend implements Backend {
  readonly properties = { location: "memory:", atomicWrites: true };
  readonly files = new Map<string, Buffer>();

  private key(h: Handle): string {
    checkHandle(h);
    return `${h.type}/${h.name}`;
  }
  async save(h: Handle, data: Buffer | readonly Buffer[]): Promise<void> {
    this.files.set(this.key(h), Buffer.concat(Buffer.isBuffer(data) ? [data] : data));
  }
  async load(h: Handle, range?: { offset: number; length: number }): Promise<Buffer> {
    const data = this.files.get(this.key(h));
    if (!data) throw new NotExistError(h);
    return Buffer.from(range ? data.subarray(range.offset, range.offset + range.length) : data);
  }
  async stat(h: Handle): Promise<FileEntry> {
    const data = this.files.get(this.key(h));
    if (!data) throw new NotExistError(h);
    return { name: h.name, size: data.length };
  }
  async *list(type: FileType): AsyncIterable<FileEntry> {
    for (const [k, v] of [...this.files]) {
      const [t, name] = k.split("/");
      if (t === type && isValidName(type, name)) yield { name, size: v.length };
    }
  }
  async remove(h: Handle): Promise<void> {
    if (!this.files.delete(this.key(h))) throw new NotExistError(h);
  }
  async flush(): Promise<void> {}
}
