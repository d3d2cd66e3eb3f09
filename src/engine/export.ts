// Export: a snapshot (or one source of it) as one .tar.zst.age file, which
// `age -d | zstd -d | tar x` opens without cairn.
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { rename, rm, stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createZstdCompress } from "node:zlib";
import { Header, Pax } from "tar";
import { ExitCode, fromSystemError, IntegrityError, isSystemError, UsageError } from "../errors.ts";
import { EncryptStream } from "./crypto/age.ts";
import { Index } from "./repository/chunk-index.ts";
import { withLock } from "./repository/lock.ts";
import { ChunkReader, type Located } from "./repository/reader.ts";
import type { Repository } from "./repository/repository.ts";
import { checkPath, selectEntries } from "./restore/paths.ts";
import { SALT, type Snapshot, type SnapshotEntry } from "./snapshot/snapshot.ts";

/** The snapshot as one tar stream (entries under their paths), for export. */
async function* tarStream(reader: ChunkReader, entries: SnapshotEntry[], located: Located[], owners: boolean): AsyncGenerator<Buffer> {
  for (const [k, e] of entries.entries()) {
    const data = {
      path: checkPath(e.path).join("/"),
      mode: e.mode & 0o1777,
      // Neutral owner unless asked: `tar x` run as root applies the numbers,
      // and they come from metadata the write key can plant.
      uid: owners ? e.uid : 0,
      gid: owners ? e.gid : 0,
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

export interface ExportOptions {
  /** The .tar.zst.age file to write. */
  output: string;
  /** Only this source. */
  source?: string;
  /** Replace an existing output file; without it an existing file is refused. */
  force?: boolean;
  /** Keep each file's uid and gid from the snapshot (otherwise 0 and 0). */
  owners?: boolean;
}

/**
 * Write the snapshot as one .tar.zst.age file, openable with `age -d | zstd -d
 * | tar x`. It is written to a temp file beside the output and renamed when
 * complete; an existing output is refused unless `force`, before any work and
 * again at the rename.
 */
export async function exportSnapshot(repo: Repository, ref: { id: string; snapshot: Snapshot }, opts: ExportOptions): Promise<void> {
  const out = resolve(opts.output);
  await checkOutput(out, opts.force ?? false);
  await withLock(repo, false, async () => {
    const entries = selectEntries(ref.snapshot, opts.source);
    const reader = new ChunkReader(repo, await Index.load(repo), new Set(ref.snapshot.packs));
    const located = entries.map((e) => reader.locateAll(e.chunks, e.salted ? SALT : 0));
    const tmp = join(dirname(out), `.${randomBytes(6).toString("hex")}.cairn-export`);
    try {
      await pipeline(Readable.from(tarStream(reader, entries, located, opts.owners ?? false)), createZstdCompress(), new EncryptStream(repo.dataRecipients), createWriteStream(tmp, { flags: "wx", mode: 0o600 }));
      // Made while we wrote it? Still refused (without --force).
      await checkOutput(out, opts.force ?? false);
      await rename(tmp, out);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  });
}

/** The output must be a file in an existing folder, and new unless force. */
async function checkOutput(out: string, force: boolean): Promise<void> {
  let st;
  try {
    st = await stat(out);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== "ENOENT") throw fromSystemError(err as NodeJS.ErrnoException, `write ${out}`, ExitCode.usage);
    try {
      if (!(await stat(dirname(out))).isDirectory()) throw new UsageError(`cannot write ${out}: ${dirname(out)} is not a folder`);
    } catch (e) {
      if (isSystemError(e)) throw fromSystemError(e, `write ${out}`, ExitCode.usage, `create the folder ${dirname(out)} first, or choose another output`);
      throw e;
    }
    return;
  }
  if (st.isDirectory()) throw new UsageError(`cannot write ${out}: it is a folder`, "give the path of the file to write, e.g. -o backup.tar.zst.age");
  if (!force) throw new UsageError(`${out} exists; not overwriting it`, "pass --force to replace it, or choose another output file");
}
