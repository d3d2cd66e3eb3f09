// Everything the SSH transport needs, in one typed object: the host from
// cairn.yml plus the secrets the front end gathered.
import type { HostConfig } from "../config/config.ts";
import { UsageError } from "../errors.ts";

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
  /** Where the key came from, for messages. */
  privateKeyFrom?: string;
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

/**
 * The SSH secrets, as the front end gathered them (src/app/settings.ts reads
 * them from CAIRN_SSH_* variables or the Action's inputs).
 */
export interface SshSecrets {
  /** OpenSSH private key text. */
  privateKey?: string;
  /** Where the key came from, for messages ("CAIRN_SSH_KEY_FILE=/path", "the ssh-key input"). */
  privateKeyFrom?: string;
  passphrase?: string;
  /** ssh-agent socket (SSH_AUTH_SOCK). */
  agent?: string;
  knownHosts: string;
  /** Normalised "SHA256:..." fingerprints. */
  fingerprints: string[];
}

/**
 * The settings for cairn.yml's host with these secrets; refuses a host with no
 * key. A host with no pin is still connected to, so that the refusal can show
 * the key the server presents (src/transport/hostkeys.ts).
 */
export function sshSettings(host: HostConfig, secrets: SshSecrets): SshSettings {
  const { privateKey, agent, knownHosts, fingerprints } = secrets;
  if (!privateKey && !agent) {
    throw new UsageError(
      `no SSH key for ${host.user}@${host.address}`,
      "put the private key text in CAIRN_SSH_KEY (or its path in CAIRN_SSH_KEY_FILE), or run an ssh-agent (SSH_AUTH_SOCK)",
    );
  }
  return {
    address: host.address,
    port: host.port,
    user: host.user,
    jump: host.jump,
    privateKey,
    privateKeyFrom: secrets.privateKeyFrom,
    passphrase: secrets.passphrase,
    agent,
    knownHosts,
    fingerprints,
    keepaliveSeconds: host["keepalive-seconds"],
    connectTimeoutSeconds: host["connect-timeout-seconds"],
    commandTimeoutSeconds: host["command-timeout-seconds"],
    ciphers: host.ciphers,
  };
}
