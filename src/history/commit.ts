// The history commit: the redacted files of one backup, written as one commit
// on the history branch when (and only when) they differ from what the
// branch holds. Plumbing only (hash-object, mktree, commit-tree), in a bare
// repository of its own: no working tree, no checkout. The tree holds
// <host>/<source>/<path on the server>; a commit replaces only the folders of
// the sources it records, so several servers can share one branch. The push
// is fast-forward only: when another run pushed first, fetch and build again
// on top of it, never force.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { CairnError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { git, gitText, type GitRemote } from "./git.ts";

export interface HistoryFile {
  /** Path on the server, e.g. /srv/bot/config/config.json. */
  path: string;
  /** The text to commit (already redacted). */
  text: string;
}

export interface HistorySource {
  name: string;
  files: HistoryFile[];
  /** Paths on the server this backup could not read: their recorded version stays as it was (not "deleted"). */
  unread?: string[];
}

export interface CommitRequest {
  remote: GitRemote;
  branch: string;
  /** The branch pull requests go to; undefined: the remote's default branch. */
  base?: string;
  /** A folder for the local bare repository (kept between runs to fetch less). */
  workDir: string;
  /** The server's name: the tree's top folder and the message's subject. */
  host: string;
  time: Date;
  /** The snapshot that holds the unredacted files. */
  snapshot: string;
  sources: HistorySource[];
  author?: { name: string; email: string };
  log: Logger;
  signal?: AbortSignal;
}

export interface FileChange {
  /** Path in the history tree: <host>/<source>/<path on the server>. */
  path: string;
  status: "added" | "modified" | "deleted";
  added: number;
  removed: number;
}

export interface CommitResult {
  /** False when the files equal what the branch holds: nothing was committed. */
  changed: boolean;
  commit?: string;
  branch: string;
  /** The base branch (given or the remote's default), when it exists. */
  base?: string;
  /** What this commit changed. */
  files: FileChange[];
  /** The local bare repository (for the pull request's summary). */
  gitDir: string;
}

const AUTHOR = { name: "cairn", email: "cairn@users.noreply.github.com" };
const ATTEMPTS = 5;
const EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";

export async function commitHistory(req: CommitRequest): Promise<CommitResult> {
  const gitDir = join(req.workDir, "history.git");
  if (!existsSync(join(gitDir, "HEAD"))) {
    await mkdir(gitDir, { recursive: true });
    await git(gitDir, ["init", "--bare", "-q"]);
  }
  const host = pathPart(req.host, "host");
  const base = req.base ?? (await defaultBranch(gitDir, req));
  for (let attempt = 1; ; attempt++) {
    const tips = await fetchTips(gitDir, req, base);
    // Build on the base branch when it already holds the history branch (its
    // pull request was merged): the next pull request then shows only new changes.
    let parent = tips.history;
    if (tips.base && (!parent || (await isAncestor(gitDir, parent, tips.base)))) parent = tips.base;
    const parentTree = parent ? await gitText(gitDir, ["rev-parse", `${parent}^{tree}`]) : EMPTY_TREE;
    const tree = await buildTree(gitDir, req.workDir, parentTree, host, req.sources, req.log);
    if (tree === parentTree) return { changed: false, branch: req.branch, base: tips.base ? base : undefined, files: [], gitDir };
    const files = await changes(gitDir, parentTree, tree);
    const commit = await gitText(gitDir, ["commit-tree", tree, ...(parent ? ["-p", parent] : []), "-F", "-"], {
      input: message(req, files),
      env: identityEnv(req.author ?? AUTHOR, req.time),
    });
    const push = await git(gitDir, ["push", "--porcelain", "--no-verify", req.remote.url, `${commit}:refs/heads/${req.branch}`], {
      env: req.remote.env,
      allowFail: true,
      signal: req.signal,
    });
    if (push.code === 0) {
      await git(gitDir, ["update-ref", `refs/heads/${req.branch}`, commit]);
      return { changed: true, commit, branch: req.branch, base: tips.base ? base : undefined, files, gitDir };
    }
    const raced = /\[rejected\]|non-fast-forward|fetch first|stale info|cannot lock ref/.test(push.stderr + push.stdout.toString());
    if (!raced) throw pushError(req, push.stderr);
    if (attempt >= ATTEMPTS) {
      throw new CairnError(`settings history: ${req.branch} kept moving while cairn pushed (${ATTEMPTS} tries)`, undefined, "run the backup again; another run is writing the same branch");
    }
    req.log.info(`settings history: ${req.branch} moved on the remote; building on top of it (try ${attempt + 1})`);
  }
}

