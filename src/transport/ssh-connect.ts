// Connects the SSH transport for cairn.yml's host, with the secrets from the
// environment. Kept apart from index.ts so that ssh2 is loaded only when a
// config names a host.
import type { HostConfig } from "../config/config.ts";
import { SshTransport } from "./ssh.ts";
import { sshSettingsFromEnv } from "./ssh-settings.ts";

export async function connectFromConfig(host: HostConfig, env: Record<string, string | undefined> = process.env): Promise<SshTransport> {
  return await SshTransport.connect(sshSettingsFromEnv(env, host));
}
