// Typed errors. Each carries the exit code the CLI returns and a hint saying
// what to do; src/cli/main.ts is the one place that turns them into output.

/**
 * The exit codes, each with its meaning: the one table `cairn --help` prints
 * and the README's table is checked against (test/cli/exit-codes.test.ts).
 */
export const EXIT_CODES = [
  { code: 0, name: "ok", meaning: "ok" },
  { code: 1, name: "runtime", meaning: "runtime error: a source, the network, a disk or a backend failed" },
  { code: 2, name: "usage", meaning: "usage, config or setup error: the command cannot run as given (fix it and run again)" },
  { code: 3, name: "integrity", meaning: "integrity problem: stored data is damaged or missing (verify, restore)" },
  { code: 4, name: "incomplete", meaning: "incomplete snapshot: saved, but some files could not be read (they are named)" },
  { code: 5, name: "partial", meaning: "some repositories failed: the backup is in the others (each failed one is named)" },
  { code: 10, name: "repoNotFound", meaning: "repository not found" },
  { code: 11, name: "locked", meaning: "repository locked by another run" },
  { code: 12, name: "noKey", meaning: "no key matches (wrong identity or write key)" },
  { code: 130, name: "cancelled", meaning: "cancelled (SIGINT or SIGTERM): the lock and temporary files were removed" },
] as const;

type ExitCodeRow = (typeof EXIT_CODES)[number];
export const ExitCode = Object.fromEntries(EXIT_CODES.map((r) => [r.name, r.code])) as { readonly [R in ExitCodeRow as R["name"]]: R["code"] };
export type ExitCode = ExitCodeRow["code"];

export class CairnError extends Error {
  readonly exitCode: ExitCode;
  readonly hint: string | undefined;
  constructor(message: string, exitCode: ExitCode = ExitCode.runtime, hint?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.exitCode = exitCode;
    this.hint = hint;
  }
}

/** Bad flags, bad config file, bad arguments. */
export class UsageError extends CairnError {
  constructor(message: string, hint?: string) {
    super(message, ExitCode.usage, hint);
  }
}

/** Stored data does not match its checksum, does not decrypt, or does not parse. */
export class IntegrityError extends CairnError {
  constructor(message: string, hint = "run `cairn verify --read-data` to see every damaged object") {
    super(message, ExitCode.integrity, hint);
  }
}

export class RepositoryNotFoundError extends CairnError {
  constructor(location: string) {
    super(`no cairn repository at ${location}`, ExitCode.repoNotFound, "check the repository URL, or create one with `cairn init`");
  }
}

export class LockedError extends CairnError {
  constructor(message: string) {
    super(message, ExitCode.locked, "wait for the other run to finish; a lock from a dead process expires by itself");
  }
}

export class NoKeyError extends CairnError {
  constructor(message: string, hint?: string) {
    super(message, ExitCode.noKey, hint);
  }
}

/** A backup into several repositories failed in some of them (each named); the others hold their snapshot. */
export class PartialBackupError extends CairnError {
  constructor(message: string, hint?: string) {
    super(message, ExitCode.partial, hint);
  }
}

/** A source (dump, file read) failed: the backup creates no snapshot. */
export class SourceError extends CairnError {
  constructor(message: string, hint?: string, options?: ErrorOptions) {
    super(message, ExitCode.runtime, hint, options);
  }
}

/** A file was changed in place while it was read; the engine reads it again, then gives up on it (UnreadableFileError). */
export class ChangedWhileReadingError extends CairnError {
  readonly path: string;
  readonly detail: string;
  constructor(path: string, detail: string) {
    super(`${path} changed while it was read (${detail})`);
    this.path = path;
    this.detail = detail;
  }
}

/**
 * One file (or a literal path, or a folder) of a source could not be read:
 * the backup goes on without it, and the snapshot names it as incomplete.
 */
export class UnreadableFileError extends CairnError {
  /** The path on the source machine (or the pattern). */
  readonly path: string;
  readonly reason: string;
  constructor(path: string, reason: string, options?: ErrorOptions) {
    super(`cannot read ${path}: ${reason}`, ExitCode.incomplete, "give the backup user read access, fix the path in cairn.yml, or leave the file out", options);
    this.path = path;
    this.reason = reason;
  }
}

