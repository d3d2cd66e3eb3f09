// A repository of format version 1 (test/fixtures/format-1, frozen) is
// refused, by the identity and by the write key alike, with a message that
// names its format and says what to do: format 1 could not tell a repository
// built by someone else for the owner's recipient from the owner's own.
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { FORMAT_VERSION } from "../../src/engine/repository/repository.ts";
import { cairn } from "../helpers/cli.ts";

const fixture = new URL("../fixtures/format-1/", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "cairn-format-1-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("a format 1 repository is refused with a message naming format 1 and a hint, by the identity and the write key", () => {
  assert.equal(FORMAT_VERSION, 2);
  const repo = join(dir, "repo");
  cpSync(join(fixture, "repo"), repo, { recursive: true });
  const target = join(dir, "restored");
  const r = cairn(["restore", "latest", "-r", `local:${repo}`, "-i", join(fixture, "identity.txt"), "--target", target]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /format version 1\b.*format version 2 only/);
  assert.match(r.stderr, /hint: /);
  assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");

  // The format 1 write key is named as such, before the repository is even read.
  const writeKey = readFileSync(join(fixture, "writekey.txt"), "utf8").replace(/^CAIRN_WRITE_KEY=/, "").trim();
  const s = cairn(["snapshots", "-r", `local:${repo}`], { env: { CAIRN_WRITE_KEY: writeKey } });
  assert.equal(s.code, 2, s.stderr);
  assert.match(s.stderr, /format version 1\b/);
  assert.match(s.stderr, /hint: /);
});
