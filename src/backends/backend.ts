// The storage backend interface: a flat store of named files by type, as in
// restic's backend.Backend. Backends know nothing of encryption or formats;
// capabilities are properties, not subclasses.

export const FILE_TYPES = ["config", "keys", "index", "snapshot", "list", "pack", "lock"] as const;
export type FileType = (typeof FILE_TYPES)[number];

/** config and keys are singletons (name ""); the rest are named by 64 hex digits. */
export interface Handle {
  type: FileType;
  name: string;
}

export interface FileEntry {
  name: string;
  size: number;
}

export interface BackendProperties {
  /** For messages: "local:/srv/backups/cairn". */
  location: string;
  /** Writes become visible all at once (never a half-written file). */
  atomicWrites: boolean;
}

export interface Backend {
  readonly properties: BackendProperties;
  /** Store data (one buffer, or pieces in order) under h. Saving the same name twice with the same bytes is allowed. */
  save(h: Handle, data: Buffer | readonly Buffer[]): Promise<void>;
  /** The whole file, or length bytes from offset. Rejects with a NotExistError when missing. */
  load(h: Handle, range?: { offset: number; length: number }): Promise<Buffer>;
  stat(h: Handle): Promise<FileEntry>;
  list(type: FileType): AsyncIterable<FileEntry>;
  remove(h: Handle): Promise<void>;
  /** Make everything saved so far durable remotely (git push, artifact upload). Local: nothing. */
  flush(): Promise<void>;
}

export class NotExistError extends Error {
  constructor(h: Handle) {
    super(`${h.type} ${h.name || ""} does not exist`.replace(/ +/g, " "));
    this.name = "NotExistError";
  }
}

export function isNotExist(err: unknown): boolean {
  return err instanceof NotExistError;
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
