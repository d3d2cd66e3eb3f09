// Restore reads each pack once and writes chunks at their offsets from worker
// threads, in batches of open files: many files (more than one batch), empty
// files, files sharing chunks, and a file whose chunks sit in several packs
// all come back byte for byte, each with its mode. A large database's chunk
// list lives in a list file, and later snapshots store only its changes.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, readdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { runCli } from "../helpers/cli.ts";
import { flipByte, makeRepo, sqlite, sqliteContentHash, treeHashes, writeConfig, type TempRepo } from "../helpers/repo.ts";

let r: TempRepo;
before(async () => {
  r = await makeRepo({ packSize: "1MiB" });
});
after(async () => r.cleanup());

test("300 files (over one batch of open files), empty and repeated ones, and a 3 MiB file across packs restore byte for byte", async () => {
  const src = join(r.dir, "src");
  await mkdir(join(src, "many"), { recursive: true });
  const shared = randomBytes(5000);
  for (let i = 0; i < 300; i++) {
    const body = i % 50 === 0 ? Buffer.alloc(0) : i % 7 === 0 ? shared : randomBytes(1 + ((i * 37) % 3000));
    await writeFile(join(src, "many", `f${String(i).padStart(3, "0")}.txt`), body, { mode: i % 2 ? 0o640 : 0o600 });
  }
  await writeFile(join(src, "big.bin"), Buffer.concat([randomBytes(2 << 20), Buffer.alloc(1 << 20, 7)]));
  const config = await writeConfig(r.dir, r.repoUrl, `  - name: files\n    files: ["${src}/many/*", "${src}/big.bin"]\n`);
  const b = await runCli(["backup", "-c", config, "--json"], { env: { CAIRN_WRITE_KEY: r.writeKey } });
  assert.equal(b.code, 0, b.stderr);
  const target = join(r.dir, "out");
  const res = await runCli(["restore", "-r", r.repoUrl, "-i", r.identityFile, "latest", "--target", target, "--json"]);
  assert.equal(res.code, 0, res.stderr);
  assert.equal(JSON.parse(res.stdout).files, 301);
  const want = await treeHashes(src);
  const got = await treeHashes(join(target, "files", src.slice(1)));
  assert.equal(got.size, 301);
  assert.deepEqual(got, want);
  assert.equal((await stat(join(target, "files", src.slice(1), "many", "f001.txt"))).mode & 0o777, 0o640);
  assert.equal((await stat(join(target, "files", src.slice(1), "many", "f002.txt"))).mode & 0o777, 0o600);
});

test("a large database's chunk list is a list file once, then only its changes; a new base once a quarter changed; every snapshot restores", async () => {
  const db = join(r.dir, "lists.db");
  await sqlite(db, "PRAGMA page_size=4096; CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB); WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<3000) INSERT INTO t SELECT x, randomblob(1000) FROM c;");
  const config = await writeConfig(r.dir, r.repoUrl, `  - name: db\n    sqlite: ${db}\n`, "lists.yml");
  const env = { CAIRN_WRITE_KEY: r.writeKey };
  const steps = [
    "", // first backup: a new list file
    "UPDATE t SET v = randomblob(1000) WHERE id IN (5, 1500); INSERT INTO t(v) SELECT randomblob(1000) FROM t LIMIT 20;", // a few pages changed, some added
    "UPDATE t SET v = randomblob(1000) WHERE id % 2 = 0;", // half the pages: a new base
  ];
  const runs: { id: string; hash: string; lists: number; snapshotBytes: number }[] = [];
  for (const sql of steps) {
    if (sql) await sqlite(db, sql);
    const b = await runCli(["backup", "-c", config, "--json"], { env });
    assert.equal(b.code, 0, b.stderr);
    const id = JSON.parse(b.stdout).id;
    runs.push({ id, hash: await sqliteContentHash(db), lists: (await readdir(join(r.repoPath, "lists"))).length, snapshotBytes: (await stat(join(r.repoPath, "snapshots", id))).size });
  }
  const baseLists = runs[0].lists;
  assert.equal(runs[1].lists, baseLists, "a few changed pages: no new list file");
  const [listName] = await readdir(join(r.repoPath, "lists"));
  const listBytes = (await stat(join(r.repoPath, "lists", listName))).size;
  assert.ok(runs[1].snapshotBytes * 10 < listBytes, `the second snapshot holds only changes (${runs[1].snapshotBytes} bytes; the whole list is ${listBytes})`);
  assert.equal(runs[2].lists, baseLists + 1, "half the pages changed: a new base list");
  for (const run of runs) {
    const target = join(r.dir, "lists-out", run.id);
    const res = await runCli(["restore", "-r", r.repoUrl, "-i", r.identityFile, run.id, "--target", target, "--source", "db"]);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(await sqliteContentHash(join(target, "db.sqlite")), run.hash, `snapshot ${run.id} restores its own state`);
  }
  const v = await runCli(["verify", "-r", r.repoUrl, "-i", r.identityFile, "--read-data"]);
  assert.equal(v.code, 0, v.stdout + v.stderr);

  // A damaged base list does not stop the next backup: a warning, and a new base.
  const latest = await loadRepoSnapshotRef(runs[2].id);
  await flipByte(join(r.repoPath, "lists", latest), (n) => n - 20);
  await sqlite(db, "UPDATE t SET v = randomblob(1000) WHERE id = 7;");
  const b = await runCli(["backup", "-c", config, "--json"], { env });
  assert.equal(b.code, 0, b.stderr);
  assert.match(b.stderr, /list [0-9a-f]{64} is unreadable .*written in full; run `cairn verify`/);
  assert.equal((await readdir(join(r.repoPath, "lists"))).length, baseLists + 2);
  const target = join(r.dir, "lists-out", "after-damage");
  const res = await runCli(["restore", "-r", r.repoUrl, "-i", r.identityFile, JSON.parse(b.stdout).id, "--target", target, "--source", "db"]);
  assert.equal(res.code, 0, res.stderr);
  assert.equal(await sqliteContentHash(join(target, "db.sqlite")), await sqliteContentHash(db));
  const broken = await runCli(["verify", "-r", r.repoUrl], { env });
  assert.equal(broken.code, 3, "verify names the damaged list");
  assert.match(broken.stdout + broken.stderr, new RegExp(`list ${latest}`));
});

/** The base list a snapshot's database entry refers to (read with age and zstd, as RECOVERY.md does). */
async function loadRepoSnapshotRef(id: string): Promise<string> {
  const text = execFileSync("sh", ["-c", `age -d -i "$KEY" "$REPO/snapshots/${id}" | zstd -dq`], { env: { ...process.env, KEY: r.identityFile, REPO: r.repoPath } }).toString();
  return /"base":"([0-9a-f]{64})"/.exec(text)![1];
}
