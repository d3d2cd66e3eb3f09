// RECOVERY.md, followed literally: its shell blocks run with the real age,
// zstd and POSIX tools, and must give back the snapshot's files.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { cairn } from "../helpers/cli.ts";
import { makeFixture } from "../helpers/fixture.ts";

const dir = mkdtempSync(join(tmpdir(), "cairn-recovery-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const doc = readFileSync(new URL("../../RECOVERY.md", import.meta.url), "utf8");
const blocks = [...doc.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]);
const script = /<!-- recovery-script -->\n```sh\n([\s\S]*?)```/.exec(doc)?.[1];

test("RECOVERY.md restores the latest snapshot with only age, zstd and POSIX tools", () => {
  assert.ok(script, "RECOVERY.md has a marked recovery script");
  const f = makeFixture(dir);
  assert.equal(cairn(["backup", "-c", f.config], { env: f.env }).code, 0);
  // A few pages change and new ones are added: the second snapshot stores the
  // database's chunk list as its first list file plus changed and appended runs.
  execFileSync("sqlite3", [f.db, "UPDATE deals SET price = price * 2 WHERE id % 3000 = 0; INSERT INTO deals SELECT id + 100000, price, note FROM deals WHERE id <= 2000"]);
  const second = cairn(["backup", "-c", f.config, "--json"], { env: f.env });
  assert.equal(second.code, 0, second.stderr);
  const latest = JSON.parse(second.stdout).id;
  const snapshotText = execFileSync("sh", ["-c", `age -d -i "$KEY" "$REPO/snapshots/${latest}" | zstd -dq`], { env: { ...process.env, REPO: f.repo, KEY: f.key } }).toString();
  assert.match(snapshotText, /"chunks":\{"base":"[0-9a-f]{64}","count":\d+,"changes":\[\[\d+,"[0-9a-f]{64}"/, "the database entry refers to a list file with changes");

  // Step 1 lists snapshots with their times; the newest sorts last.
  const listed = execFileSync("sh", ["-c", blocks[0]], { env: { ...process.env, REPO: f.repo, KEY: f.key } }).toString().trim().split("\n");
  assert.equal(listed.length, 2);
  assert.equal(listed.at(-1)!.split(/\s+/)[0], latest);

  const out = join(dir, "out");
  execFileSync("sh", ["-c", script!], { env: { ...process.env, REPO: f.repo, KEY: f.key, SNAP: latest, OUT: out }, stdio: "pipe" });
  const restored = join(out, "trading-db.sqlite");
  assert.equal(execFileSync("sqlite3", [restored, "PRAGMA integrity_check"]).toString().trim(), "ok");
  assert.equal(execFileSync("sqlite3", [restored, ".sha3sum"]).toString(), execFileSync("sqlite3", [f.db, ".sha3sum"]).toString());
  assert.equal(readFileSync(join(out, "settings", dir.slice(1), "srv", "config", "config.json"), "utf8"), '{"pair":"ETHUSDT"}\n');
  assert.equal(readFileSync(join(out, "settings", dir.slice(1), "srv", "config", "it's here; rm -rf x #.json"), "utf8"), "odd name\n");
});
