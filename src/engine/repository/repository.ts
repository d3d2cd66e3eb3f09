// A repository: config, keys, and typed access to metadata files (index,
// snapshot) over a backend. Opening it checks that the config is the
// owner's (owner MAC), the write key's (its config hash), or the pinned
// fingerprint's (a recipient who is not the owner). Every file is named by the SHA-256 of its stored
// bytes; metadata is MAC'd with the write key, compressed and age-encrypted.
// The layout is documented in FORMAT.md.
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { hostname } from "node:os";
import { createZstdCompress, zstdDecompressSync } from "node:zlib";
import type { Backend, FileType } from "../../backends/backend.ts";
import { CairnError, ExitCode, IntegrityError, NoKeyError, RepositoryNotFoundError, UsageError } from "../../errors.ts";
import { decrypt, encodeRecipient, encrypt, parseRecipient, Sealer, type Identity } from "../crypto/age.ts";
import { deriveKeys, encodeWriteKey, mac, ownerSecrets, parseWriteKey, type RepoKeys, type WriteKey } from "../crypto/keys.ts";

export const FORMAT_VERSION = 2;
export const DEFAULT_PACK_SIZE = 16 * 1024 * 1024;
/** Most bytes a metadata file may decompress to (a list file of a 30 GiB database is about 500 MiB). */
export const MAX_META = 512 * 1024 * 1024;

export interface RepoConfig {
  version: number;
  id: string;
  created: string;
  /** Target size of a pack file, bytes. */
  packSize: number;
  /** 32 random bytes (hex): with the owner's identity, they give the repository secret. */
  salt: string;
  /** age recipient of the owner: the identity whose MAC authenticates this config. */
  owner: string;
  /** age recipient of the metadata identity derived from the write key. */
  writeRecipient: string;
  /** The users' age recipients: data is encrypted to these. */
  recipients: string[];
  /** The owner MAC: HMAC-SHA256 (owner MAC key) over the config without this field. */
  mac: string;
}

/** The metadata files: MAC'd, compressed, encrypted to the write key's recipient and the users'. */
export type MetaType = "index" | "snapshot" | "list" | "forgotten";

/**
 * An identity (and, for a recipient who is not the owner, the repository
 * fingerprint it was told to expect), or a write key.
 */
export type Credentials = { identities: Identity[]; fingerprint?: string } | { writeKey: WriteKey };

