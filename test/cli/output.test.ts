// What the CLI prints: the first snapshot is a full one, stored sizes in
// plain words, and progress bars (on a real terminal, through script(1))
// that start empty with their true total.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { cairn, CLI, cliEnv } from "../helpers/cli.ts";
import { makeRepo, type TempRepo } from "../helpers/repo.ts";

let repo: TempRepo;
let config: string;
let env: Record<string, string>;
let first: { stdout: string; code: number; stderr: string };
let second: { stdout: string; code: number; stderr: string };

before(async () => {
  // Small packs, so verify has several to count.
  repo = await makeRepo({ packSize: "256KiB" });
  mkdirSync(join(repo.dir, "srv"));
  writeFileSync(join(repo.dir, "srv", "data.bin"), randomBytes(3 << 20));
  writeFileSync(join(repo.dir, "srv", "settings.json"), '{"risk":0.01}\n');
  config = join(repo.dir, "cairn.yml");
  writeFileSync(config, `repository: ${repo.repoUrl}\nsources:\n  - { name: files, files: [${join(repo.dir, "srv")}/*] }\n`);
  env = { CAIRN_WRITE_KEY: repo.writeKey };
  first = cairn(["backup", "-c", config], { env });
  second = cairn(["backup", "-c", config], { env });
});
after(() => repo.cleanup());

test("the first snapshot is listed as full, the next (nothing new) as incremental", () => {
  assert.equal(first.code, 0, first.stderr);
  assert.equal(second.code, 0, second.stderr);
  const list = cairn(["snapshots", "-r", repo.repoUrl], { env });
  assert.equal(list.code, 0, list.stderr);
  const types = list.stdout.trim().split("\n").slice(1).map((row) => row.split(/\s{2,}/)[3]);
  assert.deepEqual(types, ["full", "incremental"]);
  const json = JSON.parse(cairn(["snapshots", "-r", repo.repoUrl, "--json"], { env }).stdout);
  assert.deepEqual(json.map((s: { full: boolean }) => s.full), [true, false]);
  assert.match(first.stdout, /saved \(full\)/);
});

test("stored sizes are said plainly: a share of what was read, or nothing new; never 'x smaller'", () => {
  assert.match(first.stdout, /stored \d+(\.\d)? MiB \(\d+(\.\d)?% of the data read\)/);
  // settings.json is one chunk, so it is salted and stored again each time (FORMAT.md); data.bin is not.
  assert.match(second.stdout, /stored \d+(\.\d)? (B|KiB) \(0(\.\d)?% of the data read\)/);
  writeFileSync(config, `repository: ${repo.repoUrl}\nsources:\n  - { name: files, files: [${join(repo.dir, "srv", "data.bin")}] }\n`);
  const third = cairn(["backup", "-c", config], { env });
  assert.match(third.stdout, /stored nothing new/);
  for (const r of [first, second, third]) assert.doesNotMatch(r.stdout, /x smaller|∞/);
});

/** Run cairn on a pseudo-terminal (script(1)) without CI, so it draws its progress bars; what the terminal got. */
function onTerminal(args: string[]): string {
  const quoted = [process.execPath, CLI, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" ");
  const r = spawnSync("script", ["-qec", quoted, "/dev/null"], { env: cliEnv({ CI: undefined, COLUMNS: "120" }), encoding: "utf8" });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  return r.stdout;
}

/** The bar frames cli-progress drew, each as plain text. */
function frames(out: string, label: string): string[] {
  // eslint-disable-next-line no-control-regex
  const plain = out.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "\n").replace(/\r/g, "\n");
  return plain.split("\n").filter((l) => l.startsWith(label));
}

test("the restore bar starts empty with the snapshot's size as its total", () => {
  const target = join(repo.dir, "restored");
  const out = onTerminal(["restore", "latest", "-r", repo.repoUrl, "-i", repo.identityFile, "--target", target]);
  const f = frames(out, "restoring [");
  assert.ok(f.length > 0, out);
  assert.match(f[0], /^restoring \[░+\] 0 B\/3\.0 MiB/, f[0]);
});

test("the verify bar counts packs read out of the packs to read, from 0", () => {
  const packs = readdirSync(join(repo.repoPath, "packs"), { recursive: true }).filter((p) => /[0-9a-f]{64}$/.test(String(p))).length;
  assert.ok(packs > 1, `${packs} packs`);
  const out = onTerminal(["verify", "-r", repo.repoUrl, "-i", repo.identityFile, "--read-data"]);
  const f = frames(out, "reading packs [");
  assert.ok(f.length > 0, out);
  assert.match(f[0], new RegExp(`^reading packs \\[░+\\] 0/${packs}$`), f[0]);
});
