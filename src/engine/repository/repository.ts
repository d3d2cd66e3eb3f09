// A repository: config, keys, and typed access to metadata files (index,
// snapshot) over a backend. Every file is named by the SHA-256 of its stored
// bytes; metadata is MAC'd with the write key, compressed and age-encrypted.
// The layout is documented in FORMAT.md.
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { hostname } from "node:os";
import { createZstdCompress, zstdDecompressSync } from "node:zlib";
import type { Backend, FileType } from "../../backends/backend.ts";
import { CairnError, IntegrityError, NoKeyError, RepositoryNotFoundError, UsageError } from "../../errors.ts";
import { decrypt, encodeRecipient, encrypt, parseRecipient, Sealer, type Identity } from "../crypto/age.ts";
import { deriveKeys, encodeWriteKey, mac, newWriteKey, parseWriteKey, type RepoKeys } from "../crypto/keys.ts";

export const FORMAT_VERSION = 1;
export const DEFAULT_PACK_SIZE = 16 * 1024 * 1024;

export interface RepoConfig {
  version: number;
  id: string;
  created: string;
  /** Target size of a pack file, bytes. */
  packSize: number;
  /** age recipient of the metadata identity derived from the write key. */
  writeRecipient: string;
  /** The users' age recipients: data is encrypted to these. */
  recipients: string[];
  /** SHA-256 of the keys file, so the write key alone can check it. */
  keys: string;
  /** HMAC-SHA256 (MAC key) over the config without this field. */
  mac: string;
}

/** The metadata files: MAC'd, compressed, encrypted to the write key's recipient and the users'. */
export type MetaType = "index" | "snapshot" | "list";

export type Credentials = { identities: Identity[] } | { writeKey: Buffer };

export function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

function configBody(c: Omit<RepoConfig, "mac">): Buffer {
  const { version, id, created, packSize, writeRecipient, recipients, keys } = c;
  return Buffer.from(JSON.stringify({ version, id, created, packSize, writeRecipient, recipients, keys }));
}

// A zstd skippable frame (magic 0x184D2A50) carries the MAC, so that
// `age -d | zstd -d` still yields the plain JSON (see RECOVERY.md).
const SKIPPABLE = 0x184d2a50;

export class Repository {
  readonly backend: Backend;
  readonly config: RepoConfig;
  readonly keys: RepoKeys;
  /** Raw recipients: data. */
  readonly dataRecipients: Buffer[];
  /** Raw recipients: metadata (the write key's, then the users'). */
  readonly metaRecipients: Buffer[];
  /** How long a command waits for another run's conflicting lock (restic's --retry-lock; 0: not at all), and what cancels the wait. */
  lockWait: { ms: number; signal?: AbortSignal } = { ms: 0 };

  private constructor(backend: Backend, config: RepoConfig, keys: RepoKeys) {
    this.backend = backend;
    this.config = config;
    this.keys = keys;
    this.dataRecipients = config.recipients.map(parseRecipient);
    this.metaRecipients = [parseRecipient(config.writeRecipient), ...this.dataRecipients];
  }

  get canReadData(): boolean {
    return this.keys.identities.length > 0;
  }

  /**
   * Create a repository; returns it and the write key text to hand to the user
   * once. `existing`: a write key made before (elsewhere), so a run that must
   * not print a new one (a workflow's log) can create the repository.
   */
  static async init(backend: Backend, recipients: string[], packSize = DEFAULT_PACK_SIZE, existing?: Buffer): Promise<{ repo: Repository; writeKey: string }> {
    if (recipients.length === 0) throw new UsageError("init needs at least one --recipient age1...", "make one with `cairn keygen`");
    recipients.forEach(parseRecipient);
    try {
      await backend.stat({ type: "config", name: "" });
      throw new UsageError(`a repository already exists at ${backend.properties.location}`);
    } catch (err) {
      if (!backend.isNotExist(err)) throw err;
    }
    const w = existing ?? newWriteKey();
    const keys = deriveKeys(w);
    const writeKey = encodeWriteKey(w);
    const keysFile = encrypt(Buffer.from(JSON.stringify({ version: 1, writeKey }) + "\n"), recipients.map(parseRecipient));
    const body = {
      version: FORMAT_VERSION,
      id: randomBytes(16).toString("hex"),
      created: new Date().toISOString(),
      packSize,
      writeRecipient: encodeRecipient(keys.meta.publicKey),
      recipients,
      keys: sha256(keysFile),
    };
    const config: RepoConfig = { ...body, mac: mac(keys, "config", configBody(body)).toString("hex") };
    // keys first: a config without keys would be a repository nobody can open.
    await backend.save({ type: "keys", name: "" }, keysFile);
    await backend.save({ type: "config", name: "" }, Buffer.from(JSON.stringify(config, null, 2) + "\n"));
    await backend.flush();
    return { repo: new Repository(backend, config, keys), writeKey };
  }

  /** Rejects with RepositoryNotFoundError when there is no repository. */
  static async exists(backend: Backend): Promise<void> {
    try {
      await backend.stat({ type: "config", name: "" });
    } catch (err) {
      if (backend.isNotExist(err)) throw new RepositoryNotFoundError(backend.properties.location);
      throw err;
    }
  }

