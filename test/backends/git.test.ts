// The conformance suite for the git backend against a local bare repository
// (git-ssh.test.ts: over SSH, every read through the remote), runs that race,
// pushes split at the limit, and repository URLs.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { Backend, FileType } from "../../src/backends/backend.ts";
import { GitBackend, GitConflictError, GitError, parseGitUrl } from "../../src/backends/git.ts";
import { UsageError } from "../../src/errors.ts";
import { backendSuite } from "./suite.ts";

async function bareRemote(): Promise<{ dir: string; remote: string }> {
  const dir = await mkdtemp(join(tmpdir(), "cairn-gitremote-"));
  const remote = join(dir, "remote.git");
  execFileSync("git", ["init", "--bare", "-q", remote]);
  return { dir, remote };
}

backendSuite("git (local bare repository)", async () => {
  const { dir, remote } = await bareRemote();
  const backend = new GitBackend({ remote: parseGitUrl(`git:${remote}`, undefined) });
  return { backend, cleanup: async () => (await backend.dispose(), await rm(dir, { recursive: true, force: true })) };
});

describe("git backend: runs that race", () => {
  let dir: string;
  let remote: string;
  const opened: GitBackend[] = [];
  const open = (branch = "cairn") => {
    const b = new GitBackend({ remote: parseGitUrl(`git:${remote}#${branch}`, undefined) });
    opened.push(b);
    return b;
  };
  const hex = (s: string) => createHash("sha256").update(s).digest("hex");
  const names = async (b: Backend, type: FileType) => {
    const out: string[] = [];
    for await (const f of b.list(type)) out.push(f.name);
    return out.sort();
  };
  const log = (branch = "cairn") => execFileSync("git", ["--git-dir", remote, "log", "--format=%H %P", branch]).toString().trim().split("\n").map((l) => l.split(" ").slice(1).join(" "));
  before(async () => ({ dir, remote } = await bareRemote()));
  after(async () => {
    for (const b of opened) await b.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  test("another run pushed first: this run's files go on top of its commit (a union, one parent each, never forced)", async () => {
    const a = open("race");
    const b = open("race");
    await a.stat({ type: "config", name: "" }).catch(() => {}); // both have read the (empty) branch
    await b.stat({ type: "config", name: "" }).catch(() => {});
    await a.save({ type: "snapshot", name: hex("a") }, Buffer.from("a"));
    await a.save({ type: "pack", name: hex("pa") }, Buffer.from("pack a"));
    await b.save({ type: "snapshot", name: hex("b") }, Buffer.from("b"));
    await b.save({ type: "pack", name: hex("pb") }, Buffer.from("pack b"));
    await a.flush();
    await b.flush();
    const c = open("race");
    assert.deepEqual(await names(c, "snapshot"), [hex("a"), hex("b")].sort());
    assert.deepEqual(await names(c, "pack"), [hex("pa"), hex("pb")].sort());
    assert.equal((await c.load({ type: "pack", name: hex("pa") })).toString(), "pack a");
    assert.equal((await c.load({ type: "pack", name: hex("pb") })).toString(), "pack b");
    assert.deepEqual(log("race").map((p) => p.split(" ").filter(Boolean).length), [1, 0], "two commits in a line");
  });

  test("two pushes at the same moment (both checked by the server before either lands): both land", async () => {
    const a = open("same");
    const b = open("same");
    await a.save({ type: "snapshot", name: hex("same a") }, Buffer.from("a"));
    await b.save({ type: "snapshot", name: hex("same b") }, Buffer.from("b"));
    // The server holds every push of the branch for a moment after checking it.
    const hook = join(remote, "hooks", "pre-receive");
    writeFileSync(hook, `#!/bin/sh\nsleep 1\n`, { mode: 0o755 });
    try {
      await Promise.all([a.flush(), b.flush()]);
    } finally {
      rmSync(hook);
    }
    assert.deepEqual(await names(open("same"), "snapshot"), [hex("same a"), hex("same b")].sort());
    assert.equal(log("same").length, 2);
  });

  test("a run that removed files meanwhile (a prune) is not merged over: the later run fails and pushes nothing", async () => {
    const seed = open("prune");
    await seed.save({ type: "index", name: hex("old index") }, Buffer.from("old"));
    await seed.flush();
    const pruner = open("prune");
    const backup = open("prune");
    await pruner.remove({ type: "index", name: hex("old index") });
    await backup.save({ type: "snapshot", name: hex("new snapshot") }, Buffer.from("new"));
    await pruner.flush();
    await assert.rejects(backup.flush(), (err: unknown) => err instanceof GitConflictError && /removed 1 file /.test(err.message) && /run this command again/.test(err.hint ?? ""));
    assert.deepEqual(await names(open("prune"), "snapshot"), []);
    // And the other way round: a run that removes is not put on top of files added meanwhile.
    const remover = open("prune");
    const adder = open("prune");
    await adder.save({ type: "snapshot", name: hex("added") }, Buffer.from("added"));
    await remover.save({ type: "list", name: hex("l") }, Buffer.from("l"));
    await remover.flush();
    const r2 = open("prune");
    await r2.remove({ type: "list", name: hex("l") });
    await adder.flush();
    await assert.rejects(r2.flush(), GitConflictError);
  });

  test("a removed pack's ref goes once the metadata without it has landed; removing is a new commit", async () => {
    const a = open("rm");
    await a.save({ type: "pack", name: hex("gone") }, Buffer.from("gone"));
    await a.save({ type: "pack", name: hex("kept") }, Buffer.from("kept"));
    await a.flush();
    const refs = () => execFileSync("git", ["--git-dir", remote, "for-each-ref", "--format=%(refname)", "refs/cairn-packs/rm/"]).toString().trim().split("\n").filter(Boolean);
    assert.equal(refs().length, 2);
    const b = open("rm");
    await b.remove({ type: "pack", name: hex("gone") });
    await b.flush();
    assert.deepEqual(refs(), [`refs/cairn-packs/rm/${hex("kept")}`]);
    assert.equal(log("rm").length, 2);
    await assert.rejects(open("rm").load({ type: "pack", name: hex("gone") }), (err: unknown) => a.isNotExist(err));
  });

  test("a pack whose ref already holds another commit (same name, so the same bytes) counts as pushed", async () => {
    const id = hex("pack already there");
    const tree = execFileSync("git", ["--git-dir", remote, "mktree"], { input: "" }).toString().trim();
    const other = execFileSync("git", ["--git-dir", remote, "commit-tree", tree, "-m", "made elsewhere"], { env: { ...process.env, GIT_AUTHOR_NAME: "x", GIT_AUTHOR_EMAIL: "x@x", GIT_COMMITTER_NAME: "x", GIT_COMMITTER_EMAIL: "x@x" } }).toString().trim();
    execFileSync("git", ["--git-dir", remote, "update-ref", `refs/cairn-packs/there/${id}`, other]);
    const b = open("there");
    await b.save({ type: "pack", name: id }, Buffer.from("pack already there"));
    await b.save({ type: "snapshot", name: hex("s") }, Buffer.from("s"));
    await b.flush();
    assert.deepEqual(await names(open("there"), "snapshot"), [hex("s")]);
  });

  test("packs are pushed in pushes of at most the push limit", async () => {
    const b = new GitBackend({ remote: parseGitUrl(`git:${remote}#limit`, undefined), pushLimit: 100_000 });
    opened.push(b);
    for (let i = 0; i < 5; i++) await b.save({ type: "pack", name: hex(`p${i}`) }, Buffer.alloc(60_000, i));
    // Count the pushes with a hook on the remote.
    const hook = join(remote, "hooks", "pre-receive");
    const count = join(dir, "pushes");
    writeFileSync(hook, `#!/bin/sh\nwhile read old new ref; do case "$ref" in refs/cairn-packs/limit/*) echo "$ref" >> ${count};; esac; done; echo x >> ${count}.n\n`, { mode: 0o755 });
    try {
      await b.flush();
    } finally {
      rmSync(hook);
    }
    assert.equal(readFileSync(`${count}`, "utf8").trim().split("\n").length, 5, "every pack pushed");
    assert.equal(readFileSync(`${count}.n`, "utf8").trim().split("\n").length, 5 + 1, "one push per pack (60 kB each, limit 100 kB), then the metadata");
  });

  test("git's failures say what to do: unreachable (retryable), not a repository, a branch the server protects", async () => {
    const u = new GitBackend({ remote: parseGitUrl("git:http://127.0.0.1:9/nothing.git", undefined) });
    opened.push(u);
    await assert.rejects(u.stat({ type: "config", name: "" }), (err: unknown) => {
      assert.ok(u.isRetryable(err), `retryable: ${String(err)}`);
      assert.match((err as GitError).hint ?? "", /could not be reached/);
      return true;
    });
    const missing = new GitBackend({ remote: parseGitUrl(`git:${join(dir, "no-such.git")}`, undefined) });
    opened.push(missing);
    await assert.rejects(missing.stat({ type: "config", name: "" }), (err: unknown) => {
      assert.ok(!missing.isRetryable(err) && !missing.isNotExist(err));
      assert.match((err as GitError).hint ?? "", /check the repository URL/);
      return true;
    });
    const b = open("protected");
    await b.save({ type: "snapshot", name: hex("p") }, Buffer.from("p"));
    const hook = join(remote, "hooks", "pre-receive");
    writeFileSync(hook, `#!/bin/sh\necho "GH006: Protected branch update failed for refs/heads/protected." >&2\nexit 1\n`, { mode: 0o755 });
    try {
      await assert.rejects(b.flush(), (err: unknown) => {
        assert.ok(!b.isRetryable(err));
        assert.match((err as GitError).hint ?? "", /the branch is protected/);
        return true;
      });
    } finally {
      rmSync(hook);
    }
  });

  test("URLs: git:URL#BRANCH and github:OWNER/REPO#BRANCH; a password in the URL or a bad branch is refused", () => {
    const gh = { serverUrl: "https://ghe.example.com", token: "ghs_secret" };
    const r = parseGitUrl("github:me/backups#srv/one", gh);
    assert.equal(r.url, "https://ghe.example.com/me/backups.git");
    assert.equal(r.branch, "srv/one");
    assert.equal(r.location, "github:me/backups#srv/one");
    assert.equal(r.env.GIT_CONFIG_KEY_0, "http.https://ghe.example.com/.extraheader");
    assert.ok(!JSON.stringify({ url: r.url, location: r.location }).includes("ghs_secret"));
    assert.equal(parseGitUrl("git:git@example.com:me/b.git", gh).url, "git@example.com:me/b.git");
    assert.deepEqual(parseGitUrl("git:git@example.com:me/b.git", gh).env, {}, "no token for another server");
    assert.equal(parseGitUrl("git:ssh://git@example.com:2222/srv/b.git#x", gh).branch, "x");
    assert.equal(parseGitUrl("git:relative/b.git", gh).url, join(process.cwd(), "relative/b.git"));
    assert.equal(parseGitUrl("git:https://ghe.example.com/me/b", gh).env.GIT_CONFIG_COUNT, "1", "HTTPS on the GitHub server gets the token");
    assert.throws(() => parseGitUrl("git:https://me:pw@example.com/b.git", gh), /holds a password/);
    for (const bad of ["git:/x#", "git:/x#-x", "git:/x#a..b", "git:/x#a b", "github:nobody", "git:"]) assert.throws(() => parseGitUrl(bad, gh), UsageError, bad);
  });
});
