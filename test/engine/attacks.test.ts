// The attacks of issue 11, each done as an attacker would: with the CLI (or
// the engine, where the attacker holds the write key and writes storage
// directly) against a real repository on disk. Each test first shows the
// attacker's step worked on storage, then that cairn refuses or reports it.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { DatabaseSync } from "node:sqlite";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { createHash, randomBytes } from "node:crypto";
import { zstdCompressSync } from "node:zlib";
import { LocalBackend } from "../../src/backends/local.ts";
import { encrypt } from "../../src/engine/crypto/age.ts";
import { chunkId, parseWriteKey } from "../../src/engine/crypto/keys.ts";
import { Index, indexText } from "../../src/engine/repository/chunk-index.ts";
import { Repository } from "../../src/engine/repository/repository.ts";
import { loadSnapshot, snapshotText } from "../../src/engine/snapshot/snapshot.ts";
import { cairn } from "../helpers/cli.ts";
import { initRepo, sqliteContentHash, type NewRepo } from "../helpers/repo.ts";

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), "cairn-attacks-"));
});
after(() => rm(root, { recursive: true, force: true }));

interface Site extends NewRepo {
  dir: string;
  config: string;
  env: Record<string, string>;
}

/** The owner's repository: an identity, init, and one backup of a folder holding .env. */
function ownerSite(name: string, env = "API_URL=https://api.example.com\n"): Site {
  const dir = join(root, name);
  mkdirSync(join(dir, "srv"), { recursive: true });
  writeFileSync(join(dir, "srv", ".env"), env);
  const r = initRepo(dir);
  const config = join(dir, "cairn.yml");
  writeFileSync(config, `repository: ${r.repoUrl}\nsources:\n  - name: settings\n    files: [${join(dir, "srv", ".env")}]\n`);
  const site = { dir, config, env: { CAIRN_WRITE_KEY: r.writeKey }, ...r };
  backupOk(site);
  return site;
}

function backupOk(s: Site, env = s.env): string {
  const b = cairn(["backup", "-c", s.config, "--json"], { env });
  assert.equal(b.code, 0, b.stderr);
  return JSON.parse(b.stdout).id;
}

function keygen(path: string): string {
  assert.equal(cairn(["keygen", "-o", path]).code, 0);
  return /# public key: (age1\S+)/.exec(readFileSync(path, "utf8"))![1];
}

function recipientOf(identityFile: string): string {
  return /# public key: (age1\S+)/.exec(readFileSync(identityFile, "utf8"))![1];
}

function packFiles(repoPath: string): string[] {
  const dir = join(repoPath, "packs");
  return existsSync(dir) ? readdirSync(dir).flatMap((d) => readdirSync(join(dir, d)).map((f) => join(dir, d, f))) : [];
}

function ageDecrypts(identityFile: string, file: string): boolean {
  return spawnSync("age", ["-d", "-i", identityFile, file]).status === 0;
}

