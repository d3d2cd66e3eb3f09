// The git backend against a real smart-HTTP git server (git http-backend
// behind a local HTTP server that wants the token as GitHub does), through
// the CLI as a user runs it, github:OWNER/REPO with GITHUB_SERVER_URL:
// - the token is in no output, no process's arguments (`ps`), no file of the
//   scratch repository or temp folder; a wrong token says what to fix;
// - a backup fetches metadata only: what it downloads does not grow with the
//   packs stored, and it never asks for a pack;
// - a restore fetches only the packs of the snapshot it restores.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { GitBackend, parseGitUrl } from "../../src/backends/git.ts";
import { runCli, startCli, type CliResult } from "../helpers/cli.ts";
import { gitHttpServer, type GitHttpServer } from "../helpers/git-http.ts";

const TOKEN = "ghs_PLANTEDgitbackend0123456789abcdefABC";
const BASIC = Buffer.from(`x-access-token:${TOKEN}`).toString("base64");
let dir: string;
let remote: string;
let server: GitHttpServer;
let env: Record<string, string>;
const outputs: string[] = [];
const argvSeen = new Set<string>();
const url = "github:me/backups";

/** The CLI as a child process, waited for without blocking (the server answers from this process). */
async function run(args: string[], extra: Record<string, string> = {}): Promise<CliResult> {
  const r = await runCli(args, { env: { ...env, ...extra } });
  outputs.push(r.stdout, r.stderr);
  return r;
}

/** Every process's arguments, now. */
function psSnapshot(): void {
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      argvSeen.add(readFileSync(`/proc/${d}/cmdline`, "latin1").split("\0").join(" "));
    } catch {
      // exited meanwhile
    }
  }
}

/** Every file's bytes under dir, as text. */
function allFiles(root: string): string {
  let text = "";
  let names: string[];
  try {
    names = readdirSync(root, { recursive: true, encoding: "utf8" });
  } catch {
    return ""; // removed while listed (a scratch folder going away)
  }
  for (const f of names) {
    const p = join(root, f);
    try {
      if (statSync(p).isFile()) text += readFileSync(p).toString("latin1") + "\n";
    } catch {
      // removed meanwhile
    }
  }
  return text;
}

/** A backup run while `ps` and the temp folder are watched for the token. */
async function watchedBackup(config: string): Promise<CliResult> {
  const { done } = startCli(["backup", "-c", config, "--json"], { env });
  let finished = false;
  void done.then(() => (finished = true));
  let tempText = "";
  while (!finished) {
    psSnapshot();
    tempText += allFiles(env.TMPDIR).includes(TOKEN) ? "TOKEN" : "";
    await new Promise((r) => setTimeout(r, 100));
  }
  const r = await done;
  outputs.push(r.stdout, r.stderr);
  assert.ok(!tempText.includes("TOKEN"), "the token is in no file of the temp folder while the backup runs");
  return r;
}

const packRefs = () =>
  execFileSync("git", ["--git-dir", remote, "for-each-ref", "--format=%(refname)", "refs/cairn-packs/"]).toString().trim().split("\n").filter(Boolean).map((r) => r.split("/").pop()!);
const metadataBytes = () =>
  execFileSync("git", ["--git-dir", remote, "ls-tree", "-r", "-l", "cairn"]).toString().trim().split("\n").reduce((n, l) => n + Number(l.split(/\s+/)[3]), 0);
const packBytes = () =>
  execFileSync("git", ["--git-dir", remote, "for-each-ref", "--format=%(objectname)", "refs/cairn-packs/"]).toString().trim().split("\n").filter(Boolean)
    .reduce((n, c) => n + Number(execFileSync("git", ["--git-dir", remote, "ls-tree", "-l", c]).toString().split(/\s+/)[3]), 0);
const packsAsked = () => new Set(server.log.fetchBodies.flatMap((b) => [...b.matchAll(/refs\/cairn-packs\/cairn\/([0-9a-f]{64})/g)].map((m) => m[1])));

