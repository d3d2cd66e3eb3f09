// The whole path through the CLI with real sqlite3, age, zstd and tar:
// keygen, init, backup twice (the second stores only changes), snapshots,
// verify, restore, export, --full, and what the write key may and may not do.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { appendFileSync, chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { cairn } from "../helpers/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "cairn-cli-"));
const repoDir = join(dir, "repo");
const key = join(dir, "key.txt");
const db = join(dir, "srv", "data", "bot.db");
let env: Record<string, string>;
const sql = (q: string) => execFileSync("sqlite3", [db, q]).toString().trim();

function packs(): string[] {
  const root = join(repoDir, "packs");
  return readdirSync(root).flatMap((d) => readdirSync(join(root, d)));
}

before(() => {
  mkdirSync(join(dir, "srv", "data"), { recursive: true });
  mkdirSync(join(dir, "srv", "config"), { recursive: true });
  sql("PRAGMA journal_mode=WAL; CREATE TABLE orders(id INTEGER PRIMARY KEY, symbol TEXT, qty REAL, note TEXT);" +
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<60000) INSERT INTO orders SELECT x, 'BTCUSDT', x*0.5, hex(randomblob(60)) FROM c;");
  writeFileSync(join(dir, "srv", "config", "config.json"), JSON.stringify({ symbol: "BTCUSDT", risk: 0.01 }));
  writeFileSync(join(dir, "srv", ".env"), "API_KEY=abc\n");
  chmodSync(join(dir, "srv", ".env"), 0o600);
  utimesSync(join(dir, "srv", ".env"), new Date("2024-01-02T03:04:05Z"), new Date("2024-01-02T03:04:05Z"));
  writeFileSync(
    join(dir, "cairn.yml"),
    `repository: local:${repoDir}\nsources:\n  - name: trading-db\n    sqlite: srv/data/bot.db\n  - name: settings\n    files: [srv/config/*.json, srv/.env]\n`,
  );
  assert.equal(cairn(["keygen", "-o", key]).code, 0);
  const init = cairn(["init", "-r", `local:${repoDir}`, "-i", key]);
  assert.equal(init.code, 0, init.stderr);
  const m = /^CAIRN_WRITE_KEY=(CAIRN-WRITE-KEY-1[0-9A-Z]+)$/m.exec(init.stdout);
  assert.ok(m, init.stdout);
  env = { CAIRN_WRITE_KEY: m[1] };
});
after(() => rmSync(dir, { recursive: true, force: true }));

test("backup, change 1% of rows, back up again: the second stores only what changed", () => {
  const first = cairn(["backup", "-c", join(dir, "cairn.yml"), "--json"], { env });
  assert.equal(first.code, 0, first.stderr);
  const s1 = JSON.parse(first.stdout);
  assert.equal(s1.sources.length, 2);
  assert.equal(s1.stats.newChunks, s1.stats.chunks);
  sql("UPDATE orders SET qty = qty + 1 WHERE id % 100 = 7");
  appendFileSync(join(dir, "srv", "config", "config.json"), "\n");
  const second = cairn(["backup", "-c", join(dir, "cairn.yml"), "--json"], { env });
  assert.equal(second.code, 0, second.stderr);
  const s2 = JSON.parse(second.stdout);
  assert.ok(s2.stats.newChunks < s2.stats.chunks, `new ${s2.stats.newChunks} of ${s2.stats.chunks}`);
  assert.ok(s2.stats.storedBytes < s1.stats.storedBytes, `stored ${s2.stats.storedBytes} vs ${s1.stats.storedBytes}`);

  const list = cairn(["snapshots", "-r", `local:${repoDir}`, "--json"], { env });
  assert.equal(list.code, 0, list.stderr);
  const snaps = JSON.parse(list.stdout);
  assert.deepEqual(snaps.map((s: { id: string }) => s.id), [s1.id, s2.id]);
});