test("attack 1: a repository built by someone else for the owner's recipient is refused by every identity command", () => {
  const owner = ownerSite("a1-owner");
  // The attacker knows only the owner's public recipient (it is in the plaintext config).
  const attacker = join(root, "a1-attacker");
  mkdirSync(join(attacker, "srv"), { recursive: true });
  writeFileSync(join(attacker, "srv", ".env"), "API_URL=https://attacker.example/steal\n");
  const attackerKey = keygen(join(attacker, "attacker.txt"));
  void attackerKey;
  const evil = join(attacker, "repo");
  const init = cairn(["init", "-r", `local:${evil}`, "-i", join(attacker, "attacker.txt"), "--recipient", owner.recipient]);
  assert.equal(init.code, 0, init.stderr);
  const evilKey = /^CAIRN_WRITE_KEY=(\S+)$/m.exec(init.stdout)![1];
  writeFileSync(join(attacker, "cairn.yml"), `repository: local:${evil}\nsources:\n  - name: settings\n    files: [${join(attacker, "srv", ".env")}]\n`);
  const b = cairn(["backup", "-c", join(attacker, "cairn.yml")], { env: { CAIRN_WRITE_KEY: evilKey } });
  assert.equal(b.code, 0, b.stderr);
  // Storage access: the attacker's repository replaces the owner's.
  rmSync(owner.repoPath, { recursive: true });
  cpSync(evil, owner.repoPath, { recursive: true });

  const id = ["-i", owner.identityFile];
  const target = join(owner.dir, "restored");
  const commands = [
    ["verify", "-r", owner.repoUrl, "--read-data", ...id],
    ["restore", "latest", "-r", owner.repoUrl, ...id, "--target", target],
    ["snapshots", "-r", owner.repoUrl, ...id],
    ["export", "latest", "-r", owner.repoUrl, ...id, "-o", join(owner.dir, "x.tar.zst.age")],
  ];
  for (const args of commands) {
    const r = cairn(args);
    assert.equal(r.code, 3, `${args[0]}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /is owned by age1\S+, not by this identity: it may have been built by someone else/, args[0]);
  }
  assert.equal(existsSync(target), false, "nothing restored");

  // The same repository claiming the owner's recipient as its owner fails the owner MAC.
  const cfgPath = join(owner.repoPath, "config");
  const cfg = JSON.parse(readFileSync(cfgPath, "utf8"));
  cfg.owner = owner.recipient;
  writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));
  const r = cairn(["restore", "latest", "-r", owner.repoUrl, ...id, "--target", target]);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /was not made with this identity: its config fails the owner MAC/);
  assert.equal(existsSync(target), false, "nothing restored");
});

test("attack 2: the write key plus one write to storage cannot add a recipient; only the owner can, and gets a new write key", () => {
  const s = ownerSite("a2");
  const attackerFile = join(s.dir, "attacker.txt");
  const attacker = keygen(attackerFile);
  // A compromised runner (write key, storage access) adds its recipient to the config.
  const cfgPath = join(s.repoPath, "config");
  const original = readFileSync(cfgPath, "utf8");
  const cfg = JSON.parse(original);
  cfg.recipients.push(attacker);
  writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));
  // After the cleanup, the honest runner backs up again: refused before any pack is written.
  const before = packFiles(s.repoPath);
  writeFileSync(join(s.dir, "srv", ".env"), "API_URL=https://api.example.com\nPASSWORD=new-secret\n");
  const b = cairn(["backup", "-c", s.config], { env: s.env });
  assert.equal(b.code, 3, b.stderr);
  assert.match(b.stderr, /the repository config is not the one this write key was made for/);
  assert.match(b.stderr, new RegExp(attacker));
  assert.deepEqual(packFiles(s.repoPath), before, "no pack written");
  // The owner's identity refuses the changed config too.
  const v = cairn(["verify", "-r", s.repoUrl, "-i", s.identityFile]);
  assert.equal(v.code, 3, v.stderr);
  assert.match(v.stderr, /fails the owner MAC/);

  // The explicit way: the owner adds (then removes) a recipient; each change gives a new write key.
  writeFileSync(cfgPath, original);
  const add = cairn(["key", "add", attacker, "-r", s.repoUrl, "-i", s.identityFile]);
  assert.equal(add.code, 0, add.stderr);
  const newKey = /^CAIRN_WRITE_KEY=(\S+)$/m.exec(add.stdout)![1];
  assert.notEqual(newKey, s.writeKey);
  const old = cairn(["backup", "-c", s.config], { env: s.env });
  assert.equal(old.code, 3, "the old write key refuses the changed config");
  const before2 = new Set(packFiles(s.repoPath));
  backupOk(s, { CAIRN_WRITE_KEY: newKey });
  const added = packFiles(s.repoPath).filter((p) => !before2.has(p));
  assert.ok(added.length > 0);
  assert.ok(ageDecrypts(attackerFile, added[0]), "the added recipient reads new packs");
  // snapshots and verify show the recipients.
  const show = cairn(["key", "show", "-r", s.repoUrl, "--json"], { env: { CAIRN_WRITE_KEY: newKey } });
  assert.deepEqual(JSON.parse(show.stdout).recipients, [s.recipient, attacker]);
  const ver = cairn(["verify", "-r", s.repoUrl, "-i", s.identityFile]);
  assert.equal(ver.code, 0, ver.stdout + ver.stderr);
  assert.match(ver.stdout, new RegExp(`recipients: ${s.recipient}, ${attacker}`));
  const snaps = cairn(["snapshots", "-r", s.repoUrl], { env: { CAIRN_WRITE_KEY: newKey } });
  assert.match(snaps.stderr, new RegExp(`recipients: ${s.recipient}, ${attacker}`));

  // A recipient who is not the owner reads only with the fingerprint the owner gives.
  const fingerprint = JSON.parse(show.stdout).fingerprint;
  const t = join(s.dir, "t");
  const noPin = cairn(["restore", "latest", "-r", s.repoUrl, "-i", attackerFile, "--target", t]);
  assert.equal(noPin.code, 3, noPin.stderr);
  assert.match(noPin.stderr, /CAIRN_REPOSITORY_FINGERPRINT/);
  const pinned = cairn(["restore", "latest", "-r", s.repoUrl, "-i", attackerFile, "--target", t], { env: { CAIRN_REPOSITORY_FINGERPRINT: fingerprint } });
  assert.equal(pinned.code, 0, pinned.stderr);

  const rm = cairn(["key", "remove", attacker, "-r", s.repoUrl, "-i", s.identityFile]);
  assert.equal(rm.code, 0, rm.stderr);
  const thirdKey = /^CAIRN_WRITE_KEY=(\S+)$/m.exec(rm.stdout)![1];
  writeFileSync(join(s.dir, "srv", ".env"), "API_URL=https://api.example.com\nPASSWORD=newer-secret\n");
  const before3 = new Set(packFiles(s.repoPath));
  backupOk(s, { CAIRN_WRITE_KEY: thirdKey });
  const later = packFiles(s.repoPath).filter((p) => !before3.has(p));
  assert.ok(later.length > 0);
  assert.ok(!ageDecrypts(attackerFile, later[0]), "a removed recipient does not read new packs");
  assert.ok(ageDecrypts(s.identityFile, later[0]));
  // Only the owner changes recipients.
  const notOwner = cairn(["key", "add", recipientOf(attackerFile), "-r", s.repoUrl, "-i", attackerFile], { env: { CAIRN_REPOSITORY_FINGERPRINT: fingerprint } });
  assert.notEqual(notOwner.code, 0);
  void execFileSync;
});

test("attack 4: a planted index entry cannot poison deduplication, and verify --read-data finds it", async () => {
  const s = ownerSite("a4");
  writeFileSync(join(s.dir, "srv", "config.json"), '{"pair":"ETHUSDT"}\n');
  writeFileSync(s.config, `repository: ${s.repoUrl}\nsources:\n  - name: settings\n    files: [${join(s.dir, "srv", ".env")}, ${join(s.dir, "srv", "config.json")}]\n`);
  backupOk(s);
  // The attacker holds the write key and writes storage: a pack of its own
  // (one valid chunk) and an index that maps every existing chunk into it.
  const repo = await Repository.open(new LocalBackend(s.repoPath), { writeKey: parseWriteKey(s.writeKey) });
  const honest: [string, number][] = [];
  for (const name of await repo.listNames("index")) {
    for (const p of JSON.parse((await repo.loadMetaBytes("index", name)).toString()).packs) for (const [id, , , raw] of p.chunks) honest.push([id, raw]);
  }
  const junk = randomBytes(100);
  const frame = zstdCompressSync(junk);
  const junkId = chunkId(repo.keys, junk).toString("hex");
  const trailer = Buffer.from(JSON.stringify({ chunks: [[junkId, 0, frame.length, junk.length, 0]] }));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(trailer.length);
  const pack = encrypt(Buffer.concat([frame, trailer, len]), repo.dataRecipients);
  const packId = createHash("sha256").update(pack).digest("hex");
  await repo.backend.save({ type: "pack", name: packId }, pack);
  const records: [string, number, number, number, number][] = [[junkId, 0, frame.length, junk.length, 0]];
  for (const [id, raw] of honest) records.push([id, 0, frame.length, raw, 0]);
  const first = Buffer.from(records[1][0], "hex");
  // Re-encrypt until the planted index is read first (the listing order is the attacker's to see).
  for (let i = 0; ; i++) {
    const name = await repo.saveMeta("index", () => indexText([{ id: packId, size: pack.length, chunks: records }]));
    if ((await Index.load(repo)).lookup(first)?.pack === packId) break;
    await repo.backend.remove({ type: "index", name });
    assert.ok(i < 200, "the planted index never listed first");
  }

  // The honest runner backs up again: unchanged files must not be read from the planted pack.
  writeFileSync(join(s.dir, "srv", "config.json"), '{"pair":"BTCUSDT"}\n');
  const id = backupOk(s);
  const target = join(s.dir, "restored");
  const r = cairn(["restore", id, "-r", s.repoUrl, "-i", s.identityFile, "--target", target]);
  assert.equal(r.code, 0, r.stderr);
  const env = readdirSync(join(target, "settings"), { recursive: true, withFileTypes: true }).find((e) => e.name === ".env")!;
  assert.equal(readFileSync(join(env.parentPath, env.name), "utf8"), "API_URL=https://api.example.com\n");
  // The owner's verify names the planted entries.
  const v = cairn(["verify", "-r", s.repoUrl, "-i", s.identityFile, "--read-data"]);
  assert.equal(v.code, 3, v.stdout + v.stderr);
  assert.match(v.stdout, new RegExp(`pack ${packId}: the index lists chunk [0-9a-f]{64} at offset 0, where the pack's own list \\(its trailer\\) does not have it`));
});

test("attack 5: a snapshot deleted from the chain is reported, a future-dated one never becomes latest, restore latest names what it restored", async () => {
  const s = ownerSite("a5", "PASSWORD=first\n");
  const snaps = () => readdirSync(join(s.repoPath, "snapshots"));
  const [id1] = snaps();
  writeFileSync(join(s.dir, "srv", ".env"), "PASSWORD=second\n");
  const id2 = backupOk(s);
  writeFileSync(join(s.dir, "srv", ".env"), "PASSWORD=third\n");
  const id3 = backupOk(s);

  // Storage alone deletes a snapshot from the middle: snapshots and verify say so.
  rmSync(join(s.repoPath, "snapshots", id2));
  const list = cairn(["snapshots", "-r", s.repoUrl], { env: s.env });
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stderr, new RegExp(`warning: snapshot ${id3} \\(number 3\\) follows snapshot ${id2}, which is not in the repository`));
  const v = cairn(["verify", "-r", s.repoUrl], { env: s.env });
  assert.equal(v.code, 3, v.stdout + v.stderr);
  assert.match(v.stdout, new RegExp(`error: snapshot ${id3} \\(number 3\\) follows snapshot ${id2}, which is not in the repository`));

  // Storage alone deletes the newest: the repository cannot show it, but restore latest names the snapshot and its age.
  rmSync(join(s.repoPath, "snapshots", id3));
  const target = join(s.dir, "r1");
  const r = cairn(["restore", "latest", "-r", s.repoUrl, "-i", s.identityFile, "--target", target]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`restored snapshot ${id1}, taken \\S+ \\(\\d+ (second|minute)s? ago\\)`));

  // The write key plants a snapshot dated 9999: flagged, and never latest.
  const repo = await Repository.open(new LocalBackend(s.repoPath), { writeKey: parseWriteKey(s.writeKey) });
  const real = await loadSnapshot(repo, id1);
  const planted = await repo.saveMeta("snapshot", () => snapshotText({ ...real, time: "9999-01-01T00:00:00.000Z" }));
  writeFileSync(join(s.dir, "srv", ".env"), "PASSWORD=fourth\n");
  const id4 = backupOk(s);
  const json = JSON.parse(cairn(["snapshots", "-r", s.repoUrl, "--json"], { env: s.env }).stdout);
  assert.equal(json.find((x: { id: string }) => x.id === planted).future, true);
  assert.equal(json.find((x: { id: string }) => x.id === id4).parent, id1, "the honest backup follows the honest latest");
  const t2 = join(s.dir, "r2");
  const r2 = cairn(["restore", "latest", "-r", s.repoUrl, "-i", s.identityFile, "--target", t2]);
  assert.equal(r2.code, 0, r2.stderr);
  assert.match(r2.stdout, new RegExp(`restored snapshot ${id4}`));
  const env = readdirSync(t2, { recursive: true, withFileTypes: true }).find((e) => e.name === ".env")!;
  assert.equal(readFileSync(join(env.parentPath, env.name), "utf8"), "PASSWORD=fourth\n");
  const v2 = cairn(["verify", "-r", s.repoUrl], { env: s.env });
  assert.equal(v2.code, 3);
  assert.match(v2.stdout, new RegExp(`snapshot ${planted} is dated in the future \\(9999-01-01T00:00:00.000Z\\)`));
});

