// Typed errors. Each carries the exit code the CLI returns and a hint saying
// what to do; src/cli/main.ts is the one place that turns them into output.

export const ExitCode = {
  ok: 0,
  runtime: 1,
  usage: 2,
  integrity: 3,
  /** The snapshot was saved, but some files could not be read (named in the snapshot and the output). */
  incomplete: 4,
  repoNotFound: 10,
  locked: 11,
  noKey: 12,
  /** Stopped by SIGINT or SIGTERM (a cancelled or timed-out workflow run). */
  cancelled: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

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