/** The snapshot was saved, but some of its files could not be read (each named in the snapshot). */
export class IncompleteSnapshotError extends CairnError {
  constructor(message: string, hint?: string) {
    super(message, ExitCode.incomplete, hint);
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The server could not be reached or logged into (network, auth, timeout, lost connection). */
export class ConnectionError extends CairnError {
  constructor(message: string, hint?: string, options?: ErrorOptions) {
    super(message, ExitCode.runtime, hint, options);
  }
}

/** The server's host key is not pinned, or does not match the pin: we refuse to talk to it (a setting to fix, so exit 2). */
export class HostKeyError extends CairnError {
  constructor(message: string, hint?: string) {
    super(message, ExitCode.usage, hint);
  }
}

/** The run was cancelled (SIGINT, SIGTERM): the abort reason every cancellable call rejects with. */
export class CancelledError extends CairnError {
  constructor(signal: string) {
    super(`cancelled by ${signal}`, ExitCode.cancelled, "the lock and temporary files were removed; run the command again when ready");
  }
}

/** An error from the operating system (fs, spawn): it carries an errno code such as ENOENT. */
export function isSystemError(err: unknown): err is NodeJS.ErrnoException & { code: string } {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === "string" && /^E[A-Z]+$/.test((err as NodeJS.ErrnoException).code!);
}

/** What an errno code means, in words, and what to do about it. */
const SYSTEM_ERRORS: Record<string, { reason: string; hint: string }> = {
  ENOENT: { reason: "it does not exist", hint: "check the path" },
  ENOTDIR: { reason: "a part of the path is a file, not a folder", hint: "check the path" },
  EISDIR: { reason: "it is a folder, not a file", hint: "give the path of a file" },
  EEXIST: { reason: "it already exists", hint: "choose another path, or remove it first" },
  EACCES: { reason: "permission denied", hint: "check the owner and mode of the path and its folders, and which user runs cairn" },
  EPERM: { reason: "operation not permitted", hint: "check the owner and mode of the path and its folders, and which user runs cairn" },
  ENOSPC: { reason: "no space left on the device", hint: "free some space and run again (nothing half-written is kept)" },
  EDQUOT: { reason: "disk quota exceeded", hint: "free some space or raise the quota, and run again" },
  EROFS: { reason: "the file system is read-only", hint: "use a writable location" },
  EIO: { reason: "an input/output error (the disk or the network file system failed)", hint: "check the disk (dmesg) and run again" },
  ENAMETOOLONG: { reason: "the path is too long", hint: "use a shorter path" },
  ELOOP: { reason: "too many symbolic links in the path", hint: "check the path for a symbolic link loop" },
  EMFILE: { reason: "too many open files", hint: "raise the open-file limit (ulimit -n) and run again" },
  ENFILE: { reason: "too many open files on this system", hint: "run again when the system is less busy" },
  EBUSY: { reason: "it is busy", hint: "run again when nothing else uses it" },
  ENOTEMPTY: { reason: "the folder is not empty", hint: "choose an empty folder" },
  EXDEV: { reason: "it is on another file system", hint: "keep the file on the same file system" },
};

/** An errno code in words ("permission denied"), or the code itself when it has none. */
export function systemReason(err: NodeJS.ErrnoException): string {
  return SYSTEM_ERRORS[err.code ?? ""]?.reason ?? err.code ?? err.message;
}

/**
 * A system error as a CairnError: "cannot WHAT PATH: REASON" and a hint. The
 * exit code is `code` for a path the user named, but a full disk or an I/O
 * error is always a runtime error (the command was right; the machine failed).
 */
export function fromSystemError(err: NodeJS.ErrnoException, what = systemAction(err), code: ExitCode = ExitCode.runtime, hint?: string): CairnError {
  const known = SYSTEM_ERRORS[err.code ?? ""];
  const machine = ["ENOSPC", "EDQUOT", "EIO", "EMFILE", "ENFILE"].includes(err.code ?? "");
  return new CairnError(`cannot ${what}: ${systemReason(err)}`, machine ? ExitCode.runtime : code, (machine ? undefined : hint) ?? known?.hint, { cause: err });
}

/** "create the folder /srv/x", from a system error's syscall and path. */
function systemAction(err: NodeJS.ErrnoException): string {
  const verbs: Record<string, string> = {
    open: "open",
    mkdir: "create the folder",
    rename: "rename",
    unlink: "remove",
    rmdir: "remove the folder",
    rm: "remove",
    stat: "read",
    lstat: "read",
    scandir: "list the folder",
    opendir: "list the folder",
    read: "read",
    write: "write",
    fsync: "write",
    copyfile: "copy",
    link: "link",
    symlink: "link",
    chmod: "set the mode of",
    chown: "set the owner of",
    utime: "set the time of",
    futime: "set the time of",
    access: "use",
    spawn: "run",
  };
  const verb = verbs[err.syscall?.replace(/^spawn .*/, "spawn") ?? ""] ?? (err.syscall ? `${err.syscall}` : "use");
  return err.path ? `${verb} ${err.path}` : verb;
}