test("attack 3: the write key cannot confirm guesses about one-chunk files or secret sources, nor read what a source dumped", async () => {
  const dir = join(root, "a3");
  mkdirSync(join(dir, "srv"), { recursive: true });
  writeFileSync(join(dir, "srv", ".env"), "PIN=418257\n");
  // A database whose second page holds a balance the attacker wants to learn; the rest of the page is known.
  const build = (path: string, balance: number) => {
    const db = new DatabaseSync(path);
    db.exec(`PRAGMA page_size=4096; CREATE TABLE account(id INTEGER PRIMARY KEY, owner TEXT, balance INTEGER);
      INSERT INTO account VALUES (1, 'alice', ${balance}); CREATE TABLE deals(id INTEGER PRIMARY KEY, pair TEXT);
      INSERT INTO deals VALUES (1, 'ETHUSDT');`);
    db.close();
  };
  build(join(dir, "srv", "bot.db"), 4242);
  const r = initRepo(dir);
  const s: Site = { dir, config: join(dir, "cairn.yml"), env: { CAIRN_WRITE_KEY: r.writeKey }, ...r };
  const yml = (secret: boolean) =>
    writeFileSync(s.config, `repository: ${s.repoUrl}\nsources:\n  - name: settings\n    files: [${join(dir, "srv", ".env")}]\n  - name: db\n    sqlite: ${join(dir, "srv", "bot.db")}\n${secret ? "    secret: true\n" : ""}`);
  yml(false);
  const first = backupOk(s);

  // The attacker: the write key, the snapshot's chunk IDs, and guesses.
  const repo = await Repository.open(new LocalBackend(s.repoPath), { writeKey: parseWriteKey(s.writeKey) });
  const ids = async (snap: string, source: string) => {
    const e = (await loadSnapshot(repo, snap)).entries.find((x) => x.source === source)!;
    return { salted: e.salted === true, ids: new Set([...e.chunks].map((c) => c.toString("hex"))) };
  };
  const pins = () => Array.from({ length: 1000 }, (_, i) => `PIN=418${String(i).padStart(3, "0")}\n`);
  const guessPin = async (snap: string) => {
    const { ids: known } = await ids(snap, "settings");
    return pins().find((p) => known.has(chunkId(repo.keys, Buffer.from(p)).toString("hex")));
  };
  const guessBalance = async (snap: string) => {
    const { ids: known } = await ids(snap, "db");
    for (let b = 4200; b < 4300; b++) {
      const path = join(dir, `guess-${b}.db`);
      build(path, b);
      const page = readFileSync(path).subarray(4096, 8192);
      rmSync(path);
      if (known.has(chunkId(repo.keys, page).toString("hex"))) return b;
    }
    return undefined;
  };
  assert.equal((await ids(first, "settings")).salted, true, "a one-chunk file is salted");
  assert.equal(await guessPin(first), undefined, "the PIN cannot be confirmed");
  // What FORMAT.md states: a page of a source not marked secret can be tested.
  assert.equal(await guessBalance(first), 4242);

  // Marked secret, every page is salted: no guess is confirmed, and the database still restores.
  yml(true);
  const second = backupOk(s);
  assert.equal((await ids(second, "db")).salted, true);
  assert.equal(await guessBalance(second), undefined);
  assert.equal(await guessPin(second), undefined);
  const target = join(dir, "restored");
  const res = cairn(["restore", second, "-r", s.repoUrl, "-i", s.identityFile, "--target", target]);
  assert.equal(res.code, 0, res.stderr);
  assert.equal(await sqliteContentHash(join(target, "db.sqlite")), await sqliteContentHash(join(dir, "srv", "bot.db")));
  const env = readdirSync(target, { recursive: true, withFileTypes: true }).find((e) => e.name === ".env")!;
  assert.equal(readFileSync(join(env.parentPath, env.name), "utf8"), "PIN=418257\n");
  const exp = cairn(["export", second, "-r", s.repoUrl, "-i", s.identityFile, "-o", join(dir, "x.tar.zst.age")]);
  assert.equal(exp.code, 0, exp.stderr);
  const listed = execFileSync("sh", ["-c", `age -d -i "$1" "$2" | zstd -d | tar xO --wildcards '*.env'`, "sh", s.identityFile, join(dir, "x.tar.zst.age")]).toString();
  assert.equal(listed, "PIN=418257\n");
  const v = cairn(["verify", "-r", s.repoUrl, "-i", s.identityFile, "--read-data"]);
  assert.equal(v.code, 0, v.stdout + v.stderr);

  // Table names and row counts: the identity reads them, the write key does not.
  const info = (env?: Record<string, string>, args: string[] = []) =>
    JSON.parse(cairn(["snapshots", "-r", s.repoUrl, "--json", ...args], { env }).stdout)[0].sources.find((x: { name: string }) => x.name === "db").info;
  assert.deepEqual(info(s.env), {});
  assert.match(JSON.stringify(info(undefined, ["-i", s.identityFile])), /account/);
  assert.doesNotMatch(readdirSync(join(s.repoPath, "snapshots")).map((n) => readFileSync(join(s.repoPath, "snapshots", n)).toString("latin1")).join(""), /account/);
});

