// RECOVERY.md, followed literally: its shell blocks run with the real age,
// zstd and POSIX tools, and must give back the snapshot's files.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { zstdCompressSync } from "node:zlib";
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

const checkBlock = /<!-- check-snapshot -->\n```sh\n([\s\S]*?)```/.exec(doc)?.[1];

test("RECOVERY.md's script refuses IDs that are not 64 hex digits and writes nothing outside its folder; its MAC check tells a forged snapshot", () => {
  assert.ok(script && checkBlock);
  const d = join(dir, "forged");
  const f = makeFixture(d, 300);
  const b = cairn(["backup", "-c", f.config, "--json"], { env: f.env });
  assert.equal(b.code, 0, b.stderr);
  const snap = JSON.parse(b.stdout).id;
  const env = { ...process.env, REPO: f.repo, KEY: f.key, SNAP: snap };
  // The MAC check passes on the real snapshot.
  assert.equal(execFileSync("sh", ["-c", checkBlock!], { env, cwd: d }).toString().trim(), "ok");

  // Anyone who knows the recipient plants files that age decrypts: an index
  // that sorts first and names a pack "../../<name>", and a snapshot.
  const escape = `cairn-escape-${randomBytes(6).toString("hex")}`;
  const text = execFileSync("sh", ["-c", `age -d -i "$KEY" "$REPO/snapshots/$SNAP" | zstd -dq`], { env }).toString();
  const chunk = /"chunks":\["([0-9a-f]{64})"/.exec(text)![1];
  const plant = (json: string, path: string) => {
    const frame = Buffer.alloc(40);
    frame.writeUInt32LE(0x184d2a50, 0);
    frame.writeUInt32LE(32, 4);
    const plain = Buffer.concat([frame, zstdCompressSync(Buffer.from(json))]);
    writeFileSync(path, execFileSync("age", ["-r", f.recipient], { input: plain }));
  };
  plant(`{"version":1,"packs":[\n{"id":"../../${escape}","size":1,"chunks":[\n["${chunk}",0,10,10,0]]}]}\n`, join(f.repo, "index", "0".repeat(64)));
  const out = join(d, "out");
  const r = spawnSync("sh", ["-c", script!], { env: { ...env, OUT: out } });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr.toString(), /bad pack ID: \.\.\/\.\.\/cairn-escape/);
  assert.equal(existsSync(join(tmpdir(), escape)), false, "nothing written outside");
  assert.equal(spawnSync("sh", ["-c", script!], { env: { ...env, SNAP: "../x", OUT: out } }).status, 1);

  const forged = join(f.repo, "snapshots", "f".repeat(64));
  plant(text.replace(/"host":"[^"]*"/, '"host":"attacker"'), forged);
  const check = spawnSync("sh", ["-c", checkBlock!], { env: { ...env, SNAP: "f".repeat(64) }, cwd: d });
  assert.notEqual(check.status, 0);
  assert.match(check.stderr.toString(), /the snapshot's MAC fails/);
});