/** The remote's default branch (its HEAD), or undefined for an empty repository. */
async function defaultBranch(gitDir: string, req: CommitRequest): Promise<string | undefined> {
  const out = await remoteCall(gitDir, req, ["ls-remote", "--symref", req.remote.url, "HEAD"]);
  return /^ref: refs\/heads\/(\S+)\tHEAD$/m.exec(out)?.[1];
}

async function fetchTips(gitDir: string, req: CommitRequest, base: string | undefined): Promise<{ history?: string; base?: string }> {
  const refs = [`refs/heads/${req.branch}`, ...(base && base !== req.branch ? [`refs/heads/${base}`] : [])];
  const out = await remoteCall(gitDir, req, ["ls-remote", req.remote.url, ...refs]);
  const found = new Map(out.split("\n").filter(Boolean).map((l) => l.split("\t").reverse() as [string, string]));
  const specs = refs.filter((r) => found.has(r)).map((r) => `+${r}:refs/cairn/${r.slice("refs/heads/".length)}`);
  if (specs.length > 0) await remoteCall(gitDir, req, ["fetch", "--no-tags", "--quiet", req.remote.url, ...specs]);
  return { history: found.get(refs[0]), base: base ? found.get(`refs/heads/${base}`) : undefined };
}

async function remoteCall(gitDir: string, req: CommitRequest, args: string[]): Promise<string> {
  const r = await git(gitDir, args, { env: req.remote.env, allowFail: true, signal: req.signal });
  if (r.code !== 0) throw pushError(req, r.stderr);
  return r.stdout.toString("utf8");
}

/** What a failed fetch or push means for the user. */
export function pushError(req: Pick<CommitRequest, "remote" | "branch">, stderr: string): CairnError {
  const where = req.remote.github ? `${req.remote.github.owner}/${req.remote.github.repo}` : req.remote.url;
  if (/403|denied|not allowed|permission/i.test(stderr)) {
    return new CairnError(
      `settings history: ${where} refused the push to ${req.branch} (${lastLine(stderr)})`,
      undefined,
      req.remote.github
        ? "give the workflow `permissions: contents: write` (or a token that can push to that repository)"
        : "check that this machine's git credentials can push to that repository",
    );
  }
  if (/401|Authentication failed|could not read Username/i.test(stderr)) {
    return new CairnError(`settings history: ${where} needs a token to push (${lastLine(stderr)})`, undefined, "set GITHUB_TOKEN (or the Action's github-token input)");
  }
  return new CairnError(`settings history: git could not reach ${where} (${lastLine(stderr)})`, undefined, "check history.repository in cairn.yml");
}

/** git's reason: its first fatal: or error: line (the lines after it are advice), else its last line. */
function lastLine(s: string): string {
  const lines = s.trim().split("\n").filter(Boolean);
  return (lines.find((l) => /^(fatal|error|remote): /.test(l)) ?? lines.at(-1) ?? "no message").replace(/^fatal: /, "");
}

async function isAncestor(gitDir: string, a: string, b: string): Promise<boolean> {
  return (await git(gitDir, ["merge-base", "--is-ancestor", a, b], { allowFail: true })).code === 0;
}

/** A file or folder name git and every checkout accept. */
function pathPart(name: string, what: string): string {
  if (name === "" || name === "." || name === ".." || name.toLowerCase() === ".git" || /[/\0\n]/.test(name)) {
    throw new CairnError(`settings history: the ${what} ${JSON.stringify(name)} cannot be a folder name`);
  }
  return name;
}

/**
 * `parentTree` with each source's folder (<host>/<source>/) replaced by its
 * files, through a temporary index: a few git processes whatever the number
 * of files (one per file was minutes for a thousand).
 */
