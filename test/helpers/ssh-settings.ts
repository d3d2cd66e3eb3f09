// Settings that reach a test sshd with one of the fixture's client keys.
import type { SshSettings } from "../../src/transport/ssh-settings.ts";
import type { ClientKey, Sshd } from "./sshd.ts";

export function settingsFor(sshd: Sshd, key?: ClientKey, overrides: Partial<SshSettings> = {}): SshSettings {
  const k = key ?? sshd.fixture.clientKeys.ed25519;
  return {
    address: "127.0.0.1",
    port: sshd.port,
    user: sshd.fixture.user,
    privateKey: k.text,
    passphrase: k.passphrase,
    knownHosts: sshd.knownHosts(),
    fingerprints: [],
    keepaliveSeconds: 15,
    connectTimeoutSeconds: 10,
    commandTimeoutSeconds: 600,
    ...overrides,
  };
}
