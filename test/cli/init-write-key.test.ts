// `cairn init --write-key-file FILE`: a second repository for the same write
// key (e.g. one the Action writes), made without printing any key.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { cairn } from "../helpers/cli.ts";
import { makeRepo } from "../helpers/repo.ts";

test("init --write-key-file makes a repository the same write key opens, and prints no key", async () => {
  const repo = await makeRepo();
  try {
    const file = join(repo.dir, "write-key");
    writeFileSync(file, `CAIRN_WRITE_KEY=${repo.writeKey}\n`, { mode: 0o600 });
    const second = `local:${join(repo.dir, "second")}`;
    const r = cairn(["init", "-r", second, "--recipient", repo.recipient, "--write-key-file", file]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes("CAIRN-WRITE-KEY") && !r.stderr.includes(repo.writeKey), "no key printed");
    assert.match(r.stderr, /with the write key in/);
    const list = cairn(["snapshots", "-r", second], { env: { CAIRN_WRITE_KEY: repo.writeKey } });
    assert.equal(list.code, 0, list.stderr);
    // Without the flag, a CAIRN_WRITE_KEY in the environment is not reused: a new key is printed.
    const third = cairn(["init", "-r", `local:${join(repo.dir, "third")}`, "--recipient", repo.recipient], { env: { CAIRN_WRITE_KEY: repo.writeKey } });
    assert.equal(third.code, 0, third.stderr);
    assert.match(third.stdout, /^CAIRN_WRITE_KEY=CAIRN-WRITE-KEY-1/m);
    assert.ok(!third.stdout.includes(repo.writeKey));
    // Not a write key: refused, naming what it expected.
    writeFileSync(file, "hello\n");
    const bad = cairn(["init", "-r", `local:${join(repo.dir, "fourth")}`, "--recipient", repo.recipient, "--write-key-file", file]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /CAIRN-WRITE-KEY-1/);
  } finally {
    await repo.cleanup();
  }
});
