// Placeholder until the SSH transport lands (issue 3).
import type { HostConfig } from "../config/config.ts";
import { UsageError } from "../errors.ts";
import type { Transport } from "./transport.ts";

export async function connectFromConfig(host: HostConfig): Promise<Transport> {
  throw new UsageError(`host ${host.address}: the SSH transport is not built yet`);
}
