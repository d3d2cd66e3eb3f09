// Nothing is overwritten silently: export refuses an existing output unless
// --force, restore refuses to replace existing files unless --overwrite and
// names them, before writing anything. Restored folders get ordinary modes
// (755 less the umask), not 700.
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { cairn } from "../helpers/cli.ts";
import { makeRepo, type TempRepo } from "../helpers/repo.ts";

let repo: TempRepo;
/** Where the source's files restore, under a target. */
let under: (target: string) => string;

before(async () => {
  repo = await makeRepo();
  const srv = join(repo.dir, "srv", "conf");
  mkdirSync(srv, { recursive: true });
  writeFileSync(join(srv, "a.json"), '{"a":1}\n');
  writeFileSync(join(srv, "b.json"), '{"b":2}\n');
  writeFileSync(join(repo.dir, "cairn.yml"), `repository: ${repo.repoUrl}\nsources:\n  - { name: settings, files: [${srv}/*.json] }\n`);
  const b = cairn(["backup", "-c", join(repo.dir, "cairn.yml")], { env: { CAIRN_WRITE_KEY: repo.writeKey } });
  assert.equal(b.code, 0, b.stderr);
  under = (target) => join(target, "settings", srv.slice(1));
});
after(() => repo.cleanup());

const restore = (target: string, ...more: string[]) => cairn(["restore", "latest", "-r", repo.repoUrl, "-i", repo.identityFile, "--target", target, ...more]);
const exportTo = (out: string, ...more: string[]) => cairn(["export", "latest", "-r", repo.repoUrl, "-i", repo.identityFile, "-o", out, ...more]);

test("export over an existing file is refused (2) and leaves it; --force replaces it", () => {
  const out = join(repo.dir, "snap.tar.zst.age");
  writeFileSync(out, "an earlier export, 25 MB in real life\n");
  const r = exportTo(out);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /snap\.tar\.zst\.age exists; not overwriting it/);
  assert.match(r.stderr, /hint: pass --force/);
  assert.equal(readFileSync(out, "utf8"), "an earlier export, 25 MB in real life\n");
  assert.deepEqual(readdirSync(repo.dir).filter((f) => f.includes("cairn-export")), [], "no temp file");
  const f = exportTo(out, "--force");
  assert.equal(f.code, 0, f.stderr);
  assert.equal(readFileSync(out).subarray(0, 21).toString(), "age-encryption.org/v1");
});

test("restore into a folder holding some of the files is refused (2), naming them, and writes nothing; --overwrite replaces them", () => {
  const target = join(repo.dir, "restore-over");
  mkdirSync(under(target), { recursive: true });
  writeFileSync(join(under(target), "a.json"), "local edit\n");
  writeFileSync(join(target, "unrelated.txt"), "mine\n");
  const r = restore(target);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /would overwrite 1 existing file\(s\): .*conf\/a\.json/);
  assert.match(r.stderr, /hint: pass --overwrite/);
  assert.equal(readFileSync(join(under(target), "a.json"), "utf8"), "local edit\n");
  assert.deepEqual(readdirSync(under(target)), ["a.json"], "nothing else was written");
  const o = restore(target, "--overwrite");
  assert.equal(o.code, 0, o.stderr);
  assert.equal(readFileSync(join(under(target), "a.json"), "utf8"), '{"a":1}\n');
  assert.equal(readFileSync(join(under(target), "b.json"), "utf8"), '{"b":2}\n');
  assert.equal(readFileSync(join(target, "unrelated.txt"), "utf8"), "mine\n", "files the snapshot does not hold are left alone");
});

test("restore into a non-empty folder with nothing in the way goes ahead", () => {
  const target = join(repo.dir, "restore-beside");
  mkdirSync(target);
  writeFileSync(join(target, "notes.txt"), "mine\n");
  const r = restore(target);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(readFileSync(join(under(target), "b.json"), "utf8"), '{"b":2}\n');
});

test("restored folders get 755 less the umask (here 022 and 027), not 700", () => {
  for (const [umask, mode] of [
    ["022", 0o755],
    ["027", 0o750],
  ] as const) {
    const target = join(repo.dir, `modes-${umask}`);
    const r = cairn(["restore", "latest", "-r", repo.repoUrl, "-i", repo.identityFile, "--target", target], { umask: Number.parseInt(umask, 8) });
    assert.equal(r.code, 0, r.stderr);
    for (const dir of [target, join(target, "settings"), under(target)]) assert.equal(statSync(dir).mode & 0o777, mode, `${dir} with umask ${umask}`);
  }
});
