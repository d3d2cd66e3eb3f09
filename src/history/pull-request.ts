// One open pull request per history branch, from it to the base branch:
// found with pulls.list and head "OWNER:BRANCH" (a bare branch name is
// silently ignored by GitHub, which then returns every pull request), then
// updated, or created when none is open (the last one was merged or closed).
// GitHub's refusals become errors that name the setting or permission to fix.
import type { Octokit } from "@octokit/rest";
import { CairnError } from "../errors.ts";

export interface PullRequestTarget {
  owner: string;
  repo: string;
  branch: string;
  base: string;
}

export interface PullRequestResult {
  number: number;
  url: string;
  /** "unchanged": it was open with this title and body already; no call was made to change it. */
  action: "created" | "updated" | "unchanged";
}

export const ACTIONS_NOT_PERMITTED = "GitHub Actions is not permitted to create or approve pull requests";

export async function upsertPullRequest(octokit: Octokit, t: PullRequestTarget, content: { title: string; body: string }): Promise<PullRequestResult> {
  const where = `${t.owner}/${t.repo}`;
  const find = async () => {
    const { data } = await call("list", where, () =>
      octokit.rest.pulls.list({ owner: t.owner, repo: t.repo, state: "open", head: `${t.owner}:${t.branch}`, base: t.base, per_page: 10 }),
    );
    // The head filter is GitHub's; check it held.
    return data.find((p) => p.head.ref === t.branch && p.base.ref === t.base && p.state === "open");
  };
  const update = async (p: { number: number; html_url: string; title: string; body: string | null }): Promise<PullRequestResult> => {
    if (p.title === content.title && (p.body ?? "") === content.body) return { number: p.number, url: p.html_url, action: "unchanged" };
    await call("update", where, () => octokit.rest.pulls.update({ owner: t.owner, repo: t.repo, pull_number: p.number, title: content.title, body: content.body }));
    return { number: p.number, url: p.html_url, action: "updated" };
  };
  const open = await find();
  if (open) return await update(open);
  try {
    const { data } = await call("create", where, () =>
      octokit.rest.pulls.create({ owner: t.owner, repo: t.repo, head: t.branch, base: t.base, title: content.title, body: content.body, maintainer_can_modify: false }),
    );
    return { number: data.number, url: data.html_url, action: "created" };
  } catch (err) {
    // Another run opened it between our list and create.
    if (err instanceof PullRequestError && err.status === 422 && /already exists/i.test(err.detail)) {
      const raced = await find();
      if (raced) return await update(raced);
    }
    throw err;
  }
}

export class PullRequestError extends CairnError {
  readonly status: number;
  readonly detail: string;
  constructor(message: string, status: number, detail: string, hint?: string) {
    super(message, undefined, hint);
    this.status = status;
    this.detail = detail;
  }
}

interface RequestErrorLike {
  status?: number;
  message?: string;
  response?: { data?: unknown };
}

async function call<T>(what: "list" | "create" | "update", where: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw explain(what, where, err as RequestErrorLike);
  }
}

/** GitHub's answer, as the user can act on it. */
function explain(what: "list" | "create" | "update", where: string, err: RequestErrorLike): PullRequestError | unknown {
  const status = err.status;
  if (typeof status !== "number") return err;
  const data = (err.response?.data ?? {}) as { message?: string; errors?: Array<{ message?: string; code?: string; field?: string }> };
  const detail = [data.message, ...(data.errors ?? []).map((e) => e.message ?? `${e.field} ${e.code}`)].filter(Boolean).join(": ");
  const verb = { list: "list the pull requests of", create: "open a pull request in", update: "update the pull request in" }[what];
  const permission = what === "list" ? "pull-requests: read" : "pull-requests: write";
  if (status === 403 && detail.includes(ACTIONS_NOT_PERMITTED)) {
    return new PullRequestError(
      `GitHub refused to ${verb} ${where}: the repository setting "Allow GitHub Actions to create and approve pull requests" is off`,
      status,
      detail,
      `turn it on (Settings → Actions → General → Workflow permissions), or give cairn a personal access token or GitHub App token with ${permission} (the github-token input); the history commit is already on its branch`,
    );
  }
  if (status === 403) {
    return new PullRequestError(
      `GitHub refused to ${verb} ${where} (403: ${detail || "forbidden"})`,
      status,
      detail,
      `give the workflow \`permissions: ${permission}\` (and \`contents: write\` to push the history branch), or use a token that has them`,
    );
  }
  if (status === 401) {
    return new PullRequestError(`GitHub did not accept the token to ${verb} ${where} (401: ${detail || "unauthorized"})`, status, detail, "set GITHUB_TOKEN, or the Action's github-token input");
  }
  if (status === 404) {
    return new PullRequestError(`GitHub found no repository ${where} to ${verb.split(" ")[0]} pull requests in (404)`, status, detail, `check history.repository, and that the token can read ${where}`);
  }
  return new PullRequestError(`GitHub refused to ${verb} ${where} (${status}: ${detail || "no message"})`, status, detail);
}
