// Bad input and faults, mostly through the CLI as a child process:
// wrong keys, missing repository, broken config, flipped bytes in every kind
// of stored object, crafted snapshots whose paths escape the target, backups
// killed with SIGKILL at random moments, files that grow or change while read
// (real writers, and changes made at an exact moment of the read), files that
// cannot be read (the snapshot is saved, incomplete), globs that match
// nothing, and what the write key alone may and may not do.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { existsSync } from "node:fs";
import { appendFile, chmod, cp, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, symlink, truncate, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { LocalBackend } from "../../src/backends/local.ts";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { identityFromSecret, parseIdentityFile } from "../../src/engine/crypto/age.ts";
import { ChunkReader } from "../../src/engine/repository/reader.ts";
import { restore } from "../../src/engine/restore/restore.ts";
import { Index } from "../../src/engine/repository/chunk-index.ts";
import { backup } from "../../src/engine/backup.ts";
import { parseWriteKey } from "../../src/engine/crypto/keys.ts";
import { Repository } from "../../src/engine/repository/repository.ts";
import { encodeSnapshot, findSnapshot, loadSnapshot, type NewSnapshot, type Snapshot } from "../../src/engine/snapshot/snapshot.ts";
import { FilesSource } from "../../src/sources/files.ts";
import { LocalTransport } from "../../src/transport/local.ts";
import type { ExecOptions, FileInfo, FileRead, Listing, ReadOptions, RunningCommand, Transport } from "../../src/transport/transport.ts";
import {
  flipByte,
  makeRepo,
  makeSqlite,
  sha256,
  sqlite,
  sqliteContentHash,
  treeHashes,
  writeConfig,
  type TempRepo,
} from "../helpers/repo.ts";
import { CLI, cliEnv, runCli, runCliKilledAfter } from "../helpers/cli.ts";

/** A repository with one snapshot of a small database and a few settings files. */
interface Fixture extends TempRepo {
  config: string;
  db: string;
  etc: string;
  snapshotId: string;
  wk: Record<string, string>;
}

async function fixture(): Promise<Fixture> {
  const r = await makeRepo();
  const db = join(r.dir, "data", "bot.db");
  const etc = join(r.dir, "etc");
  await mkdir(join(r.dir, "data"));
  await mkdir(join(etc, "keys"), { recursive: true });
  await makeSqlite(db, 600, 1000);
  await writeFile(join(etc, "config.json"), JSON.stringify({ exchange: "binance", pairs: ["BTC/USDT"] }));
  await writeFile(join(etc, ".env"), "API_KEY=secret\n");
  await writeFile(join(etc, "keys", "salt.key"), randomBytes(32));
  await writeFile(join(etc, "big.bin"), randomBytes(300_000));
  const config = await writeConfig(r.dir, r.repoUrl, `  - name: db\n    sqlite: ${db}\n  - name: settings\n    files: ["${etc}/*", "${etc}/keys/*"]\n`);
  const wk = { CAIRN_WRITE_KEY: r.writeKey };
  const b = await runCli(["backup", "-c", config, "--json"], { env: wk });
  assert.equal(b.code, 0, b.stderr);
  return { ...r, config, db, etc, wk, snapshotId: JSON.parse(b.stdout).id };
}

async function writeKeyRepo(r: TempRepo): Promise<Repository> {
  return Repository.open(new LocalBackend(r.repoPath), { writeKey: parseWriteKey(r.writeKey) });
}

async function onlyFile(dir: string): Promise<string> {
  const names = (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
  assert.equal(names.length, 1, `one file in ${dir}`);
  return join(names[0].parentPath, names[0].name);
}

// One repository for the tests below that only add snapshots to it (the
// damage tests work on copies of their own).
let fx: Fixture;
before(async () => {
  fx = await fixture();
});
after(async () => {
  await fx?.cleanup();
});

describe("keys and repository", () => {
  let other: TempRepo;
  before(async () => {
    other = await makeRepo();
  });
  after(async () => {
    await other?.cleanup();
  });

  test("a wrong identity: exit 12 for every command, and nothing is written", async () => {
    const repoBefore = await treeHashes(fx.repoPath);
    const target = join(fx.dir, "restore-wrong-id");
    const out = join(fx.dir, "export-wrong-id.tar.zst.age");
    const id = ["-i", other.identityFile];
    const runs = {
      restore: await runCli(["restore", "-r", fx.repoUrl, ...id, "latest", "--target", target]),
      export: await runCli(["export", "-r", fx.repoUrl, ...id, "latest", "-o", out]),
      verify: await runCli(["verify", "-r", fx.repoUrl, ...id, "--read-data"]),
      backup: await runCli(["backup", "-c", fx.config], { env: { CAIRN_IDENTITY: await readFile(other.identityFile, "utf8") } }),
    };
    for (const [what, r] of Object.entries(runs)) {
      assert.equal(r.code, 12, `${what}: ${r.stderr}`);
      assert.match(r.stderr, /no identity matches/, what);
      assert.match(r.stderr, /^hint: /m, what);
    }
    assert.deepEqual(await treeHashes(fx.repoPath), repoBefore, "the repository is unchanged byte for byte");
    assert.equal(existsSync(target), false, "no restore target was made");
    assert.equal(existsSync(out), false, "no export file was made");
  });

  test("a wrong write key (valid, from another repository): exit 12, nothing written", async () => {
    const repoBefore = await treeHashes(fx.repoPath);
    const env = { CAIRN_WRITE_KEY: other.writeKey };
    const keyFile = join(fx.dir, "other-write-key.txt");
    await writeFile(keyFile, `CAIRN_WRITE_KEY=${other.writeKey}\n`);
    const runs = {
      backup: await runCli(["backup", "-c", fx.config], { env }),
      snapshots: await runCli(["snapshots", "-r", fx.repoUrl], { env }),
      keyFile: await runCli(["backup", "-c", fx.config, "--write-key-file", keyFile]),
    };
    for (const [what, r] of Object.entries(runs)) {
      assert.equal(r.code, 12, `${what}: ${r.stderr}`);
      assert.match(r.stderr, /write key does not match/, what);
      assert.match(r.stderr, /^hint: .*CAIRN_WRITE_KEY/m, what);
    }
    assert.deepEqual(await treeHashes(fx.repoPath), repoBefore, "the repository is unchanged byte for byte");
  });

  test("no key at all, or a malformed write key", async () => {
    const none = await runCli(["backup", "-c", fx.config]);
    assert.equal(none.code, 2, none.stderr);
    assert.match(none.stderr, /no key given/);
    const bad = await runCli(["backup", "-c", fx.config], { env: { CAIRN_WRITE_KEY: "CAIRN-WRITE-KEY-1NOTAKEY" } });
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /not a cairn write key/);
    assert.doesNotMatch(bad.stderr, /NOTAKEY/, "the bad key is not echoed");
  });

  test("a missing repository: exit 10 naming the location, and nothing is created", async () => {
    const missing = join(fx.dir, "no-such-repo");
    const url = `local:${missing}`;
    const config = await writeConfig(fx.dir, url, `  - name: settings\n    files: ["${fx.etc}/*"]\n`, "missing.yml");
    const runs = {
      snapshots: await runCli(["snapshots", "-r", url], { env: fx.wk }),
      backup: await runCli(["backup", "-c", config], { env: fx.wk }),
      restore: await runCli(["restore", "-i", fx.identityFile, "latest", "--target", join(fx.dir, "t-missing")], { env: { CAIRN_REPOSITORY: url } }),
    };
    for (const [what, r] of Object.entries(runs)) {
      assert.equal(r.code, 10, `${what}: ${r.stderr}`);
      assert.ok(r.stderr.includes(`no cairn repository at local:${missing}`), `${what}: ${r.stderr}`);
      assert.match(r.stderr, /cairn init/, what);
    }
    assert.equal(existsSync(missing), false, "no repository folder was created");
    assert.equal(existsSync(join(fx.dir, "t-missing")), false);
  });

  test("a broken config: exit 2 naming file:line", async () => {
    const cases: [string, string, number, RegExp][] = [
      // [name, text, line of the problem, what the message says]
      ["duplicate-key.yml", `repository: ${fx.repoUrl}\nsources:\n  - name: db\n    sqlite: x.db\n    sqlite: y.db\n`, 5, /invalid YAML.*unique/],
      ["tab-indent.yml", `repository: ${fx.repoUrl}\nsources:\n\t- name: db\n`, 3, /invalid YAML.*[Tt]ab/],
      ["unknown-key.yml", `repository: ${fx.repoUrl}\nsources:\n  - name: db\n    sqlite: x.db\n    compresion: 19\n`, 3, /compresion/],
      ["wrong-type.yml", `repository: ${fx.repoUrl}\nsources:\n  - name: db\n    sqlite: 42\n`, 4, /sqlite/],
      ["wrong-type-port.yml", `repository: ${fx.repoUrl}\nhost:\n  address: example.org\n  user: backup\n  port: "twenty-two"\nsources:\n  - name: s\n    files: /etc/hosts\n`, 5, /port/],
      ["bad-duration.yml", `repository: ${fx.repoUrl}\nsources:\n  - name: logs\n    files: /var/log/*.log\n    newer-than: soon\n`, 5, /newer-than.*duration|duration/],
    ];
    for (const [name, text, line, message] of cases) {
      const path = join(fx.dir, name);
      await writeFile(path, text);
      const r = await runCli(["backup", "-c", path], { env: fx.wk });
      assert.equal(r.code, 2, `${name}: ${r.stderr}`);
      assert.ok(r.stderr.includes(`${path}:${line}:`), `${name}: expected ${path}:${line}: in ${r.stderr}`);
      assert.match(r.stderr, message, name);
    }
  });

  test("the write key alone backs up and lists snapshots, but cannot restore or export (exit 12 with a hint)", async () => {
    const b = await runCli(["backup", "-c", fx.config, "--json"], { env: fx.wk });
    assert.equal(b.code, 0, b.stderr);
    const id = JSON.parse(b.stdout).id as string;
    const list = await runCli(["snapshots", "-r", fx.repoUrl, "--json"], { env: fx.wk });
    assert.equal(list.code, 0, list.stderr);
    assert.ok((JSON.parse(list.stdout) as { id: string }[]).some((s) => s.id === id), "the new snapshot is listed");
    const target = join(fx.dir, "restore-wk");
    const out = join(fx.dir, "export-wk.tar.zst.age");
    const restore = await runCli(["restore", "-r", fx.repoUrl, id, "--target", target], { env: fx.wk });
    const exp = await runCli(["export", "-r", fx.repoUrl, id, "-o", out], { env: fx.wk });
    for (const [what, r] of [["restore", restore], ["export", exp]] as const) {
      assert.equal(r.code, 12, `${what}: ${r.stderr}`);
      assert.match(r.stderr, /needs the age identity/, what);
      assert.match(r.stderr, /^hint: pass -i FILE or set CAIRN_IDENTITY/m, what);
    }
    assert.equal(existsSync(target), false);
    assert.equal(existsSync(out), false);
    // And the write key cannot read data through the engine either.
    const repo = await writeKeyRepo(fx);
    assert.equal(repo.canReadData, false);
    assert.throws(() => new ChunkReader(repo, new Index()), (err: Error) => err.name === "NoKeyError");
    // verify with the write key checks checksums only, and says so.
    const v = await runCli(["verify", "-r", fx.repoUrl, "--read-data"], { env: fx.wk });
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /checksums only/);
  });
});

