// Sixty scheduled runs of an artifacts: repository against the fake of
// GitHub's services, its clock moving on a day per run: each run backs up
// through the real @actions/artifact client (a daily run keeps its artifacts
// 7 days, a weekly one 30), and then, from outside Actions, at every step:
// every snapshot listed that verify does not name has all the artifacts it
// needs, none expiring before the snapshot, and reads back byte for byte
// (through the engine's chunk reader: when new, on its last day, and after a
// run was deleted; every sixth step the one that expires first is also
// restored to a folder); exactly the snapshots whose artifact has not
// expired are listed. Halfway, a weekly run is
// deleted (which deletes its artifacts): verify names exactly the snapshots
// that needed them, and later backups store that data again. In-process
// calls (no CLI processes; backups through the app layer, each step's checks
// through one opened repository) keep it fast; CAIRN_SIM_TRACE=1 prints each
// step's timings.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { backup } from "../../src/app/backup.ts";
import { init } from "../../src/app/init.ts";
import { keygen } from "../../src/app/keygen.ts";
import { openRepository } from "../../src/app/repository.ts";
import { resolveSettings, type Settings } from "../../src/app/settings.ts";
import { artifactName, parseArtifactName } from "../../src/backends/artifact.ts";
import { Index } from "../../src/engine/repository/chunk-index.ts";
import { restore } from "../../src/engine/restore/restore.ts";
import { ChunkReader } from "../../src/engine/repository/reader.ts";
import type { Repository } from "../../src/engine/repository/repository.ts";
import { findSnapshot, loadSnapshots, SALT, type Snapshot } from "../../src/engine/snapshot/snapshot.ts";
import { EXPIRY_SLACK_MS, snapshotExpiries, snapshotNeeds } from "../../src/engine/snapshot/expiry.ts";
import { verify } from "../../src/engine/verify.ts";
import { silentLogger } from "../../src/log.ts";
import { DAY, envFor, quietArtifactClient, startFakeGitHub, type FakeGitHub } from "../helpers/fake-github/index.ts";
import { tempDir } from "../helpers/repo.ts";

quietArtifactClient();

const RUNS = Number(process.env.CAIRN_SIM_RUNS ?? 60);
const trace = process.env.CAIRN_SIM_TRACE ? (m: string) => process.stderr.write(`${m}\n`) : () => {};
const WEEKLY_DAYS = 30;
const PAGES = Number(process.env.CAIRN_SIM_PAGES ?? 520);
const DAILY_DAYS = 7;
/** The run deleted halfway (a weekly one), and when. */
const DELETED_RUN = 28;
const DELETED_AT = 31;

/** A "database" of 4 KiB pages (SQLite's header, so it is chunked by page and its chunk list kept in a list file) and a settings file. */
function makeData(): { db: Buffer; settings: string } {
  const db = randomBytes(PAGES * 4096);
  Buffer.from("SQLite format 3\0").copy(db);
  db.writeUInt16BE(4096, 16);
  return { db, settings: JSON.stringify({ day: 0 }) };
}

/** Every file of a snapshot, read through the engine's chunk reader (what export and verify use), by source and file name. */
async function readBack(repo: Repository, index: Index, snapshot: Snapshot): Promise<Map<string, Buffer>> {
  const reader = new ChunkReader(repo, index, new Set(snapshot.packs));
  const out = new Map<string, Buffer>();
  for (const e of snapshot.entries) {
    const parts: Buffer[] = [];
    // A salted entry's chunks start with salt that is not content (one-chunk files: FORMAT.md).
    for await (const batch of reader.read(reader.locateAll(e.chunks, e.salted ? SALT : 0))) parts.push(...batch);
    out.set(`${e.source}:${e.path.replace(/^.*\//, "")}`, Buffer.concat(parts));
  }
  return out;
}

