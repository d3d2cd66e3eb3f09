// The key model (FORMAT.md, "Keys"). The owner's age identity and the
// config's random salt give the repository secret R (HKDF); only the owner
// can compute it. From R come the owner MAC key, which authenticates the
// config (so a repository someone else built for the owner's public
// recipient is refused), and the write secret W. From W come:
//   - the metadata identity (X25519): index and snapshot files are encrypted
//     to it (and to the user's recipients),
//   - the chunk ID key (HMAC-SHA256 of plaintext), the MAC key that
//     authenticates metadata, and the chunker's gear seed.
// The write key a runner holds is W plus the SHA-256 of the config it was
// made for: a config with other recipients is refused before any pack is
// sealed to them. Data packs are encrypted to the user's age recipients
// only, so W can back up, list snapshots and verify structure, but never
// read backed-up content.
import { createHmac, hash, hkdfSync } from "node:crypto";
import { bech32 } from "@scure/base";
import { UsageError } from "../../errors.ts";
import { identityFromSecret, type Identity } from "./age.ts";

const WRITE_KEY_PREFIX = "cairn-write-key-";
/** The first byte of a write key's payload: the format it belongs to. */
const WRITE_KEY_VERSION = 2;

/**
 * A write key: W, the SHA-256 of the config it was made for, and that
 * config's JSON (public; carried so a runner that holds only the write key
 * can make a second copy of the repository, e.g. in artifacts).
 */
export interface WriteKey {
  w: Buffer;
  config: Buffer;
  configText?: Buffer;
}

export interface RepoKeys {
  writeKey: Buffer;
  meta: Identity;
  chunkIdKey: Buffer;
  macKey: Buffer;
  gearSeed: Buffer;
  /** The user's identities, when given: needed to read data. */
  identities: Identity[];
  /** Set when the owner's identity opened the repository: changing recipients needs it. */
  ownerMacKey?: Buffer;
}

function derive(w: Buffer, info: string, salt: Uint8Array = new Uint8Array(0)): Buffer {
  return Buffer.from(hkdfSync("sha256", w, salt, info, 32));
}

/** The X25519 secret of an identity, as the 32 bytes of its AGE-SECRET-KEY. */
function secretBytes(id: Identity): Buffer {
  return Buffer.from(id.secret.export({ format: "der", type: "pkcs8" })).subarray(-32);
}

/** What only the owner can compute: the owner MAC key and W, from the owner's identity and the config's salt. */
export function ownerSecrets(owner: Identity, salt: Buffer): { ownerMacKey: Buffer; w: Buffer } {
  const r = derive(secretBytes(owner), "cairn repository", salt);
  return { ownerMacKey: derive(r, "cairn owner mac"), w: derive(r, "cairn write key") };
}

export function deriveKeys(writeKey: Buffer, identities: Identity[] = []): RepoKeys {
  return {
    writeKey,
    meta: identityFromSecret(derive(writeKey, "cairn metadata x25519")),
    chunkIdKey: derive(writeKey, "cairn chunk id"),
    macKey: derive(writeKey, "cairn mac"),
    gearSeed: derive(writeKey, "cairn gear"),
    identities,
  };
}

export function encodeWriteKey(k: WriteKey): string {
  const bytes = Buffer.concat([Buffer.from([WRITE_KEY_VERSION]), k.w, k.config, k.configText ?? Buffer.alloc(0)]);
  return bech32.encode(WRITE_KEY_PREFIX, bech32.toWords(bytes), false).toUpperCase();
}

export function parseWriteKey(s: string): WriteKey {
  let bytes: Buffer | undefined;
  try {
    const d = bech32.decode(s.trim().toLowerCase() as `${string}1${string}`, false);
    if (d.prefix === WRITE_KEY_PREFIX) bytes = Buffer.from(bech32.fromWords(d.words));
  } catch {
    // fall through
  }
  if (bytes?.length === 32) {
    throw new UsageError("this write key is for a repository of format version 1, which this cairn does not read", "make a new repository with `cairn init` and use the write key it prints");
  }
  if (bytes && bytes.length >= 65 && bytes[0] === WRITE_KEY_VERSION) {
    return { w: bytes.subarray(1, 33), config: bytes.subarray(33, 65), ...(bytes.length > 65 ? { configText: bytes.subarray(65) } : {}) };
  }
  throw new UsageError("not a cairn write key (expected CAIRN-WRITE-KEY-1...)", "use the key `cairn init` (or `cairn key add/remove`) printed");
}

const hashers = new WeakMap<RepoKeys, (data: Uint8Array) => Buffer>();

/**
 * HMAC-SHA256(key, data) as a function, computed with two one-shot hashes:
 * the same result as createHmac at a fraction of its per-call cost, which
 * matters at one call per 4 KiB SQLite page.
 */
export function chunkIdHasher(chunkIdKey: Uint8Array): (data: Uint8Array) => Buffer {
  // Pad and message side by side in reused buffers: no allocation per page.
  const inner = Buffer.alloc(64 + SCRATCH, 0x36);
  const outer = Buffer.alloc(64 + 32, 0x5c);
  for (let i = 0; i < chunkIdKey.length; i++) {
    inner[i] ^= chunkIdKey[i];
    outer[i] ^= chunkIdKey[i];
  }
  return (data) => {
    const h = data.length <= SCRATCH ? (inner.set(data, 64), hash("sha256", inner.subarray(0, 64 + data.length), "buffer")) : hash("sha256", Buffer.concat([inner.subarray(0, 64), data]), "buffer");
    outer.set(h, 64);
    return hash("sha256", outer, "buffer");
  };
}

/** Chunks up to this size are hashed without a copy of their own (SQLite pages are at most 64 KiB). */
const SCRATCH = 64 * 1024;

/** A chunk's ID: HMAC-SHA256 of its plaintext under the chunk ID key. */
export function chunkId(keys: RepoKeys, data: Uint8Array): Buffer {
  let h = hashers.get(keys);
  if (!h) {
    h = chunkIdHasher(keys.chunkIdKey);
    hashers.set(keys, h);
  }
  return h(data);
}

/**
 * The key of settings history fingerprints (`<redacted:hmac:...>`): derived
 * from the write key like the chunk ID key, so the backup side and the
 * identity's holder make the same fingerprints, and nobody without either can
 * test guesses against the history.
 */
export function settingsHistoryKey(keys: RepoKeys): Buffer {
  return derive(keys.writeKey, "cairn settings history fingerprint");
}

export function mac(keys: RepoKeys, label: string, data: Uint8Array): Buffer {
  return createHmac("sha256", keys.macKey).update(label).update("\n").update(data).digest();
}
