// cairn backup --time, cairn forget (--dry-run, --json, cairn.yml's
// retention:) and cairn prune over a real local repository through the CLI:
// reasons per snapshot, groups by host and source set, data freed, and every
// kept snapshot still verifies and restores byte for byte.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { cairn } from "../helpers/cli.ts";
import { makeRepo, treeHashes, type TempRepo } from "../helpers/repo.ts";

let repo: TempRepo;
let config: string;
let settingsOnly: string;
const env = () => ({ CAIRN_WRITE_KEY: repo.writeKey, TZ: "Europe/Berlin" });
/** Content of srv/ at each backup, by snapshot ID. */
const contents = new Map<string, Map<string, string>>();

function dirBytes(dir: string): number {
  if (!existsSync(dir)) return 0;
  return readdirSync(dir, { recursive: true, encoding: "utf8" }).reduce((n, f) => n + (statSync(join(dir, f)).isFile() ? statSync(join(dir, f)).size : 0), 0);
}

// Eight daily backups at 02:00 Berlin time, each with 1 MiB of new data; a file lives two days.
const DAYS = Array.from({ length: 8 }, (_, i) => `2026-01-${String(i + 1).padStart(2, "0")} 02:00:00`);

before(async () => {
  repo = await makeRepo({ packSize: "1MiB" });
  const srv = join(repo.dir, "srv");
  mkdirSync(srv);
  config = join(repo.dir, "cairn.yml");
  writeFileSync(config, `repository: ${repo.repoUrl}\nsources:\n  - { name: data, files: [${srv}] }\n  - { name: settings, files: [${join(repo.dir, "settings.json")}] }\n`);
  settingsOnly = join(repo.dir, "settings.yml");
  writeFileSync(settingsOnly, `repository: ${repo.repoUrl}\nsources:\n  - { name: settings, files: [${join(repo.dir, "settings.json")}] }\n`);
  writeFileSync(join(repo.dir, "settings.json"), '{"a":1}\n');
  for (const [i, day] of DAYS.entries()) {
    writeFileSync(join(srv, `day${i}.bin`), randomBytes(1 << 20));
    rmSync(join(srv, `day${i - 2}.bin`), { force: true });
    const r = cairn(["backup", "-c", config, "--time", day, "--json"], { env: env() });
    assert.equal(r.code, 0, r.stderr);
    contents.set(JSON.parse(r.stdout).id, await treeHashes(srv));
  }
  // Another group: the settings source alone.
  for (const day of ["2026-01-03 12:00", "2026-01-04 12:00"]) assert.equal(cairn(["backup", "-c", settingsOnly, "--time", day], { env: env() }).code, 0);
});
after(() => repo.cleanup());

test("backup --time sets the snapshot's time (local time as restic's --time; ISO with a zone); a bad time is a usage error", () => {
  const r = cairn(["snapshots", "-c", config, "--json"], { env: env() });
  const times = JSON.parse(r.stdout).map((s: { time: string }) => s.time);
  assert.ok(times.includes("2026-01-01T01:00:00.000Z"), times.join(" "));
  const bad = cairn(["backup", "-c", config, "--time", "2026-02-30 10:00"], { env: env() });
  assert.equal(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /--time: "2026-02-30 10:00" is not a time/);
});

