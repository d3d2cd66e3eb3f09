// Repository locks: an exclusive lock keeps a second writer out; a lock from
// another host counts until its lease expires; a lock from a dead process on
// this host is stale at once.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { LocalBackend } from "../../../src/backends/local.ts";
import { MemoryBackend } from "../../../src/backends/memory.ts";
import { identityFromSecret } from "../../../src/engine/crypto/age.ts";
import { parseWriteKey } from "../../../src/engine/crypto/keys.ts";
import { isStale, LEASE_MS, Lock, withLock, type LockInfo } from "../../../src/engine/repository/lock.ts";
import { Repository } from "../../../src/engine/repository/repository.ts";
import { CairnError, LockedError } from "../../../src/errors.ts";
import { runCli } from "../../helpers/cli.ts";
import { makeRepo, writeConfig, type TempRepo } from "../../helpers/repo.ts";

async function memoryRepo(): Promise<Repository> {
  const backend = new MemoryBackend();
  const id = identityFromSecret(randomBytes(32));
  const { writeKey } = await Repository.init(backend, id, { packSize: 1 << 20 });
  return Repository.open(backend, { writeKey: parseWriteKey(writeKey) });
}

function lockInfo(over: Partial<LockInfo>): LockInfo {
  const now = Date.now();
  return {
    host: hostname(),
    pid: process.pid,
    exclusive: true,
    created: new Date(now).toISOString(),
    expires: new Date(now + LEASE_MS).toISOString(),
    ...over,
  };
}

/** Put a lock file from someone else into the repository. */
async function plant(repo: Repository, info: LockInfo): Promise<string> {
  const name = randomBytes(32).toString("hex");
  await repo.backend.save({ type: "lock", name }, Buffer.from(JSON.stringify(info)));
  return name;
}

