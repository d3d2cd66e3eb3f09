// The placeholder a redacted value becomes. It carries a keyed fingerprint
// (HMAC-SHA-256 under key material the caller derives from the repository's
// keys, cut to 48 bits) so a changed secret shows as a changed line and an
// unchanged one stays byte-identical, while nobody without the key can test
// guesses against the history (a plain hash of a 6-digit PIN falls to a
// dictionary in a second).
import { createHmac } from "node:crypto";

/** Key material for fingerprints: at least 32 bytes, from the repository's keys (never stored in the history). */
export type FingerprintKey = Uint8Array;

/** Hex digits of a fingerprint: 12 = 48 bits. */
export const FINGERPRINT_HEX = 12;

/** What a masked (volatile) value becomes: constant, so it never makes a commit. */
export const MASKED = "<masked>";

/** Matches any placeholder cairn writes. */
export const PLACEHOLDER_RE = /<redacted:hmac:[0-9a-f]{12}>|<masked>/g;

export function checkFingerprintKey(key: FingerprintKey): void {
  if (key.length < 32) throw new RangeError("the fingerprint key needs at least 32 bytes");
}

export function fingerprint(key: FingerprintKey, value: string | Uint8Array): string {
  return createHmac("sha256", key).update("cairn settings history v1\0").update(value).digest("hex").slice(0, FINGERPRINT_HEX);
}

export function placeholder(key: FingerprintKey, value: string | Uint8Array): string {
  return `<redacted:hmac:${fingerprint(key, value)}>`;
}
