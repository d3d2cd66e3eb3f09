// A strict local fake of GitHub's REST API for the pull request calls, to be
// injected as Octokit's `request.fetch` (GitHubContext.fetch). Requests are
// checked against a pinned subset of GitHub's OpenAPI description
// (test/fixtures/github-openapi/pulls.json, extracted from @octokit/openapi):
// routes, methods, path and query parameters, required body fields, types
// and enums; unknown body fields are refused too (GitHub ignores them; a
// typo in cairn should fail here). Responses carry every field the
// description marks required. Branches are read from a real bare git
// repository, so a pull request's head and base must really exist.
//
// GitHub's behaviours that cairn must meet are reproduced:
// - a body over 65,536 characters: 422;
// - a second open pull request for the same head and base: 422 "A pull request already exists";
// - `head` without "OWNER:" in pulls.list is ignored (every pull request is returned);
// - with "Allow GitHub Actions to create and approve pull requests" off, an
//   Actions token creating one: 403 "GitHub Actions is not permitted to create or approve pull requests.";
// - no token: 401; a token without pull-requests permission: 403 "Resource not accessible by integration".
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

interface Param {
  name: string;
  in: "path" | "query";
  required: boolean;
  schema: Schema;
}
interface Schema {
  type?: string | string[];
  enum?: unknown[];
  required?: string[];
  properties?: Record<string, Schema>;
  items?: Schema;
  oneOf?: Schema[];
  anyOf?: Schema[];
}
interface Operation {
  method: string;
  path: string;
  operationId: string;
  parameters: Param[];
  requestBody?: { required: boolean; schema: Schema };
  responseRequired: { status: string; array: boolean; required: string[] };
}

export const OPENAPI = JSON.parse(readFileSync(new URL("../fixtures/github-openapi/pulls.json", import.meta.url), "utf8")) as {
  source: string;
  operations: Operation[];
};

export const BODY_LIMIT = 65536;

export interface FakePull {
  number: number;
  title: string;
  body: string | null;
  head: string;
  base: string;
  state: "open" | "closed";
  merged: boolean;
  created_at: string;
  updated_at: string;
}

export interface FakeRepo {
  owner: string;
  repo: string;
  /** The real bare repository behind it. */
  gitDir: string;
  /** "Allow GitHub Actions to create and approve pull requests" (off by default, as for new repositories). */
  actionsMayCreatePullRequests: boolean;
  pulls: FakePull[];
}

export interface FakeToken {
  /** "actions": a workflow's GITHUB_TOKEN; "user": a personal access token or GitHub App token. */
  kind: "actions" | "user";
  pullRequests: "none" | "read" | "write";
}

export interface Received {
  method: string;
  path: string;
  query: Record<string, string>;
  body: Record<string, unknown> | undefined;
  status: number;
  /** The raw request text (URL, headers, body), for secret searches. */
  raw: string;
}

export class FakeGitHub {
  readonly apiUrl: string;
  readonly repos = new Map<string, FakeRepo>();
  readonly tokens = new Map<string, FakeToken>();
  readonly received: Received[] = [];
  /** Requests the description refuses: a correct client makes none. */
  readonly violations: string[] = [];
  private nextNumber = 1;

  constructor(apiUrl = "https://api.github.test") {
    this.apiUrl = apiUrl;
  }

  addRepo(owner: string, repo: string, gitDir: string, opts: Partial<Pick<FakeRepo, "actionsMayCreatePullRequests">> = {}): FakeRepo {
    const r: FakeRepo = { owner, repo, gitDir, actionsMayCreatePullRequests: opts.actionsMayCreatePullRequests ?? false, pulls: [] };
    this.repos.set(`${owner}/${repo}`, r);
    return r;
  }

  addToken(token: string, t: FakeToken): void {
    this.tokens.set(token, t);
  }

  /** Someone else's pull request, so a list that ignores `head` returns more than ours. */
  addPull(owner: string, repo: string, p: Pick<FakePull, "head" | "base" | "title">): FakePull {
    const now = new Date().toISOString();
    const pull: FakePull = { number: this.nextNumber++, body: null, state: "open", merged: false, created_at: now, updated_at: now, ...p };
    this.repo(owner, repo)!.pulls.push(pull);
    return pull;
  }

