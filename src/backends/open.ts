// Repository URL -> backend, wrapped so that retryable failures are retried
// and every call is cancelled with the run (the signal).
import { resolve } from "node:path";
import { UsageError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { Backend } from "./backend.ts";
import { LocalBackend } from "./local.ts";
import { RetryBackend } from "./retry.ts";

export interface OpenOptions {
  log?: Logger;
  /** The run's cancellation: passed to every call that gives no signal of its own (see RetryBackend). */
  signal?: AbortSignal;
}

export function openBackend(url: string, opts: OpenOptions = {}): Backend {
  return new RetryBackend(backendFor(url), opts);
}

function backendFor(url: string): Backend {
  const m = /^([a-z0-9]+):(.*)$/.exec(url);
  if (!m || !m[2]) throw new UsageError(`invalid repository URL ${JSON.stringify(url)}`, "use local:/path/to/repository");
  switch (m[1]) {
    case "local":
      return new LocalBackend(resolve(m[2]));
    default:
      throw new UsageError(`unknown repository kind "${m[1]}:" in ${JSON.stringify(url)}`, "supported: local:PATH");
  }
}