/** The pid of a process that has exited (and been reaped). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await new Promise((res) => child.on("close", res));
  return child.pid!;
}

const hourAgo = () => new Date(Date.now() - 3600_000).toISOString();
const inAnHour = () => new Date(Date.now() + 3600_000).toISOString();

describe("locks (engine)", () => {
  test("an exclusive lock blocks a second writer and a reader; released, it lets them in", async () => {
    const repo = await memoryRepo();
    const first = await Lock.acquire(repo, true);
    await assert.rejects(Lock.acquire(repo, true), (err: unknown) => err instanceof LockedError && /locked by a writer/.test(err.message) && err.message.includes(`pid ${process.pid}`));
    await assert.rejects(Lock.acquire(repo, false), LockedError);
    assert.equal((await repo.listNames("lock")).length, 1, "a refused attempt removes its own lock file");
    await first.release();
    assert.deepEqual(await repo.listNames("lock"), []);
    const second = await Lock.acquire(repo, true);
    await second.release();
  });

  test("readers share; a reader blocks a writer", async () => {
    const repo = await memoryRepo();
    const a = await Lock.acquire(repo, false);
    const b = await Lock.acquire(repo, false);
    await assert.rejects(Lock.acquire(repo, true), (err: unknown) => err instanceof LockedError && /locked by a reader/.test(err.message));
    await a.release();
    await b.release();
    await (await Lock.acquire(repo, true)).release();
  });

  test("withLock releases the lock when the work fails", async () => {
    const repo = await memoryRepo();
    await assert.rejects(withLock(repo, true, async () => Promise.reject(new Error("boom"))), /boom/);
    assert.deepEqual(await repo.listNames("lock"), []);
  });

  test("another host's lock with an expired lease is ignored", async () => {
    const repo = await memoryRepo();
    await plant(repo, lockInfo({ host: "runner-that-died", pid: 4242, created: hourAgo(), expires: new Date(Date.now() - 1000).toISOString() }));
    const lock = await Lock.acquire(repo, true);
    await lock.release();
  });

  test("another host's lock with a live lease blocks, whatever its pid", async () => {
    const repo = await memoryRepo();
    const pid = await deadPid(); // dead here, but it is another host's pid
    await plant(repo, lockInfo({ host: "other-runner", pid, expires: inAnHour() }));
    await assert.rejects(Lock.acquire(repo, true), (err: unknown) => err instanceof LockedError && err.message.includes("other-runner"));
    await assert.rejects(Lock.acquire(repo, false), LockedError, "an exclusive lock also blocks readers");
  });

  test("another host's shared lock blocks a writer but not a reader", async () => {
    const repo = await memoryRepo();
    await plant(repo, lockInfo({ host: "other-runner", pid: 7, exclusive: false, expires: inAnHour() }));
    await assert.rejects(Lock.acquire(repo, true), LockedError);
    await (await Lock.acquire(repo, false)).release();
  });

  test("a lock on this host from a dead process is stale at once, even with a live lease", async () => {
    const repo = await memoryRepo();
    await plant(repo, lockInfo({ pid: await deadPid(), expires: inAnHour() }));
    await (await Lock.acquire(repo, true)).release();
  });

  test("a lock on this host from a live process with a live lease blocks", async () => {
    const repo = await memoryRepo();
    const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
    try {
      await plant(repo, lockInfo({ pid: child.pid!, expires: inAnHour() }));
      await assert.rejects(Lock.acquire(repo, true), LockedError);
    } finally {
      child.kill("SIGKILL");
      await new Promise((res) => child.on("close", res));
    }
    // The same lock, once its process is gone, no longer counts.
    await (await Lock.acquire(repo, true)).release();
  });

  test("a command that meets an exclusive lock waits for it (lockWait), and gives up after the limit saying how long it waited", async () => {
    const repo = await memoryRepo();
    const exclusive = await Lock.acquire(repo, true);
    repo.lockWait = { ms: 1500 };
    await assert.rejects(Lock.acquire(repo, false), (err: unknown) => err instanceof LockedError && /waited \d+ s/.test(err.message));
    repo.lockWait = { ms: 60_000 };
    const waiting = Lock.acquire(repo, false);
    setTimeout(() => void exclusive.release(), 200);
    const shared = await waiting;
    await shared.release();
    repo.lockWait = { ms: 0 };
  });

  test("waiting for a lock stops when the run is cancelled", async () => {
    const repo = await memoryRepo();
    const exclusive = await Lock.acquire(repo, true);
    const ac = new AbortController();
    repo.lockWait = { ms: 60_000, signal: ac.signal };
    const waiting = Lock.acquire(repo, true);
    setTimeout(() => ac.abort(new Error("cancelled")), 100);
    await assert.rejects(waiting, /cancelled/);
    await exclusive.release();
  });

  test("isStale: expired or unparsable lease, dead local pid", async () => {
    const now = Date.now();
    assert.equal(isStale(lockInfo({ host: "elsewhere", expires: new Date(now - 1).toISOString() }), now), true);
    assert.equal(isStale(lockInfo({ host: "elsewhere", expires: new Date(now + 1000).toISOString() }), now), false);
    assert.equal(isStale(lockInfo({ host: "elsewhere", expires: "not a date" }), now), true);
    assert.equal(isStale(lockInfo({ pid: process.pid }), now), false);
    assert.equal(isStale(lockInfo({ pid: await deadPid() }), now), true);
  });

  test("a lock file that is not JSON (junk, or cut short): ignored, or a clear error naming it, never a raw parse error", async () => {
    // An unreadable lock cannot name a live holder, and nothing in cairn removes it.
    const repo = await memoryRepo();
    const name = randomBytes(32).toString("hex");
    await repo.backend.save({ type: "lock", name }, Buffer.from('{"host":"x","pid":1,"excl'));
    try {
      await (await Lock.acquire(repo, true)).release();
    } catch (err) {
      assert.ok(err instanceof CairnError, `a typed error with a hint, not ${String(err)}`);
      assert.ok(err.message.includes(name), "it names the lock file to delete");
    }
  });
});

describe("locks (CLI)", () => {
  let r: TempRepo;
  let config: string;
  before(async () => {
    r = await makeRepo();
    const etc = join(r.dir, "etc");
    await mkdir(etc);
    await writeFile(join(etc, "a.conf"), "a = 1\n");
    config = await writeConfig(r.dir, r.repoUrl, `  - name: settings\n    files: ["${etc}/*.conf"]\n`);
  });
  after(async () => {
    await r?.cleanup();
  });

  test("a backup while another writer holds the lock: exit 11 naming the holder, nothing written", async () => {
    const repo = await Repository.open(new LocalBackend(r.repoPath), { writeKey: parseWriteKey(r.writeKey) });
    const lock = await Lock.acquire(repo, true);
    try {
      const b = await runCli(["backup", "-c", config], { env: { CAIRN_WRITE_KEY: r.writeKey } });
      assert.equal(b.code, 11, b.stderr);
      assert.match(b.stderr, /locked by a writer/);
      assert.ok(b.stderr.includes(`pid ${process.pid}`), b.stderr);
      assert.match(b.stderr, /^hint: /m);
      const s = await runCli(["snapshots", "-r", r.repoUrl], { env: { CAIRN_WRITE_KEY: r.writeKey } });
      assert.equal(s.code, 11, `a reader is kept out too: ${s.stderr}`);
      assert.deepEqual(await repo.listNames("snapshot"), []);
      assert.deepEqual(await repo.listNames("pack"), []);
      assert.equal((await repo.listNames("lock")).length, 1, "the refused runs removed their lock files");
    } finally {
      await lock.release();
    }
    const ok = await runCli(["backup", "-c", config], { env: { CAIRN_WRITE_KEY: r.writeKey } });
    assert.equal(ok.code, 0, ok.stderr);
  });

  test("two backups run side by side (shared locks); --retry-lock waits out an exclusive lock", async () => {
    const repo = await Repository.open(new LocalBackend(r.repoPath), { writeKey: parseWriteKey(r.writeKey) });
    const shared = await Lock.acquire(repo, false);
    try {
      const b = await runCli(["backup", "-c", config], { env: { CAIRN_WRITE_KEY: r.writeKey } });
      assert.equal(b.code, 0, `a backup's shared lock does not keep another backup out: ${b.stderr}`);
    } finally {
      await shared.release();
    }
    const exclusive = await Lock.acquire(repo, true);
    const waiting = runCli(["backup", "-c", config, "--retry-lock", "2m"], { env: { CAIRN_WRITE_KEY: r.writeKey } });
    // Released once the waiting backup has met the lock (its own lock file appeared and went).
    for (let i = 0; i < 600 && (await repo.listNames("lock")).length < 2; i++) await new Promise((res) => setTimeout(res, 25));
    await exclusive.release();
    const b = await waiting;
    assert.equal(b.code, 0, b.stderr);
    const bad = await runCli(["backup", "-c", config, "--retry-lock", "soon"], { env: { CAIRN_WRITE_KEY: r.writeKey } });
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /--retry-lock: "soon" is not a duration/);
  });

  test("a stale lock (this host, dead pid) left in the folder does not block the CLI", async () => {
    const repo = await Repository.open(new LocalBackend(r.repoPath), { writeKey: parseWriteKey(r.writeKey) });
    const name = await plant(repo, lockInfo({ pid: await deadPid(), expires: inAnHour() }));
    const b = await runCli(["backup", "-c", config], { env: { CAIRN_WRITE_KEY: r.writeKey } });
    assert.equal(b.code, 0, b.stderr);
    // The stale lock was cleared, so locks/ does not fill up with dead runs.
    await assert.rejects(repo.backend.stat({ type: "lock", name }), (err) => repo.backend.isNotExist(err));
  });
});