async function db(name: string, rows: number): Promise<string> {
  await mkdir(join(dir, name), { recursive: true });
  const file = join(dir, name, "bot.db");
  execFileSync("sqlite3", [file, `CREATE TABLE t(x); WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<${rows}) INSERT INTO t SELECT hex(randomblob(100)) FROM c;`]);
  const config = join(dir, `${name}.yml`);
  await writeFile(config, `repository: ${url}\nsources:\n  - name: ${name}\n    sqlite: ${file}\n`);
  return config;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "cairn-githttp-"));
  remote = join(dir, "server", "me", "backups.git");
  execFileSync("git", ["init", "--bare", "-q", remote]);
  execFileSync("git", ["--git-dir", remote, "config", "http.receivepack", "true"]);
  server = await gitHttpServer(join(dir, "server"), TOKEN);
  await mkdir(join(dir, "tmp"));
  env = { GITHUB_TOKEN: TOKEN, GITHUB_SERVER_URL: server.url, TMPDIR: join(dir, "tmp") };
  assert.equal((await run(["keygen", "-o", join(dir, "identity.txt")])).code, 0);
  const recipient = /# public key: (age1\S+)/.exec(readFileSync(join(dir, "identity.txt"), "utf8"))![1];
  const init = await run(["init", "-r", url, "-i", join(dir, "identity.txt"), "--pack-size", "64KiB"]);
  assert.equal(init.code, 0, init.stderr);
  env.CAIRN_WRITE_KEY = /^CAIRN_WRITE_KEY=(\S+)$/m.exec(init.stdout)![1];
});
after(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

test("a backup fetches metadata only: it never asks for a pack, and what it fetches does not grow with the packs stored; a restore fetches only its snapshot's packs", async (t) => {
  const a = await db("a", 16_000);
  const first = await watchedBackup(a);
  assert.equal(first.code, 0, first.stderr);
  const packsA = packRefs();
  assert.ok(packsA.length >= 4, `the first backup wrote many packs (${packsA.length})`);

  server.reset();
  assert.equal((await watchedBackup(a)).code, 0);
  const fetchedFew = server.log.sent.fetch;
  assert.equal(packsAsked().size, 0, "the backup asked for no pack");
  const metaFew = metadataBytes();

  const b = await db("b", 48_000);
  assert.equal((await watchedBackup(b)).code, 0);
  const packsB = packRefs().filter((p) => !packsA.includes(p));
  assert.ok(packsB.length >= 2 * packsA.length, `${packsB.length} more packs`);

  server.reset();
  assert.equal((await watchedBackup(a)).code, 0);
  const fetchedMany = server.log.sent.fetch;
  assert.equal(packsAsked().size, 0, "the backup asked for no pack");
  const metaMany = metadataBytes();
  const packs = packBytes();
  t.diagnostic(`backup fetched ${fetchedFew} B with ${packsA.length} packs (metadata ${metaFew} B), ${fetchedMany} B with ${packsA.length + packsB.length} packs (metadata ${metaMany} B, packs ${packs} B)`);
  // What grew is the metadata (the new snapshot and index), never the packs.
  assert.ok(fetchedMany - fetchedFew <= metaMany - metaFew + 16_384, `fetched ${fetchedFew} -> ${fetchedMany} B while the metadata grew ${metaFew} -> ${metaMany} B`);
  assert.ok(fetchedMany * 4 < packs, `a backup fetches far less than the packs stored (${fetchedMany} of ${packs} B)`);

  server.reset();
  const snaps = JSON.parse((await run(["snapshots", "-r", url, "--json"])).stdout) as { id: string; sources: { name: string }[] }[];
  const snapA = snaps.find((s) => s.sources.some((x) => x.name === "a"))!;
  const target = join(dir, "restored");
  const r = await run(["restore", snapA.id, "-r", url, "-i", join(dir, "identity.txt"), "--target", target]);
  assert.equal(r.code, 0, r.stderr);
  const asked = [...packsAsked()];
  assert.ok(asked.length > 0 && asked.every((p) => packsA.includes(p)), `the restore fetched only snapshot a's packs (${asked.length} of ${packsA.length}, none of b's ${packsB.length})`);
});

test("the token is in no output, no process's arguments and no file; it went to the server; a wrong token says what to fix", async () => {
  assert.ok(server.log.authorizations.length > 0 && server.log.authorizations.every((h) => h.toLowerCase() === `basic ${BASIC}`.toLowerCase()), "every request carried the token");
  // In process: the scratch repository, before it is removed.
  const backend = new GitBackend({ remote: parseGitUrl(url, { token: TOKEN, serverUrl: server.url }) });
  await backend.save({ type: "snapshot", name: "ab".repeat(32) }, Buffer.from("x"));
  await backend.flush();
  const scratch = allFiles(await backend.scratchDir());
  await backend.dispose();
  for (const secret of [TOKEN, BASIC]) assert.ok(!scratch.includes(secret), "not in the scratch repository (config, objects, refs)");

  const wrong = await run(["snapshots", "-r", url], { GITHUB_TOKEN: "ghs_WRONGtoken0123456789" });
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stderr, /fetching github:me\/backups#cairn failed/);
  assert.match(wrong.stderr, /hint: check the credentials/);
  assert.ok(!wrong.stderr.includes("ghs_WRONGtoken"));

  psSnapshot();
  for (const secret of [TOKEN, BASIC]) {
    assert.ok(!outputs.join("\n").includes(secret), "not in any output");
    assert.ok(![...argvSeen].some((a) => a.includes(secret)), "not in any process's arguments");
    assert.ok(!allFiles(dir).includes(secret), "not in any file (the remote, the temp folder)");
  }
  assert.ok([...argvSeen].some((a) => a.includes("git") && a.includes("push")), "ps was watched while git pushed");
});