describe("a flipped byte in a stored object", { concurrency: true }, () => {
  let base: Fixture;
  before(async () => {
    base = await fixture();
  });
  after(async () => {
    await base?.cleanup();
  });

  /** A copy of the base repository, for one kind of damage. */
  async function copyRepo(tag: string): Promise<{ repoPath: string; repoUrl: string }> {
    const repoPath = join(base.dir, `repo-${tag}`);
    await cp(base.repoPath, repoPath, { recursive: true });
    return { repoPath, repoUrl: `local:${repoPath}` };
  }

  test("a pack: verify --read-data exits 3 naming the pack", async () => {
    const { repoPath, repoUrl } = await copyRepo("pack");
    const pack = await onlyFile(join(repoPath, "packs"));
    const name = pack.split("/").pop()!;
    await flipByte(pack, (n) => Math.floor(n / 2));
    const r = await runCli(["verify", "-r", repoUrl, "--read-data", "-i", base.identityFile]);
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`error: pack ${name}: checksum mismatch`));
    // The write key alone sees it too (checksums).
    const w = await runCli(["verify", "-r", repoUrl, "--read-data"], { env: base.wk });
    assert.equal(w.code, 3, w.stdout + w.stderr);
    assert.match(w.stdout, new RegExp(`pack ${name}`));
  });

  test("a pack: restore exits 3 and leaves no partly written file under its final name", async () => {
    const { repoPath, repoUrl } = await copyRepo("pack-restore");
    // Damage the first payload segment: the database's first chunk is there.
    const pack = await onlyFile(join(repoPath, "packs"));
    const data = await readFile(pack);
    const headerEnd = data.indexOf("\n---") + 1;
    const payloadStart = data.indexOf("\n", headerEnd) + 1 + 16;
    await flipByte(pack, payloadStart + 100);
    const target = join(base.dir, "restore-damaged");
    const r = await runCli(["restore", "-r", repoUrl, "-i", base.identityFile, "latest", "--target", target]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /pack [0-9a-f]{64}/);
    const restored = await treeHashes(target);
    assert.equal(restored.has("db.sqlite"), false, "no db.sqlite with damaged content");
    for (const p of restored.keys()) assert.doesNotMatch(p, /\.cairn-restore-/, `temp file left: ${p}`);
    // Whatever was restored is whole and right.
    for (const [p, hash] of restored) {
      assert.match(p, /^settings\//);
      assert.equal(hash, sha256(await readFile(join("/", relative("settings", p)))), `${p} is intact`);
    }
  });

  test("an index file: verify --read-data exits 3 naming it", async () => {
    const { repoPath, repoUrl } = await copyRepo("index");
    const file = await onlyFile(join(repoPath, "index"));
    const name = file.split("/").pop()!;
    await flipByte(file, (n) => n - 30);
    const r = await runCli(["verify", "-r", repoUrl, "--read-data", "-i", base.identityFile]);
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`error: index ${name}: .*checksum mismatch`));
    const restore = await runCli(["restore", "-r", repoUrl, "-i", base.identityFile, "latest", "--target", join(base.dir, "t-index")]);
    assert.equal(restore.code, 3, restore.stderr);
    assert.match(restore.stderr, new RegExp(`index ${name}`));
  });

  test("a snapshot file: verify --read-data exits 3 naming it", async () => {
    const { repoPath, repoUrl } = await copyRepo("snapshot");
    const file = join(repoPath, "snapshots", base.snapshotId);
    await flipByte(file, 200);
    const r = await runCli(["verify", "-r", repoUrl, "--read-data", "-i", base.identityFile]);
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`error: snapshot ${base.snapshotId}: .*checksum mismatch`));
    const restore = await runCli(["restore", "-r", repoUrl, "-i", base.identityFile, base.snapshotId, "--target", join(base.dir, "t-snap")]);
    assert.equal(restore.code, 3, restore.stderr);
    assert.equal(existsSync(join(base.dir, "t-snap")), false);
  });

  test("a snapshot file that is damaged but renamed to its new checksum still fails (MAC/decryption)", async () => {
    const { repoPath, repoUrl } = await copyRepo("snapshot-renamed");
    const file = join(repoPath, "snapshots", base.snapshotId);
    await flipByte(file, (n) => n - 5);
    const newName = sha256(await readFile(file));
    await cp(file, join(repoPath, "snapshots", newName));
    await rm(file);
    const r = await runCli(["verify", "-r", repoUrl, "--read-data", "-i", base.identityFile]);
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`error: snapshot ${newName}: .*(fails authentication|MAC)`));
  });

  test("the config (a changed value): opening fails with an integrity error, exit 3", async () => {
    const { repoPath, repoUrl } = await copyRepo("config");
    const file = join(repoPath, "config");
    const text = await readFile(file, "utf8");
    const at = text.indexOf('"id": "') + 8;
    await writeFile(file, text.slice(0, at) + (text[at] === "0" ? "1" : "0") + text.slice(at + 1));
    const r = await runCli(["verify", "-r", repoUrl, "--read-data", "-i", base.identityFile]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /config fails the owner MAC/);
  });

  test("the config (a changed value), opened with the right write key: an integrity error (3), not 'wrong write key' (12)", async () => {
    // The config names the write key's metadata recipient, so cairn can tell a
    // right key on a damaged config from a wrong key.
    const { repoPath, repoUrl } = await copyRepo("config-wk");
    const file = join(repoPath, "config");
    const text = await readFile(file, "utf8");
    const at = text.indexOf('"id": "') + 8;
    await writeFile(file, text.slice(0, at) + (text[at] === "0" ? "1" : "0") + text.slice(at + 1));
    const r = await runCli(["verify", "-r", repoUrl, "--read-data"], { env: base.wk });
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /config/);
  });

  test("the config (broken JSON): exit 3 with either key", async () => {
    const { repoPath, repoUrl } = await copyRepo("config-json");
    await flipByte(join(repoPath, "config"), 0, 0x40); // "{" -> ";"
    const id = await runCli(["verify", "-r", repoUrl, "-i", base.identityFile]);
    const wk = await runCli(["verify", "-r", repoUrl], { env: base.wk });
    for (const r of [id, wk]) {
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /config .*is not valid JSON/);
    }
  });

  test("the keys file: the owner's verify names it (exit 3); the owner still restores (the file serves other recipients)", async () => {
    const { repoPath, repoUrl } = await copyRepo("keys");
    await flipByte(join(repoPath, "keys"), (n) => n - 1);
    const verify = await runCli(["verify", "-r", repoUrl, "--read-data", "-i", base.identityFile]);
    assert.equal(verify.code, 3, verify.stderr);
    assert.match(verify.stdout, /error: the keys file/);
    const restore = await runCli(["restore", "-r", repoUrl, "-i", base.identityFile, "latest", "--target", join(base.dir, "t-keys")]);
    assert.equal(restore.code, 0, restore.stderr);
  });

  test("the keys file, checked by verify with the write key alone: its form (the write key cannot open it)", async () => {
    const { repoPath, repoUrl } = await copyRepo("keys-wk");
    await flipByte(join(repoPath, "keys"), 0);
    const r = await runCli(["verify", "-r", repoUrl, "--read-data"], { env: base.wk });
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /keys file/);
  });
});

