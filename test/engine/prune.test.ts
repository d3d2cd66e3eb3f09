// Prune: frees what no snapshot needs and nothing a snapshot needs, repacks
// packs mostly unused (the snapshots reading them written anew), and a
// prune SIGKILLed at random moments, many times, leaves a repository that
// verifies, from which every kept snapshot restores byte for byte, and that
// the next prune finishes. Prune on GitHub artifacts is in test/cli/artifacts-prune.test.ts.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { LocalBackend } from "../../src/backends/local.ts";
import { backup } from "../../src/engine/backup.ts";
import { encodeRecipient, identityFromSecret, type Identity } from "../../src/engine/crypto/age.ts";
import { parseWriteKey } from "../../src/engine/crypto/keys.ts";
import { forget } from "../../src/engine/forget/forget.ts";
import { prune } from "../../src/engine/prune.ts";
import { Repository } from "../../src/engine/repository/repository.ts";
import { restore } from "../../src/engine/restore/restore.ts";
import { findSnapshot, loadSnapshots } from "../../src/engine/snapshot/snapshot.ts";
import { verify } from "../../src/engine/verify.ts";
import { silentLogger } from "../../src/log.ts";
import { FilesSource } from "../../src/sources/files.ts";
import { LocalTransport } from "../../src/transport/local.ts";
import { makeSqlite, sha256, sqlite, tempDir, treeHashes } from "../helpers/repo.ts";

const KILLS = Number(process.env.CAIRN_PRUNE_KILLS ?? 12);
const CHILD = fileURLToPath(new URL("../helpers/prune-child.ts", import.meta.url));

let tmp: { dir: string; cleanup(): Promise<void> };
let template: string;
let writeKey: string;
let identity: Identity;
let secret: Buffer;
/** srv/'s files at each kept snapshot, by its time (a repack gives a snapshot a new ID). */
const kept = new Map<string, Map<string, string>>();

const open = (path: string, key: "write" | "identity" = "write") =>
  Repository.open(new LocalBackend(path), key === "write" ? { writeKey: parseWriteKey(writeKey) } : { identities: [identity] });

before(async () => {
  tmp = await tempDir("cairn-prune-");
  template = join(tmp.dir, "template");
  secret = randomBytes(32);
  identity = identityFromSecret(secret);
  const made = await Repository.init(new LocalBackend(template), identity, { packSize: 64 * 1024 });
  writeKey = made.writeKey;
  const repo = made.repo;
  const srv = join(tmp.dir, "srv");
  mkdirSync(srv);
  const transport = new LocalTransport();
  // Ten daily snapshots: a SQLite database of ~700 pages whose same 60% of rows change each day
  // (shared chunks, list files, old versions garbage), and a new file each day that lives three days.
  await makeSqlite(join(srv, "bot.db"), 700, 3000);
  for (let day = 0; day < 10; day++) {
    await sqlite(join(srv, "bot.db"), `UPDATE t SET v = randomblob(3000) WHERE id % 10 < 6`);
    writeFileSync(join(srv, `day${day}.bin`), randomBytes(200_000));
    rmSync(join(srv, `day${day - 3}.bin`), { force: true });
    const { snapshot } = await backup(repo, { sources: [new FilesSource("srv", [srv])], transport, log: silentLogger, time: new Date(Date.UTC(2026, 0, 1 + day, 2)) });
    kept.set(snapshot.time, await treeHashes(srv));
  }
  // An interrupted backup's packs, in no index.
  for (let i = 0; i < 3; i++) {
    const data = randomBytes(50_000);
    await new LocalBackend(template).save({ type: "pack", name: sha256(data) }, data);
  }
  const { removed, groups } = await forget(repo, { policy: { daily: 3, weekly: 1 } });
  assert.equal(removed.length, 7, "kept: 10, 9 and 8 January");
  for (const s of groups[0].snapshots) if (!s.keep) kept.delete(s.ref.snapshot.time);
});
after(() => tmp.cleanup());

async function checkKept(path: string, readData: boolean): Promise<void> {
  const repo = await open(path, "identity");
  const v = await verify(repo, { readData: readData ? 100 : 0 });
  assert.deepEqual(v.errors, [], "verify finds no problem");
  const all = await loadSnapshots(repo);
  assert.deepEqual(all.map((s) => s.snapshot.time).sort(), [...kept.keys()].sort(), "the kept snapshots are all there, once");
  if (!readData) return;
  for (const [time, want] of kept) {
    const id = all.find((s) => s.snapshot.time === time)!.id;
    const target = join(tmp.dir, `restore-${id.slice(0, 8)}-${Math.random().toString(36).slice(2)}`);
    await restore(repo, await findSnapshot(repo, id), { target });
    const got = await treeHashes(join(target, "srv"));
    const byName = new Map([...got].map(([p, h]) => [p.split("/").pop()!, h]));
    assert.equal(got.size, want.size, `snapshot ${id.slice(0, 8)}: ${got.size} files`);
    for (const [p, h] of want) assert.equal(byName.get(p), h, `snapshot ${id.slice(0, 8)}: ${p}`);
    rmSync(target, { recursive: true, force: true });
  }
}

