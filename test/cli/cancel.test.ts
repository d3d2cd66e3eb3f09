// A cancelled run (SIGTERM from a cancelled or timed-out workflow, Ctrl-C's
// SIGINT) stops, removes its lock and temporary files, and exits 130: the
// repository verifies and the next run starts at once instead of meeting a
// live lock for the length of its lease. Real child processes, signalled mid-run.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { cairn, startCli, type CliResult } from "../helpers/cli.ts";
import { makeRepo, type TempRepo } from "../helpers/repo.ts";

let repo: TempRepo;
let config: string;
let env: Record<string, string>;
const BIG = 256; // MiB: many 16 MiB packs, so a signal after the first lands mid-run

before(async () => {
  repo = await makeRepo();
  mkdirSync(join(repo.dir, "srv"));
  const big = join(repo.dir, "srv", "big.bin");
  for (let i = 0; i < BIG / 16; i++) appendFileSync(big, randomBytes(16 << 20));
  config = join(repo.dir, "cairn.yml");
  writeFileSync(config, `repository: ${repo.repoUrl}\nsources:\n  - { name: big, files: [${big}] }\n`);
  env = { CAIRN_WRITE_KEY: repo.writeKey };
  const first = cairn(["backup", "-c", config], { env });
  assert.equal(first.code, 0, first.stderr);
});
after(() => repo.cleanup());

/** Every file under dir, relative paths. */
function files(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => statSync(join(dir, f)).isFile()) : [];
}

/** Poll until cond() holds; fail if the command ended first (it was meant to be signalled mid-run). */
async function whileRunning(done: Promise<CliResult>, cond: () => boolean, what: string): Promise<void> {
  let ended: CliResult | undefined;
  void done.then((r) => (ended = r));
  while (!cond()) {
    if (ended) assert.fail(`the command ended before ${what}: exit ${ended.code}\n${ended.stderr}`);
    await sleep(20);
  }
}

function cancelled(r: CliResult, signal: string): void {
  assert.deepEqual(files(join(repo.repoPath, "locks")), [], "the lock is removed");
  assert.deepEqual(files(repo.repoPath).filter((f) => f.includes(".tmp-")), [], "no temp file is left in the repository");
  assert.equal(r.signal, null, "cairn exits by itself, not killed by the signal");
  assert.equal(r.code, 130, r.stderr);
  assert.match(r.stderr, new RegExp(`cancelled by ${signal}`));
  assert.doesNotMatch(r.stderr, /^\s+at /m);
}

test("SIGTERM mid-backup: exit 130, no lock, no temp file, no new pack left; verify passes; the next backup runs at once", async () => {
  const packs = () => files(join(repo.repoPath, "packs")).sort();
  const before = packs();
  const snapshots = files(join(repo.repoPath, "snapshots"));
  // --full writes every chunk into new packs, so there is a pack to wait for.
  const run = startCli(["backup", "-c", config, "--full"], { env });
  await whileRunning(run.done, () => packs().length > before.length, "its first pack was saved");
  run.child.kill("SIGTERM");
  const r = await run.done;
  cancelled(r, "SIGTERM");
  assert.doesNotMatch(r.stdout, /saved/);
  assert.deepEqual(packs(), before, "packs no index names are removed");
  assert.deepEqual(files(join(repo.repoPath, "snapshots")), snapshots);
  const v = cairn(["verify", "-r", repo.repoUrl, "-i", repo.identityFile]);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  const again = cairn(["backup", "-c", config, "--json"], { env });
  assert.equal(again.code, 0, again.stderr);
});

test("SIGINT mid-restore: exit 130, no .cairn-restore-* temp file, no lock", async () => {
  const target = join(repo.dir, "restored");
  const run = startCli(["restore", "latest", "-r", repo.repoUrl, "-i", repo.identityFile, "--target", target]);
  await whileRunning(run.done, () => files(target).some((f) => f.includes(".cairn-restore-") && statSync(join(target, f)).size > 0), "it started writing");
  run.child.kill("SIGINT");
  const r = await run.done;
  cancelled(r, "SIGINT");
  assert.deepEqual(files(target).filter((f) => f.includes(".cairn-restore-")), []);
  assert.ok(!existsSync(join(target, "big", repo.dir.slice(1), "srv", "big.bin")), "no half file under its name");
});

test("SIGTERM mid-export: exit 130, no temp file, no output, no lock", async () => {
  const out = join(repo.dir, "exports", "big.tar.zst.age");
  mkdirSync(join(repo.dir, "exports"));
  const run = startCli(["export", "latest", "-r", repo.repoUrl, "-i", repo.identityFile, "-o", out]);
  await whileRunning(run.done, () => files(join(repo.dir, "exports")).some((f) => statSync(join(repo.dir, "exports", f)).size > 0), "it started writing");
  run.child.kill("SIGTERM");
  const r = await run.done;
  cancelled(r, "SIGTERM");
  assert.deepEqual(files(join(repo.dir, "exports")), []);
});

test("a dump stalled on the server does not hold up a cancelled backup", async () => {
  const pidFile = join(repo.dir, "stalled.pid");
  const stalled = join(repo.dir, "stalled.yml");
  writeFileSync(stalled, `repository: ${repo.repoUrl}\nsources:\n  - { name: slow, command: "echo $$ > ${pidFile}; head -c 100000 /dev/urandom; exec sleep 300" }\n`);
  const run = startCli(["backup", "-c", stalled], { env });
  try {
    await whileRunning(run.done, () => existsSync(pidFile) && readFileSync(pidFile, "utf8").endsWith("\n"), "the dump started");
    const started = Date.now();
    run.child.kill("SIGTERM");
    const r = await run.done;
    cancelled(r, "SIGTERM");
    assert.ok(Date.now() - started < 120_000, "it did not wait for the dump");
  } finally {
    if (existsSync(pidFile)) {
      try {
        process.kill(Number(readFileSync(pidFile, "utf8")), "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
});
