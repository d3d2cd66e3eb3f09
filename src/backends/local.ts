// A repository in a local folder. Writes are atomic: temp file, fsync, rename,
// fsync of the folder, so a crash leaves the old file or the new one.
import { randomBytes } from "node:crypto";
import { mkdir, open, readdir, rename, rm, stat, unlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { checkHandle, isValidName, NotExistError, type Backend, type CallOptions, type FileEntry, type FileType, type Handle, type Range } from "./backend.ts";

const DIRS: Record<FileType, string> = { config: "", keys: "", index: "index", snapshot: "snapshots", list: "lists", pack: "packs", lock: "locks", forgotten: "forgotten" };

export class LocalBackend implements Backend {
  readonly properties;
  readonly root: string;
  constructor(root: string) {
    this.root = root;
    this.properties = { location: `local:${root}`, atomicWrites: true };
  }

  private dir(h: Handle): string {
    if (h.type === "pack") return join(this.root, "packs", h.name.slice(0, 2));
    return join(this.root, DIRS[h.type]);
  }
  private path(h: Handle): string {
    checkHandle(h);
    return join(this.dir(h), h.name || h.type);
  }

  async save(h: Handle, data: Buffer | readonly Buffer[], opts?: CallOptions): Promise<void> {
    opts?.signal?.throwIfAborted();
    const final = this.path(h);
    const dir = this.dir(h);
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, `.tmp-${randomBytes(8).toString("hex")}`);
    try {
      const f = await open(tmp, "wx", 0o600);
      try {
        if (Buffer.isBuffer(data)) await f.writeFile(data);
        else {
          const size = data.reduce((n, b) => n + b.length, 0);
          const { bytesWritten } = await f.writev(data as Buffer[], 0);
          if (bytesWritten !== size) throw new Error(`short write: ${bytesWritten} of ${size} bytes`);
        }
        await f.sync();
      } finally {
        await f.close();
      }
      await rename(tmp, final);
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw err;
    }
    const d = await open(dir, "r");
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  }

  async load(h: Handle, range?: Range, opts?: CallOptions): Promise<Buffer> {
    opts?.signal?.throwIfAborted();
    const p = this.path(h);
    let f;
    try {
      f = await open(p, "r");
    } catch (err) {
      if (missing(err)) throw new NotExistError(h);
      throw err;
    }
    try {
      if (!range) return await f.readFile();
      return await readRangeOf(f, range);
    } finally {
      await f.close();
    }
  }

  async stat(h: Handle, opts?: CallOptions): Promise<FileEntry> {
    opts?.signal?.throwIfAborted();
    try {
      return { name: h.name, size: (await stat(this.path(h))).size };
    } catch (err) {
      if (missing(err)) throw new NotExistError(h);
      throw err;
    }
  }

  async *list(type: FileType, opts?: CallOptions): AsyncIterable<FileEntry> {
    opts?.signal?.throwIfAborted();
    if (type === "config" || type === "keys") {
      try {
        yield await this.stat({ type, name: "" });
      } catch (err) {
        if (!(err instanceof NotExistError)) throw err;
      }
      return;
    }
    const base = join(this.root, DIRS[type]);
    const dirs = type === "pack" ? (await readdirOrEmpty(base)).filter((d) => /^[0-9a-f]{2}$/.test(d)) : [""];
    for (const sub of dirs) {
      const dir = join(base, sub);
      for (const name of await readdirOrEmpty(dir)) {
        opts?.signal?.throwIfAborted();
        // Temp files and strays; a pack only in its own prefix folder (where load looks).
        if (!isValidName(type, name) || (sub && !name.startsWith(sub))) continue;
        try {
          yield { name, size: (await stat(join(dir, name))).size };
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err; // removed meanwhile
        }
      }
    }
  }

  async remove(h: Handle, opts?: CallOptions): Promise<void> {
    opts?.signal?.throwIfAborted();
    try {
      await rm(this.path(h));
    } catch (err) {
      if (missing(err)) throw new NotExistError(h);
      throw err;
    }
  }

  async flush(): Promise<void> {}

  isNotExist(err: unknown): boolean {
    return err instanceof NotExistError;
  }

  /** A local disk either works or does not: nothing is worth trying again. */
  isRetryable(): boolean {
    return false;
  }
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
}

/** ENOENT, or ENOTDIR: a part of the path is a file, so the file cannot exist either. */
function missing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === "ENOENT" || code === "ENOTDIR";
}

/** length bytes from offset of an open file (fewer at its end). */
export async function readRangeOf(f: FileHandle, range: Range): Promise<Buffer> {
  const buf = Buffer.alloc(range.length);
  let got = 0;
  while (got < range.length) {
    const { bytesRead } = await f.read(buf, got, range.length - got, range.offset + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got === range.length ? buf : buf.subarray(0, got);
}
