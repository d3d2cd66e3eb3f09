// The expiry rule on a backend whose files expire by themselves (an
// in-memory one with a clock; the artifact backend's own expiry is tested in
// test/backends/artifact.test.ts and, end to end, test/github/simulation.test.ts):
// a backup builds only on packs, index and list files that outlive its own
// files; a snapshot's expiry is the earliest of what it needs; verify names
// a dependency that expires before the snapshot.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { ExpiredError, NotExistError, type CallOptions, type FileEntry, type FileType, type Handle, type Range } from "../../src/backends/backend.ts";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { backup } from "../../src/engine/backup.ts";
import { encodeRecipient, identityFromSecret } from "../../src/engine/crypto/age.ts";
import { parseWriteKey } from "../../src/engine/crypto/keys.ts";
import { Index } from "../../src/engine/repository/chunk-index.ts";
import { Repository } from "../../src/engine/repository/repository.ts";
import { Expiries, snapshotExpiries, snapshotNeeds } from "../../src/engine/snapshot/expiry.ts";
import { loadSnapshots } from "../../src/engine/snapshot/snapshot.ts";
import { verify } from "../../src/engine/verify.ts";
import { silentLogger } from "../../src/log.ts";
import { FilesSource } from "../../src/sources/files.ts";
import { LocalTransport } from "../../src/transport/local.ts";
import { tempDir } from "../helpers/repo.ts";

const DAY = 86_400_000;

/** Memory storage whose files expire `retentionDays` after they are saved, on a clock the test moves. */
class ExpiringBackend extends MemoryBackend {
  now = Date.now();
  retentionDays = 7;
  /** false: a backend that does not say its files expire (the rule is off), though they still do. */
  tellsExpiry = true;
  readonly expires = new Map<string, number>();
  override readonly properties = {
    location: "memory-expiring:",
    atomicWrites: true,
    expiry: { newFiles: () => new Date(this.now + this.retentionDays * DAY) },
  };
  constructor() {
    super();
    const props = this.properties;
    Object.defineProperty(this, "properties", { get: () => (this.tellsExpiry ? props : { location: props.location, atomicWrites: true }) });
  }
  private k(h: { type: FileType; name: string }) {
    return `${h.type}/${h.name}`;
  }
  private gone(h: Handle): void {
    const t = this.expires.get(this.k(h));
    if (t !== undefined && t <= this.now) throw new ExpiredError(h, new Date(t));
  }
  override async save(h: Handle, data: Buffer | readonly Buffer[], opts?: CallOptions): Promise<void> {
    await super.save(h, data, opts);
    this.expires.set(this.k(h), this.now + this.retentionDays * DAY);
  }
  override async load(h: Handle, range?: Range, opts?: CallOptions): Promise<Buffer> {
    this.gone(h);
    return super.load(h, range, opts);
  }
  override async stat(h: Handle, opts?: CallOptions): Promise<FileEntry> {
    this.gone(h);
    return { ...(await super.stat(h, opts)), expires: new Date(this.expires.get(this.k(h))!) };
  }
  override async *list(type: FileType, opts?: CallOptions): AsyncIterable<FileEntry> {
    for await (const f of super.list(type, opts)) {
      const t = this.expires.get(this.k({ type, name: f.name }))!;
      if (t > this.now) yield { ...f, expires: new Date(t) };
    }
  }
  override isNotExist(err: unknown): boolean {
    return err instanceof NotExistError;
  }
}

const dirs: { cleanup(): Promise<void> }[] = [];
after(() => Promise.all(dirs.map((d) => d.cleanup())));

/** A repository on an expiring backend, and a 2.5 MiB "SQLite" file (4 KiB pages: a list file) to back up. */
async function setup() {
  const tmp = await tempDir("cairn-expiry-");
  dirs.push(tmp);
  const backend = new ExpiringBackend();
  backend.retentionDays = 400;
  const id = identityFromSecret(randomBytes(32));
  const { writeKey } = await Repository.init(backend, id, { packSize: 1 << 20 });
  const repo = await Repository.open(backend, { writeKey: parseWriteKey(writeKey) });
  const db = join(tmp.dir, "bot.db");
  const data = randomBytes(640 * 4096);
  Buffer.from("SQLite format 3\0").copy(data);
  data.writeUInt16BE(4096, 16);
  writeFileSync(db, data);
  const run = async (days: number, opts: { full?: boolean } = {}) => {
    backend.retentionDays = days;
    return await backup(repo, { sources: [new FilesSource("db", [db])], transport: new LocalTransport(), log: silentLogger, ...opts });
  };
  /** Change one page, as a day's writes would. */
  const touch = () => {
    randomBytes(4096).copy(data, 4096 * (1 + Math.floor(Math.random() * 600)));
    writeFileSync(db, data);
  };
  return { backend, repo, data, run, touch };
}

async function expiryOf(repo: Repository, id: string): Promise<Date | undefined> {
  return (await snapshotExpiries(repo, [id]))!.get(id)!.expires;
}