  /** Merge a pull request as GitHub's merge button does (a merge commit on the base branch), optionally deleting its branch. */
  merge(owner: string, repo: string, number: number, opts: { deleteBranch?: boolean } = {}): void {
    const r = this.repo(owner, repo)!;
    const p = r.pulls.find((x) => x.number === number)!;
    const g = (...args: string[]) => execFileSync("git", [`--git-dir=${r.gitDir}`, ...args], { encoding: "utf8", env: { ...process.env, GIT_AUTHOR_NAME: "reviewer", GIT_AUTHOR_EMAIL: "r@example.com", GIT_COMMITTER_NAME: "GitHub", GIT_COMMITTER_EMAIL: "noreply@github.com", GIT_AUTHOR_DATE: "1764547200 +0000", GIT_COMMITTER_DATE: "1764547200 +0000" } }).trim();
    const tree = g("merge-tree", "--write-tree", `refs/heads/${p.base}`, `refs/heads/${p.head}`);
    const commit = g("commit-tree", tree, "-p", `refs/heads/${p.base}`, "-p", `refs/heads/${p.head}`, "-m", `Merge pull request #${number}`);
    g("update-ref", `refs/heads/${p.base}`, commit);
    if (opts.deleteBranch) g("update-ref", "-d", `refs/heads/${p.head}`);
    p.state = "closed";
    p.merged = true;
  }

  close(owner: string, repo: string, number: number): void {
    this.repo(owner, repo)!.pulls.find((x) => x.number === number)!.state = "closed";
  }

  pulls(owner: string, repo: string): FakePull[] {
    return this.repo(owner, repo)!.pulls;
  }

  private repo(owner: string, repo: string): FakeRepo | undefined {
    return this.repos.get(`${owner}/${repo}`);
  }

