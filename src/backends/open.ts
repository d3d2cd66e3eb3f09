// Repository URL -> backend, wrapped so that retryable failures are retried
// and every call is cancelled with the run (the signal).
import { resolve } from "node:path";
import { UsageError } from "../errors.ts";
import type { GitHubContext } from "../github/context.ts";
import type { Logger } from "../log.ts";
import { ArtifactBackend } from "./artifact.ts";
import type { Backend } from "./backend.ts";
import { GitBackend, parseGitUrl } from "./git.ts";
import { LocalBackend } from "./local.ts";
import { RetryBackend } from "./retry.ts";

export interface OpenOptions {
  log?: Logger;
  /** The run's cancellation: passed to every call that gives no signal of its own (see RetryBackend). */
  signal?: AbortSignal;
  /** GitHub: what artifacts: repositories read and write through. */
  github?: GitHubContext;
}

const KINDS = "local:PATH, git:URL[#BRANCH], github:OWNER/REPO[#BRANCH], artifacts:NAME";

export function openBackend(url: string, opts: OpenOptions = {}): Backend {
  return new RetryBackend(backendFor(url, opts), { log: opts.log, signal: opts.signal });
}

function backendFor(url: string, opts: OpenOptions): Backend {
  const m = /^([a-z0-9]+):(.*)$/.exec(url);
  if (!m || !m[2]) throw new UsageError(`invalid repository URL ${JSON.stringify(url)}`, `use one of ${KINDS}`);
  switch (m[1]) {
    case "local":
      return new LocalBackend(resolve(m[2]));
    case "git":
    case "github":
      return new GitBackend({ remote: parseGitUrl(url, opts.github) });
    case "artifacts":
      if (!opts.github) throw new UsageError(`${url} needs the GitHub context (repository, token)`, "this front end cannot open artifacts: repositories");
      return new ArtifactBackend({ name: m[2], github: opts.github, now: opts.github.now });
    default:
      throw new UsageError(`unknown repository kind "${m[1]}:" in ${JSON.stringify(url)}`, `supported: ${KINDS}`);
  }
}