describe("a crafted snapshot", { concurrency: true }, () => {
  let real: Snapshot;
  before(async () => {
    const repo = await writeKeyRepo(fx);
    real = await loadSnapshot(repo, fx.snapshotId);
  });

  /** Save a snapshot like the real one with entries changed; its MAC is valid (the real write key). */
  async function craft(entries: (e: NewSnapshot["entries"]) => NewSnapshot["entries"]): Promise<string> {
    const repo = await writeKeyRepo(fx);
    const s: NewSnapshot = { ...real, time: new Date().toISOString(), entries: entries(real.entries.map((e) => ({ ...e }))) };
    return repo.saveMeta("snapshot", () => [encodeSnapshot(s)]);
  }

  test("paths that escape the target are refused (exit 3) and nothing is written", async () => {
    const outside = join(fx.dir, "outside");
    await mkdir(outside);
    const db = real.entries.find((e) => e.source === "db")!;
    // A good entry first: nothing at all may be written before the refusal.
    for (const path of ["../escape", "/abs/path", "a/../../b", `../${relative(fx.dir, outside)}/x`]) {
      const id = await craft((es) => [...es, { ...db, path }]);
      const target = join(fx.dir, "t", "target");
      const r = await runCli(["restore", "-r", fx.repoUrl, "-i", fx.identityFile, id, "--target", target]);
      assert.equal(r.code, 3, `${JSON.stringify(path)}: ${r.stderr}`);
      assert.match(r.stderr, /refusing unsafe path/, JSON.stringify(path));
      assert.deepEqual([...(await treeHashes(join(fx.dir, "t"))).keys()], [], `${JSON.stringify(path)}: nothing restored`);
      assert.deepEqual(await readdir(outside), [], `${JSON.stringify(path)}: nothing written outside`);
      if (path === "../escape") {
        const e = await runCli(["export", "-r", fx.repoUrl, "-i", fx.identityFile, id, "-o", join(fx.dir, "escape.tar.zst.age")]);
        assert.equal(e.code, 3, `export: ${e.stderr}`);
        assert.match(e.stderr, /refusing unsafe path/);
        assert.equal(existsSync(join(fx.dir, "escape.tar.zst.age")), false);
      }
      await rm(join(fx.dir, "t"), { recursive: true, force: true });
    }
    assert.equal(existsSync(join(fx.dir, "escape")), false);
    assert.equal(existsSync("/abs/path"), false);
    assert.equal(existsSync(join(fx.dir, "b")), false);
  });

  test("more unsafe paths, through the engine: refused with an integrity error before anything is written", async () => {
    const repo = await Repository.open(new LocalBackend(fx.repoPath), { identities: parseIdentityFile(await readFile(fx.identityFile, "utf8")) });
    const db = real.entries.find((e) => e.source === "db")!;
    for (const path of ["..", ".", "", "a//b", "a/./b", "a/", "a\\..\\..\\b", "ok/../../../tmp/x", "a\0b", "//etc/passwd", 42 as unknown as string]) {
      const snapshot: Snapshot = { ...real, entries: [...real.entries, { ...db, path }] };
      const target = join(fx.dir, "t-engine");
      await assert.rejects(restore(repo, { id: "crafted", snapshot }, { target }), (err: Error) => err.name === "IntegrityError" && /refusing unsafe path/.test(err.message), JSON.stringify(path));
      assert.equal(existsSync(target), false, `${JSON.stringify(path)}: the target was not even made`);
    }
  });

  test("the same path twice is refused", async () => {
    const id = await craft((es) => [...es, { ...es[0] }]);
    const r = await runCli(["restore", "-r", fx.repoUrl, "-i", fx.identityFile, id, "--target", join(fx.dir, "t-twice")]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /twice/);
  });

  test("a parent folder in the target that is a symlink pointing outside is refused; nothing lands outside", async () => {
    const outside = join(fx.dir, "outside-link");
    await mkdir(outside);
    const target = join(fx.dir, "t-link");
    await mkdir(target);
    await symlink(outside, join(target, "settings")); // every settings file goes through target/settings
    const r = await runCli(["restore", "-r", fx.repoUrl, "-i", fx.identityFile, fx.snapshotId, "--target", target]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /refusing to restore through .*settings/);
    assert.deepEqual(await readdir(outside), [], "nothing written through the link");
  });

  test("a deeper parent that is a symlink (created by an earlier entry's folder) is refused too", async () => {
    const outside = join(fx.dir, "outside-deep");
    await mkdir(outside);
    const target = join(fx.dir, "t-deep");
    const settings = real.entries.find((e) => e.source === "settings")!;
    const parts = settings.path.split("/");
    // Pre-create the real folders down to the file's parent's parent, then a link.
    const parentParent = join(target, ...parts.slice(0, -2));
    await mkdir(parentParent, { recursive: true });
    await symlink(outside, join(target, ...parts.slice(0, -1)));
    const r = await runCli(["restore", "-r", fx.repoUrl, "-i", fx.identityFile, fx.snapshotId, "--target", target]);
    assert.equal(r.code, 3, r.stderr);
    assert.deepEqual(await readdir(outside), [], "nothing written through the link");
  });

  test("a file in the target that is a symlink to outside is replaced, never written through", async () => {
    const outside = join(fx.dir, "outside-file");
    await mkdir(outside);
    const victim = join(outside, "victim");
    await writeFile(victim, "do not touch");
    const target = join(fx.dir, "t-filelink");
    await mkdir(target);
    await symlink(victim, join(target, "db.sqlite"));
    const refused = await runCli(["restore", "-r", fx.repoUrl, "-i", fx.identityFile, fx.snapshotId, "--target", target, "--source", "db"]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /would overwrite 1 existing file\(s\): .*db\.sqlite/);
    assert.equal(await readFile(victim, "utf8"), "do not touch");
    const r = await runCli(["restore", "-r", fx.repoUrl, "-i", fx.identityFile, fx.snapshotId, "--target", target, "--source", "db", "--overwrite"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await readFile(victim, "utf8"), "do not touch");
    assert.ok((await stat(join(target, "db.sqlite"))).isFile());
    assert.equal(await sqliteContentHash(join(target, "db.sqlite")), await sqliteContentHash(fx.db));
  });

  test("a folder in the way of a restored file: a clear error, and no temp file left behind", async () => {
    const target = join(fx.dir, "t-dir-in-way");
    await mkdir(join(target, "db.sqlite", "inner"), { recursive: true });
    const r = await runCli(["restore", "-r", fx.repoUrl, "-i", fx.identityFile, fx.snapshotId, "--target", target, "--source", "db"]);
    assert.notEqual(r.code, 0, r.stderr);
    assert.match(r.stderr, /db\.sqlite/);
    const left = [...(await treeHashes(target)).keys()].filter((p) => p.includes(".cairn-restore-"));
    assert.deepEqual(left, [], "no .cairn-restore-* temp file is left in the target");
  });

  test("a malformed chunk list is refused", async () => {
    const id = await craft((es) => es.map((e, i) => (i === 0 ? { ...e, chunks: ["../../etc/passwd"] } : e)));
    const r = await runCli(["restore", "-r", fx.repoUrl, "-i", fx.identityFile, id, "--target", join(fx.dir, "t-chunks")]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /malformed chunk list/);
    assert.equal(existsSync(join(fx.dir, "t-chunks")), false);
  });
});

describe("a backup killed with SIGKILL at random moments", () => {
  let r: TempRepo;
  after(async () => {
    await r?.cleanup();
  });

  test("afterwards verify passes and every completed snapshot restores identical", async () => {
    r = await makeRepo({ packSize: "4MiB" });
    const db = join(r.dir, "src", "trading_bot.db");
    const files = join(r.dir, "src", "config");
    await mkdir(files, { recursive: true });
    await makeSqlite(db, 20_000, 1000); // ~20 MB
    for (let i = 0; i < 10; i++) await writeFile(join(files, `f${i}.json`), JSON.stringify({ i, v: randomBytes(20).toString("hex") }));
    await writeFile(join(files, "blob.bin"), randomBytes(1 << 20));
    const config = await writeConfig(r.dir, r.repoUrl, `  - name: db\n    sqlite: ${db}\n  - name: settings\n    files: ["${files}/*"]\n`);
    const env = { CAIRN_WRITE_KEY: r.writeKey, TMPDIR: join(r.dir, "tmp") };
    await mkdir(env.TMPDIR);

    interface State {
      id: string;
      db: string;
      files: Map<string, string>;
    }
    const completed: State[] = [];
    const sourceState = async () => ({ db: await sqliteContentHash(db), files: await treeHashes(files) });
    let kills = 0;

    const mutate = async (i: number) => {
      const lo = randomInt(1, 19_000);
      await sqlite(db, `UPDATE t SET v = randomblob(1000) WHERE id BETWEEN ${lo} AND ${lo + 300}; INSERT INTO t(v) SELECT randomblob(1000) FROM t LIMIT 50;`);
      await writeFile(join(files, `f${i % 10}.json`), JSON.stringify({ i, v: randomBytes(20).toString("hex") }));
      await appendFile(join(files, "blob.bin"), randomBytes(1000));
    };
    // The sources change only between runs, so a run's source state can be taken after it.
    const complete = async (what: string) => {
      const b = await runCli(["backup", "-c", config, "--json"], { env });
      assert.equal(b.code, 0, `${what}: a stale lock or leftovers must not block the next run: ${b.stderr}`);
      completed.push({ id: JSON.parse(b.stdout).id, ...(await sourceState()) });
    };

    const started = Date.now();
    await complete("first backup");
    // Kill within the time a whole backup takes here, so most runs die part way whatever the machine's speed.
    const span = Math.max(300, Date.now() - started);
    for (let i = 1; i <= 15; i++) {
      await mutate(i);
      const run = await runCliKilledAfter(["backup", "-c", config, "--json"], randomInt(0, span), { env });
      if (run.killed) kills++;
      else {
        assert.equal(run.code, 0, `run ${i} ended by itself, so it must have succeeded: ${run.stderr}`);
        completed.push({ id: JSON.parse(run.stdout).id, ...(await sourceState()) });
      }
      if (i === 8) await complete(`backup after kill ${i}`);
    }
    await complete("backup after the last kill");
    assert.ok(kills >= 3, `at least a few runs were really killed (got ${kills})`);

    const list = await runCli(["snapshots", "-r", r.repoUrl, "--json"], { env });
    assert.equal(list.code, 0, list.stderr);
    const ids = new Set((JSON.parse(list.stdout) as { id: string }[]).map((s) => s.id));
    for (const c of completed) assert.ok(ids.has(c.id), `snapshot ${c.id} is listed`);

    // verify and the restores take shared locks: run them two at a time.
    const checks: (() => Promise<void>)[] = [
      async () => {
        const v = await runCli(["verify", "-r", r.repoUrl, "--read-data", "-i", r.identityFile]);
        assert.equal(v.code, 0, v.stdout + v.stderr);
        assert.match(v.stdout, /no problems found/);
      },
      ...completed.map((c) => async () => {
        const target = join(r.dir, "restore", c.id);
        const res = await runCli(["restore", "-r", r.repoUrl, "-i", r.identityFile, c.id, "--target", target]);
        assert.equal(res.code, 0, `restore ${c.id}: ${res.stderr}`);
        assert.equal(await sqliteContentHash(join(target, "db.sqlite")), c.db, `snapshot ${c.id}: database content`);
        assert.deepEqual(await treeHashes(join(target, "settings", files)), c.files, `snapshot ${c.id}: settings files byte for byte`);
        await rm(target, { recursive: true });
      }),
    ];
    const worker = async () => {
      for (let job = checks.shift(); job; job = checks.shift()) await job();
    };
    await Promise.all([worker(), worker()]);
  });
});

/** Starts a process that appends `lines` numbered lines to `log` every `everyMs` ms, one write per line, until stopped. */
async function logWriter(log: string, first: number, lines: number, everyMs: number): Promise<{ stop(): Promise<void> }> {
  const size = (await stat(log)).size;
  const writer = spawn(
    process.execPath,
    ["-e", `const fs=require("fs");let i=${first};const line=(i)=>"line "+String(i).padStart(8,"0")+" "+"x".repeat(70)+"\\n";setInterval(()=>{for(let k=0;k<${lines};k++)fs.appendFileSync(process.argv[1],line(i++))},${everyMs});`, log],
    { stdio: "ignore" },
  );
  const exited = new Promise((res) => writer.on("exit", res));
  // Wait until the writer has really started.
  while ((await stat(log)).size === size) await new Promise((res) => setTimeout(res, 5));
  return {
    async stop() {
      writer.kill("SIGTERM");
      await exited;
    },
  };
}

const logLine = (i: number) => `line ${String(i).padStart(8, "0")} ${"x".repeat(70)}\n`;

/** A SQLite `.backup` of db: what a restore of it must equal byte for byte (two backups of an unchanged database are identical). */
async function sqliteCopy(db: string, out: string): Promise<Buffer> {
  await sqlite(db, `.backup '${out}'`);
  return await readFile(out);
}

describe("files that change while read, files that cannot be read, globs that match nothing", () => {
  test("a log a writer appends 5 lines a second to: 5 backups of 5 succeed, the log stored as it was when its read began, the database byte-identical", async () => {
    const dir = join(fx.dir, "live");
    await mkdir(dir);
    const log = join(dir, "app.log");
    await writeFile(log, Array.from({ length: 100_000 }, (_, i) => logLine(i)).join("")); // 8 MB: reading it takes a while
    const config = await writeConfig(fx.dir, fx.repoUrl, `  - name: db\n    sqlite: ${fx.db}\n  - name: logs\n    files: ["${dir}/*.log"]\n    newer-than: 7d\n`, "live.yml");
    const dbBytes = await sqliteCopy(fx.db, join(fx.dir, "live-reference.db"));
    const writer = await logWriter(log, 100_000, 1, 200);
    const runs: { id: string; stderr: string }[] = [];
    try {
      for (let run = 1; run <= 5; run++) {
        const b = await runCli(["backup", "-c", config, "--json"], { env: fx.wk });
        assert.equal(b.code, 0, `run ${run} of 5: ${b.stderr}`);
        runs.push({ id: JSON.parse(b.stdout).id, stderr: b.stderr });
      }
    } finally {
      await writer.stop();
    }
    const final = await readFile(log, "utf8");
    for (const { id, stderr } of runs) {
      assert.doesNotMatch(stderr, /changed while it was read|left out/, "an appended log is neither read again nor left out");
      const target = join(fx.dir, `t-live-${id}`);
      const res = await runCli(["restore", "-r", fx.repoUrl, "-i", fx.identityFile, id, "--target", target]);
      assert.equal(res.code, 0, res.stderr);
      const got = await readFile(join(target, "logs", log), "utf8");
      assert.ok(got.length >= 100_000 * logLine(0).length, "at least what was there at the start");
      assert.ok(final.startsWith(got), "the restored log is a state the file really had");
      assert.ok(got.endsWith("\n"), "it ends at a write boundary");
      assert.ok((await readFile(join(target, "db.sqlite"))).equals(dbBytes), "the database is restored byte for byte");
      await rm(target, { recursive: true });
    }
  });

  test("a log growing as fast as it can be written: stored at the size it had when its read began, noted as grown, never read again", async () => {
    const dir = join(fx.dir, "fast");
    await mkdir(dir);
    const log = join(dir, "fast.log");
    await writeFile(log, Array.from({ length: 100_000 }, (_, i) => logLine(i)).join(""));
    const config = await writeConfig(fx.dir, fx.repoUrl, `  - name: logs\n    files: ["${log}"]\n`, "fast.yml");
    const writer = await logWriter(log, 100_000, 50, 1);
    let b;
    try {
      b = await runCli(["backup", "-c", config, "--json"], { env: fx.wk });
    } finally {
      await writer.stop();
    }
    assert.equal(b.code, 0, b.stderr);
    assert.doesNotMatch(b.stderr, /changed while it was read/);
    const out = JSON.parse(b.stdout);
    assert.deepEqual(out.incomplete, []);
    assert.deepEqual(out.sources[0].info.grew, [log], "the snapshot notes that the log grew while it was read");
    const target = join(fx.dir, "t-fast");
    const res = await runCli(["restore", "-r", fx.repoUrl, "-i", fx.identityFile, out.id, "--target", target]);
    assert.equal(res.code, 0, res.stderr);
    const got = await readFile(join(target, "logs", log), "utf8");
    const final = await readFile(log, "utf8");
    assert.ok(got.length >= 100_000 * logLine(0).length && got.length < final.length);
    assert.ok(final.startsWith(got) && got.endsWith("\n"), "a state the file really had, at a write boundary");
    assert.equal(got.length, out.sources[0].size, "what was read is what was stored");
  });

  test("a missing literal path, a file without read permission, a folder that cannot be listed: the snapshot is saved without them, incomplete, each named (exit 4)", async () => {
    const dir = join(fx.dir, "unreadable");
    await mkdir(join(dir, "conf", "locked"), { recursive: true });
    await writeFile(join(dir, "settings.json"), '{"ok":true}');
    await writeFile(join(dir, "secret.key"), "no one may read this", { mode: 0o000 });
    await writeFile(join(dir, "conf", "a.conf"), "a=1\n");
    await writeFile(join(dir, "conf", "locked", "b.conf"), "b=2\n");
    await chmod(join(dir, "conf", "locked"), 0o000);
    const missing = join(dir, "setings.json"); // a typo
    const config = await writeConfig(
      fx.dir,
      fx.repoUrl,
      `  - name: db\n    sqlite: ${fx.db}\n  - name: settings\n    files: ["${join(dir, "settings.json")}", "${missing}", "${join(dir, "secret.key")}", "${join(dir, "conf")}"]\n`,
      "unreadable.yml",
    );
    const dbBytes = await sqliteCopy(fx.db, join(fx.dir, "unreadable-reference.db"));
    // Root reads every file; without these capabilities it is held to the permission bits like anyone.
    const b = await runCliWithoutDacCapabilities(["backup", "-c", config, "--json"], fx.wk);
    assert.equal(b.code, 4, b.stderr);
    const out = JSON.parse(b.stdout);
    assert.deepEqual(
      out.incomplete.map((u: { source: string; path: string; reason: string }) => [u.source, u.path, u.reason]),
      [
        ["settings", missing, "it does not exist"],
        ["settings", join(dir, "conf", "locked"), "permission denied"],
        ["settings", join(dir, "secret.key"), "permission denied"],
      ],
    );
    for (const path of [missing, join(dir, "secret.key"), join(dir, "conf", "locked")]) assert.ok(b.stderr.includes(path), `stderr names ${path}: ${b.stderr}`);
    // With --json the failure is the last line of stderr, one JSON object.
    const failure = JSON.parse(b.stderr.trim().split("\n").at(-1)!).error;
    assert.equal(failure.code, 4);
    assert.match(failure.message, /^snapshot [0-9a-f]{8} was saved, but it is incomplete: 3 files could not be read/);
    assert.ok(failure.hint);
    const list = await runCli(["snapshots", "-r", fx.repoUrl], { env: fx.wk });
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`^${out.id.slice(0, 8)} .*incomplete`, "m"));
    assert.ok(list.stdout.includes(`${out.id.slice(0, 8)} is incomplete: settings: ${missing}: it does not exist`), list.stdout);
    const listed = (JSON.parse((await runCli(["snapshots", "-r", fx.repoUrl, "--json"], { env: fx.wk })).stdout) as { id: string; incomplete: unknown[] }[]).find((s) => s.id === out.id)!;
    assert.deepEqual(listed.incomplete, out.incomplete);
    const target = join(fx.dir, "t-unreadable");
    const res = await runCli(["restore", "-r", fx.repoUrl, "-i", fx.identityFile, out.id, "--target", target]);
    assert.equal(res.code, 0, res.stderr);
    assert.ok((await readFile(join(target, "db.sqlite"))).equals(dbBytes), "the database is in the snapshot, byte for byte");
    assert.equal(await readFile(join(target, "settings", dir, "settings.json"), "utf8"), '{"ok":true}');
    assert.equal(await readFile(join(target, "settings", dir, "conf", "a.conf"), "utf8"), "a=1\n");
    assert.equal(existsSync(join(target, "settings", dir, "secret.key")), false);
    await chmod(join(dir, "conf", "locked"), 0o755);
  });

  test("a glob that matches nothing: a warning naming the pattern; the rest is backed up", async () => {
    const pattern = join(fx.dir, "nowhere", "*.ini");
    const config = await writeConfig(fx.dir, fx.repoUrl, `  - name: settings\n    files: ["${fx.etc}/*.json", "${pattern}"]\n`, "partial-glob.yml");
    const b = await runCli(["backup", "-c", config, "--json"], { env: fx.wk });
    assert.equal(b.code, 0, b.stderr);
    assert.ok(b.stderr.includes(`warning: source settings: ${pattern} matches nothing`), b.stderr);
    const out = JSON.parse(b.stdout);
    assert.equal(out.sources[0].files, 1);
    assert.ok(out.sources[0].warnings.some((w: string) => w.includes(pattern)), "the warning is kept in the snapshot");
  });

  test("newer-than that leaves none of a pattern's files: a warning naming the pattern, not silence", async () => {
    const dir = join(fx.dir, "aged");
    await mkdir(join(dir, "old"), { recursive: true });
    await mkdir(join(dir, "new"));
    await writeFile(join(dir, "old", "a.log"), "old\n");
    await writeFile(join(dir, "new", "b.log"), "new\n");
    const longAgo = new Date(Date.now() - 10 * 86400e3);
    await utimes(join(dir, "old", "a.log"), longAgo, longAgo);
    const config = await writeConfig(fx.dir, fx.repoUrl, `  - name: logs\n    files: ["${dir}/old/*.log", "${dir}/new/*.log"]\n    newer-than: 1d\n`, "aged.yml");
    const b = await runCli(["backup", "-c", config, "--json"], { env: fx.wk });
    assert.equal(b.code, 0, b.stderr);
    assert.ok(b.stderr.includes(`warning: source logs: every file ${dir}/old/*.log matches`), b.stderr);
    assert.match(b.stderr, /older than newer-than \(1d\)/);
    assert.doesNotMatch(b.stderr, /new\/\*\.log/);
    const out = JSON.parse(b.stdout);
    assert.equal(out.sources[0].files, 1);
    assert.ok(out.sources[0].warnings.some((w: string) => w.includes(`${dir}/old/*.log`)));
  });

  test("a source whose globs all match nothing: the snapshot is saved with the other sources, incomplete, naming the patterns (exit 4)", async () => {
    const p1 = join(fx.dir, "nowhere", "*.conf");
    const p2 = join(fx.dir, "neither", "*.env");
    const config = await writeConfig(fx.dir, fx.repoUrl, `  - name: db\n    sqlite: ${fx.db}\n  - name: settings\n    files: ["${p1}", "${p2}"]\n`, "no-glob.yml");
    const b = await runCli(["backup", "-c", config, "--json"], { env: fx.wk });
    assert.equal(b.code, 4, b.stderr);
    const out = JSON.parse(b.stdout);
    assert.deepEqual(out.incomplete, [{ source: "settings", path: `${p1}, ${p2}`, reason: "no file matches any pattern of this source" }]);
    assert.deepEqual(out.sources.map((s: { name: string; files: number }) => [s.name, s.files]), [["db", 1], ["settings", 0]]);
    assert.ok(b.stderr.includes(p1) && b.stderr.includes(p2), b.stderr);
    assert.deepEqual(await readdir(join(fx.repoPath, "locks")), [], "the lock was released");
  });
});

