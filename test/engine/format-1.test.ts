// A repository of format version 1 (test/fixtures/format-1, frozen): this
// cairn reads it and restores it exactly, or, once the format has moved on,
// refuses it with a message that names its format and says what to do.
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { FORMAT_VERSION } from "../../src/engine/repository/repository.ts";
import { cairn } from "../helpers/cli.ts";
import { sha256, sqliteContentHash, treeHashes } from "../helpers/repo.ts";

const fixture = new URL("../fixtures/format-1/", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "cairn-format-1-"));
after(() => rmSync(dir, { recursive: true, force: true }));

test("a format 1 repository restores exactly, or is refused with a message naming format 1", async () => {
  // A copy: reading takes a lock, which writes into the repository.
  const repo = join(dir, "repo");
  cpSync(join(fixture, "repo"), repo, { recursive: true });
  const target = join(dir, "restored");
  const r = cairn(["restore", "latest", "-r", `local:${repo}`, "-i", join(fixture, "identity.txt"), "--target", target]);
  if (FORMAT_VERSION === 1) {
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await sqliteContentHash(join(target, "trading-db.sqlite")), await sqliteContentHash(join(fixture, "src", "bot.db")));
    // Files restore under the absolute path they had where the fixture was made.
    const restored = [...(await treeHashes(target))].filter(([p]) => p.startsWith("settings/"));
    assert.equal(restored.length, 2);
    for (const f of ["config.json", ".env"]) {
      const hit = restored.find(([p]) => p.endsWith(`/format-1/src/config/${f}`));
      assert.equal(hit?.[1], sha256(readFileSync(join(fixture, "src", "config", f))), f);
    }
    const v = cairn(["verify", "-r", `local:${repo}`, "-i", join(fixture, "identity.txt"), "--read-data"]);
    assert.equal(v.code, 0, v.stdout + v.stderr);
  } else {
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /format (version )?1\b/);
    assert.match(r.stderr, /hint: /);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  }
});
