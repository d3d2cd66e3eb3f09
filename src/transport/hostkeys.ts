// Host key pinning. A server is trusted only when the key it presents is
// pinned: a line of OpenSSH known_hosts (plain, `[host]:port`, wildcards,
// hashed `|1|salt|hash`, several keys per host for rotation, `@revoked`) or a
// `SHA256:` fingerprint. There is no trust-on-first-use: anything else is
// refused, with the presented key printed ready to pin.
import { createHash, createHmac } from "node:crypto";

export interface HostPins {
  /** known_hosts text (any number of lines). */
  knownHosts: string;
  /** "SHA256:..." fingerprints; each pins that key for every host. */
  fingerprints: string[];
}

export interface PresentedKey {
  /** "ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa", ... */
  type: string;
  /** The key blob, base64, as in known_hosts. */
  base64: string;
  /** "SHA256:..." without base64 padding, as `ssh-keygen -l` prints it. */
  fingerprint: string;
}

export type Verdict = { ok: true; by: string } | { ok: false; reason: "unpinned" | "mismatch" | "revoked"; presented: PresentedKey };

/** The key type and fingerprint of a raw SSH public key blob. */
export function describeKey(blob: Buffer): PresentedKey {
  const len = blob.length >= 4 ? blob.readUInt32BE(0) : 0;
  const type = blob.subarray(4, 4 + len).toString("latin1");
  return { type, base64: blob.toString("base64"), fingerprint: fingerprintOf(blob) };
}

export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

/**
 * The host name known_hosts uses: `host` on port 22, `[host]:port` otherwise,
 * lower-cased as OpenSSH does before it writes or hashes it.
 */
export function knownHostsName(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

/** Normalises "SHA256:abc=" / "sha256:abc" to "SHA256:abc"; null when not a SHA256 fingerprint. */
export function normalizeFingerprint(s: string): string | null {
  const m = /^SHA256:([A-Za-z0-9+/]{43})=?$/i.exec(s.trim());
  return m ? `SHA256:${m[1]}` : null;
}

/**
 * CAIRN_HOST_FINGERPRINT: bare fingerprints (`SHA256:...`) separated by
 * commas, spaces or lines, or lines as `ssh-keygen -lf KEY.pub` prints them
 * (`256 SHA256:... comment (ED25519)`, one key per line). `bad` is the first
 * item that is neither.
 */
export function parseFingerprints(text: string): { fingerprints: string[]; bad?: string } {
  const fingerprints: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    const keygen = /^\d+\s+(\S+)(?:\s.*)?\([A-Z0-9-]+\)$/.exec(line);
    const words = keygen && !/SHA256:/i.test(line.slice(line.indexOf(keygen[1]) + keygen[1].length)) ? [keygen[1]] : line.split(/[\s,]+/).filter(Boolean);
    for (const word of words) {
      const fp = normalizeFingerprint(word);
      if (!fp) return { fingerprints, bad: keygen ? line : word };
      fingerprints.push(fp);
    }
  }
  return { fingerprints };
}

interface KnownHostsLine {
  marker: "" | "@revoked" | "@cert-authority";
  hosts: string;
  type: string;
  base64: string;
}

export function parseKnownHosts(text: string): KnownHostsLine[] {
  const out: KnownHostsLine[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const f = line.split(/\s+/);
    const marker = f[0] === "@revoked" || f[0] === "@cert-authority" ? (f.shift() as KnownHostsLine["marker"]) : "";
    if (f.length < 3) continue;
    out.push({ marker, hosts: f[0], type: f[1], base64: f[2] });
  }
  return out;
}

function wildcard(pattern: string, name: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`, "i");
  return re.test(name);
}

/** `name` is knownHostsName's, lower-cased like the names OpenSSH hashes. */
function hashedMatch(entry: string, name: string): boolean {
  const parts = entry.split("|"); // "", "1", salt, hash
  if (parts.length !== 4 || parts[1] !== "1") return false;
  const salt = Buffer.from(parts[2], "base64");
  const want = Buffer.from(parts[3], "base64");
  const got = createHmac("sha1", salt).update(name).digest();
  return got.length === want.length && got.equals(want);
}

/** Whether a known_hosts host field (comma list, wildcards, !negation, hashed) names host:port. */
export function hostsMatch(field: string, host: string, port: number): boolean {
  const name = knownHostsName(host, port);
  if (field.startsWith("|")) return hashedMatch(field, name);
  let matched = false;
  for (const p of field.split(",")) {
    const negated = p.startsWith("!");
    const pat = negated ? p.slice(1) : p;
    // A pattern without a port only matches port 22, as in OpenSSH.
    const hit = pat.startsWith("[") ? wildcard(pat, name) : port === 22 && wildcard(pat, host);
    if (hit && negated) return false;
    if (hit) matched = true;
  }
  return matched;
}

export function verifyHostKey(blob: Buffer, host: string, port: number, pins: HostPins): Verdict {
  const presented = describeKey(blob);
  const lines = parseKnownHosts(pins.knownHosts).filter((l) => hostsMatch(l.hosts, host, port));
  const same = (l: KnownHostsLine) => l.type === presented.type && l.base64 === presented.base64;
  if (lines.some((l) => l.marker === "@revoked" && same(l))) return { ok: false, reason: "revoked", presented };
  if (lines.some((l) => l.marker === "" && same(l))) return { ok: true, by: "known_hosts" };
  const fps = pins.fingerprints.map(normalizeFingerprint).filter((f): f is string => f !== null);
  if (fps.includes(presented.fingerprint)) return { ok: true, by: "fingerprint" };
  const pinnedForHost = lines.some((l) => l.marker === "");
  return { ok: false, reason: pinnedForHost || fps.length > 0 ? "mismatch" : "unpinned", presented };
}

/** The message for a refused host key: what the server showed and exactly how to pin it. */
export function refusalMessage(v: Exclude<Verdict, { ok: true }>, host: string, port: number): { message: string; hint: string } {
  const p = v.presented;
  const where = `${host}:${port}`;
  const message =
    v.reason === "revoked"
      ? `the host key of ${where} (${p.type} ${p.fingerprint}) is marked @revoked in CAIRN_KNOWN_HOSTS; refusing to connect`
      : v.reason === "mismatch"
        ? `the host key of ${where} does not match any pinned key: the server presented ${p.type} ${p.fingerprint}. ` +
          `Either the server's key was changed, or someone is intercepting the connection; refusing to connect`
        : `the host key of ${where} is not pinned: the server presented ${p.type} ${p.fingerprint}; refusing to connect (no trust on first use)`;
  const hint =
    `check the fingerprint out of band, on the server itself (its console, or a session you trust: ` +
    `ssh-keygen -lf /etc/ssh/ssh_host_${p.type.replace(/^ssh-|-sha2-nistp\d+$/g, "")}_key.pub), never only through this connection; if it matches, pin it with\n` +
    `  CAIRN_HOST_FINGERPRINT=${p.fingerprint}\n` +
    `or add this line to CAIRN_KNOWN_HOSTS:\n` +
    `  ${knownHostsName(host, port)} ${p.type} ${p.base64}`;
  return { message, hint };
}
