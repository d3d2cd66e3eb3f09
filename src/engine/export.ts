// Export: a snapshot (or one source of it) as one .tar.zst.age file, which
// `age -d | zstd -d | tar x` opens without cairn.
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createZstdCompress } from "node:zlib";
import { Header, Pax } from "tar";
import { IntegrityError } from "../errors.ts";
import { EncryptStream } from "./crypto/age.ts";
import { Index } from "./repository/chunk-index.ts";
import { withLock } from "./repository/lock.ts";
import { ChunkReader, type Located } from "./repository/reader.ts";
import type { Repository } from "./repository/repository.ts";
import { checkPath, selectEntries } from "./restore/paths.ts";
import type { Snapshot, SnapshotEntry } from "./snapshot/snapshot.ts";

/** The snapshot as one tar stream (entries under their paths), for export. */
async function* tarStream(reader: ChunkReader, entries: SnapshotEntry[], located: Located[]): AsyncGenerator<Buffer> {
  for (const [k, e] of entries.entries()) {
    const data = {
      path: checkPath(e.path).join("/"),
      mode: e.mode & 0o1777,
      uid: e.uid,
      gid: e.gid,
      size: e.size,
      mtime: new Date(e.mtime),
      type: "File" as const,
      uname: "",
      gname: "",
    };
    const header = new Header(data);
    if (header.encode()) yield new Pax(data).encode();
    yield header.block!;
    let n = 0;
    for await (const batch of reader.read(located[k])) {
      for (const plain of batch) {
        n += plain.length;
        yield plain;
      }
    }
    if (n !== e.size) throw new IntegrityError(`${e.path}: read ${n} bytes, the snapshot says ${e.size}`);
    if (n % 512) yield Buffer.alloc(512 - (n % 512));
  }
  yield Buffer.alloc(1024);
}

/** Write the snapshot as one .tar.zst.age file, openable with `age -d | zstd -d | tar x`. */
export async function exportSnapshot(repo: Repository, ref: { id: string; snapshot: Snapshot }, output: string, source?: string): Promise<void> {
  await withLock(repo, false, async () => {
    const entries = selectEntries(ref.snapshot, source);
    const reader = new ChunkReader(repo, await Index.load(repo), new Set(ref.snapshot.packs));
    const located = entries.map((e) => reader.locateAll(e.chunks));
    const out = resolve(output);
    const tmp = join(dirname(out), `.${randomBytes(6).toString("hex")}.cairn-export`);
    try {
      await pipeline(Readable.from(tarStream(reader, entries, located)), createZstdCompress(), new EncryptStream(repo.dataRecipients), createWriteStream(tmp, { flags: "wx", mode: 0o600 }));
      await rename(tmp, out);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  });
}
