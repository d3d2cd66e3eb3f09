// The storage backend interface: a flat store of named files by type, as in
// restic's backend.Backend. Backends know nothing of encryption or formats;
// capabilities are properties, not subclasses.

export const FILE_TYPES = ["config", "keys", "index", "snapshot", "list", "pack", "lock", "forgotten"] as const;
export type FileType = (typeof FILE_TYPES)[number];

/** config and keys are singletons (name ""); the rest are named by 64 hex digits. */
export interface Handle {
  type: FileType;
  name: string;
}

export interface FileEntry {
  name: string;
  size: number;
  /** When the backend deletes the file by itself (GitHub artifacts' retention); absent where files live until removed. */
  expires?: Date;
}

export interface BackendProperties {
  /** For messages: "local:/srv/backups/cairn". */
  location: string;
  /** Writes become visible all at once (never a half-written file). */
  atomicWrites: boolean;
  /** The largest file the backend should hold (git: far below GitHub's 50 MB warning); packs are cut smaller. */
  maxFileSize?: number;
  /** Present when files expire by themselves: stat() and list() then give each file's `expires`. */
  expiry?: ExpiryProperties;
}

/** What a backend whose files expire tells the engine, so no snapshot depends on a file that expires before it. */
export interface ExpiryProperties {
  /** The latest a file saved now can expire: the retention asked for, capped by what the host allows. */
  newFiles(): Date;
}

export interface Range {
  offset: number;
  length: number;
}

/** Every call can be cancelled: an aborted signal makes it reject as soon as it can. */
export interface CallOptions {
  signal?: AbortSignal;
}

export interface Backend {
  readonly properties: BackendProperties;
  /** Store data (one buffer, or pieces in order) under h. Saving the same name twice with the same bytes is allowed. */
  save(h: Handle, data: Buffer | readonly Buffer[], opts?: CallOptions): Promise<void>;
  /** The whole file, or length bytes from offset. Rejects with an error isNotExist() knows when missing. */
  load(h: Handle, range?: Range, opts?: CallOptions): Promise<Buffer>;
  stat(h: Handle, opts?: CallOptions): Promise<FileEntry>;
  list(type: FileType, opts?: CallOptions): AsyncIterable<FileEntry>;
  remove(h: Handle, opts?: CallOptions): Promise<void>;
  /** Make everything saved so far durable remotely (git push, artifact upload). Local: nothing. */
  flush(opts?: CallOptions): Promise<void>;
  /** Whether err says the file does not exist (each backend knows its own errors). */
  isNotExist(err: unknown): boolean;
  /** Whether the call that failed with err may succeed if tried again (a dropped connection, a 503). */
  isRetryable(err: unknown): boolean;
}

export class NotExistError extends Error {
  constructor(h: Handle) {
    super(`${h.type} ${h.name || ""} does not exist`.replace(/ +/g, " "));
    this.name = "NotExistError";
  }
}

/** The file existed but has expired (the host deleted its content); a not-exist error that says when. */
export class ExpiredError extends NotExistError {
  readonly expired: Date;
  constructor(h: Handle, expired: Date) {
    super(h);
    this.name = "ExpiredError";
    this.expired = expired;
    this.message = `${h.type} ${h.name} expired on ${expired.toISOString()}`.replace(/ +/g, " ");
  }
}

const NAMED = /^[0-9a-f]{64}$/;

/** Reject any handle a backend should never be asked for (a name from storage is untrusted). */
export function checkHandle(h: Handle): void {
  if (!FILE_TYPES.includes(h.type)) throw new Error(`unknown file type ${String(h.type)}`);
  const singleton = h.type === "config" || h.type === "keys";
  if (singleton ? h.name !== "" : !NAMED.test(h.name)) {
    throw new Error(`invalid ${h.type} name ${JSON.stringify(h.name)}`);
  }
}

export function isValidName(type: FileType, name: string): boolean {
  return type === "config" || type === "keys" ? name === "" : NAMED.test(name);
}