  /** Octokit's `request.fetch`. */
  readonly fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const req = new Request(input, init);
    const text = req.body ? await req.text() : "";
    const rec: Received = { method: req.method, path: "", query: {}, body: undefined, status: 0, raw: "" };
    rec.raw = `${req.method} ${req.url}\n${[...req.headers].map(([k, v]) => `${k}: ${v}`).join("\n")}\n\n${text}`;
    this.received.push(rec);
    const res = this.handle(req, text, rec);
    rec.status = res.status;
    return res;
  };

  private handle(req: Request, text: string, rec: Received): Response {
    const url = new URL(req.url);
    if (!req.url.startsWith(this.apiUrl + "/")) return this.refuse(404, "Not Found", `request outside the API: ${req.url}`);
    const path = url.pathname.slice(new URL(this.apiUrl).pathname.replace(/\/$/, "").length);
    rec.path = path;
    rec.query = Object.fromEntries(url.searchParams);
    let op: Operation | undefined;
    let pathParams: Record<string, string> = {};
    for (const o of OPENAPI.operations) {
      const re = new RegExp("^" + o.path.replace(/\{(\w+)\}/g, "(?<$1>[^/]+)") + "$");
      const m = re.exec(path);
      if (m && o.method === req.method) {
        op = o;
        pathParams = Object.fromEntries(Object.entries(m.groups ?? {}).map(([k, v]) => [k, decodeURIComponent(v)]));
      }
    }
    if (!op) return this.refuse(404, "Not Found", `no route ${req.method} ${path} in the pinned description`);
    // Parameters.
    for (const p of op.parameters) {
      const v = p.in === "path" ? pathParams[p.name] : url.searchParams.get(p.name) ?? undefined;
      if (v === undefined) {
        if (p.required) return this.invalid(`${op.operationId}: missing ${p.in} parameter ${p.name}`);
        continue;
      }
      const problem = checkScalarParam(v, p.schema);
      if (problem) return this.invalid(`${op.operationId}: parameter ${p.name} ${problem}`);
    }
    for (const k of url.searchParams.keys()) {
      if (!op.parameters.some((p) => p.in === "query" && p.name === k)) return this.invalid(`${op.operationId}: unknown query parameter ${k}`);
    }
    // Body.
    let body: Record<string, unknown> | undefined;
    if (text) {
      if (!/application\/json/.test(req.headers.get("content-type") ?? "")) return this.invalid(`${op.operationId}: body without content-type application/json`);
      try {
        body = JSON.parse(text);
      } catch {
        return this.refuse(400, "Problems parsing JSON", `${op.operationId}: body is not JSON`);
      }
      rec.body = body;
    }
    if (op.requestBody) {
      if (!body) {
        if (op.requestBody.required) return this.invalid(`${op.operationId}: missing body`);
      } else {
        const problem = checkObject(body, op.requestBody.schema);
        if (problem) return this.invalid(`${op.operationId}: ${problem}`);
      }
    } else if (body && Object.keys(body).length > 0) return this.invalid(`${op.operationId}: takes no body`);
    // Authentication and permissions.
    const auth = req.headers.get("authorization");
    if (!auth) return json(401, { message: "Requires authentication", documentation_url: "https://docs.github.com/rest" });
    const token = this.tokens.get(auth.replace(/^(token|bearer)\s+/i, ""));
    if (!token) return json(401, { message: "Bad credentials", documentation_url: "https://docs.github.com/rest" });
    const repo = this.repo(pathParams.owner, pathParams.repo);
    if (!repo) return json(404, { message: "Not Found" });
    const write = req.method !== "GET";
    if (token.pullRequests === "none" || (write && token.pullRequests !== "write")) {
      return json(403, { message: "Resource not accessible by integration", documentation_url: "https://docs.github.com/rest/pulls/pulls" });
    }
    if (typeof body?.body === "string" && body.body.length > BODY_LIMIT) {
      return json(422, { message: "Validation Failed", errors: [{ resource: "PullRequest", code: "custom", field: "body", message: `body is too long (maximum is ${BODY_LIMIT} characters)` }] });
    }
    switch (op.operationId) {
      case "pulls/list":
        return this.respond(op, 200, this.list(repo, url.searchParams));
      case "pulls/create":
        return this.create(op, repo, token, body as { head: string; base: string; title?: string; body?: string });
      case "pulls/get": {
        const p = repo.pulls.find((x) => x.number === Number(pathParams.pull_number));
        return p ? this.respond(op, 200, this.pull(repo, p)) : json(404, { message: "Not Found" });
      }
      case "pulls/update": {
        const p = repo.pulls.find((x) => x.number === Number(pathParams.pull_number));
        if (!p) return json(404, { message: "Not Found" });
        const b = body ?? {};
        if (typeof b.title === "string") p.title = b.title;
        if (typeof b.body === "string") p.body = b.body;
        if (b.state === "open" || b.state === "closed") p.state = b.state;
        p.updated_at = new Date().toISOString();
        return this.respond(op, 200, this.pull(repo, p));
      }
    }
    return this.refuse(404, "Not Found", `unhandled ${op.operationId}`);
  }

  private list(repo: FakeRepo, q: URLSearchParams): unknown[] {
    const state = q.get("state") ?? "open";
    let pulls = repo.pulls.filter((p) => state === "all" || p.state === state);
    const head = q.get("head");
    // GitHub's quirk: a head without "OWNER:" is ignored.
    if (head && head.includes(":")) {
      const [owner, branch] = head.split(":", 2);
      pulls = pulls.filter((p) => owner === repo.owner && p.head === branch);
    }
    const base = q.get("base");
    if (base) pulls = pulls.filter((p) => p.base === base);
    const per = Number(q.get("per_page") ?? 30);
    return pulls.slice(0, per).map((p) => this.pull(repo, p));
  }

  private create(op: Operation, repo: FakeRepo, token: FakeToken, b: { head: string; base: string; title?: string; body?: string }): Response {
    if (token.kind === "actions" && !repo.actionsMayCreatePullRequests) {
      return json(403, { message: "GitHub Actions is not permitted to create or approve pull requests.", documentation_url: "https://docs.github.com/rest/pulls/pulls#create-a-pull-request" });
    }
    if (!b.title) return json(422, { message: "Validation Failed", errors: [{ resource: "PullRequest", code: "missing_field", field: "title" }] });
    const head = b.head.includes(":") ? b.head.split(":")[1] : b.head;
    if (b.head.includes(":") && b.head.split(":")[0] !== repo.owner) return json(422, { message: "Validation Failed", errors: [{ resource: "PullRequest", field: "head", code: "invalid" }] });
    const tip = (ref: string) => {
      try {
        return execFileSync("git", [`--git-dir=${repo.gitDir}`, "rev-parse", "--verify", "-q", `refs/heads/${ref}`], { encoding: "utf8" }).trim();
      } catch {
        return undefined;
      }
    };
    const headTip = tip(head);
    const baseTip = tip(b.base);
    if (!headTip) return json(422, { message: "Validation Failed", errors: [{ resource: "PullRequest", field: "head", code: "invalid" }] });
    if (!baseTip) return json(422, { message: "Validation Failed", errors: [{ resource: "PullRequest", field: "base", code: "invalid" }] });
    if (repo.pulls.some((p) => p.state === "open" && p.head === head && p.base === b.base)) {
      return json(422, { message: "Validation Failed", errors: [{ resource: "PullRequest", code: "custom", message: `A pull request already exists for ${repo.owner}:${head}.` }] });
    }
    const ahead = execFileSync("git", [`--git-dir=${repo.gitDir}`, "rev-list", "--count", `${baseTip}..${headTip}`], { encoding: "utf8" }).trim();
    if (ahead === "0") return json(422, { message: "Validation Failed", errors: [{ resource: "PullRequest", code: "custom", message: `No commits between ${b.base} and ${head}` }] });
    const now = new Date().toISOString();
    const p: FakePull = { number: this.nextNumber++, title: b.title, body: b.body ?? null, head, base: b.base, state: "open", merged: false, created_at: now, updated_at: now };
    repo.pulls.push(p);
    return this.respond(op, 201, this.pull(repo, p));
  }

  /** A pull request object with every field the description requires. */
  private pull(repo: FakeRepo, p: FakePull): Record<string, unknown> {
    const api = `${this.apiUrl}/repos/${repo.owner}/${repo.repo}`;
    const web = `https://github.test/${repo.owner}/${repo.repo}`;
    const user = { login: repo.owner, id: 1, node_id: "U_1", type: "User", site_admin: false };
    const ref = (name: string) => ({ label: `${repo.owner}:${name}`, ref: name, sha: "0".repeat(40), user, repo: { id: 1, name: repo.repo, full_name: `${repo.owner}/${repo.repo}`, owner: user, private: true } });
    return {
      url: `${api}/pulls/${p.number}`, id: p.number, node_id: `PR_${p.number}`, html_url: `${web}/pull/${p.number}`,
      diff_url: `${web}/pull/${p.number}.diff`, patch_url: `${web}/pull/${p.number}.patch`, issue_url: `${api}/issues/${p.number}`,
      commits_url: `${api}/pulls/${p.number}/commits`, review_comments_url: `${api}/pulls/${p.number}/comments`,
      review_comment_url: `${api}/pulls/comments{/number}`, comments_url: `${api}/issues/${p.number}/comments`,
      statuses_url: `${api}/statuses/0`, number: p.number, state: p.state, locked: false, title: p.title, user, body: p.body,
      labels: [], milestone: null, active_lock_reason: null, created_at: p.created_at, updated_at: p.updated_at,
      closed_at: p.state === "closed" ? p.updated_at : null, merged_at: p.merged ? p.updated_at : null, merge_commit_sha: null,
      assignee: null, assignees: [], requested_reviewers: [], requested_teams: [], head: ref(p.head), base: ref(p.base),
      _links: {}, author_association: "OWNER", auto_merge: null, draft: false, merged: p.merged, mergeable: null,
      rebaseable: null, mergeable_state: "unknown", merged_by: null, comments: 0, review_comments: 0,
      maintainer_can_modify: false, commits: 1, additions: 0, deletions: 0, changed_files: 0,
    };
  }

  private respond(op: Operation, status: number, data: unknown): Response {
    const items = op.responseRequired.array ? (data as Record<string, unknown>[]) : [data as Record<string, unknown>];
    for (const item of items) {
      const missing = op.responseRequired.required.filter((k) => !(k in item));
      if (missing.length > 0) throw new Error(`the fake's own ${op.operationId} response lacks ${missing.join(", ")}`);
    }
    return json(status, data);
  }

  private invalid(why: string): Response {
    return this.refuse(422, "Validation Failed", why);
  }

  private refuse(status: number, message: string, why: string): Response {
    this.violations.push(why);
    return json(status, { message, errors: [{ message: why }] });
  }
}

