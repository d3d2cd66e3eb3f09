// Prune on an artifacts: repository through the CLI, against the fake of
// GitHub's services: forget --prune deletes the artifacts of the packs only
// the forgotten snapshot needed, says how much it freed, and the kept
// snapshot verifies and restores byte for byte.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { runCli } from "../helpers/cli.ts";
import { envFor, startFakeGitHub, type FakeGitHub } from "../helpers/fake-github/index.ts";

const dir = mkdtempSync(join(tmpdir(), "cairn-artifacts-prune-"));
const key = join(dir, "key.txt");
const second = randomBytes(1 << 20);
let fake: FakeGitHub;
let writeKey: string;

before(async () => {
  fake = await startFakeGitHub({ retentionDays: 90 });
  mkdirSync(join(dir, "srv"));
  writeFileSync(join(dir, "a.yml"), `repository: artifacts:bot\nsources:\n  - { name: a, files: [srv/a.bin] }\n`);
  const kg = await runCli(["keygen", "-o", key]);
  assert.equal(kg.code, 0, kg.stderr);
  const recipient = /# public key: (age1\S+)/.exec(readFileSync(key, "utf8"))![1];
  const run = fake.startRun(201);
  const init = await runCli(["init", "-r", "artifacts:bot", "-i", key, "--pack-size", "1MiB"], { env: envFor(fake, run) });
  assert.equal(init.code, 0, init.stderr);
  writeKey = /^CAIRN_WRITE_KEY=(\S+)$/m.exec(init.stdout)![1];
});
after(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

test("forget --keep-last 1 --prune deletes the forgotten snapshot's pack artifacts; the kept one verifies and restores", async () => {
  const env = (run: number) => ({ ...envFor(fake, fake.startRun(run)), CAIRN_WRITE_KEY: writeKey });
  writeFileSync(join(dir, "srv", "a.bin"), randomBytes(3 << 20));
  const b1 = await runCli(["backup", "-c", join(dir, "a.yml"), "--time", "2026-01-01T02:00:00Z"], { env: env(202), cwd: dir });
  assert.equal(b1.code, 0, b1.stderr);
  writeFileSync(join(dir, "srv", "a.bin"), second);
  const b2 = await runCli(["backup", "-c", join(dir, "a.yml"), "--time", "2026-01-02T02:00:00Z"], { env: env(203), cwd: dir });
  assert.equal(b2.code, 0, b2.stderr);
  const packs = () => new Set(fake.visible().filter((x) => x.name.startsWith("bot.pack.")).map((x) => x.name));
  const before = packs();

  const f = await runCli(["forget", "-c", join(dir, "a.yml"), "--keep-last", "1", "--prune", "--json"], { env: env(204), cwd: dir });
  assert.equal(f.code, 0, f.stderr);
  // @actions/artifact prints "Artifact name is valid!" to stdout (core.info) before each upload: the JSON is what follows.
  const j = JSON.parse(f.stdout.slice(f.stdout.search(/^\{$/m)));
  assert.equal(j.removed.length, 1);
  // 3 MiB of random data in packs of 1 MiB or more (a pack closes after the frame that passes its size).
  assert.ok(j.prune.packsRemoved >= 2, JSON.stringify(j.prune));
  assert.ok(j.prune.bytesFreed >= 3 << 20, JSON.stringify(j.prune));
  const after = packs();
  assert.equal(before.size - after.size, j.prune.packsRemoved, "one artifact per removed pack is gone");

  const v = await runCli(["verify", "-c", join(dir, "a.yml"), "-i", key, "--read-data"], { env: env(205), cwd: dir });
  assert.equal(v.code, 0, v.stdout + v.stderr);
  const target = join(dir, "restored");
  const r = await runCli(["restore", "latest", "-c", join(dir, "a.yml"), "-i", key, "--target", target], { env: env(206), cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  const restored = readFileSync(join(target, "a", join(dir, "srv", "a.bin").replace(/^\//, "")));
  assert.ok(restored.equals(second));
});
