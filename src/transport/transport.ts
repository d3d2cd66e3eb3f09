// A transport reaches the machine the sources live on: run a command, read a
// file, expand a glob. `local` is this machine; `ssh` is a server reached with
// ssh2. Sources are written against this interface only, so every source works
// over both.
import type { Readable } from "node:stream";

export interface FileInfo {
  /** Absolute path on the source machine. */
  path: string;
  type: "file" | "dir" | "symlink" | "other";
  size: number;
  /** Permission bits (e.g. 0o640). */
  mode: number;
  /** Modification time, milliseconds since the epoch. */
  mtime: number;
  uid: number;
  gid: number;
  /** Status change time (ms): moves with every write, chmod or rename, and cannot be set back by a writer. */
  ctime: number;
  /** Which file this is on its machine ("device:inode"): another value means the path was replaced. */
  id: string;
}

/** What a glob or walk found, and the folders it could not look into. */
export interface Listing {
  files: FileInfo[];
  /** Paths that could not be listed (a folder without read permission), with why. */
  unreadable: { path: string; reason: string }[];
  /** The source machine's clock when the listing began, ms since the epoch (to the second): file times compare with it. */
  now: number;
}

export interface ReadOptions {
  /** Read at most this many bytes. */
  length?: number;
  /** Once the bytes are read, also take SHA-256 of the file's first `length` bytes as they are then. */
  hashPrefix?: boolean;
}

/** One read of a file: its bytes, then how the file was right after (one round trip over SSH). */
export interface FileRead {
  /** The bytes. */
  stream: Readable;
  /**
   * Once the stream has ended: the file's stat then (none when it is gone)
   * and, when asked for, the SHA-256 (hex) of its first `length` bytes then
   * (none when the source machine cannot compute it). Rejects when the
   * connection is lost.
   */
  after(): Promise<{ info?: FileInfo; prefixHash?: string }>;
}

export interface ExecOptions {
  /**
   * Bytes written to the command's stdin, then stdin is closed. A stream is
   * piped with backpressure (an upload); if it fails, the command is stopped.
   */
  stdin?: Buffer | string | Readable;
  /**
   * Secret environment variables for the command (database passwords). A
   * transport must deliver them without putting them on a command line:
   * local passes them to spawn(); ssh feeds them through stdin.
   */
  secretEnv?: Record<string, string>;
  /** Kill the command (and fail) after this many milliseconds without output. */
  idleTimeoutMs?: number;
}

export interface ExecResult {
  code: number | null;
  signal: string | null;
  /** The tail of stderr (bounded), for error messages. */
  stderr: string;
}

export interface RunningCommand {
  /** The command's stdout, streamed; consume it or the command stalls. */
  stdout: Readable;
  /** Resolves when the command has exited and stdout has ended. */
  done: Promise<ExecResult>;
  /** Stop the command (connection drop, backup aborted). */
  kill(): void;
}

export interface Transport {
  /** For messages: "local" or "ssh backup@host:2222". */
  readonly description: string;
  /** The machine the sources live on, as a snapshot records it: cairn.yml's host address, or this machine's name. */
  readonly host: string;
  /**
   * Run argv on the source machine. argv[0] is the program; no shell
   * interprets the arguments (ssh quotes each one for the remote shell).
   */
  exec(argv: string[], options?: ExecOptions): RunningCommand;
  /**
   * Files matching the glob patterns, sorted by path; directories are not
   * descended into. A name is always data: one starting with "-", "(" or "!"
   * is never taken as an option or an expression.
   */
  glob(patterns: string[]): Promise<Listing>;
  /** Everything below a directory (not the directory itself), sorted by path. */
  walk(dir: string): Promise<Listing>;
  stat(path: string): Promise<FileInfo>;
  /**
   * Read a file. Fails before the first byte when it cannot be opened
   * (err.code ENOENT, EACCES, ...).
   */
  read(path: string, options?: ReadOptions): Promise<FileRead>;
  close(): Promise<void>;
}
