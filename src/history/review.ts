// What a pull request from the history branch holds: every file changed
// since the base branch, lines added and removed, the size of its diff, and
// the backups (commits) in it. Read from the local bare repository after the
// commit; the pull request's title and body are made from it.
import { changes, TRAILERS, type FileChange } from "./commit.ts";
import { git, gitText } from "./git.ts";

export interface Review {
  files: FileChange[];
  /** Bytes of the unified diff, in all and per file: GitHub shows none above its limits. */
  diffBytes: number;
  fileDiffBytes: Map<string, number>;
  /** Newest first. */
  commits: Array<{ commit: string; host: string; snapshot: string; time: string }>;
}

const EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";

/** The changes between the base branch (as last fetched; undefined when it does not exist) and `head`. */
export async function review(gitDir: string, base: string | undefined, head: string): Promise<Review> {
  const mb = base ? (await git(gitDir, ["merge-base", `refs/cairn/${base}`, head], { allowFail: true })).stdout.toString().trim() : "";
  const from = mb || EMPTY_TREE;
  const files = await changes(gitDir, mb ? `${mb}^{tree}` : EMPTY_TREE, `${head}^{tree}`);
  const diff = (await git(gitDir, ["-c", "core.quotePath=false", "diff", "--no-color", "--no-renames", from, head])).stdout.toString("utf8");
  const fileDiffBytes = new Map<string, number>();
  for (const part of diff.split(/^(?=diff --git )/m)) {
    const m = /^diff --git a\/(.*) b\/\1$/m.exec(part);
    if (m) fileDiffBytes.set(m[1], Buffer.byteLength(part));
  }
  const sep = "\x1f";
  const log = await gitText(gitDir, [
    "log",
    `--format=%H${sep}%(trailers:key=${TRAILERS.host},valueonly,separator=)${sep}%(trailers:key=${TRAILERS.snapshot},valueonly,separator=)${sep}%(trailers:key=${TRAILERS.time},valueonly,separator=)`,
    mb ? `${mb}..${head}` : head,
  ]);
  const commits = log
    .split("\n")
    .filter(Boolean)
    .map((l) => {
      const [commit, host, snapshot, time] = l.split(sep).map((s) => s.trim());
      return { commit, host, snapshot, time };
    })
    .filter((c) => c.snapshot); // only cairn's own commits
  return { files, diffBytes: Buffer.byteLength(diff), fileDiffBytes, commits };
}