test("verify --read-data decrypts and checks every chunk", () => {
  const r = cairn(["verify", "-r", `local:${repoDir}`, "--read-data", "-i", key, "--json"]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const v = JSON.parse(r.stdout);
  assert.deepEqual(v.errors, []);
  assert.equal(v.packsRead, packs().length);
  assert.ok(v.decrypted && v.chunksChecked > 0);
});

test("restore latest: the database passes integrity_check and equals the source; files keep content, mode and mtime", () => {
  const target = join(dir, "restored");
  const r = cairn(["restore", "latest", "-r", `local:${repoDir}`, "-i", key, "--target", target]);
  assert.equal(r.code, 0, r.stderr);
  const restored = join(target, "trading-db.sqlite");
  assert.equal(execFileSync("sqlite3", [restored, "PRAGMA integrity_check"]).toString().trim(), "ok");
  assert.equal(execFileSync("sqlite3", [restored, ".sha3sum"]).toString(), execFileSync("sqlite3", [db, ".sha3sum"]).toString());
  const env1 = join(target, "settings", dir.slice(1), "srv", ".env");
  assert.equal(readFileSync(env1, "utf8"), "API_KEY=abc\n");
  assert.equal(statSync(env1).mode & 0o777, 0o600);
  assert.equal(statSync(env1).mtime.toISOString(), "2024-01-02T03:04:05.000Z");
  assert.deepEqual(readFileSync(join(target, "settings", dir.slice(1), "srv", "config", "config.json")), readFileSync(join(dir, "srv", "config", "config.json")));
});

test("restore --source restores only that source", () => {
  const target = join(dir, "only-settings");
  const r = cairn(["restore", "latest", "-r", `local:${repoDir}`, "-i", key, "--target", target, "--source", "settings"]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readdirSync(target), ["settings"]);
  const bad = cairn(["restore", "latest", "-r", `local:${repoDir}`, "-i", key, "--target", target, "--source", "nope"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /no source "nope"/);
});

test("export: age -d | zstd -d | tar x gives the snapshot's files", () => {
  const out = join(dir, "snap.tar.zst.age");
  const r = cairn(["export", "latest", "-r", `local:${repoDir}`, "-i", key, "-o", out]);
  assert.equal(r.code, 0, r.stderr);
  const x = join(dir, "untar");
  mkdirSync(x);
  execFileSync("sh", ["-c", 'age -d -i "$1" "$2" | zstd -dq | tar -x -C "$3"', "sh", key, out, x]);
  assert.equal(execFileSync("sqlite3", [join(x, "trading-db.sqlite"), ".sha3sum"]).toString(), execFileSync("sqlite3", [db, ".sha3sum"]).toString());
  assert.equal(readFileSync(join(x, "settings", dir.slice(1), "srv", ".env"), "utf8"), "API_KEY=abc\n");
});

test("--full stores every chunk afresh: the snapshot depends on no earlier pack", () => {
  const before = new Set(packs());
  const r = cairn(["backup", "-c", join(dir, "cairn.yml"), "--full", "--json"], { env });
  assert.equal(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  assert.equal(s.full, true);
  const list = JSON.parse(cairn(["snapshots", "-r", `local:${repoDir}`, "--json"], { env }).stdout);
  assert.equal(list.at(-1).id, s.id);
  // Remove every pack that existed before: the full snapshot still restores.
  const moved = join(dir, "moved-packs");
  mkdirSync(moved);
  for (const p of before) {
    const from = join(repoDir, "packs", p.slice(0, 2), p);
    writeFileSync(join(moved, p), readFileSync(from));
    rmSync(from);
  }
  const target = join(dir, "from-full");
  const rr = cairn(["restore", s.id.slice(0, 8), "-r", `local:${repoDir}`, "-i", key, "--target", target]);
  assert.equal(rr.code, 0, rr.stderr);
  assert.equal(execFileSync("sqlite3", [join(target, "trading-db.sqlite"), ".sha3sum"]).toString(), execFileSync("sqlite3", [db, ".sha3sum"]).toString());
  for (const p of before) writeFileSync(join(repoDir, "packs", p.slice(0, 2), p), readFileSync(join(moved, p)));
});

test("the write key backs up and lists, but cannot read data", () => {
  const target = join(dir, "nope");
  const r = cairn(["restore", "latest", "-r", `local:${repoDir}`, "--target", target], { env });
  assert.equal(r.code, 12);
  assert.match(r.stderr, /identity/);
  const e = cairn(["export", "latest", "-r", `local:${repoDir}`, "-o", join(dir, "x.age")], { env });
  assert.equal(e.code, 12);
  const v = cairn(["verify", "-r", `local:${repoDir}`, "--read-data=50"], { env });
  assert.equal(v.code, 0, v.stdout + v.stderr);
  assert.match(v.stdout, /checksums only/);
});

test("usage errors exit 2 and --help documents the exit codes", () => {
  const h = cairn(["--help"]);
  assert.equal(h.code, 0);
  for (const code of ["10", "11", "12"]) assert.match(h.stdout, new RegExp(`\\n  ${code} `));
  assert.equal(cairn(["restore", "latest"]).code, 2);
  assert.equal(cairn(["frobnicate"]).code, 2);
  assert.equal(cairn(["snapshots"], { env }).code, 2); // no repository given
});

test("the bundle runs from any folder with worker.js beside it, and without it fails clearly instead of hanging", () => {
  const bin = join(dir, "bundle");
  mkdirSync(bin, { recursive: true });
  for (const f of ["cli.js", "cairn.js", "worker.js"]) writeFileSync(join(bin, f), readFileSync(new URL(`../../dist/${f}`, import.meta.url)));
  writeFileSync(join(bin, "package.json"), '{"type":"module"}\n');
  const run = () => spawnSync(process.execPath, [join(bin, "cli.js"), "backup", "-c", join(dir, "cairn.yml")], { cwd: dir, env: { ...process.env, ...env }, encoding: "utf8", timeout: 60_000 });
  const ok = run();
  assert.equal(ok.status, 0, ok.stderr);
  rmSync(join(bin, "worker.js"));
  const broken = run();
  assert.equal(broken.signal, null, "it ends by itself (no hang until the timeout)");
  assert.equal(broken.status, 1, broken.stderr);
  assert.match(broken.stderr, /worker thread failed.*\n.*worker\.js must sit beside/);
});