/** `cairn ARGS` as root without the capabilities that let root read any file (so permission bits hold). */
function runCliWithoutDacCapabilities(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const caps = "-dac_override,-dac_read_search";
  return new Promise((resolve, reject) => {
    const child = spawn("setpriv", [`--inh-caps=${caps}`, `--bounding-set=${caps}`, "--", process.execPath, CLI, ...args], { env: cliEnv(env) });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * The local transport, with a hook run once a read's first bytes have been
 * delivered: a test changes the real file at exactly that moment. Reads and
 * their options are recorded.
 */
class Tampering implements Transport {
  readonly inner = new LocalTransport();
  readonly description = "local";
  readonly host = "test-host";
  reads: { path: string; options: ReadOptions }[] = [];
  duringRead: (path: string, n: number) => Promise<void> = async () => {};
  exec(argv: string[], o?: ExecOptions): RunningCommand {
    return this.inner.exec(argv, o);
  }
  glob(p: string[]): Promise<Listing> {
    return this.inner.glob(p);
  }
  walk(d: string): Promise<Listing> {
    return this.inner.walk(d);
  }
  stat(p: string): Promise<FileInfo> {
    return this.inner.stat(p);
  }
  async read(path: string, options: ReadOptions = {}): Promise<FileRead> {
    this.reads.push({ path, options });
    const n = this.reads.filter((r) => r.path === path).length;
    const r = await this.inner.read(path, options);
    const hook = () => this.duringRead(path, n);
    async function* tampered() {
      let first = true;
      for await (const chunk of r.stream) {
        yield chunk as Buffer;
        if (first) await hook();
        first = false;
      }
    }
    return { stream: Readable.from(tampered()), after: r.after };
  }
  async close(): Promise<void> {}
}

describe("a file that changes while read (engine, deterministic, real files)", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "cairn-changing-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function memoryRepo() {
    const id = identityFromSecret(randomBytes(32));
    const backend = new MemoryBackend();
    const { writeKey } = await Repository.init(backend, id, { packSize: 1 << 20 });
    return { backend, repo: await Repository.open(backend, { writeKey: parseWriteKey(writeKey) }), reader: () => Repository.open(backend, { identities: [id] }) };
  }

  /** Back up `sources` over t; returns the snapshot, the warnings, and the restored files under restoredAt(path). */
  async function run(t: Tampering, sources: FilesSource[]) {
    const { repo, reader } = await memoryRepo();
    const warnings: string[] = [];
    const ref = await backup(repo, { sources, transport: t, log: { info: () => {}, warn: (m) => warnings.push(m) } });
    const target = await mkdtemp(join(dir, "restored-"));
    const r = await reader();
    await restore(r, await findSnapshot(r, ref.id), { target });
    return { ...ref, warnings, restored: (source: string, path: string) => readFile(join(target, source, path)) };
  }

  async function file(name: string, content: string | Buffer, ageMs = 0): Promise<string> {
    const path = join(dir, name);
    await writeFile(path, content);
    if (ageMs) await utimes(path, new Date(Date.now() - ageMs), new Date(Date.now() - ageMs));
    return path;
  }

  test("appended to during its read: stored at the size it had when the read began, read once, noted as grown", async () => {
    const log = await file("append.log", "first line\n".repeat(500));
    const t = new Tampering();
    t.duringRead = async () => appendFile(log, "appended\n");
    const s = await run(t, [new FilesSource("logs", [log])]);
    assert.equal(t.reads.length, 1, "no second read");
    assert.deepEqual(s.warnings, []);
    assert.deepEqual(s.snapshot.incomplete, []);
    assert.deepEqual(s.snapshot.sources[0].info, { files: 1, bytes: 5500, grew: [log] });
    assert.equal(s.snapshot.entries[0].size, 5500);
    assert.equal((await s.restored("logs", log)).toString(), "first line\n".repeat(500));
  });

  test("rewritten in place once during its read: read again with a warning naming it; the snapshot holds the settled content", async () => {
    const path = await file("rewritten.json", "A".repeat(5000));
    const t = new Tampering();
    t.duringRead = async (_p, n) => {
      if (n === 1) await writeFile(path, "B".repeat(5000)); // same size: only the bytes say it changed
    };
    const s = await run(t, [new FilesSource("settings", [path])]);
    assert.equal(t.reads.length, 2);
    assert.ok(s.warnings.some((w) => w.includes(path) && /changed while it was read \(bytes within its first 5000 were rewritten\); reading it again/.test(w)), s.warnings.join("\n"));
    assert.equal((await s.restored("settings", path)).toString(), "B".repeat(5000));
    assert.equal(s.snapshot.stats.bytes, 5000, "bytes of the discarded read are not counted");
    assert.deepEqual(s.snapshot.incomplete, []);
  });

  test("rewritten in place during every read: left out after 3 reads and named; the snapshot is saved with everything else, incomplete", async () => {
    const busy = await file("busy.db", randomBytes(3000));
    const calm = await file("calm.json", '{"calm":true}');
    const t = new Tampering();
    t.duringRead = async (p) => {
      if (p === busy) await writeFile(busy, randomBytes(3000));
    };
    const s = await run(t, [new FilesSource("data", [busy]), new FilesSource("settings", [calm])]);
    assert.equal(t.reads.filter((r) => r.path === busy).length, 3);
    assert.deepEqual(s.snapshot.incomplete, [
      { source: "data", path: busy, reason: "it was changed in place each of the 3 times it was read (last: bytes within its first 3000 were rewritten)" },
    ]);
    assert.deepEqual(s.snapshot.entries.map((e) => e.path), [`settings/${calm.slice(1)}`]);
    assert.equal((await s.restored("settings", calm)).toString(), '{"calm":true}');
    assert.equal(s.snapshot.stats.bytes, 13, "only what was stored is counted");
    assert.ok(s.warnings.some((w) => w.includes(`left out ${busy}`)));
  });

  test("a file not modified lately is read once and not hashed; if it changes all the same, it is read again, hashed", async () => {
    const old = await file("old.conf", "x=1\n".repeat(100), 3600_000);
    const t = new Tampering();
    let s = await run(t, [new FilesSource("settings", [old])]);
    assert.deepEqual(t.reads, [{ path: old, options: { length: 400, hashPrefix: false } }], "the common case: one read, no hash");
    assert.equal((await s.restored("settings", old)).toString(), "x=1\n".repeat(100));

    const t2 = new Tampering();
    t2.duringRead = async (_p, n) => {
      if (n === 1) await appendFile(old, "y=2\n");
    };
    s = await run(t2, [new FilesSource("settings", [old])]);
    assert.deepEqual(t2.reads.map((r) => r.options), [{ length: 400, hashPrefix: false }, { length: 404, hashPrefix: true }]);
    assert.equal((await s.restored("settings", old)).toString(), "x=1\n".repeat(100) + "y=2\n");
  });

  test("replaced by another file, or cut short, during its read: read again", async () => {
    const replaced = await file("replaced.json", "old content\n");
    const cut = await file("cut.log", "z".repeat(4000));
    const t = new Tampering();
    t.duringRead = async (p, n) => {
      if (n > 1) return;
      if (p === replaced) {
        await writeFile(`${replaced}.new`, "new content\n");
        await rename(`${replaced}.new`, replaced); // same size, a new file
      } else await truncate(cut, 1000);
    };
    const s = await run(t, [new FilesSource("s", [replaced, cut])]);
    assert.ok(s.warnings.some((w) => w.includes(replaced) && /replaced by another file/.test(w)), s.warnings.join("\n"));
    assert.ok(s.warnings.some((w) => w.includes(cut) && /shrank from 4000 to 1000 bytes/.test(w)), s.warnings.join("\n"));
    assert.equal((await s.restored("s", replaced)).toString(), "new content\n");
    assert.equal((await s.restored("s", cut)).toString(), "z".repeat(1000));
  });
});
