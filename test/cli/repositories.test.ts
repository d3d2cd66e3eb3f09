// Several repositories in one run (3-2-1): each gets a complete snapshot; one
// that fails does not stop the others, and the output and the exit code (5)
// say exactly which failed.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { cairn } from "../helpers/cli.ts";
import { makeRepo, type TempRepo } from "../helpers/repo.ts";

let r: TempRepo;
before(async () => {
  r = await makeRepo();
  writeFileSync(join(r.dir, "a.conf"), "a = 1\n");
});
after(() => r?.cleanup());

test("a backup into three repositories, one unreachable: the other two get complete snapshots; exit 5 names the failed one", () => {
  // A second repository made with the same identity (a local one and a git one).
  const remote = join(r.dir, "remote.git");
  execFileSync("git", ["init", "--bare", "-q", remote]);
  const git = `git:${remote}`;
  const init = cairn(["init", "-r", git, "-i", r.identityFile]);
  assert.equal(init.code, 0, init.stderr);
  const missing = `local:${join(r.dir, "nowhere")}`;
  writeFileSync(join(r.dir, "cairn.yml"), `repository:\n  - ${r.repoUrl}\n  - ${missing}\n  - ${git}\nsources:\n  - name: settings\n    files: [${join(r.dir, "a.conf")}]\n`);
  // Each repository has its own write key: the identity opens both.
  const b = cairn(["backup", "-c", join(r.dir, "cairn.yml"), "-i", r.identityFile, "--json"]);
  assert.equal(b.code, 5, b.stderr);
  const out = JSON.parse(b.stdout);
  assert.deepEqual(out.repositories.map((x: { repository: string; id: string | null }) => [x.repository, x.id !== null]), [[r.repoUrl, true], [missing, false], [git, true]]);
  assert.equal(out.repositories[1].error.code, 10);
  const err = JSON.parse(b.stderr.trim().split("\n").pop()!).error;
  assert.equal(err.code, 5);
  assert.match(err.message, /failed in 1 of 3 repositories/);
  assert.ok(err.message.includes(`${missing}: no cairn repository`), err.message);
  for (const url of [r.repoUrl, git]) {
    const target = join(r.dir, `restored-${url.slice(0, 3)}`);
    const rs = cairn(["restore", "latest", "-r", url, "-i", r.identityFile, "--target", target]);
    assert.equal(rs.code, 0, rs.stderr);
  }
  // -r repeated overrides cairn.yml; every one failing keeps the first failure's exit code.
  const all = cairn(["backup", "-c", join(r.dir, "cairn.yml"), "-r", missing, "-r", `local:${join(r.dir, "also-nowhere")}`, "-i", r.identityFile]);
  assert.equal(all.code, 10, all.stderr);
  assert.match(all.stderr, /failed in every repository/);
});
