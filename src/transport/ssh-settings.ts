// Everything the SSH transport needs, in one typed object: the host from
// cairn.yml plus the secrets from the environment. sshSettingsFromEnv is the
// only place that reads CAIRN_SSH_* variables; nothing deeper touches process.env.
import { readFileSync } from "node:fs";
import type { HostConfig } from "../config/config.ts";
import { UsageError } from "../errors.ts";
import { normalizeFingerprint } from "./hostkeys.ts";

export interface SshEndpoint {
  address: string;
  port: number;
  user: string;
}

export interface SshSettings extends SshEndpoint {
  /** A bastion reached first; the connection to the host is forwarded through it. */
  jump?: SshEndpoint;
  /** OpenSSH private key text (ed25519, RSA, ECDSA; OpenSSH or PEM format). */
  privateKey?: string;
  passphrase?: string;
  /** ssh-agent socket, tried after the key. */
  agent?: string;
  /** known_hosts lines pinning the host (and the jump host). */
  knownHosts: string;
  /** "SHA256:..." fingerprints pinning the host (and the jump host). */
  fingerprints: string[];
  keepaliveSeconds: number;
  connectTimeoutSeconds: number;
  /** A remote command that prints nothing for this long is stopped. */
  commandTimeoutSeconds: number;
  /** Cipher preference, first wins; undefined = the measured default. */
  ciphers?: string[];
}

/** Values that are a file name rather than the text: CAIRN_SSH_KEY_FILE, CAIRN_KNOWN_HOSTS_FILE. */
function fromEnvOrFile(env: Record<string, string | undefined>, name: string): string | undefined {
  const file = env[`${name}_FILE`];
  if (file) {
    try {
      return readFileSync(file, "utf8");
    } catch (err) {
      throw new UsageError(`cannot read ${name}_FILE=${file}: ${(err as Error).message}`);
    }
  }
  const v = env[name];
  return v === undefined || v === "" ? undefined : v;
}

export function sshSettingsFromEnv(env: Record<string, string | undefined>, host: HostConfig): SshSettings {
  // GitHub secrets pasted with literal "\n" still make a usable key.
  let privateKey = fromEnvOrFile(env, "CAIRN_SSH_KEY");
  if (privateKey && !privateKey.includes("\n") && privateKey.includes("\\n")) privateKey = privateKey.replace(/\\n/g, "\n");
  const agent = env.SSH_AUTH_SOCK || undefined;
  if (!privateKey && !agent) {
    throw new UsageError(
      `no SSH key for ${host.user}@${host.address}`,
      "put the private key text in CAIRN_SSH_KEY (or its path in CAIRN_SSH_KEY_FILE), or run an ssh-agent (SSH_AUTH_SOCK)",
    );
  }
  const fingerprints: string[] = [];
  for (const f of (env.CAIRN_HOST_FINGERPRINT ?? "").split(/[\s,]+/).filter(Boolean)) {
    const n = normalizeFingerprint(f);
    if (!n) throw new UsageError(`CAIRN_HOST_FINGERPRINT: ${JSON.stringify(f)} is not a SHA256 fingerprint`, "expected the form SHA256:<43 base64 characters>, as `ssh-keygen -lf KEY.pub` prints it");
    fingerprints.push(n);
  }
  const knownHosts = fromEnvOrFile(env, "CAIRN_KNOWN_HOSTS") ?? "";
  if (!knownHosts.trim() && fingerprints.length === 0) {
    throw new UsageError(
      `the host key of ${host.address} is not pinned`,
      `set CAIRN_KNOWN_HOSTS to its known_hosts line (ssh-keyscan -p ${host.port} ${host.address}, checked against the server) or CAIRN_HOST_FINGERPRINT to its SHA256 fingerprint; cairn never trusts a key on first use`,
    );
  }
  return {
    address: host.address,
    port: host.port,
    user: host.user,
    jump: host.jump,
    privateKey,
    passphrase: env.CAIRN_SSH_PASSPHRASE || undefined,
    agent,
    knownHosts,
    fingerprints,
    keepaliveSeconds: host["keepalive-seconds"],
    connectTimeoutSeconds: host["connect-timeout-seconds"],
    commandTimeoutSeconds: host["command-timeout-seconds"],
    ciphers: host.ciphers,
  };
}
