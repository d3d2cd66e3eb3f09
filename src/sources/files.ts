// Files by glob (expanded on the source machine by the transport): each
// regular file becomes an entry under <source>/<its path>, with mode, owner
// and mtime; a folder brings everything in it. `newer-than` keeps only
// recently modified files (logs), by the source machine's clock.
//
// What cannot be read does not stop the backup: a literal path that does not
// exist, a file or folder without read permission, a file that vanished, a
// file still changing after the engine's retries. Each becomes an entry whose
// read throws UnreadableFileError; the engine names it in the snapshot, which
// is then incomplete. A glob that matches nothing is only a warning, and so is
// a pattern whose every file is older than `newer-than`.
//
// A file being appended to (a log) is stored as it was at the size it had
// when reading began; the source's info lists it under `grew`. How a change
// is told from a growth, without reading the file twice in the common case,
// is in readFile below.
import { createHash } from "node:crypto";
import { ChangedWhileReadingError, ConnectionError, UnreadableFileError } from "../errors.ts";
import type { FileInfo, Transport } from "../transport/transport.ts";
import type { Logger } from "../log.ts";
import type { Source, SourceDump, SourceEntry } from "./source.ts";

/** Files modified this recently (by the source machine's clock) are hashed while read, so a growth can be checked. */
const LIVE_MS = 10 * 60_000;
/** Within this of the listing, an unchanged mtime proves nothing (file times tick coarsely): check the bytes. */
const RACY_MS = 2_000;

