// Finding and restoring less than a snapshot: restore latest --source NAME is
// the latest snapshot that has that source; cairn ls lists a snapshot's files
// (all, or under a path); restore --include GLOB restores only matching files.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { matchesGlob } from "../../src/engine/snapshot/match.ts";
import { cairn } from "../helpers/cli.ts";
import { makeRepo, treeHashes, type TempRepo } from "../helpers/repo.ts";

let repo: TempRepo;
let both: string;
let dbId: string;
let settingsOnlyId: string;
const env = () => ({ CAIRN_WRITE_KEY: repo.writeKey });

before(async () => {
  repo = await makeRepo();
  const srv = join(repo.dir, "srv");
  mkdirSync(join(srv, "config"), { recursive: true });
  writeFileSync(join(srv, "db.dump"), "the database, version 1\n");
  writeFileSync(join(srv, "config", "config.json"), '{"pair":"BTCUSDT"}\n');
  writeFileSync(join(srv, "config", ".env"), "KEY=1\n");
  both = join(repo.dir, "both.yml");
  writeFileSync(both, `repository: ${repo.repoUrl}\nsources:\n  - { name: db, files: [${join(srv, "db.dump")}] }\n  - { name: settings, files: [${join(srv, "config")}] }\n`);
  const settingsOnly = join(repo.dir, "settings.yml");
  writeFileSync(settingsOnly, `repository: ${repo.repoUrl}\nsources:\n  - { name: settings, files: [${join(srv, "config")}] }\n`);
  const b1 = cairn(["backup", "-c", both, "--json", "--time", "2026-01-01T02:00:00Z"], { env: env() });
  assert.equal(b1.code, 0, b1.stderr);
  dbId = JSON.parse(b1.stdout).id;
  writeFileSync(join(srv, "db.dump"), "the database, version 2 (not backed up)\n");
  writeFileSync(join(srv, "config", "config.json"), '{"pair":"ETHUSDT"}\n');
  const b2 = cairn(["backup", "-c", settingsOnly, "--json", "--time", "2026-01-01T08:00:00Z"], { env: env() });
  assert.equal(b2.code, 0, b2.stderr);
  settingsOnlyId = JSON.parse(b2.stdout).id;
});
after(() => repo.cleanup());

test("restore latest --source db takes the latest snapshot that has db, not the newer settings-only one", async () => {
  const target = join(repo.dir, "r1");
  const r = cairn(["restore", "latest", "--source", "db", "-c", both, "-i", repo.identityFile, "--target", target, "--json"]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(r.stdout).snapshot, dbId);
  const files = await treeHashes(target);
  assert.equal(files.size, 1);
  assert.equal(readFileSync(join(target, [...files.keys()][0]), "utf8"), "the database, version 1\n");
  const none = cairn(["restore", "latest", "--source", "nope", "-c", both, "-i", repo.identityFile, "--target", join(repo.dir, "r0")]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /no source "nope" in any snapshot/);
  assert.match(none.stderr, /db, settings/);
});

test("ls lists a snapshot's files, or those under a path; the write key is enough", () => {
  const all = cairn(["ls", dbId.slice(0, 8), "-c", both, "--json"], { env: env() });
  assert.equal(all.code, 0, all.stderr);
  const j = JSON.parse(all.stdout);
  assert.equal(j.snapshot, dbId);
  assert.equal(j.files.length, 3);
  const under = j.files.find((f: { path: string }) => f.path.endsWith("config/config.json")).path.replace(/\/config\.json$/, "");
  const some = cairn(["ls", "latest", under, "-c", both], { env: env() });
  assert.equal(some.code, 0, some.stderr);
  assert.match(some.stdout, /snapshot \w{8} of 2026-01-01T08:00:00.000Z: 2 file\(s\)/);
  assert.match(some.stdout, /-rw-r--r--\s+19 B\s+.*config\/config\.json/);
  assert.doesNotMatch(some.stdout, /db\.dump/);
  assert.notEqual(settingsOnlyId, dbId);
});

test("restore --include GLOB restores only the matching files; none matching is a usage error", async () => {
  const target = join(repo.dir, "r2");
  const r = cairn(["restore", dbId, "-c", both, "-i", repo.identityFile, "--target", target, "--include", "config.json", "--json"]);
  assert.equal(r.code, 0, r.stderr);
  const files = [...(await treeHashes(target)).keys()];
  assert.equal(files.length, 1);
  assert.match(files[0], /^settings\/.*config\/config\.json$/);
  assert.equal(readFileSync(join(target, files[0]), "utf8"), '{"pair":"BTCUSDT"}\n');
  const none = cairn(["restore", dbId, "-c", both, "-i", repo.identityFile, "--target", join(repo.dir, "r3"), "--include", "*.yaml"]);
  assert.equal(none.code, 2, none.stderr);
  assert.match(none.stderr, /no file in the snapshot matches --include \*\.yaml/);
});

test("glob rules: a name at any depth, * within a name, ** across folders, a folder takes its files, a leading / anchors", () => {
  const p = "settings/srv/bot/config/config.json";
  for (const g of ["config.json", "*.json", "config/*.json", "bot/**/*.json", "settings/**", "srv/bot", "/settings/srv/*/config/config.json", "conf?g.json", "[c]onfig.json"]) assert.ok(matchesGlob(p, g), g);
  for (const g of ["*.yaml", "/srv/bot", "bot/*.json", "onfig.json"]) assert.ok(!matchesGlob(p, g), g);
  assert.ok(matchesGlob(p, "config"), "a folder named config takes its files");
});