test("forget --dry-run prints each snapshot kept or removed and why, per group; removes nothing", () => {
  const before = readdirSync(join(repo.repoPath, "snapshots")).length;
  const r = cairn(["forget", "-c", config, "--keep-daily", "3", "--keep-weekly", "2", "--dry-run"], { env: env() });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /keep 3 daily, 2 weekly snapshot\(s\) \(dry run/);
  // 2026-01-04 is a Sunday: the newest of ISO week 1 (29 December to 4 January).
  assert.match(r.stdout, /keep\s+\w{8}\s+2026-01-08 02:00:00\s+daily #1, weekly #1\n/);
  assert.match(r.stdout, /keep\s+\w{8}\s+2026-01-06 02:00:00\s+daily #3\n/);
  assert.match(r.stdout, /remove\s+\w{8}\s+2026-01-05 02:00:00\n/);
  assert.match(r.stdout, /keep\s+\w{8}\s+2026-01-04 02:00:00\s+weekly #2\n/);
  assert.match(r.stdout, /remove\s+\w{8}\s+2026-01-03 02:00:00\n/);
  assert.match(r.stdout, /sources data,settings: keep 4, would remove 4/);
  assert.match(r.stdout, /sources settings: keep 2, would remove 0/);
  assert.equal(readdirSync(join(repo.repoPath, "snapshots")).length, before);
});

test("forget --json: each snapshot ID with its action and reasons; --keep-within counts back from the latest snapshot", () => {
  const r = cairn(["forget", "-c", config, "--keep-within", "3d", "--keep-last", "1", "--dry-run", "--json"], { env: env() });
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  const g = j.groups.find((x: { sources: string[] }) => x.sources.length === 2);
  const kept = g.snapshots.filter((s: { action: string }) => s.action === "keep");
  // Within 3 days of the latest (8 January 02:00) means after 5 January 02:00, not at it.
  assert.deepEqual(kept.map((s: { time: string }) => s.time.slice(0, 10)), ["2026-01-08", "2026-01-07", "2026-01-06"]);
  assert.deepEqual(kept[0].reasons, ["within 3d", "last #1"]);
  assert.match(kept[0].id, /^[0-9a-f]{64}$/);
  assert.equal(j.dryRun, true);
});

test("an empty policy removes nothing; a bad count or duration is a usage error", () => {
  const r = cairn(["forget", "-c", settingsOnly, "--dry-run"], { env: env() });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /empty policy: keep everything/);
  assert.match(r.stdout, /0 snapshot\(s\) would be removed/);
  assert.equal(cairn(["forget", "-c", config, "--keep-daily", "x"], { env: env() }).code, 2);
  const w = cairn(["forget", "-c", config, "--keep-within", "3 weeks"], { env: env() });
  assert.equal(w.code, 2);
  assert.match(w.stderr, /--keep-within takes a duration/);
});

test("forget with cairn.yml's retention: and prune: removes snapshots and frees their data; kept snapshots verify and restore", async () => {
  const retained = join(repo.dir, "retained.yml");
  writeFileSync(retained, `${readFileSync(config, "utf8")}retention: { keep-daily: 2, keep-weekly: 1, prune: true }\n`);
  const packsBefore = dirBytes(join(repo.repoPath, "packs"));
  const r = cairn(["forget", "-c", retained, "--json"], { env: env() });
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  assert.equal(j.removed.length, 6, "8 daily snapshots; kept: 8 January (daily #1, weekly #1) and 7 January (daily #2)");
  // The kept snapshots need the files of days 5, 6 and 7; settings.json is one chunk, so it is salted and stored
  // again by every backup (FORMAT.md): days 0-4's packs go.
  assert.equal(j.prune.packsRemoved, 5, JSON.stringify(j.prune));
  assert.ok(j.prune.bytesFreed >= 4 << 20, JSON.stringify(j.prune));
  const packsAfter = dirBytes(join(repo.repoPath, "packs"));
  assert.ok(packsBefore - packsAfter >= 4 << 20, `${packsBefore} -> ${packsAfter}`);

  const v = cairn(["verify", "-r", repo.repoUrl, "-i", repo.identityFile, "--read-data"], { env: env() });
  assert.equal(v.code, 0, v.stdout + v.stderr);
  assert.doesNotMatch(v.stdout, /in no index/);
  const kept = JSON.parse(cairn(["snapshots", "-c", config, "--json"], { env: env() }).stdout).filter((s: { sources: unknown[] }) => s.sources.length === 2);
  assert.equal(kept.length, 2);
  for (const s of kept) {
    const target = join(repo.dir, `restore-${s.id}`);
    const rr = cairn(["restore", s.id, "-r", repo.repoUrl, "-i", repo.identityFile, "--target", target, "--source", "data"], { env: env() });
    assert.equal(rr.code, 0, rr.stderr);
    const got = await treeHashes(join(target, "data"));
    const want = contents.get(s.id)!;
    assert.equal(got.size, want.size);
    for (const [path, hash] of want) assert.equal([...got].find(([p]) => p.endsWith(path))?.[1], hash, path);
  }
  // A second prune has nothing left to remove.
  const again = cairn(["prune", "-r", repo.repoUrl, "--json"], { env: env() });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(JSON.parse(again.stdout).packsRemoved, 0);
});