const isGlob = (pattern: string) => /[*?[]/.test(pattern);

export class FilesSource implements Source {
  readonly kind = "files";
  readonly name: string;
  readonly patterns: string[];
  readonly newerThanMs: number | undefined;
  constructor(name: string, patterns: string[], newerThanMs?: number) {
    this.name = name;
    this.patterns = patterns;
    this.newerThanMs = newerThanMs;
  }

  dump(transport: Transport, log: Logger): SourceDump {
    let files = 0;
    let bytes = 0;
    const grew: string[] = [];
    const self = this;
    const on = transport.description;
    async function* entries(): AsyncGenerator<SourceEntry> {
      // The source machine's clock when the first listing began: a file written after it is never older.
      let now: number | undefined;
      const found = new Map<string, FileInfo>();
      let matched = false;
      for (const pattern of self.patterns) {
        let listing;
        try {
          listing = await transport.glob([pattern]);
        } catch (err) {
          if (err instanceof ConnectionError) throw err;
          yield unreadableEntry(self.name, pattern, `it could not be listed: ${(err as Error).message}`);
          continue;
        }
        now ??= listing.now;
        const cutoff = self.newerThanMs === undefined ? -Infinity : now - self.newerThanMs;
        for (const u of listing.unreadable) yield unreadableEntry(self.name, u.path, lower(u.reason));
        if (listing.files.length === 0) {
          if (isGlob(pattern)) log.warn(`source ${self.name}: ${pattern} matches nothing on ${on}`);
          else yield unreadableEntry(self.name, pattern, await whyMissing(transport, pattern));
          continue;
        }
        matched = true;
        const all: FileInfo[] = [];
        for (const m of listing.files) {
          if (m.type !== "dir") {
            all.push(m);
            continue;
          }
          try {
            const inside = await transport.walk(m.path);
            all.push(...inside.files);
            for (const u of inside.unreadable) yield unreadableEntry(self.name, u.path, lower(u.reason));
          } catch (err) {
            if (err instanceof ConnectionError) throw err;
            yield unreadableEntry(self.name, m.path, `the folder could not be listed: ${(err as Error).message}`);
          }
        }
        let regular = 0;
        let kept = 0;
        for (const f of all) {
          if (f.type === "symlink" || f.type === "other") {
            log.warn(`source ${self.name}: skipped ${f.path} (a ${f.type === "symlink" ? "symbolic link" : "special file"})`);
          } else if (f.type === "file") {
            regular++;
            if (f.mtime >= cutoff) {
              kept++;
              found.set(f.path, f);
            }
          }
        }
        if (regular > 0 && kept === 0) {
          log.warn(`source ${self.name}: every file ${pattern} matches on ${on} is older than newer-than (${formatAge(self.newerThanMs!)}); none is backed up`);
        }
      }
      if (!matched && self.patterns.every(isGlob)) {
        // Nothing at all: likely a renamed folder. The snapshot says so rather than silently holding nothing.
        yield unreadableEntry(self.name, self.patterns.join(", "), "no file matches any pattern of this source");
      }
      const ctx: ReadContext = { now: now ?? Date.now(), count: (n) => (bytes += n), grew: (path) => grew.push(path) };
      for (const f of [...found.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) {
        files++;
        yield fileEntry(transport, self.name, f, ctx);
      }
    }
    return { entries: entries(), info: () => ({ files, bytes, ...(grew.length ? { grew } : {}) }) };
  }
}

interface ReadContext {
  /** The source machine's clock when the listing began. */
  now: number;
  count(bytes: number): void;
  /** The file grew while it was read; its first (listed) size was stored. */
  grew(path: string): void;
}

/** Why a literal path was not found: its stat's error, in a few words. */
async function whyMissing(transport: Transport, path: string): Promise<string> {
  try {
    await transport.stat(path);
    return "it could not be listed";
  } catch (err) {
    if (err instanceof ConnectionError) throw err;
    return reasonOf(err, "it does not exist");
  }
}

function reasonOf(err: unknown, missing: string): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOENT" || code === "ENOTDIR") return missing;
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  return (err as Error).message;
}

/** "Permission denied" (find, strerror) as the other reasons read. */
const lower = (reason: string) => reason.charAt(0).toLowerCase() + reason.slice(1);

function formatAge(ms: number): string {
  const d = ms / 86_400_000;
  return Number.isInteger(d) ? `${d}d` : ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : `${Math.round(ms / 1000)}s`;
}

/** An entry for something that cannot be read: its read throws, and the engine names it in the snapshot. */
function unreadableEntry(source: string, path: string, reason: string): SourceEntry {
  return {
    path: `${source}/${path.replace(/^\/+/, "")}`,
    mode: 0,
    mtime: 0,
    uid: 0,
    gid: 0,
    async *open() {
      throw new UnreadableFileError(path, reason);
    },
  };
}

export function fileEntry(transport: Transport, source: string, info: FileInfo, ctx: ReadContext): SourceEntry {
  let attempt = 0;
  const entry: SourceEntry = {
    path: `${source}/${info.path.replace(/^\/+/, "")}`,
    mode: info.mode,
    mtime: info.mtime,
    uid: info.uid,
    gid: info.gid,
    open: () => readFile(++attempt),
  };

  /** A failed read: the connection's fault (the backup stops), or this file's (the backup goes on without it). */
  const failed = (err: unknown, missing = "it was removed before it could be read") =>
    err instanceof ConnectionError
      ? new ConnectionError(`${err.message} (reading ${info.path})`, err.hint, { cause: err })
      : new UnreadableFileError(info.path, reasonOf(err, missing), { cause: err });
  const changed = (detail: string) => new ChangedWhileReadingError(info.path, detail);

  // Reads the first `size` bytes, `size` being what the file had when this
  // read began (the listing's stat the first time, a fresh one after), then
  // asks how the file is now, in the same round trip. It is stored as it was
  // when the read began if:
  //  - device:inode, size, mtime and ctime are all unchanged, and the mtime
  //    is not so recent that a write in the same clock tick could hide in it
  //    (the common case: the file is read once and stat'ed once); or
  //  - it is the same file, no shorter, and SHA-256 of its first `size`
  //    bytes, taken on the source machine after the read, equals that of the
  //    bytes read: what is stored is exactly what those bytes then were, so an
  //    appending writer (a log) never makes a read fail, while a write into
  //    bytes already read makes the hashes differ. Only files modified within
  //    LIVE_MS are hashed (on both ends); another that changed is read again,
  //    hashed this time.
  // Anything else (shorter, replaced, gone, bytes rewritten) is a
  // ChangedWhileReadingError, and the engine reads the file again.
  async function* readFile(n: number): AsyncGenerator<Buffer> {
    let before = info;
    if (n > 1) {
      try {
        before = await transport.stat(info.path);
      } catch (err) {
        throw failed(err);
      }
    }
    if (before.type !== "file") throw new UnreadableFileError(info.path, "it is no longer a regular file");
    Object.assign(entry, { mode: before.mode, mtime: before.mtime, uid: before.uid, gid: before.gid });
    const size = before.size;
    const hash = n > 1 || before.mtime >= ctx.now - LIVE_MS ? createHash("sha256") : undefined;
    let got = 0;
    let read;
    try {
      read = await transport.read(info.path, { length: size, hashPrefix: hash !== undefined });
      for await (const chunk of read.stream) {
        got += (chunk as Buffer).length;
        hash?.update(chunk as Buffer);
        yield chunk as Buffer;
      }
    } catch (err) {
      throw failed(err);
    }
    let now;
    try {
      now = await read.after();
    } catch (err) {
      throw failed(err);
    }
    const after = now.info;
    if (got < size) throw changed(`it shrank: only ${got} of its ${size} bytes were there`);
    if (!after) throw changed("it was removed or renamed");
    if (after.id !== before.id) throw changed("it was replaced by another file");
    if (after.size < size) throw changed(`it shrank from ${size} to ${after.size} bytes`);
    const same = after.size === size && after.mtime === before.mtime && after.ctime === before.ctime;
    if (!same || after.mtime >= ctx.now - RACY_MS) {
      if (!hash) throw changed("it was written to");
      if (!now.prefixHash) throw changed(`its first ${size} bytes could not be checked on ${transport.description} (that needs sha256sum, shasum or openssl there)`);
      if (now.prefixHash !== hash.digest("hex")) throw changed(`bytes within its first ${size} were rewritten`);
      if (after.size > size) ctx.grew(info.path);
    }
    ctx.count(got);
  }

  return entry;
}