test("attack 8: export writes neutral ownership (0/0) unless --owners, so tar x as root does not apply planted owners", async () => {
  const s = ownerSite("a8");
  const repo = await Repository.open(new LocalBackend(s.repoPath), { writeKey: parseWriteKey(s.writeKey) });
  const [id] = readdirSync(join(s.repoPath, "snapshots"));
  const real = await loadSnapshot(repo, id);
  const planted = await repo.saveMeta("snapshot", () => snapshotText({ ...real, entries: real.entries.map((e) => ({ ...e, uid: 4242, gid: 4343 })) }));
  const owners = (extra: string[]) => {
    const out = join(s.dir, `x${extra.length}.tar.zst.age`);
    const r = cairn(["export", planted, "-r", s.repoUrl, "-i", s.identityFile, "-o", out, ...extra]);
    assert.equal(r.code, 0, r.stderr);
    return execFileSync("sh", ["-c", `age -d -i "$1" "$2" | zstd -dq | tar -tv --numeric-owner`, "sh", s.identityFile, out]).toString();
  };
  assert.match(owners([]), /^-\S+ 0\/0 /m);
  assert.match(owners(["--owners"]), /^-\S+ 4242\/4343 /m);
});

test("a metadata file that decompresses to more than 512 MiB is refused without decompressing it all", async () => {
  const s = ownerSite("bomb");
  const repo = await Repository.open(new LocalBackend(s.repoPath), { writeKey: parseWriteKey(s.writeKey) });
  const frame = Buffer.alloc(40);
  frame.writeUInt32LE(0x184d2a50, 0);
  frame.writeUInt32LE(32, 4);
  const bomb = execFileSync("sh", ["-c", "head -c 600M /dev/zero | zstd -q -c"], { maxBuffer: 1 << 26 });
  const file = encrypt(Buffer.concat([frame, bomb]), repo.metaRecipients);
  const name = createHash("sha256").update(file).digest("hex");
  await repo.backend.save({ type: "index", name }, file);
  const v = cairn(["verify", "-r", s.repoUrl], { env: s.env });
  assert.equal(v.code, 3, v.stdout + v.stderr);
  assert.match(v.stdout, new RegExp(`index ${name}: decompresses to more than 512 MiB`));
});

test("key add refuses an artifacts: repository (its config copies must agree), saying what to do", () => {
  const key = join(root, "art-key.txt");
  keygen(key);
  const r = cairn(["key", "add", "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p", "-r", "artifacts:bot", "-i", key]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /recipients of an artifacts: repository cannot change/);
  assert.match(r.stderr, /hint: make a new repository/);
});
