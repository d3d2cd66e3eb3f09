// Two `cairn backup` processes started together into one repository both
// land and both restore: into a git remote (the second push is put on top of
// the first, never forced) and into a local folder (backups hold shared locks).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, mkdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { cairn, runCli } from "../helpers/cli.ts";

let dir: string;
let recipient: string;
const identity = () => join(dir, "identity.txt");

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "cairn-race-"));
  assert.equal(cairn(["keygen", "-o", identity()]).code, 0);
  recipient = /# public key: (age1\S+)/.exec(readFileSync(identity(), "utf8"))![1];
  // Two different sources, so the two snapshots differ and each brings its own packs.
  for (const name of ["a", "b"]) {
    await mkdir(join(dir, name));
    const db = join(dir, name, "bot.db");
    execFileSync("sqlite3", [db, `CREATE TABLE t(x); WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<6000) INSERT INTO t SELECT '${name}' || hex(randomblob(40)) FROM c;`]);
  }
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function race(url: string, label: string): Promise<void> {
  const init = cairn(["init", "-r", url, "-i", identity(), "--pack-size", "128KiB"]);
  assert.equal(init.code, 0, init.stderr);
  const env = { CAIRN_WRITE_KEY: /^CAIRN_WRITE_KEY=(\S+)$/m.exec(init.stdout)![1] };
  const configs = ["a", "b"].map((name) => {
    const file = join(dir, `${label}-${name}.yml`);
    writeFileSync(file, `repository: ${url}\nsources:\n  - name: db-${name}\n    sqlite: ${join(dir, name, "bot.db")}\n`);
    return file;
  });
  const results = await Promise.all(configs.map((c) => runCli(["backup", "-c", c, "--json"], { env })));
  for (const r of results) assert.equal(r.code, 0, `${label}: both backups land: ${r.stderr}`);
  const ids = results.map((r) => JSON.parse(r.stdout).id as string);
  const list = cairn(["snapshots", "-r", url, "--json"], { env });
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual(JSON.parse(list.stdout).map((s: { id: string }) => s.id).sort(), [...ids].sort(), `${label}: both snapshots are in the repository`);
  for (const [i, name] of ["a", "b"].entries()) {
    const target = join(dir, `${label}-restored-${name}`);
    const r = cairn(["restore", ids[i], "-r", url, "-i", identity(), "--target", target]);
    assert.equal(r.code, 0, r.stderr);
    const got = execFileSync("sqlite3", [join(target, `db-${name}.sqlite`), "SELECT count(*), sum(length(x)) FROM t WHERE x LIKE '" + name + "%'"]).toString().trim();
    const want = execFileSync("sqlite3", [join(dir, name, "bot.db"), "SELECT count(*), sum(length(x)) FROM t WHERE x LIKE '" + name + "%'"]).toString().trim();
    assert.equal(got, want, `${label}: snapshot ${name} restores equal`);
  }
  const v = cairn(["verify", "-r", url, "-i", identity(), "--read-data", "--json"]);
  assert.equal(v.code, 0, v.stdout + v.stderr);
}

test("two backups started together into one git remote both land and both restore", async () => {
  const remote = join(dir, "remote.git");
  execFileSync("git", ["init", "--bare", "-q", remote]);
  await race(`git:${remote}`, "git");
  // One commit per backup on top of init's, in a line: nothing was forced over.
  const log = execFileSync("git", ["--git-dir", remote, "log", "--format=%H %P", "cairn"]).toString().trim().split("\n");
  assert.equal(log.length, 3, log.join("\n"));
  for (const line of log.slice(0, -1)) assert.equal(line.split(" ").length, 2, "each commit has one parent");
});

test("RECOVERY.md's git-to-folder steps make a folder that restores as a local: repository", () => {
  const doc = readFileSync(new URL("../../RECOVERY.md", import.meta.url), "utf8");
  const script = /<!-- git-to-folder -->\n```sh\n([\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(script, "RECOVERY.md has the git-to-folder script");
  const folder = join(dir, "recovered");
  execFileSync("sh", ["-c", script], { env: { ...process.env, URL: join(dir, "remote.git"), BRANCH: "cairn", REPO: folder } });
  const target = join(dir, "recovered-out");
  const r = cairn(["restore", "latest", "-r", `local:${folder}`, "-i", identity(), "--target", target]);
  assert.equal(r.code, 0, r.stderr);
  const v = cairn(["verify", "-r", `local:${folder}`, "-i", identity(), "--read-data", "--json"]);
  assert.equal(v.code, 0, v.stdout + v.stderr);
});

test("two backups started together into one local folder both land and both restore", async () => {
  await race(`local:${join(dir, "local-repo")}`, "local");
});
