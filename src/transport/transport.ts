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
}

export interface ExecOptions {
  /** Bytes written to the command's stdin, then stdin is closed. */
  stdin?: Buffer | string;
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
  /**
   * Run argv on the source machine. argv[0] is the program; no shell
   * interprets the arguments (ssh quotes each one for the remote shell).
   */
  exec(argv: string[], options?: ExecOptions): RunningCommand;
  /** Files matching the glob patterns, sorted by path; directories are not descended into. */
  glob(patterns: string[]): Promise<FileInfo[]>;
  stat(path: string): Promise<FileInfo>;
  /** Stream a file's bytes. */
  read(path: string): Promise<Readable>;
  close(): Promise<void>;
}
