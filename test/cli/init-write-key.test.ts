// `cairn init --write-key-file FILE`: a copy of the write key's repository
// (its config travels in the key), e.g. one only the Action can write, made
// without the identity and without printing any key.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { cairn } from "../helpers/cli.ts";
import { makeRepo } from "../helpers/repo.ts";

test("init --write-key-file makes a copy the same write key and the owner's identity open, and prints no key", async () => {
  const repo = await makeRepo();
  try {
    const file = join(repo.dir, "write-key");
    writeFileSync(file, `CAIRN_WRITE_KEY=${repo.writeKey}\n`, { mode: 0o600 });
    const second = `local:${join(repo.dir, "second")}`;
    const r = cairn(["init", "-r", second, "--write-key-file", file]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes("CAIRN-WRITE-KEY") && !r.stderr.includes(repo.writeKey), "no key printed");
    assert.match(r.stderr, /with the write key in/);
    assert.equal(readFileSync(join(repo.dir, "second", "config"), "utf8"), readFileSync(join(repo.repoPath, "config"), "utf8"), "the same config");
    const list = cairn(["snapshots", "-r", second], { env: { CAIRN_WRITE_KEY: repo.writeKey } });
    assert.equal(list.code, 0, list.stderr);
    // The owner's identity accepts the copy: its config carries the owner's MAC.
    const owner = cairn(["snapshots", "-r", second, "-i", repo.identityFile]);
    assert.equal(owner.code, 0, owner.stderr);
    // A recipient the write key's repository does not have is refused: a copy keeps its recipients.
    const other = cairn(["init", "-r", `local:${join(repo.dir, "other")}`, "--write-key-file", file, "--recipient", "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"]);
    assert.equal(other.code, 2, other.stderr);
    assert.match(other.stderr, /keeps its recipients|key add/);
    // Without the flag, a CAIRN_WRITE_KEY in the environment is not reused: a new repository and key.
    const third = cairn(["init", "-r", `local:${join(repo.dir, "third")}`, "-i", repo.identityFile], { env: { CAIRN_WRITE_KEY: repo.writeKey } });
    assert.equal(third.code, 0, third.stderr);
    assert.match(third.stdout, /^CAIRN_WRITE_KEY=CAIRN-WRITE-KEY-1/m);
    assert.ok(!third.stdout.includes(repo.writeKey));
    // Not a write key: refused, naming what it expected.
    writeFileSync(file, "hello\n");
    const bad = cairn(["init", "-r", `local:${join(repo.dir, "fourth")}`, "--write-key-file", file]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /CAIRN-WRITE-KEY-1/);
  } finally {
    await repo.cleanup();
  }
});
