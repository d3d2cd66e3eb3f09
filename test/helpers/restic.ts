// A restic repository the tests fill with snapshots at chosen times. `restic
// backup --time` makes the first ones; the rest are written as restic writes
// them (the master key from the repository's key file, AES-256-CTR and
// Poly1305-AES, file named by its SHA-256), because each restic process
// spends about half a second deriving its key and the cross-check needs
// thousands of snapshots. `restic forget` then reads them all, like its own.
import { createCipheriv, createHash, randomBytes, scryptSync } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const RESTIC_PASSWORD = "cairn-test";

export function restic(repo: string, args: string[], env: Record<string, string> = {}): string {
  return execFileSync("restic", ["-r", repo, ...args], {
    env: { ...process.env, RESTIC_PASSWORD, RESTIC_CACHE_DIR: join(repo, "..", "cache"), ...env },
    encoding: "utf8",
    maxBuffer: 1 << 28,
  });
}

/** restic's version, e.g. [0, 14, 0]. */
export function resticVersion(): number[] {
  const m = /restic (\d+)\.(\d+)\.(\d+)/.exec(execFileSync("restic", ["version"], { encoding: "utf8" }));
  if (!m) throw new Error("restic version: unexpected output");
  return m.slice(1).map(Number);
}

interface MasterKey {
  encrypt: Buffer;
  k: Buffer;
  r: Buffer;
}

function aesCtr(key: Buffer, iv: Buffer, data: Buffer): Buffer {
  const c = createCipheriv("aes-256-ctr", key, iv);
  return Buffer.concat([c.update(data), c.final()]);
}

/** Poly1305 (RFC 8439) of msg under a 32-byte one-time key r || s. */
function poly1305(msg: Buffer, key: Buffer): Buffer {
  const le = (b: Buffer) => BigInt("0x" + (Buffer.from(b).reverse().toString("hex") || "0"));
  const r = le(key.subarray(0, 16)) & 0x0ffffffc0ffffffc0ffffffc0fffffffn;
  const s = le(key.subarray(16, 32));
  const p = (1n << 130n) - 5n;
  let acc = 0n;
  for (let i = 0; i < msg.length; i += 16) {
    const block = msg.subarray(i, i + 16);
    acc = ((acc + le(block) + (1n << BigInt(8 * block.length))) * r) % p;
  }
  acc = (acc + s) & ((1n << 128n) - 1n);
  const out = Buffer.alloc(16);
  for (let i = 0; i < 16; i++) out[i] = Number((acc >> BigInt(8 * i)) & 0xffn);
  return out;
}

/** restic's MAC: Poly1305 keyed with r and AES-128_k(nonce). */
function resticMac(ciphertext: Buffer, nonce: Buffer, key: MasterKey): Buffer {
  const c = createCipheriv("aes-128-ecb", key.k, null).setAutoPadding(false);
  const s = Buffer.concat([c.update(nonce), c.final()]);
  return poly1305(ciphertext, Buffer.concat([key.r, s]));
}

/** The repository's master key, from its (only) key file and the password. */
export function masterKey(repo: string): MasterKey {
  const name = readdirSync(join(repo, "keys"))[0];
  const kf = JSON.parse(readFileSync(join(repo, "keys", name), "utf8"));
  const derived = scryptSync(RESTIC_PASSWORD, Buffer.from(kf.salt, "base64"), 64, { N: kf.N, r: kf.r, p: kf.p, maxmem: 256 * kf.N * kf.r * kf.p + (1 << 20) });
  const data = Buffer.from(kf.data, "base64");
  const user: MasterKey = { encrypt: derived.subarray(0, 32), k: derived.subarray(32, 48), r: derived.subarray(48, 64) };
  const iv = data.subarray(0, 16);
  const ct = data.subarray(16, data.length - 16);
  if (!resticMac(ct, iv, user).equals(data.subarray(data.length - 16))) throw new Error("restic key file: MAC mismatch (wrong password, or the MAC is computed wrongly)");
  const j = JSON.parse(aesCtr(user.encrypt, iv, ct).toString("utf8"));
  return { encrypt: Buffer.from(j.encrypt, "base64"), k: Buffer.from(j.mac.k, "base64"), r: Buffer.from(j.mac.r, "base64") };
}

/** Write one snapshot file (JSON as restic writes it); its ID. */
export function writeSnapshot(repo: string, key: MasterKey, snapshot: object): string {
  const iv = randomBytes(16);
  const ct = aesCtr(key.encrypt, iv, Buffer.from(JSON.stringify(snapshot)));
  const file = Buffer.concat([iv, ct, resticMac(ct, iv, key)]);
  const id = createHash("sha256").update(file).digest("hex");
  mkdirSync(join(repo, "snapshots"), { recursive: true });
  writeFileSync(join(repo, "snapshots", id), file);
  return id;
}

/** A time as Go's RFC3339Nano writes it in the process's time zone ("2026-03-29T03:30:00.5+02:00"). */
export function goTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  const off = -d.getTimezoneOffset();
  const zone = off === 0 ? "Z" : `${off > 0 ? "+" : "-"}${p(Math.floor(Math.abs(off) / 60))}:${p(Math.abs(off) % 60)}`;
  const frac = d.getMilliseconds() ? "." + p(d.getMilliseconds(), 3).replace(/0+$/, "") : "";
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}${frac}${zone}`;
}