test("the same retention every run: a later backup builds on nothing that expires before it, so it stores everything again (full)", async () => {
  const { backend, repo, data, run, touch } = await setup();
  const first = await run(7);
  assert.ok(first.snapshot.full);
  backend.now += DAY;
  touch();
  const second = await run(7);
  assert.ok(second.snapshot.full, "no pack of the first run is used: they expire a day before the second's");
  assert.ok(second.snapshot.stats.storedBytes >= data.length, `stored ${second.snapshot.stats.storedBytes}`);
  const common = second.snapshot.packs.filter((p) => first.snapshot.packs.includes(p));
  assert.deepEqual(common, []);
  const { needs } = await snapshotNeeds(repo, second.id, await Index.load(repo));
  assert.ok(!needs.some((h) => h.type === "list" && (first.snapshot.entries[0].chunks as { base: string }).base === h.name), "nor the first run's list file");
  assert.equal((await expiryOf(repo, second.id))!.getTime(), backend.now + 7 * DAY, "the second snapshot lives its full 7 days");
});

test("a long-lived full backup followed by short-lived ones: those build on it and store only what changed", async () => {
  const { backend, repo, run, touch } = await setup();
  const weekly = await run(30);
  const weeklyExpires = backend.now + 30 * DAY;
  for (let day = 1; day <= 3; day++) {
    backend.now += DAY;
    touch();
    const daily = await run(7);
    assert.ok(!daily.snapshot.full, `day ${day}: incremental`);
    assert.ok(daily.snapshot.stats.storedBytes < 64 << 10, `day ${day}: stored ${daily.snapshot.stats.storedBytes} bytes for one changed page`);
    assert.ok(weekly.snapshot.packs.every((p) => daily.snapshot.packs.includes(p)), "it builds on the weekly snapshot's packs");
    // The daily snapshot expires with its own files (7 days), before the weekly's it depends on.
    assert.equal((await expiryOf(repo, daily.id))!.getTime(), backend.now + 7 * DAY);
  }
  assert.equal((await expiryOf(repo, weekly.id))!.getTime(), weeklyExpires);
  // 25 days on, the weekly files would expire before a new 7-day run's: that run is full again.
  backend.now += 25 * DAY;
  touch();
  const late = await run(7);
  assert.ok(late.snapshot.full, "the weekly's packs expire in 2 days, before this run's 7");
  const v = await verify(repo, { readData: 0 });
  assert.deepEqual(v.errors, []);
});

test("a snapshot's expiry is the earliest of every file it needs; verify names an expiring dependency (and files that do not expire have none)", async () => {
  const { backend, repo, run, touch } = await setup();
  await run(7);
  backend.now += DAY;
  touch();
  // A backend that does not tell its files expire: the rule is off, and the second snapshot builds on 7-day packs.
  backend.tellsExpiry = false;
  const bad = await run(30);
  assert.ok(!bad.snapshot.full);
  assert.equal(await snapshotExpiries(repo, [bad.id]), undefined, "no expiry where the backend has none");
  assert.deepEqual((await verify(repo, { readData: 0 })).errors, [], "nothing to say where files do not expire");
  backend.tellsExpiry = true;

  const ex = await Expiries.load(backend);
  assert.equal(ex.of("snapshot", bad.id), backend.now + 30 * DAY);
  const e = (await snapshotExpiries(repo, [bad.id]))!.get(bad.id)!;
  assert.equal(e.expires!.getTime(), backend.now - DAY + 7 * DAY, "it lives only as long as the first run's files");
  assert.ok(e.early.some((d) => d.type === "pack") && e.early.some((d) => d.type === "index") && e.early.some((d) => d.type === "list"), JSON.stringify(e.early));
  const v = await verify(repo, { readData: 0 });
  assert.ok(v.errors.length > 0);
  for (const err of v.errors) assert.match(err, new RegExp(`^snapshot ${bad.id} depends on (pack|index|list) [0-9a-f]{64}, which expires on 20\\d\\d-.*before the snapshot itself.*an expiring dependency`));
  // Once those files have expired, the snapshot needs what is gone: verify says so, and when.
  backend.now += 7 * DAY;
  const later = await verify(repo, { readData: 0 });
  assert.ok(later.errors.some((x) => x.startsWith(`snapshot ${bad.id}`) && / expired on 20\d\d-/.test(x)), later.errors.join("\n"));
  assert.deepEqual(
    (await loadSnapshots(repo)).map((s) => s.id),
    [bad.id],
    "the first snapshot itself has expired and is no longer listed",
  );
});

test("verify says when a pack a snapshot needs expired", async () => {
  // The database of setup(): many chunks, so deduplicated (a one-chunk file is salted and stored again).
  const { backend, repo, run } = await setup();
  const first = await run(7);
  backend.tellsExpiry = false;
  const second = await run(30);
  backend.tellsExpiry = true;
  assert.deepEqual(second.snapshot.packs, first.snapshot.packs, "built on the first run's 7-day pack");
  backend.now += 8 * DAY;
  const v = await verify(repo, { readData: 0 });
  // The first run's files (its pack, and the list file the second diffs against) expired after 7 days: verify names the date.
  const expired = new Date(backend.now - 8 * DAY + 7 * DAY).toISOString().replace(/\.\d+Z$/, "");
  assert.ok(v.errors.some((e) => e.startsWith(`snapshot ${second.id}`) && e.includes(`expired on ${expired}`)), v.errors.join("\n"));
});
