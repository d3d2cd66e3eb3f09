// Picks the transport: ssh when cairn.yml names a host, else local. ssh2 is
// loaded only when a config names a host.
import type { Config } from "../config/config.ts";
import { LocalTransport } from "./local.ts";
import type { SshSecrets } from "./ssh-settings.ts";
import type { Transport } from "./transport.ts";

export async function createTransport(config: Config, secrets: SshSecrets): Promise<Transport> {
  if (!config.host) return new LocalTransport();
  const [{ SshTransport }, { sshSettings }] = await Promise.all([import("./ssh.ts"), import("./ssh-settings.ts")]);
  return SshTransport.connect(sshSettings(config.host, secrets));
}
