// The key model. A repository has a random 32-byte write key W. From W come:
//   - the metadata identity (X25519): index and snapshot files are encrypted
//     to it (and to the user's recipients),
//   - the chunk ID key (HMAC-SHA256 of plaintext), the MAC key that
//     authenticates config and metadata, and the chunker's gear seed.
// Data packs are encrypted to the user's age recipients only. So W can back
// up, list snapshots and verify structure, but never read backed-up content; an identity
// reads W from the `keys` file (encrypted to the recipients) and so can do
// everything W can.
import { createHmac, hash, hkdfSync, randomBytes } from "node:crypto";
import { bech32 } from "@scure/base";
import { UsageError } from "../../errors.ts";
import { identityFromSecret, type Identity } from "./age.ts";

const WRITE_KEY_PREFIX = "cairn-write-key-";

export interface RepoKeys {
  writeKey: Buffer;
  meta: Identity;
  chunkIdKey: Buffer;
  macKey: Buffer;
  gearSeed: Buffer;
  /** The user's identities, when given: needed to read data. */
  identities: Identity[];
}

function derive(w: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync("sha256", w, new Uint8Array(0), info, 32));
}

export function newWriteKey(): Buffer {
  return randomBytes(32);
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

export function encodeWriteKey(w: Buffer): string {
  return bech32.encodeFromBytes(WRITE_KEY_PREFIX, w).toUpperCase();
}

export function parseWriteKey(s: string): Buffer {
  try {
    const d = bech32.decodeToBytes(s.trim().toLowerCase());
    if (d.prefix === WRITE_KEY_PREFIX && d.bytes.length === 32) return Buffer.from(d.bytes);
  } catch {
    // fall through
  }
  throw new UsageError("not a cairn write key (expected CAIRN-WRITE-KEY-1...)", "use the key `cairn init` printed");
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
