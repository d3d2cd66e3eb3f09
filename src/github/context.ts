// Where cairn talks to GitHub: the REST API (artifacts across runs, pull
// requests) and, inside a workflow run, the Actions runtime (artifact
// uploads). The app layer fills this from the runner's variables or flags;
// nothing here reads the environment.
import { Octokit } from "@octokit/rest";
import { UsageError } from "../errors.ts";
import type { Logger } from "../log.ts";

export interface GitHubContext {
  /** A token for the REST API and git over HTTPS (GITHUB_TOKEN or the github-token input). */
  token?: string;
  /** REST API base (GITHUB_API_URL; https://api.github.com on github.com). */
  apiUrl: string;
  /** Web and git base (GITHUB_SERVER_URL; https://github.com on github.com). */
  serverUrl: string;
  /** This repository, OWNER/REPO (GITHUB_REPOSITORY). */
  repository?: string;
  /** This workflow run (GITHUB_RUN_ID), when cairn runs inside one. */
  runId?: number;
  /** The Actions runtime, given only to JavaScript actions: what artifact uploads need. */
  runtime?: { token: string; resultsUrl: string };
  /** Days the artifacts this run writes are kept (the Action's retention-days input); absent: the repository's setting. */
  retentionDays?: number;
  /** The repository's artifact retention setting (GITHUB_RETENTION_DAYS): the default, and the longest a run may ask for. */
  maxRetentionDays?: number;
  /** The fetch the REST client uses (tests inject a local fake here). */
  fetch?: typeof fetch;
  /** The clock artifact expiry is judged by (tests: the fake's, which they move on); default Date.now. */
  now?: () => number;
}

/** OWNER/REPO split, or a usage error naming where it should come from. */
export function ownerRepo(ctx: GitHubContext, what: string): { owner: string; repo: string } {
  const m = /^([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+)$/.exec(ctx.repository ?? "");
  if (!m) throw new UsageError(`${what} needs the GitHub repository (OWNER/REPO)`, "set GITHUB_REPOSITORY, as a workflow run does");
  return { owner: m[1], repo: m[2] };
}

/**
 * A REST client for the context (its token, base URL and fetch). Octokit's
 * own log lines (one per failed request, on stderr) are dropped: callers turn
 * failures into errors that say what to do; its warnings (deprecations) go
 * to `log` when one is given.
 */
export function restClient(ctx: GitHubContext, log?: Logger): Octokit {
  return new Octokit({
    auth: ctx.token,
    baseUrl: ctx.apiUrl.replace(/\/+$/, ""),
    userAgent: "cairn",
    request: ctx.fetch ? { fetch: ctx.fetch } : undefined,
    log: { debug: () => {}, info: () => {}, warn: (m: string) => log?.warn(m), error: () => {} },
  });
}
