// FORMAT.md: forget records what it removes (forgotten/, sealed and MACed), so
// the snapshot chain check does not call a forgotten snapshot deleted; storage
// alone cannot forge such a record to hide a deletion. Tried as an attacker
// with write access to the storage and no key would.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { cairn } from "../../helpers/cli.ts";
import { makeRepo } from "../../helpers/repo.ts";

test("a forgotten snapshot is no gap; a deletion hidden behind a planted forgotten record still is", async () => {
  const repo = await makeRepo();
  try {
    const env = { CAIRN_WRITE_KEY: repo.writeKey };
    const cfg = join(repo.dir, "cairn.yml");
    const file = join(repo.dir, "notes.txt");
    writeFileSync(cfg, `repository: ${repo.repoUrl}\nsources:\n  - { name: notes, files: [${file}] }\n`);
    const ids: string[] = [];
    for (let day = 1; day <= 4; day++) {
      writeFileSync(file, `day ${day}\n`);
      const b = cairn(["backup", "-c", cfg, "--time", `2026-01-0${day}T10:00:00Z`, "--json"], { env });
      assert.equal(b.code, 0, b.stderr);
      ids.push(JSON.parse(b.stdout).id);
    }
    // An honest forget: the two oldest go, and verify finds nothing wrong.
    const f = cairn(["forget", "-c", cfg, "--keep-last", "2"], { env });
    assert.equal(f.code, 0, f.stderr);
    assert.equal(readdirSync(join(repo.repoPath, "forgotten")).length, 1, "forget left its record");
    const ok = cairn(["verify", "-c", cfg, "-i", repo.identityFile], { env });
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.doesNotMatch(ok.stdout + ok.stderr, /was deleted/);

    // The attacker deletes day 3 (day 4's parent) and plants a record naming it:
    // plain JSON named by its SHA-256, as a real record is named.
    rmSync(join(repo.repoPath, "snapshots", ids[2]));
    const plain = Buffer.from(JSON.stringify({ version: 1, time: new Date().toISOString(), snapshots: [ids[2]] }) + "\n");
    const dir = join(repo.repoPath, "forgotten");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, createHash("sha256").update(plain).digest("hex")), plain);
    const v = cairn(["verify", "-c", cfg, "-i", repo.identityFile], { env });
    assert.equal(v.code, 3, v.stdout + v.stderr);
    assert.match(v.stdout + v.stderr, new RegExp(`follows snapshot ${ids[2]}, which is not in the repository: a snapshot was deleted`));
    const s = cairn(["snapshots", "-c", cfg], { env });
    assert.match(s.stderr, /a snapshot was deleted/);
  } finally {
    await repo.cleanup();
  }
});
