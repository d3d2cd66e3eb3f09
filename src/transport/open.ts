// Picks the transport: ssh when the config names a host, else local.
import type { Config } from "../config/config.ts";
import { LocalTransport } from "./local.ts";
import type { Transport } from "./transport.ts";

export async function createTransport(config: Config, env: Record<string, string | undefined>): Promise<Transport> {
  if (!config.host) return new LocalTransport();
  const { connectFromConfig } = await import("./ssh-connect.ts");
  return connectFromConfig(config.host, env);
}
