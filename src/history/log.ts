// Reading the settings history back (`cairn history`): the history branch
// fetched into a local bare repository, then its history commits (the ones
// with cairn's trailers; merges and the base branch's own commits are left
// out), newest first, each with the files it changed.
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { changes, pushError, TRAILERS, type FileChange } from "./commit.ts";
import { git, gitText, type GitRemote } from "./git.ts";

export interface LogRequest {
  remote: GitRemote;
  branch: string;
  /** Only changes to this source's files (any host). */
  source?: string;
  workDir: string;
  signal?: AbortSignal;
}

export interface HistoryCommit {
  commit: string;
  /** When the backup ran (the Cairn-Time trailer). */
  time: string;
  host: string;
  /** The snapshot that holds the unredacted files. */
  snapshot: string;
  files: FileChange[];
}

/** The history commits of `branch`, newest first; [] when the branch does not exist yet. */
export async function readLog(req: LogRequest): Promise<HistoryCommit[]> {
  const gitDir = join(req.workDir, "history.git");
  if (!existsSync(join(gitDir, "HEAD"))) {
    await mkdir(gitDir, { recursive: true });
    await git(gitDir, ["init", "--bare", "-q"]);
  }
  const remoteCall = async (args: string[]) => {
    const r = await git(gitDir, args, { env: req.remote.env, allowFail: true, signal: req.signal });
    if (r.code !== 0) throw pushError(req, r.stderr);
    return r.stdout.toString("utf8");
  };
  const ref = `refs/heads/${req.branch}`;
  if (!(await remoteCall(["ls-remote", req.remote.url, ref])).trim()) return [];
  const local = `refs/cairn/${req.branch}`;
  await remoteCall(["fetch", "--no-tags", "--quiet", req.remote.url, `+${ref}:${local}`]);
  // A history commit has one parent; its changes are against that parent.
  const lines = (await gitText(gitDir, ["log", "--no-merges", "--format=%H %P", local])).split("\n").filter(Boolean);
  const out: HistoryCommit[] = [];
  for (const line of lines) {
    const [commit, parent] = line.split(" ");
    const message = await gitText(gitDir, ["show", "-s", "--format=%B", commit]);
    const trailer = (name: string) => new RegExp(`^${name}: (.+)$`, "m").exec(message)?.[1]?.trim();
    const host = trailer(TRAILERS.host);
    const snapshot = trailer(TRAILERS.snapshot);
    const time = trailer(TRAILERS.time);
    if (!host || !snapshot || !time) continue;
    let files = await changes(gitDir, parent ?? EMPTY_TREE, commit);
    if (req.source !== undefined) files = files.filter((f) => f.path.split("/")[1] === req.source);
    if (files.length === 0) continue;
    out.push({ commit, time, host, snapshot, files });
  }
  return out;
}

const EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";
