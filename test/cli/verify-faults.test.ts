// verify finds each planted fault and exits 3 naming it: a missing pack, a
// flipped byte, a truncated file, a dangling reference (a list file a
// snapshot needs, removed), a newest snapshot older than --max-age. And
// --read-data n/t reads a deterministic slice: the t slices cover every pack once.
import assert from "node:assert/strict";
import { cpSync, readdirSync, rmSync, statSync, truncateSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { cairn } from "../helpers/cli.ts";
import { flipByte, makeRepo, makeSqlite, writeConfig, type TempRepo } from "../helpers/repo.ts";

let repo: TempRepo;
let n = 0;

before(async () => {
  repo = await makeRepo({ packSize: "256KiB" });
  // ~600 pages: the database's chunk list goes to a list file.
  await makeSqlite(join(repo.dir, "bot.db"), 600, 4000);
  const config = await writeConfig(repo.dir, repo.repoUrl, `  - { name: db, files: [${join(repo.dir, "bot.db")}] }\n`);
  const b = cairn(["backup", "-c", config, "--time", new Date(Date.now() - 3 * 86400e3).toISOString().replace(/\.\d+Z$/, "Z")], { env: { CAIRN_WRITE_KEY: repo.writeKey } });
  assert.equal(b.code, 0, b.stderr);
});
after(() => repo.cleanup());

/** A copy of the repository to damage. */
function copy(): string {
  const path = join(repo.dir, `copy-${n++}`);
  cpSync(repo.repoPath, path, { recursive: true });
  return path;
}

function files(path: string, type: string): string[] {
  return readdirSync(join(path, type), { recursive: true, encoding: "utf8" }).filter((f) => statSync(join(path, type, f)).isFile());
}

function verify(path: string, ...args: string[]) {
  return cairn(["verify", "-r", `local:${path}`, "-i", repo.identityFile, ...args]);
}

test("the undamaged repository verifies, with every pack read", () => {
  const r = verify(repo.repoPath, "--read-data");
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /no problems found/);
});

test("a missing pack: exit 3 naming it (structure alone finds it)", () => {
  const path = copy();
  const pack = files(path, "packs")[0];
  rmSync(join(path, "packs", pack));
  const r = verify(path);
  assert.equal(r.code, 3, r.stdout + r.stderr);
  assert.match(r.stdout, new RegExp(`pack ${pack.split("/").pop()} .*is missing`));
});

test("a flipped byte in a pack: exit 3 with --read-data, naming the pack", async () => {
  const path = copy();
  const pack = files(path, "packs")[0];
  await flipByte(join(path, "packs", pack), (size) => size >> 1);
  const r = verify(path, "--read-data");
  assert.equal(r.code, 3, r.stdout + r.stderr);
  assert.match(r.stdout, new RegExp(`pack ${pack.split("/").pop()}: checksum mismatch`));
});

test("a truncated index file and a truncated pack: exit 3 naming each", () => {
  const path = copy();
  const index = files(path, "index")[0];
  truncateSync(join(path, "index", index), 100);
  const r = verify(path);
  assert.equal(r.code, 3, r.stdout + r.stderr);
  assert.match(r.stdout, new RegExp(`index ${index}: checksum mismatch`));
  const path2 = copy();
  const pack = files(path2, "packs")[0];
  truncateSync(join(path2, "packs", pack), 1000);
  const r2 = verify(path2);
  assert.equal(r2.code, 3, r2.stdout + r2.stderr);
  assert.match(r2.stdout, new RegExp(`pack ${pack.split("/").pop()} has 1000 bytes, the index says`));
});

test("a dangling reference (the list file a snapshot refers to is gone): exit 3 naming the snapshot", () => {
  const path = copy();
  const lists = files(path, "lists");
  assert.equal(lists.length, 1, "the database's chunk list is in a list file");
  rmSync(join(path, "lists", lists[0]));
  const r = verify(path);
  assert.equal(r.code, 3, r.stdout + r.stderr);
  assert.match(r.stdout, /error: snapshot \w+: list \w+ does not exist|error: snapshot \w+: .*list/);
});

test("--max-age: a newest snapshot older than the age fails with exit 3 saying backups stopped; a younger one passes", () => {
  const old = verify(repo.repoPath, "--max-age", "26h");
  assert.equal(old.code, 3, old.stdout + old.stderr);
  assert.match(old.stdout, /the newest snapshot is from .* \(3\.0 days ago\), older than --max-age 26h: backups have stopped/);
  const ok = verify(repo.repoPath, "--max-age", "4d");
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  const bad = verify(repo.repoPath, "--max-age", "soon");
  assert.equal(bad.code, 2);
});

test("--read-data n/t reads a deterministic slice; the t slices read every pack once", () => {
  const all = files(repo.repoPath, "packs").length;
  let read = 0;
  for (const slice of ["1/3", "2/3", "3/3"]) {
    const r = cairn(["verify", "-r", repo.repoUrl, "-i", repo.identityFile, "--read-data", slice, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    read += JSON.parse(r.stdout).packsRead;
  }
  assert.equal(read, all);
  const restic = cairn(["verify", "-r", repo.repoUrl, "--read-data-subset", "1/1", "--json"], { env: { CAIRN_WRITE_KEY: repo.writeKey } });
  assert.equal(restic.code, 0, restic.stderr);
  assert.equal(JSON.parse(restic.stdout).packsRead, all);
  assert.equal(cairn(["verify", "-r", repo.repoUrl, "-i", repo.identityFile, "--read-data", "4/3"]).code, 2);
});