test(`${RUNS} scheduled runs, a day apart, daily artifacts kept ${DAILY_DAYS} days and weekly ones ${WEEKLY_DAYS}: every listed snapshot verify accepts restores, none needs an expired artifact`, async (t) => {
  const fake = await startFakeGitHub({ retentionDays: 90 });
  const tmp = await tempDir("cairn-sim-");
  try {
    const srv = join(tmp.dir, "srv");
    mkdirSync(srv);
    const data = makeData();
    const write = () => {
      writeFileSync(join(srv, "bot.db"), data.db);
      writeFileSync(join(srv, "settings.json"), data.settings);
    };
    write();
    const cfg = join(tmp.dir, "cairn.yml");
    writeFileSync(cfg, `repository: artifacts:bot\nsources:\n  - { name: db, files: [${join(srv, "bot.db")}] }\n  - { name: settings, files: [${join(srv, "settings.json")}] }\n`);
    const id = await keygen();

    /** Settings as a workflow run (runId) or a machine outside Actions would have them, on the fake's clock. */
    let writeKey = "";
    const settingsFor = async (runId: number | undefined, retentionDays?: number): Promise<Settings> => {
      const run = runId === undefined ? undefined : fake.startRun(runId);
      const env = { ...envFor(fake, run), ...(writeKey ? { CAIRN_WRITE_KEY: writeKey } : {}) };
      const s = await resolveSettings({ config: cfg, retentionDays: retentionDays === undefined ? undefined : String(retentionDays), identity: runId === undefined || runId === 1000 ? id.identity : undefined }, env); // 1000: init, which needs the owner
      s.github.now = () => fake.now();
      return s;
    };

    writeKey = (await init(await settingsFor(1000), { recipients: [], packSize: 4 << 20 })).writeKey;
    fake.endRun(1000);

    /** What each snapshot holds, by ID. */
    const expected = new Map<string, { db: Buffer; settings: string; run: number }>();
    const totals = { restores: 0, readBack: 0, stored: 0, read: 0, full: 0, namedByVerify: 0 };
    for (let run = 0; run < RUNS; run++) {
      if (run > 0) fake.advance(DAY);
      const t0 = Date.now();
      const c0 = process.cpuUsage();
      // A day's writes: a few pages change, the settings now and then.
      for (let k = 0; k < 3; k++) randomBytes(4096).copy(data.db, 4096 * (1 + Math.floor(Math.random() * (PAGES - 1))));
      if (run % 5 === 0) data.settings = JSON.stringify({ day: run });
      write();
      const weekly = run % 7 === 0;
      const report = await backup(await settingsFor(run + 1, weekly ? WEEKLY_DAYS : DAILY_DAYS), { log: silentLogger });
      fake.endRun(run + 1);
      expected.set(report.id, { db: Buffer.from(data.db), settings: data.settings, run });
      const s = report.snapshot;
      totals.stored += s.stats.storedBytes;
      totals.read += s.stats.bytes;
      if (s.full) totals.full++;
      // A weekly run builds on nothing (every earlier file expires before its own); the first daily after it builds on it.
      if (weekly) assert.ok(s.full, `run ${run}: weekly, full`);
      if (run % 7 === 1 && !(run > DELETED_AT - 7 && run <= DELETED_AT + 7)) {
        assert.ok(!s.full && s.stats.storedBytes < s.stats.bytes / 10, `run ${run}: builds on the weekly run (stored ${s.stats.storedBytes} of ${s.stats.bytes})`);
      }
      assert.ok(report.expires && report.expires.getTime() > fake.now() + (DAILY_DAYS - 1) * DAY, `run ${run}: the new snapshot expires ${report.expires?.toISOString()}`);
      if (run === DELETED_AT) fake.deleteRun(DELETED_RUN + 1);

      const t1 = Date.now();
      const c1 = process.cpuUsage(c0);
      // --- from outside Actions ----------------------------------------------
      // One opened repository for the step's checks, as one reader would open it (the engine's calls under
      // `cairn verify` and `cairn snapshots`; test/cli/artifacts.test.ts runs those commands themselves).
      const repo = await openRepository(await settingsFor(undefined), "identity");
      const v = await verify(repo, { readData: 0 });
      const heads = await loadSnapshots(repo);
      const expiries = (await snapshotExpiries(
        repo,
        heads.map((h) => h.id),
      ))!;
      const listed = heads.map((h) => ({ id: h.id, expires: expiries.get(h.id)!.expires }));
      const now = fake.now();
      const live = (name: string) => fake.visible().filter((a) => a.name === name && !fake.isExpired(a));
      // Exactly the snapshots whose artifact has not expired are listed.
      const stored = new Set(
        fake
          .visible()
          .filter((a) => !fake.isExpired(a) && parseArtifactName("bot", a.name)?.type === "snapshot")
          .map((a) => parseArtifactName("bot", a.name)!.name),
      );
      assert.deepEqual(listed.map((x) => x.id).sort(), [...stored].sort(), `run ${run}: listed snapshots`);
      assert.ok(!v.errors.some((e) => /expiring dependency/.test(e)), `run ${run}: ${v.errors.join("\n")}`);

      const t2 = Date.now();
      const c2 = process.cpuUsage(c0);
      const index = await Index.load(repo);
      const accepted = listed.filter((x) => !v.errors.some((e) => e.includes(x.id)));
      const firstToExpire = accepted.reduce((a, b) => (b.expires!.getTime() < a.expires!.getTime() ? b : a)).id;
      for (const { id: sid, expires } of listed) {
        const named = v.errors.some((e) => e.includes(sid));
        const { needs } = await snapshotNeeds(repo, sid, index);
        const [snapArtifact] = live(artifactName("bot", { type: "snapshot", name: sid }));
        const missing = needs.filter((h) => !fake.visible().some((a) => parseArtifactName("bot", a.name)?.type === h.type && parseArtifactName("bot", a.name)?.name === h.name && !fake.isExpired(a)));
        if (named) {
          // Only the deleted run's artifacts may be missing, and verify said so.
          totals.namedByVerify++;
          assert.ok(run >= DELETED_AT && missing.length > 0, `run ${run}: verify names snapshot ${sid} (from run ${expected.get(sid)?.run}) though all it needs is there: ${v.errors.join("\n")}`);
          continue;
        }
        assert.deepEqual(missing, [], `run ${run}: snapshot ${sid} (from run ${expected.get(sid)?.run}) needs artifacts that are gone`);
        // No snapshot needs an artifact that expires before the snapshot's own.
        for (const h of needs) {
          const longest = Math.max(
            ...fake
              .visible()
              .filter((a) => parseArtifactName("bot", a.name)?.type === h.type && parseArtifactName("bot", a.name)?.name === h.name)
              .map((a) => a.expiresAt),
          );
          assert.ok(longest >= snapArtifact.expiresAt - EXPIRY_SLACK_MS - 600_000, `run ${run}: snapshot ${sid} needs ${h.type} ${h.name}, which expires before it`);
        }
        assert.ok(expires && expires.getTime() > now, `run ${run}: snapshot ${sid} is listed with expiry ${expires?.toISOString()}`);
        const want = expected.get(sid)!;
        // Artifacts never change, so a snapshot whose artifacts are all there (checked above, every step)
        // reads back what it read back before: it is read back through the engine's chunk reader when it
        // is new, on the last step it is listed (it expires before the next), and when a run was deleted...
        const restoreNow = sid === firstToExpire && (run % 6 === 5 || run === DELETED_AT);
        if (!(want.run === run || expires!.getTime() <= now + DAY || run === DELETED_AT || restoreNow)) continue;
        const ref = await findSnapshot(repo, sid);
        const files = await readBack(repo, index, ref.snapshot);
        assert.ok(files.get("db:bot.db")!.equals(want.db), `run ${run}: snapshot ${sid} (from run ${want.run}) reads back bot.db byte for byte`);
        assert.equal(files.get("settings:settings.json")!.toString(), want.settings);
        totals.readBack++;
        // ...and every sixth step (and when a run was deleted) the one that expires first is restored to a
        // folder as `cairn restore` does (it starts a worker pool: ~0.3 s of CPU each).
        if (!restoreNow) continue;
        const target = join(tmp.dir, "restored", `${run}-${sid.slice(0, 8)}`);
        await restore(repo, ref, { target });
        assert.ok(readFileSync(join(target, "db", srv, "bot.db")).equals(want.db), `run ${run}: snapshot ${sid} (from run ${want.run}) restores bot.db byte for byte`);
        assert.equal(readFileSync(join(target, "settings", srv, "settings.json"), "utf8"), want.settings);
        rmSync(target, { recursive: true });
        totals.restores++;
      }
      const c3 = process.cpuUsage(c0);
      const cpu = (c: NodeJS.CpuUsage) => Math.round((c.user + c.system) / 1000);
      trace(`run ${run}: backup ${t1 - t0} ms (cpu ${cpu(c1)}), verify+list ${t2 - t1} ms (cpu ${cpu(c2) - cpu(c1)}), ${listed.length} read back ${Date.now() - t2} ms (cpu ${cpu(c3) - cpu(c2)}); ${fake.stats.rest} REST`);
      if (run === DELETED_AT) assert.ok(v.errors.length > 0, "verify names the snapshots that needed the deleted run's artifacts");
    }
    assert.ok(totals.namedByVerify > 0);
    t.diagnostic(
      `${RUNS} runs: ${totals.readBack} snapshots read back and ${totals.restores} restored, ${totals.full} full backups, stored ${(totals.stored / 2 ** 20).toFixed(1)} MiB of ${(totals.read / 2 ** 20).toFixed(1)} MiB read; ` +
        `${fake.visible().length} artifacts listed at the end (${fake.visible().filter((a) => fake.isExpired(a)).length} expired)`,
    );
  } finally {
    await fake.close();
    await tmp.cleanup();
  }
});