  static async open(backend: Backend, creds: Credentials): Promise<Repository> {
    let raw: Buffer;
    try {
      raw = await backend.load({ type: "config", name: "" });
    } catch (err) {
      if (backend.isNotExist(err)) throw new RepositoryNotFoundError(backend.properties.location);
      throw err;
    }
    let config: RepoConfig;
    try {
      config = JSON.parse(raw.toString("utf8"));
    } catch {
      throw new IntegrityError(`the repository config at ${backend.properties.location} is not valid JSON`);
    }
    if (config.version !== FORMAT_VERSION) {
      throw new CairnError(`repository format version ${config.version} is not supported (this cairn reads ${FORMAT_VERSION})`);
    }
    let keys: RepoKeys;
    if ("writeKey" in creds) {
      keys = deriveKeys(creds.writeKey);
    } else {
      let keysFile: Buffer;
      try {
        keysFile = await backend.load({ type: "keys", name: "" });
      } catch (err) {
        if (backend.isNotExist(err)) throw new IntegrityError("the repository has no keys file");
        throw err;
      }
      if (sha256(keysFile) !== config.keys) throw new IntegrityError("the repository keys file does not match its checksum in the config (it is damaged)");
      const text = decrypt(keysFile, creds.identities, "the repository keys file").toString("utf8");
      keys = deriveKeys(parseWriteKey(JSON.parse(text).writeKey), creds.identities);
    }
    const expected = mac(keys, "config", configBody(config));
    const got = Buffer.from(String(config.mac ?? ""), "hex");
    if (got.length !== expected.length || !timingSafeEqual(got, expected)) {
      // The write key's own recipient tells a wrong key from a changed config.
      const ours = encodeRecipient(keys.meta.publicKey) === config.writeRecipient;
      throw "writeKey" in creds && !ours
        ? new NoKeyError("the write key does not match this repository", "use the CAIRN_WRITE_KEY that `cairn init` printed for this repository")
        : new IntegrityError("the repository config fails its MAC check (it was changed outside cairn)");
    }
    return new Repository(backend, config, keys);
  }

  /**
   * MAC, compress and encrypt a metadata file's JSON text; save it; return its
   * name. The text comes as a function giving it in pieces, called twice: the
   * MAC (which goes first in the file) is computed on a first pass, so the
   * second can compress and seal as it goes and a large snapshot is never
   * one string or one buffer.
   */
  async saveMeta(type: MetaType, text: () => Iterable<string>): Promise<string> {
    const hmac = createHmac("sha256", this.keys.macKey).update(type).update("\n");
    for (const piece of text()) hmac.update(piece);
    const frame = Buffer.alloc(8 + 32);
    frame.writeUInt32LE(SKIPPABLE, 0);
    frame.writeUInt32LE(32, 4);
    hmac.digest().copy(frame, 8);

    const sealer = new Sealer(this.metaRecipients);
    const pieces: Buffer[] = [sealer.head];
    const seal = (p: Buffer[]) => pieces.push(...p);
    seal(sealer.push(frame));
    const z = createZstdCompress();
    z.on("data", (d: Buffer) => seal(sealer.push(d)));
    const ended = new Promise<void>((resolve, reject) => {
      z.on("end", resolve);
      z.on("error", reject);
    });
    for (const piece of text()) {
      if (!z.write(piece)) await new Promise((r) => z.once("drain", r));
    }
    z.end();
    await ended;
    seal(sealer.end());
    const hash = createHash("sha256");
    for (const p of pieces) hash.update(p);
    const name = hash.digest("hex");
    await this.backend.save({ type, name }, pieces);
    return name;
  }

  async loadMetaBytes(type: MetaType, name: string): Promise<Buffer> {
    return this.decodeMeta(type, name, await this.backend.load({ type, name }));
  }

  /** Check a metadata file's checksum, decrypt it, check its MAC; its JSON bytes. */
  decodeMeta(type: MetaType, name: string, data: Buffer): Buffer {
    const what = `${type} ${name}`;
    if (sha256(data) !== name) throw new IntegrityError(`${what}: checksum mismatch (the file is damaged)`);
    const ids = [this.keys.meta, ...this.keys.identities];
    const plain = decrypt(data, ids, what);
    if (plain.length < 40 || plain.readUInt32LE(0) !== SKIPPABLE || plain.readUInt32LE(4) !== 32) {
      throw new IntegrityError(`${what}: missing MAC frame`);
    }
    let json: Buffer;
    try {
      json = zstdDecompressSync(plain.subarray(40));
    } catch {
      throw new IntegrityError(`${what}: does not decompress`);
    }
    if (!timingSafeEqual(mac(this.keys, type, json), plain.subarray(8, 40))) {
      throw new IntegrityError(`${what}: MAC mismatch (not written with this repository's key)`);
    }
    return json;
  }

  async listNames(type: FileType): Promise<string[]> {
    const names: string[] = [];
    for await (const f of this.backend.list(type)) names.push(f.name);
    return names;
  }
}

export const thisHost = hostname();
