// What GitHub's answers mean for the user: each refusal that has a cause the
// user can act on (a full storage quota, a used-up rate limit, a missing
// permission, Actions switched off, writing from outside a workflow run)
// becomes one typed error naming the limit or permission and what to do.
// `retryable` says whether the same call may work if tried again soon.
import { CairnError, ExitCode } from "../errors.ts";

export type GitHubProblem =
  | "quota"
  | "rate-limit"
  | "permission"
  | "actions-disabled"
  | "auth"
  | "not-in-a-run"
  | "job-limit"
  | "unsupported-server"
  | "not-found"
  | "expired"
  | "conflict"
  | "transient"
  | "failed";

export class GitHubError extends CairnError {
  readonly problem: GitHubProblem;
  readonly retryable: boolean;
  /** The HTTP status, when GitHub answered. */
  readonly status: number | undefined;
  constructor(problem: GitHubProblem, message: string, opts: { hint?: string; retryable?: boolean; status?: number; cause?: unknown; exitCode?: ExitCode } = {}) {
    super(message, opts.exitCode ?? ExitCode.runtime, opts.hint, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.problem = problem;
    this.retryable = opts.retryable ?? false;
    this.status = opts.status;
  }
}

export const QUOTA_HINT =
  "remove old snapshots, lower retention-days, or raise the account's storage limit (Settings → Billing); git and local repositories have no such quota";

export function quotaError(cause: unknown): GitHubError {
  return new GitHubError(
    "quota",
    "GitHub refused to store another artifact: the account's artifact storage quota is full (private repositories: 500 MB on Free, 1 GB on Pro, 2 GB on Team; GitHub recalculates usage every 6-12 hours)",
    { hint: QUOTA_HINT, cause },
  );
}

export function rateLimitError(status: number, headers: Record<string, string | undefined>, cause: unknown): GitHubError {
  const limit = headers["x-ratelimit-limit"] ?? "1000";
  const reset = Number(headers["x-ratelimit-reset"]);
  const retryAfter = Number(headers["retry-after"]);
  const when = Number.isFinite(reset) && reset > 0 ? ` until ${new Date(reset * 1000).toISOString().replace(/\.\d+Z$/, "Z")}` : Number.isFinite(retryAfter) ? ` for ${retryAfter} s` : "";
  return new GitHubError(
    "rate-limit",
    `GitHub's REST API rate limit is used up${when} (${limit} requests per hour; a workflow's GITHUB_TOKEN gets 1,000 per repository)`,
    {
      hint: "wait until then, or run fewer or less frequent jobs against this repository; a personal access token has its own limit of 5,000 per hour",
      // A secondary limit that asks for a short pause is worth waiting out; an hourly limit is not.
      retryable: Number.isFinite(retryAfter) && retryAfter <= 60 && !(headers["x-ratelimit-remaining"] === "0"),
      status,
      cause,
    },
  );
}

export function permissionError(need: "read" | "write", said: string, status: number, cause: unknown): GitHubError {
  return new GitHubError(
    "permission",
    `the GitHub token may not ${need === "read" ? "read" : "delete"} this repository's artifacts (GitHub said: ${said})`,
    {
      hint:
        need === "read"
          ? "give the workflow `permissions: { actions: read }` (and `actions: write` to remove snapshots); a fine-grained token needs the Actions (read) permission"
          : "give the workflow `permissions: { actions: write }`; a fine-grained token needs the Actions (write) permission",
      status,
      cause,
      // A setting to change, not a failure that passes: fix it and run again.
      exitCode: ExitCode.usage,
    },
  );
}

export function actionsDisabledError(repository: string, said: string, status: number, cause: unknown): GitHubError {
  return new GitHubError("actions-disabled", `GitHub Actions is not allowed in ${repository} (GitHub said: ${said}), so it has no artifacts to read or write`, {
    hint: "allow Actions for the repository (Settings → Actions → General) or its organization, or keep the backups in a git or local repository",
    status,
    cause,
    exitCode: ExitCode.usage,
  });
}

export function authError(said: string, status: number, cause: unknown): GitHubError {
  return new GitHubError("auth", `GitHub refused the token (${said})`, { hint: "check GITHUB_TOKEN (or the Action's github-token input): it may be mistyped, revoked or expired", status, cause });
}

export function noTokenError(): GitHubError {
  return new GitHubError("auth", "reading an artifacts: repository needs a GitHub token", {
    hint: "set GITHUB_TOKEN to a token that may read the repository's Actions artifacts (in a workflow: ${{ github.token }} with `permissions: { actions: read }`)",
    exitCode: ExitCode.usage,
  });
}

export function notInARunError(): GitHubError {
  return new GitHubError(
    "not-in-a-run",
    "an artifacts: repository is written only from inside a workflow run, by the cairn Action: GitHub gives the Actions runtime token that uploads need to actions only, not to `run:` steps or other machines",
    { hint: "back up with the cairn Action; from anywhere else you can list, verify and restore with GITHUB_TOKEN", exitCode: ExitCode.usage },
  );
}

export function jobLimitError(said: string, cause: unknown): GitHubError {
  return new GitHubError("job-limit", `GitHub's limit on artifacts per job was reached (${said}); cairn stores one artifact per pack`, {
    hint: "make fewer, larger packs (a larger pack size when the repository is created), or back up the sources in several jobs",
    cause,
  });
}

export function unsupportedServerError(serverUrl: string): GitHubError {
  return new GitHubError("unsupported-server", `${serverUrl} is a GitHub Enterprise Server, which does not offer the artifact service cairn uses (artifacts v4)`, {
    hint: "keep the backups in a git or local repository",
    exitCode: ExitCode.usage,
  });
}