export function sha256(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

type ConfigBody = Omit<RepoConfig, "mac">;

function configBody(c: ConfigBody): Buffer {
  const { version, id, created, packSize, salt, owner, writeRecipient, recipients } = c;
  return Buffer.from(JSON.stringify({ version, id, created, packSize, salt, owner, writeRecipient, recipients }));
}

/** SHA-256 of the whole config (fields in FORMAT.md's order): what a write key commits to. */
export function configHash(c: RepoConfig): Buffer {
  const body = JSON.parse(configBody(c).toString("utf8"));
  return createHash("sha256").update(JSON.stringify({ ...body, mac: c.mac })).digest();
}

/**
 * The repository's fingerprint: fixed at init (recipient changes keep it),
 * and it names the write key (through writeRecipient), which an attacker
 * who copies the public fields cannot hold.
 */
export function repositoryFingerprint(c: RepoConfig): string {
  return sha256(`cairn repository\n${JSON.stringify([c.id, c.salt, c.owner, c.writeRecipient])}`).slice(0, 32);
}

function ownerMac(key: Buffer, body: ConfigBody): string {
  return createHmac("sha256", key).update("config\n").update(configBody(body)).digest("hex");
}

function equalHex(a: string, b: Buffer): boolean {
  const got = Buffer.from(/^[0-9a-f]*$/.test(a) ? a : "", "hex");
  return got.length === b.length && timingSafeEqual(got, b);
}

/** The config and keys file of a repository whose owner is `owner`; the write key text for it. */
function makeConfig(owner: Identity, body: Omit<ConfigBody, "owner" | "writeRecipient">): { config: RepoConfig; keysFile: Buffer; writeKey: string; keys: RepoKeys } {
  const { ownerMacKey, w } = ownerSecrets(owner, Buffer.from(body.salt, "hex"));
  const keys = { ...deriveKeys(w, [owner]), ownerMacKey };
  const { version, id, created, packSize, salt, recipients } = body;
  const full: ConfigBody = { version, id, created, packSize, salt, owner: encodeRecipient(owner.publicKey), writeRecipient: encodeRecipient(keys.meta.publicKey), recipients };
  const config: RepoConfig = { ...full, mac: ownerMac(ownerMacKey, full) };
  const writeKey = encodeWriteKey({ w, config: configHash(config), configText: Buffer.from(JSON.stringify(config)) });
  const keysFile = encrypt(Buffer.from(JSON.stringify({ version: FORMAT_VERSION, writeKey }) + "\n"), config.recipients.map(parseRecipient));
  return { config, keysFile, writeKey, keys };
}

function checkConfigShape(c: RepoConfig, location: string): void {
  const hex = (v: unknown, n: number) => typeof v === "string" && v.length === n && /^[0-9a-f]+$/.test(v);
  const ok =
    hex(c.id, 32) &&
    typeof c.created === "string" &&
    Number.isSafeInteger(c.packSize) &&
    c.packSize > 0 &&
    hex(c.salt, 64) &&
    typeof c.owner === "string" &&
    typeof c.writeRecipient === "string" &&
    Array.isArray(c.recipients) &&
    c.recipients.length > 0 &&
    c.recipients.every((r) => typeof r === "string") &&
    hex(c.mac, 64);
  if (!ok) throw new IntegrityError(`the repository config at ${location} is malformed`);
  try {
    [c.owner, c.writeRecipient, ...c.recipients].forEach(parseRecipient);
  } catch {
    throw new IntegrityError(`the repository config at ${location} names a recipient that is not an age1... recipient`);
  }
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

  get fingerprint(): string {
    return repositoryFingerprint(this.config);
  }

  /**
   * Create a repository owned by `owner` (its recipient comes first, then
   * `recipients`); returns it and the write key text to hand to the user once.
   */
  static async init(backend: Backend, owner: Identity, opts: { recipients?: string[]; packSize?: number } = {}): Promise<{ repo: Repository; writeKey: string }> {
    const ownerRecipient = encodeRecipient(owner.publicKey);
    const recipients = [ownerRecipient, ...(opts.recipients ?? []).map((r) => r.trim()).filter((r) => r !== ownerRecipient)];
    recipients.forEach(parseRecipient);
    try {
      await backend.stat({ type: "config", name: "" });
      throw new UsageError(`a repository already exists at ${backend.properties.location}`);
    } catch (err) {
      if (!backend.isNotExist(err)) throw err;
    }
    const made = makeConfig(owner, {
      version: FORMAT_VERSION,
      id: randomBytes(16).toString("hex"),
      created: new Date().toISOString(),
      packSize: opts.packSize ?? DEFAULT_PACK_SIZE,
      salt: randomBytes(32).toString("hex"),
      recipients: [...new Set(recipients)],
    });
    // keys first: a config without keys would be a repository its other recipients cannot open.
    await backend.save({ type: "keys", name: "" }, made.keysFile);
    await backend.save({ type: "config", name: "" }, Buffer.from(JSON.stringify(made.config, null, 2) + "\n"));
    await backend.flush();
    return { repo: new Repository(backend, made.config, made.keys), writeKey: made.writeKey };
  }

  /**
   * Make a copy of the repository a write key was made for (its config
   * travels in the key), in a backend that has none: a runner that holds
   * only the write key can set up a second place (e.g. artifacts:) without
   * the owner's identity and without printing a new key.
   */
  static async initFromWriteKey(backend: Backend, writeKeyText: string, recipients: string[] = []): Promise<Repository> {
    const wk = parseWriteKey(writeKeyText);
    if (!wk.configText) throw new UsageError("this write key does not carry its repository's config", "use the write key a current `cairn init` (or `cairn key add/remove`) printed");
    let config: RepoConfig;
    try {
      config = JSON.parse(wk.configText.toString("utf8"));
    } catch {
      throw new UsageError("this write key's config is not valid JSON", "use the write key `cairn init` printed, whole");
    }
    checkConfigShape(config, "the write key");
    const keys = deriveKeys(wk.w);
    if (config.version !== FORMAT_VERSION || !configHash(config).equals(wk.config) || encodeRecipient(keys.meta.publicKey) !== config.writeRecipient) {
      throw new UsageError("this write key does not match the config it carries", "use the write key `cairn init` printed, whole");
    }
    const unknown = recipients.map((r) => r.trim()).filter((r) => r && !config.recipients.includes(r));
    if (unknown.length > 0) {
      throw new UsageError(
        `the write key's repository is encrypted to ${config.recipients.join(", ")}, not to ${unknown.join(", ")}`,
        "a copy made from a write key keeps its recipients; the owner changes them with `cairn key add` (and uses the write key it prints)",
      );
    }
    try {
      await backend.stat({ type: "config", name: "" });
      throw new UsageError(`a repository already exists at ${backend.properties.location}`);
    } catch (err) {
      if (!backend.isNotExist(err)) throw err;
    }
    const keysFile = encrypt(Buffer.from(JSON.stringify({ version: FORMAT_VERSION, writeKey: writeKeyText.trim() }) + "\n"), config.recipients.map(parseRecipient));
    await backend.save({ type: "keys", name: "" }, keysFile);
    await backend.save({ type: "config", name: "" }, Buffer.from(JSON.stringify(config, null, 2) + "\n"));
    await backend.flush();
    return new Repository(backend, config, keys);
  }

  /**
   * The owner changes who data is encrypted to: a new config (same salt, so
   * the same W and chunk IDs), a new keys file, and a new write key text for
   * the runners (the old one refuses the new config).
   */
  async changeRecipients(recipients: string[]): Promise<{ repo: Repository; writeKey: string }> {
    const owner = this.keys.ownerMacKey ? this.keys.identities.find((id) => encodeRecipient(id.publicKey) === this.config.owner) : undefined;
    if (!owner) throw new NoKeyError("changing the recipients needs the owner's identity", `the owner is ${this.config.owner}; pass its identity with -i FILE`);
    if (recipients.length === 0) throw new UsageError("a repository needs at least one recipient");
    recipients.forEach(parseRecipient);
    const { version, id, created, packSize, salt } = this.config;
    const made = makeConfig(owner, { version, id, created, packSize, salt, recipients: [...new Set(recipients)] });
    made.keys.identities = this.keys.identities;
    await this.backend.save({ type: "keys", name: "" }, made.keysFile);
    await this.backend.save({ type: "config", name: "" }, Buffer.from(JSON.stringify(made.config, null, 2) + "\n"));
    await this.backend.flush();
    return { repo: new Repository(this.backend, made.config, made.keys), writeKey: made.writeKey };
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
    const location = backend.properties.location;
    let raw: Buffer;
    try {
      raw = await backend.load({ type: "config", name: "" });
    } catch (err) {
      if (backend.isNotExist(err)) throw new RepositoryNotFoundError(location);
      throw err;
    }
    let config: RepoConfig;
    try {
      config = JSON.parse(raw.toString("utf8"));
    } catch {
      throw new IntegrityError(`the repository config at ${location} is not valid JSON`);
    }
    if (config?.version !== FORMAT_VERSION) {
      throw new CairnError(
        `the repository at ${location} is of format version ${JSON.stringify(config?.version)}; this cairn reads format version ${FORMAT_VERSION} only`,
        ExitCode.usage,
        "restore it with the cairn that made it, then back up into a new repository made with `cairn init` (format 1 repositories could be replaced by anyone with write access to the storage)",
      );
    }
    checkConfigShape(config, location);
    if ("writeKey" in creds) {
      const keys = deriveKeys(creds.writeKey.w);
      if (encodeRecipient(keys.meta.publicKey) !== config.writeRecipient) {
        throw new NoKeyError("the write key does not match this repository", "use the CAIRN_WRITE_KEY that `cairn init` (or `cairn key add/remove`) printed for this repository");
      }
      if (!configHash(config).equals(creds.writeKey.config)) {
        throw new IntegrityError(
          `the repository config is not the one this write key was made for (the config names recipients ${config.recipients.join(", ")}); nothing is written to recipients the write key does not know`,
          "if the owner changed the recipients with `cairn key add` or `cairn key remove`, use the write key it printed; otherwise someone with access to the storage changed the config",
        );
      }
      return new Repository(backend, config, keys);
    }
    const owner = creds.identities.find((id) => encodeRecipient(id.publicKey) === config.owner);
    if (owner) {
      const { ownerMacKey, w } = ownerSecrets(owner, Buffer.from(config.salt, "hex"));
      const keys = { ...deriveKeys(w, creds.identities), ownerMacKey };
      if (!equalHex(config.mac, Buffer.from(ownerMac(ownerMacKey, config), "hex")) || encodeRecipient(keys.meta.publicKey) !== config.writeRecipient) {
        throw new IntegrityError(
          `the repository at ${location} was not made with this identity: its config fails the owner MAC (someone else built or changed it)`,
          "do not trust its contents; restore from another backend",
        );
      }
      return new Repository(backend, config, keys);
    }
    if (!creds.identities.some((id) => config.recipients.includes(encodeRecipient(id.publicKey)))) {
      throw new NoKeyError(`no identity matches the repository at ${location} (its owner is ${config.owner})`, "use the age identity whose recipient the repository was created for");
    }
    // A recipient who is not the owner cannot check the owner MAC: the fingerprint the owner gave them stands in.
    const fingerprint = repositoryFingerprint(config);
    if (!creds.fingerprint) {
      throw new IntegrityError(
        `the repository at ${location} is owned by ${config.owner}, not by this identity: it may have been built by someone else for your recipient`,
        "if the owner added you as a recipient, set CAIRN_REPOSITORY_FINGERPRINT to the fingerprint `cairn key show` prints for the owner; otherwise do not trust this repository",
      );
    }
    if (creds.fingerprint.trim().toLowerCase() !== fingerprint) {
      throw new IntegrityError(`the repository at ${location} has fingerprint ${fingerprint}, not the expected ${creds.fingerprint.trim()}: it is another repository`, "check CAIRN_REPOSITORY_FINGERPRINT and the repository URL");
    }
    let keysFile: Buffer;
    try {
      keysFile = await backend.load({ type: "keys", name: "" });
    } catch (err) {
      if (backend.isNotExist(err)) throw new IntegrityError("the repository has no keys file");
      throw err;
    }
    const text = decrypt(keysFile, creds.identities, "the repository keys file").toString("utf8");
    let wk: WriteKey;
    try {
      wk = parseWriteKey(JSON.parse(text).writeKey);
    } catch {
      throw new IntegrityError("the repository keys file does not hold a write key");
    }
    const keys = deriveKeys(wk.w, creds.identities);
    if (encodeRecipient(keys.meta.publicKey) !== config.writeRecipient || !configHash(config).equals(wk.config)) {
      throw new IntegrityError("the repository keys file does not match its config (it was changed outside cairn)", "ask the owner to run `cairn verify` with the owner's identity");
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
      // Bounded: the write key can store a small file that decompresses to gigabytes.
      json = zstdDecompressSync(plain.subarray(40), { maxOutputLength: MAX_META });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") throw new IntegrityError(`${what}: decompresses to more than ${MAX_META >> 20} MiB (not written by cairn)`);
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
