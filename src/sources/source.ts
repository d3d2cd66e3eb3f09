// A source is one named thing to back up (a database, a set of files). Its
// dump yields entries: files with metadata and a content stream. The engine
// chunks each entry's content; it never needs to know where the bytes came
// from or how big they are in advance (a pg_dump has no size until it ends).
import type { Logger } from "../log.ts";
import type { Transport } from "../transport/transport.ts";

export interface SourceEntry {
  /**
   * Where the entry lands on restore, relative to the restore target, with
   * "/" separators and no "." or ".." parts: "settings/srv/bot/.env" for a
   * file of source "settings", "trading-db.sqlite" for a database source.
   */
  path: string;
  mode: number;
  mtime: number;
  uid: number;
  gid: number;
  /**
   * The content. The engine calls open() again when the read throws
   * ChangedWhileReadingError (a file changed in place while it was read), and
   * leaves the entry out, naming it in the snapshot, when it throws
   * UnreadableFileError (this one file cannot be read). A failed dump must
   * throw (SourceError) rather than end early: a short stream would be stored
   * as a complete one. ConnectionError: the source machine is gone.
   */
  open(): AsyncIterable<Buffer>;
}

/** An entry made by a dump (no file on the server behind it): private, owned by root, dated now. */
export function dumpEntry(path: string, open: () => AsyncIterable<Buffer>): SourceEntry {
  return { path, mode: 0o600, mtime: Date.now(), uid: 0, gid: 0, open };
}

export interface SourceDump {
  entries: AsyncIterable<SourceEntry>;
  /** What was dumped (engine, version, tables), shown by `snapshots`; read after entries end. */
  info(): Record<string, unknown>;
}

export interface Source {
  readonly name: string;
  /** "sqlite", "files", "postgres", ... */
  readonly kind: string;
  dump(transport: Transport, log: Logger): SourceDump;
}
