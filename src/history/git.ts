// The git CLI, run without a shell, and the history repository's URL. A token
// reaches git only through the child's environment (http.extraHeader by
// GIT_CONFIG_COUNT/KEY/VALUE, scoped to the GitHub server): never in an
// argument (`ps` shows those), a URL, or a file on disk. This is the history's
// own small helper; the git backend has its own, to be unified.
import { spawn } from "node:child_process";
import { CairnError, UsageError } from "../errors.ts";
import type { GitHubContext } from "../github/context.ts";

export interface GitRemote {
  /** What git is given: a URL or a path, never holding a secret. */
  url: string;
  /** Environment for git commands that talk to the remote (the token's header). */
  env: Record<string, string>;
  /** The GitHub repository behind it, when there is one: pull requests need it. */
  github?: { owner: string; repo: string };
}

/**
 * `github:OWNER/REPO` (the GitHub server of the context, with its token) or
 * `git:URL` (any URL or path git accepts; an HTTPS URL on the GitHub server
 * is recognised and gets the token too).
 */
export function parseRemote(repository: string, gh: GitHubContext): GitRemote {
  const server = gh.serverUrl.replace(/\/+$/, "");
  if (repository.includes("#")) {
    throw new UsageError(`history.repository ${repository} names a branch after '#'`, "set the branch with history.branch");
  }
  let url: string;
  let github: GitRemote["github"];
  const short = /^github:([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+?)(?:\.git)?$/.exec(repository);
  if (short) {
    github = { owner: short[1], repo: short[2] };
    url = `${server}/${github.owner}/${github.repo}.git`;
  } else if (repository.startsWith("git:") && repository.length > 4) {
    url = repository.slice(4);
    const m = new RegExp(`^${escapeRe(server)}/([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)(?:\\.git)?/?$`).exec(url);
    if (m) github = { owner: m[1], repo: m[2] };
  } else {
    throw new UsageError(`history.repository ${repository} is not a git repository URL`, "use github:OWNER/REPO or git:URL (https://..., ssh://..., git@host:path, file:///..., a path)");
  }
  if (/^[a-z][a-z0-9+.-]*:\/\/[^/@]*:[^/@]*@/i.test(url)) {
    throw new UsageError("history.repository has a password in its URL", "remove it: cairn takes the GitHub token from GITHUB_TOKEN or the github-token input");
  }
  const env: Record<string, string> = {};
  if (github && gh.token && /^https?:/.test(server)) {
    const basic = Buffer.from(`x-access-token:${gh.token}`).toString("base64");
    env.GIT_CONFIG_COUNT = "1";
    env.GIT_CONFIG_KEY_0 = `http.${server}/.extraheader`;
    env.GIT_CONFIG_VALUE_0 = `AUTHORIZATION: basic ${basic}`;
  }
  return { url, env, github };
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export interface GitResult {
  stdout: Buffer;
  stderr: string;
  code: number;
}

/** A failed git command: its stderr (which holds no token: the token is only in the child's environment). */
export class GitError extends CairnError {
  readonly stderr: string;
  constructor(args: string[], result: GitResult) {
    super(`git ${args[0]} failed: ${lastLines(result.stderr)}`);
    this.stderr = result.stderr;
  }
}

function lastLines(s: string): string {
  return s.trim().split("\n").slice(-3).join(" / ") || "(no message)";
}

export interface GitOptions {
  input?: string | Uint8Array;
  env?: Record<string, string>;
  signal?: AbortSignal;
  /** Return non-zero exits instead of throwing. */
  allowFail?: boolean;
  /** The working folder (for commands outside any repository: diff --no-index). */
  cwd?: string;
}

/** Runs git in the bare repository `gitDir` (undefined: in no repository, in `opts.cwd`). */
export async function git(gitDir: string | undefined, args: string[], opts: GitOptions = {}): Promise<GitResult> {
  const child = spawn("git", [...(gitDir === undefined ? [] : [`--git-dir=${gitDir}`]), ...args], {
    cwd: opts.cwd,
    // git inherits this process's environment (PATH, HOME, proxies) like any
    // child; cairn adds only what it sets here.
    env: { ...process.env, LC_ALL: "C", GIT_TERMINAL_PROMPT: "0", ...opts.env },
    stdio: ["pipe", "pipe", "pipe"],
    signal: opts.signal,
  });
  const out: Buffer[] = [];
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => out.push(d));
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d: string) => (stderr = (stderr + d).slice(-16384)));
  child.stdin.on("error", () => {});
  child.stdin.end(opts.input ?? "");
  const code = await new Promise<number>((resolve, reject) => {
    child.on("error", (err) =>
      reject((err as NodeJS.ErrnoException).code === "ENOENT" ? new CairnError("git is not installed", undefined, "install git (every GitHub runner has it)") : err),
    );
    child.on("close", (c) => resolve(c ?? 1));
  });
  const result = { stdout: Buffer.concat(out), stderr, code };
  if (code !== 0 && !opts.allowFail) throw new GitError(args, result);
  return result;
}

export async function gitText(gitDir: string, args: string[], opts: GitOptions = {}): Promise<string> {
  return (await git(gitDir, args, opts)).stdout.toString("utf8").trim();
}