function json(status: number, data: unknown): Response {
  return new Response(JSON.stringify(data), { status, headers: { "content-type": "application/json; charset=utf-8" } });
}

function typeOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v;
}

function typeOk(v: unknown, s: Schema): boolean {
  if (!s.type) return true;
  const types = Array.isArray(s.type) ? s.type : [s.type];
  const t = typeOf(v);
  return types.includes(t) || (t === "integer" && types.includes("number"));
}

function checkValue(v: unknown, s: Schema, at: string): string | undefined {
  if (s.oneOf || s.anyOf) {
    const alts = (s.oneOf ?? s.anyOf)!;
    return alts.some((a) => checkValue(v, a, at) === undefined) ? undefined : `${at} matches none of its forms`;
  }
  if (!typeOk(v, s)) return `${at} must be ${JSON.stringify(s.type)}, got ${typeOf(v)}`;
  if (s.enum && !s.enum.includes(v)) return `${at} must be one of ${s.enum.join(", ")}`;
  if (typeOf(v) === "object" && s.properties) return checkObject(v as Record<string, unknown>, s, at + ".");
  return undefined;
}

function checkObject(o: Record<string, unknown>, s: Schema, prefix = ""): string | undefined {
  if (typeOf(o) !== "object") return `${prefix || "body"} must be an object`;
  for (const r of s.required ?? []) if (!(r in o)) return `missing required field ${prefix}${r}`;
  for (const [k, v] of Object.entries(o)) {
    const ps = s.properties?.[k];
    if (!ps) return `unknown field ${prefix}${k}`;
    const problem = checkValue(v, ps, `${prefix}${k}`);
    if (problem) return problem;
  }
  return undefined;
}

function checkScalarParam(v: string, s: Schema): string | undefined {
  if (s.type === "integer" && !/^-?\d+$/.test(v)) return "must be an integer";
  if (s.type === "boolean" && !/^(true|false)$/.test(v)) return "must be true or false";
  if (s.enum && !s.enum.includes(v)) return `must be one of ${s.enum.join(", ")}`;
  return undefined;
}