function dirSize(dir: string): number {
  return readdirSync(dir, { recursive: true, encoding: "utf8" }).reduce((n, f) => n + (statSync(join(dir, f)).isFile() ? statSync(join(dir, f)).size : 0), 0);
}

test("prune removes the forgotten snapshots' packs, the unindexed packs and unused list files; every kept snapshot restores byte for byte", async (t) => {
  const path = join(tmp.dir, "whole");
  cpSync(template, path, { recursive: true });
  const dry = await prune(await open(path, "identity"), { dryRun: true });
  assert.equal(dirSize(path), dirSize(template), "a dry run removes nothing");
  const before = dirSize(path);
  const r = await prune(await open(path, "identity"));
  const same = (x: typeof r) => ({ unindexed: x.unindexed, listsRemoved: x.listsRemoved, packsRemoved: x.packsRemoved, repacked: x.repacked, rewritten: x.rewritten });
  assert.deepEqual(same(r), same(dry), "the dry run said what prune does");
  assert.equal(r.unindexed, 3);
  assert.ok(r.packsRemoved > 3 && r.listsRemoved >= 1, JSON.stringify(r));
  assert.ok(r.repacked >= 1 && r.rewritten >= 1, `mostly unused packs are repacked: ${JSON.stringify(r)}`);
  assert.ok(Math.abs(before - dirSize(path) - r.bytesFreed) < 16384, `freed ${before - dirSize(path)}, said ${r.bytesFreed}`);
  t.diagnostic(`repository ${before} -> ${dirSize(path)} bytes; ${JSON.stringify(r)}`);
  await checkKept(path, true);
  const again = await prune(await open(path, "identity"));
  assert.equal(again.packsRemoved + again.listsRemoved + again.indexRemoved + again.repacked, 0, `nothing left to remove: ${JSON.stringify(again)}`);
});

test("with the write key alone prune removes what no snapshot needs and says that repacking needs the identity", async () => {
  const path = join(tmp.dir, "writekey");
  cpSync(template, path, { recursive: true });
  const r = await prune(await open(path));
  assert.equal(r.repacked, 0);
  assert.ok(r.packsRemoved > 3, JSON.stringify(r));
  assert.match(r.notes.join("\n"), /pack\(s\) are mostly unused; repacking them needs the identity/);
  await checkKept(path, true);
});

test("prune stops before removing anything when a snapshot's chunk is in none of its packs", async () => {
  const path = join(tmp.dir, "damaged");
  cpSync(template, path, { recursive: true });
  for (const f of readdirSync(join(path, "index"))) rmSync(join(path, "index", f));
  const before = dirSize(path);
  await assert.rejects(prune(await open(path)), /prune stopped before removing anything: snapshot \w+: .* needs chunk/);
  assert.equal(dirSize(path), before);
});

test(`a prune SIGKILLed at random moments (${KILLS} times) leaves a valid repository; the next prune finishes it`, async (t) => {
  // How long an uncut prune takes, from the child's "ready".
  const run = (path: string, killAfter: number) =>
    new Promise<{ steps: string[]; done: boolean; ms: number; firstStep: number }>((resolve, reject) => {
      const child = spawn(process.execPath, [CHILD, path, secret.toString("hex")], { stdio: ["ignore", "pipe", "inherit"] });
      let out = "";
      let start = 0;
      let firstStep = 0;
      child.stdout.setEncoding("utf8").on("data", (d: string) => {
        out += d;
        if (start && !firstStep && out.split("\n").length > 2) firstStep = Date.now() - start;
        if (!start && out.includes("ready\n")) {
          start = Date.now();
          if (Number.isFinite(killAfter)) void sleep(killAfter).then(() => child.kill("SIGKILL"));
        }
      });
      child.on("error", reject);
      child.on("close", () => {
        const lines = out.split("\n").filter(Boolean);
        resolve({ steps: lines.filter((l) => l !== "ready" && !l.startsWith("done")), done: lines.some((l) => l.startsWith("done")), ms: Date.now() - start, firstStep });
      });
    });
  const whole = join(tmp.dir, "timing");
  cpSync(template, whole, { recursive: true });
  const full = await run(whole, Infinity);
  assert.ok(full.done);
  assert.ok(full.steps.length >= 8, full.steps.join("\n"));
  const total = full.steps.length;
  let midway = 0;
  for (let i = 0; i < KILLS; i++) {
    const path = join(tmp.dir, `kill-${i}`);
    cpSync(template, path, { recursive: true });
    // Half the kills anywhere, half while it writes and removes.
    const r = await run(path, i % 2 ? Math.random() * full.ms * 1.1 : full.firstStep + Math.random() * (full.ms - full.firstStep));
    if (!r.done && r.steps.length > 0) midway++;
    await checkKept(path, false);
    if (i % 4 === 0) await checkKept(path, true);
    const rest = await prune(await open(path, "identity"));
    assert.equal(rest.snapshots, kept.size);
    await checkKept(path, i % 4 === 0);
    rmSync(path, { recursive: true, force: true });
  }
  t.diagnostic(`${midway} of ${KILLS} kills landed mid-prune (${total} steps in an uncut run)`);
  assert.ok(midway >= KILLS / 4, `${midway} of ${KILLS} kills landed between a prune's first step and its end (${total} steps)`);
});