async function buildTree(gitDir: string, workDir: string, parentTree: string, host: string, sources: HistorySource[], log: Logger): Promise<string> {
  const scratch = await mkdtemp(join(workDir, "tree-"));
  try {
    const env = { GIT_INDEX_FILE: join(scratch, "index") };
    await git(gitDir, ["read-tree", parentTree], { env });
    const folders = sources.map((s) => `${host}/${pathPart(s.name, "source name")}`);
    const kept = new Set(sources.flatMap((s) => (s.unread ?? []).map((p) => `${host}/${s.name}/${p.split("/").filter(Boolean).join("/")}`)));
    // No source: nothing to replace (an empty pathspec would match every file).
    const old = (folders.length === 0 ? Buffer.alloc(0) : (await git(gitDir, ["ls-files", "-z", "--", ...folders.map((f) => `:(literal)${f}`)], { env })).stdout)
      .toString("utf8")
      .split("\0")
      .filter((p) => p && !kept.has(p));
    const add: Array<{ path: string; file: string }> = [];
    for (const source of sources) {
      for (const f of source.files) {
        const parts = f.path.split("/").filter(Boolean);
        if (parts.length === 0 || parts.some((p) => p === "." || p === ".." || p.toLowerCase() === ".git" || /[\0\n]/.test(p))) {
          log.warn(`settings history: ${source.name}: left out ${JSON.stringify(f.path)} (a name git cannot store)`);
          continue;
        }
        const file = join(scratch, String(add.length));
        await writeFile(file, f.text);
        add.push({ path: `${host}/${source.name}/${parts.join("/")}`, file });
      }
    }
    const blobs = add.length ? (await gitText(gitDir, ["hash-object", "-w", "--stdin-paths"], { input: add.map((a) => a.file).join("\n") + "\n" })).split("\n") : [];
    const entries = [...old.map((p) => `0 ${"0".repeat(40)}\t${p}\0`), ...add.map((a, i) => `100644 ${blobs[i]}\t${a.path}\0`)];
    if (entries.length) await git(gitDir, ["update-index", "-z", "--index-info"], { env, input: entries.join("") });
    return await gitText(gitDir, ["write-tree"], { env });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Files changed between two trees, with lines added and removed. */
export async function changes(gitDir: string, from: string, to: string): Promise<FileChange[]> {
  const status = (await git(gitDir, ["diff-tree", "-r", "-z", "--no-renames", "--name-status", from, to])).stdout.toString("utf8").split("\0");
  const numstat = (await git(gitDir, ["diff-tree", "-r", "-z", "--no-renames", "--numstat", from, to])).stdout.toString("utf8").split("\0");
  const lines = new Map<string, [number, number]>();
  for (let i = 0; i + 1 < numstat.length; i += 1) {
    const m = /^(\d+|-)\t(\d+|-)\t(.*)$/.exec(numstat[i]);
    if (m) lines.set(m[3], [Number(m[1]) || 0, Number(m[2]) || 0]);
  }
  const out: FileChange[] = [];
  for (let i = 0; i + 1 < status.length; i += 2) {
    const path = status[i + 1];
    const [added, removed] = lines.get(path) ?? [0, 0];
    out.push({ path, status: status[i] === "A" ? "added" : status[i] === "D" ? "deleted" : "modified", added, removed });
  }
  return out;
}

function identityEnv(who: { name: string; email: string }, time: Date): Record<string, string> {
  const date = `${Math.floor(time.getTime() / 1000)} +0000`;
  return {
    GIT_AUTHOR_NAME: who.name,
    GIT_AUTHOR_EMAIL: who.email,
    GIT_AUTHOR_DATE: date,
    GIT_COMMITTER_NAME: who.name,
    GIT_COMMITTER_EMAIL: who.email,
    GIT_COMMITTER_DATE: date,
  };
}

/** Trailers in every history commit, read back by `cairn history` and the pull request's summary. */
export const TRAILERS = { host: "Cairn-Host", snapshot: "Cairn-Snapshot", time: "Cairn-Time" } as const;

function message(req: CommitRequest, files: FileChange[]): string {
  const names = files.map((f) => f.path.split("/").at(-1)!);
  const shown = names.length <= 3 ? names.join(", ") : `${names.slice(0, 3).join(", ")} and ${names.length - 3} more`;
  const letter = { added: "A", modified: "M", deleted: "D" } as const;
  return [
    `Settings changed on ${req.host}: ${shown}`,
    "",
    `Recorded from snapshot ${req.snapshot} at ${iso(req.time)}. Secrets are`,
    "replaced by keyed fingerprints; the snapshot holds the unredacted files:",
    ...req.sources.map((s) => `  cairn restore ${req.snapshot} --source ${s.name} --target ./restored`),
    "",
    ...files.map((f) => `${letter[f.status]} ${f.path} (+${f.added} -${f.removed})`),
    "",
    `${TRAILERS.host}: ${req.host}`,
    `${TRAILERS.snapshot}: ${req.snapshot}`,
    `${TRAILERS.time}: ${iso(req.time)}`,
    "",
  ].join("\n");
}

export function iso(t: Date): string {
  return t.toISOString().replace(/\.\d{3}Z$/, "Z");
}

