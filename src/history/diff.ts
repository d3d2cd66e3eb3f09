// The redacted text diff of two versions of one settings file (`cairn diff`
// with the identity): each side redacted exactly as the settings history
// records it, then compared by git's own diff, so the output reads like the
// history branch's `git log -p`.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { git, GitError } from "./git.ts";
import type { FingerprintKey } from "./redact/fingerprint.ts";
import { redactFile, type RedactRules } from "./redact/redact.ts";

export interface FileVersions {
  /** How the file is named in the diff's header, e.g. settings/srv/bot/.env. */
  label: string;
  /** Its path on the server (for secret-files globs and its format). */
  path: string;
  /** Undefined: the file is not in that snapshot. */
  before?: Uint8Array;
  after?: Uint8Array;
}

/** A unified diff of the redacted versions ("" when they redact to the same text). */
export async function redactedDiff(f: FileVersions, rules: RedactRules, key: FingerprintKey): Promise<string> {
  const side = async (content: Uint8Array | undefined) => (content === undefined ? undefined : (await redactFile(f.path, content, rules, key)).text);
  return textDiff(f.label, await side(f.before), await side(f.after));
}

/** `git diff --no-index` of two texts, with a/LABEL and b/LABEL in its header. */
export async function textDiff(label: string, before: string | undefined, after: string | undefined): Promise<string> {
  if (before === after) return "";
  const dir = await mkdtemp(join(tmpdir(), "cairn-diff-"));
  try {
    const a = before === undefined ? "/dev/null" : "a";
    const b = after === undefined ? "/dev/null" : "b";
    if (before !== undefined) await writeFile(join(dir, "a"), before);
    if (after !== undefined) await writeFile(join(dir, "b"), after);
    const out = await run(dir, ["-c", "core.quotePath=false", "diff", "--no-index", "--no-ext-diff", "--no-textconv", "--no-color", "--src-prefix=a/", "--dst-prefix=b/", "--", a, b]);
    // The header names the temporary files (a/a, b/b); name the file instead. The label never reaches a shell.
    const [head, ...rest] = out.split(/(?=^@@ )/m);
    const named = head
      .replace(/^diff --git .*$/m, `diff --git a/${label} b/${label}`)
      .replace(/^--- a\/a$/m, `--- a/${label}`)
      .replace(/^\+\+\+ b\/b$/m, `+++ b/${label}`);
    return [named, ...rest].join("");
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function run(cwd: string, args: string[]): Promise<string> {
  const r = await git(undefined, args, { cwd, allowFail: true });
  // 1: the files differ (what we asked for); anything else is a failure.
  if (r.code !== 0 && r.code !== 1) throw new GitError(args, r);
  return r.stdout.toString("utf8");
}
