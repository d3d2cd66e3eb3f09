// Failures a user can act on: every wrong path (repository, config, identity,
// write key, restore target, export output) gets a plain message, a hint and
// the documented exit code, never a stack trace; --json turns a failure into
// one JSON object on stderr; --debug adds the trace; anything unexpected is
// said to be a bug.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { failure } from "../../src/cli/failure.ts";
import { ExitCode } from "../../src/errors.ts";
import { cairn, type CliResult } from "../helpers/cli.ts";
import { makeRepo, type TempRepo } from "../helpers/repo.ts";

let repo: TempRepo;
let file: string;
before(async () => {
  repo = await makeRepo();
  file = join(repo.dir, "a-file");
  writeFileSync(file, "not a folder\n");
  writeFileSync(join(repo.dir, "cairn.yml"), `repository: ${repo.repoUrl}\nsources:\n  - { name: notes, files: [${file}] }\n`);
  const b = cairn(["backup", "-c", join(repo.dir, "cairn.yml")], { env: { CAIRN_WRITE_KEY: repo.writeKey } });
  assert.equal(b.code, 0, b.stderr);
});
after(() => repo.cleanup());

const STACK = /^\s+at /m;

/** Exit `code`, a `cairn: ...` line matching `message`, a hint, and no stack trace. */
function plain(r: CliResult & { code: number }, code: number, message: RegExp): void {
  assert.equal(r.code, code, r.stderr);
  assert.doesNotMatch(r.stderr, STACK, r.stderr);
  assert.match(r.stderr, /^cairn: /m, r.stderr);
  assert.match(r.stderr, message);
  assert.match(r.stderr, /^hint: \S/m, r.stderr);
}

test("a repository path inside a file is 'no repository' (10), in words", () => {
  plain(cairn(["snapshots", "-r", `local:${file}/repo`], { env: { CAIRN_WRITE_KEY: repo.writeKey } }), 10, /no cairn repository at local:.*a-file\/repo/);
  plain(cairn(["snapshots", "-r", `local:${file}`], { env: { CAIRN_WRITE_KEY: repo.writeKey } }), 10, /no cairn repository/);
  plain(cairn(["verify", "-r", `local:${file}`, "-i", repo.identityFile]), 10, /no cairn repository/);
});

test("init where a file is in the way is a usage error (2) that says so", () => {
  plain(cairn(["init", "-r", `local:${file}/repo`, "-i", repo.identityFile]), 2, /cannot create a repository at local:.*: a part of the path is a file, not a folder/);
});

test("a missing or wrong config, identity or write key file: 2, naming the file", () => {
  plain(cairn(["backup", "-c", join(repo.dir, "nope.yml")]), 2, /cannot read the config file .*nope\.yml: it does not exist/);
  plain(cairn(["backup", "-c", repo.dir]), 2, /cannot read the config file .*: it is a folder, not a file/);
  plain(cairn(["restore", "latest", "-r", repo.repoUrl, "-i", join(repo.dir, "nokey.txt"), "--target", join(repo.dir, "t")]), 2, /cannot read identity file .*nokey\.txt: it does not exist/);
  plain(cairn(["snapshots", "-r", repo.repoUrl, "--write-key-file", join(repo.dir, "nowk")]), 2, /cannot read write key file .*nowk: it does not exist/);
});

test("no key at all is a usage error (2); the write key where the identity is needed is the wrong key (12)", () => {
  plain(cairn(["backup", "-c", join(repo.dir, "cairn.yml")]), 2, /no key given/);
  plain(cairn(["snapshots", "-r", repo.repoUrl]), 2, /no key given/);
  plain(cairn(["restore", "latest", "-r", repo.repoUrl, "--target", join(repo.dir, "t")]), 2, /needs the age identity; none was given/);
  plain(cairn(["restore", "latest", "-r", repo.repoUrl, "--target", join(repo.dir, "t")], { env: { CAIRN_WRITE_KEY: repo.writeKey } }), 12, /the write key cannot read it/);
});

test("a restore target that is a file, an export output or identity file in a missing folder or on a folder: 2", () => {
  plain(cairn(["keygen", "-o", join(repo.dir, "no", "such", "key.txt")]), 2, /cannot write the identity to .*key\.txt: it does not exist/);
  plain(cairn(["restore", "latest", "-r", repo.repoUrl, "-i", repo.identityFile, "--target", file]), 2, /cannot restore into .*a-file: it already exists/);
  plain(cairn(["restore", "latest", "-r", repo.repoUrl, "-i", repo.identityFile, "--target", join(file, "sub")]), 2, /a part of the path is a file/);
  plain(cairn(["export", "latest", "-r", repo.repoUrl, "-i", repo.identityFile, "-o", join(repo.dir, "no", "such", "x.age")]), 2, /cannot write .*x\.age: it does not exist/);
  mkdirSync(join(repo.dir, "a-folder"));
  plain(cairn(["export", "latest", "-r", repo.repoUrl, "-i", repo.identityFile, "-o", join(repo.dir, "a-folder")]), 2, /cannot write .*a-folder: it is a folder/);
});

test("--json: a failure is one JSON object on stderr with code, message and hint; stdout is empty", () => {
  const cases = [
    cairn(["snapshots", "-r", `local:${file}/repo`, "--json"], { env: { CAIRN_WRITE_KEY: repo.writeKey } }),
    cairn(["backup", "-c", join(repo.dir, "nope.yml"), "--json"]),
    cairn(["restore", "latest", "--json"]), // commander's own error: a required option is missing
    cairn(["frobnicate", "--json"]),
  ];
  for (const r of cases) {
    assert.equal(r.stdout, "");
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    const o = JSON.parse(lines[0]);
    assert.deepEqual(Object.keys(o), ["error"]);
    assert.deepEqual(Object.keys(o.error), ["code", "message", "hint"]);
    assert.equal(o.error.code, r.code);
    assert.equal(typeof o.error.message, "string");
    assert.equal(typeof o.error.hint, "string");
  }
  assert.deepEqual(cases.map((r) => r.code), [10, 2, 2, 2]);
  assert.match(JSON.parse(cases[2].stderr).error.message, /--target/);
});

test("--debug adds the stack trace; without it there is none", () => {
  const args = ["backup", "-c", join(repo.dir, "nope.yml")];
  assert.doesNotMatch(cairn(args).stderr, STACK);
  const d = cairn([...args, "--debug"]);
  assert.equal(d.code, 2);
  assert.match(d.stderr, /^cairn: cannot read the config file/m);
  assert.match(d.stderr, /ENOENT/);
  assert.match(d.stderr, STACK);
});

test("an error cairn did not expect is called a bug, with where to look; an OS error is put in words", () => {
  const bug = failure(new TypeError("Cannot read properties of undefined (reading 'x')"));
  assert.equal(bug.exitCode, ExitCode.runtime);
  assert.match(bug.message, /^unexpected error: Cannot read properties/);
  assert.match(bug.hint!, /this is a bug, please report it.*--debug/);
  const os = failure(Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC", syscall: "write", path: "/srv/backups/x" }));
  assert.equal(os.message, "cannot write /srv/backups/x: no space left on the device");
  assert.match(os.hint!, /free some space/);
  const cancelled = new AbortController();
  cancelled.abort(new Error("any"));
  assert.equal(failure(new Error("the SSH connection was lost"), cancelled.signal).exitCode, ExitCode.cancelled);
});
