// Restore onto the server, failures injected at each step over the test sshd:
// a corrupted upload (the integrity check fails), a failing stop hook, the
// connection dropped mid-upload, a dump that does not load. Each must leave
// the server exactly as it was: the target's bytes, and no file left beside
// it. A failing start hook must name the dated copy to roll back to.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, describe, test } from "node:test";
import { silentLogger } from "../../src/log.ts";
import { MysqlRestore, PostgresRestore } from "../../src/sources/restore/databases.ts";
import { FilesRestore, serverPath } from "../../src/sources/restore/files.ts";
import { restoreAll, stamp, type RestoreFile } from "../../src/sources/restore/restore.ts";
import { SqliteRestore } from "../../src/sources/restore/sqlite.ts";
import { SshTransport } from "../../src/transport/ssh.ts";
import type { Transport } from "../../src/transport/transport.ts";
import { settingsFor } from "../helpers/ssh-settings.ts";
import { maria, mariaUp, pgUp, psql, uniq } from "../helpers/sources.ts";
import { haveSshd, SshFixture, type Sshd } from "../helpers/sshd.ts";

const CI = !!process.env.CI;
const skip = (haveSshd() && pgUp() && mariaUp()) || CI ? false : "needs sshd, PostgreSQL and MariaDB";

/** A restored file on this machine, as the app layer hands it over. */
function local(path: string, snapshotPath: string, mode = 0o600): RestoreFile {
  const size = readFileSync(path).length;
  return { path: snapshotPath, mode, mtime: Date.now(), uid: 0, gid: 0, size, local: path };
}

/** Every file in dir (the hooks' log left out) with its bytes' SHA-256; folders by name. */
function picture(dir: string): Record<string, string> {
  return Object.fromEntries(
    readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.name !== "hooks.log")
      .map((e) => [e.name, e.isDirectory() ? "folder" : createHash("sha256").update(readFileSync(join(dir, e.name))).digest("hex")]),
  );
}

/** A transport whose uploads trickle (64 KiB every 20 ms), so a test can act while one is under way. */
function trickling(t: Transport): Transport {
  return {
    description: t.description,
    host: t.host,
    exec: (argv, o) => {
      const input = o?.stdin;
      if (!(input instanceof Readable)) return t.exec(argv, o);
      const slow = Readable.from(
        (async function* () {
          for await (const chunk of input) {
            for (let at = 0; at < (chunk as Buffer).length; at += 65536) {
              await sleep(20);
              yield (chunk as Buffer).subarray(at, at + 65536);
            }
          }
        })(),
      );
      return t.exec(argv, { ...o, stdin: slow });
    },
    glob: (p) => t.glob(p),
    walk: (d) => t.walk(d),
    stat: (p) => t.stat(p),
    read: (p, o) => t.read(p, o),
    close: () => t.close(),
  };
}

describe("restore onto the server: a failure at any step leaves the server as it was", { skip }, () => {
  let fx: SshFixture;
  let sshd: Sshd;
  let t: SshTransport;
  let dir: string;
  let srv: string;
  let target: string;
  let good: string;
  const marker = () => join(srv, "hooks.log");
  const hooks = () => ({ stop: `echo stop >> ${marker()}`, start: `echo start >> ${marker()}` });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "cairn-to-server-faults-"));
    srv = join(dir, "srv");
    execFileSync("mkdir", ["-p", srv]);
    target = join(srv, "bot.db");
    execFileSync("sqlite3", [target, "PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES ('live');"]);
    // The "restored" database: 4 MiB, so an upload takes a while when it trickles.
    good = join(dir, "good.db");
    execFileSync("sqlite3", [good, "CREATE TABLE t(x); WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i<4000) INSERT INTO t SELECT randomblob(1000) FROM c;"]);
    fx = new SshFixture();
    sshd = await fx.start();
    t = await SshTransport.connect(settingsFor(sshd));
  });

  after(async () => {
    await t?.close();
    await sshd?.stop();
    fx?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a corrupted upload fails PRAGMA integrity_check: nothing stopped, nothing replaced, the upload removed", async () => {
    const bad = join(dir, "bad.db");
    const bytes = readFileSync(good);
    bytes.fill(0x5a, 4096 * 3 + 100, 4096 * 3 + 2000); // inside a b-tree page: the header still says SQLite
    writeFileSync(bad, bytes);
    const before = picture(srv);
    const r = new SqliteRestore("db", target, local(bad, "db.sqlite"), hooks());
    await assert.rejects(restoreAll(t, [r], silentLogger), /the uploaded database failed its check, so .*bot\.db was left as it was/);
    assert.deepEqual(picture(srv), before);
  });

  test("a stop hook that fails: nothing replaced, the upload removed, the start hook run to bring back what it stopped", async () => {
    const before = picture(srv);
    rmSync(marker(), { force: true });
    const r = new SqliteRestore("db", target, local(good, "db.sqlite"), { stop: "echo bot will not stop >&2; exit 3", start: `echo start >> ${marker()}` });
    await assert.rejects(restoreAll(t, [r], silentLogger), /the stop hook `echo bot will not stop >&2; exit 3` .* failed \(exit 3\): bot will not stop/);
    assert.deepEqual(picture(srv), before);
    assert.equal(readFileSync(marker(), "utf8"), "start\n");
  });

  test("the connection dropped mid-upload: the server removes the partial upload by itself", async () => {
    const before = picture(srv);
    const slow = await SshTransport.connect(settingsFor(sshd));
    try {
      const run = restoreAll(trickling(slow), [new SqliteRestore("db", target, local(good, "db.sqlite"), hooks())], silentLogger);
      run.catch(() => {});
      // Wait until part of the upload is on the server, then cut every connection.
      let partial: string | undefined;
      for (let i = 0; i < 3000 && !partial; i++) {
        partial = readdirSync(srv).find((f) => f.includes(".cairn-restore-") && readFileSync(join(srv, f)).length > 100_000);
        if (!partial) await sleep(10);
      }
      assert.ok(partial, "the upload began");
      assert.ok(sshd.dropConnections() > 0);
      await assert.rejects(run, /connection|upload/i);
      for (let i = 0; i < 1000 && readdirSync(srv).some((f) => f.includes(".cairn-restore-")); i++) await sleep(20);
      assert.deepEqual(picture(srv), before);
    } finally {
      await slow.close();
    }
    // The connection the other tests use was dropped too.
    t = await SshTransport.connect(settingsFor(sshd));
  });

  test("a start hook that fails: restored, and the error names the dated copy to roll back to", async () => {
    rmSync(marker(), { force: true });
    const r = new SqliteRestore("db", target, local(good, "db.sqlite"), { stop: `echo stop >> ${marker()}`, start: "exit 7" });
    const err = await restoreAll(t, [r], silentLogger).then(
      () => assert.fail("resolved"),
      (e: Error & { hint?: string }) => e,
    );
    assert.match(err.message, /^db restored, but the start hook `exit 7`/);
    const dated = readdirSync(srv).find((f) => f.startsWith("bot.db.before-restore-"));
    assert.ok(dated);
    assert.match(err.hint!, new RegExp(`mv -f -- ${join(srv, dated!)} ${target}`));
    assert.deepEqual(readFileSync(target), readFileSync(good));
    assert.equal(execFileSync("sqlite3", [join(srv, dated!), "SELECT x FROM t"]).toString().trim(), "live");
    assert.equal(readFileSync(marker(), "utf8"), "stop\n");
  });

  test("files: when one file cannot be swapped in, those already swapped are put back and the start hook runs again", async () => {
    const conf = join(srv, "conf");
    execFileSync("mkdir", ["-p", conf]);
    writeFileSync(join(conf, "a.json"), "current a");
    writeFileSync(join(conf, "b.json"), "current b");
    // b's dated copy is in the way for the next minute, so its swap fails after a's succeeded.
    const now = Date.now();
    for (let s = 0; s < 60; s++) writeFileSync(join(conf, `b.json.before-restore-${stamp(new Date(now + s * 1000))}`), "in the way");
    const before = picture(conf);
    rmSync(marker(), { force: true });
    const newA = join(dir, "a.json");
    const newB = join(dir, "b.json");
    writeFileSync(newA, "restored a");
    writeFileSync(newB, "restored b");
    const r = new FilesRestore("s", [`${conf}/*.json`], [local(newA, `s${conf}/a.json`), local(newB, `s${conf}/b.json`)], hooks());
    await assert.rejects(restoreAll(t, [r], silentLogger), /replacing .*b\.json .*already exists/s);
    assert.deepEqual(picture(conf), before);
    assert.equal(readFileSync(marker(), "utf8"), "stop\nstart\n");
  });

  test("several sources: one stop and one start for a shared hook; a later source that fails puts back the ones swapped before it", async () => {
    const conf = join(srv, "conf2");
    execFileSync("mkdir", ["-p", conf]);
    writeFileSync(join(conf, "c.json"), "current c");
    const newC = join(dir, "c.json");
    writeFileSync(newC, "restored c");
    // c's dated copy is in the way for the next minute: the files source fails at its swap, after the database's.
    const now = Date.now();
    for (let s = 0; s < 60; s++) writeFileSync(join(conf, `c.json.before-restore-${stamp(new Date(now + s * 1000))}`), "in the way");
    const before = { srv: picture(srv), conf: picture(conf) };
    rmSync(marker(), { force: true });
    const db = new SqliteRestore("db", target, local(good, "db.sqlite"), hooks());
    const files = new FilesRestore("s", [`${conf}/*.json`], [local(newC, `s${conf}/c.json`)], hooks());
    await assert.rejects(restoreAll(t, [db, files], silentLogger), /c\.json .*already exists/s);
    assert.deepEqual({ srv: picture(srv), conf: picture(conf) }, before);
    assert.equal(readFileSync(marker(), "utf8"), "stop\nstart\n", "the shared hooks ran once each");

    // Without the obstacle both go in, between one stop and one start.
    for (const f of readdirSync(conf)) if (f.includes(".before-restore-")) rmSync(join(conf, f));
    rmSync(marker(), { force: true });
    const done = await restoreAll(t, [new SqliteRestore("db", target, local(good, "db.sqlite"), hooks()), new FilesRestore("s", [`${conf}/*.json`], [local(newC, `s${conf}/c.json`)], hooks())], silentLogger);
    assert.deepEqual(done.map((d) => d.kept.length), [1, 1]);
    assert.deepEqual(readFileSync(target), readFileSync(good));
    assert.equal(readFileSync(join(conf, "c.json"), "utf8"), "restored c");
    assert.equal(readFileSync(marker(), "utf8"), "stop\nstart\n");
  });

  test("databases swapped in before a later source fails are put back (PostgreSQL renames, MariaDB tables), nothing left over", async () => {
    const pgDb = uniq();
    const myDb = uniq();
    psql(`CREATE DATABASE ${pgDb}`);
    maria(`CREATE DATABASE ${myDb}`);
    try {
      psql("CREATE TABLE a(x int); INSERT INTO a VALUES (1);", pgDb);
      maria("CREATE TABLE a(x int); INSERT INTO a VALUES (1);", myDb);
      const dump = join(dir, "good.sql");
      writeFileSync(dump, "CREATE TABLE a(x int);\nINSERT INTO a VALUES (2);\n");
      const conf = join(srv, "conf3");
      execFileSync("mkdir", ["-p", conf]);
      writeFileSync(join(conf, "d.json"), "current d");
      const now = Date.now();
      for (let s = 0; s < 60; s++) writeFileSync(join(conf, `d.json.before-restore-${stamp(new Date(now + s * 1000))}`), "in the way");
      const before = picture(conf);
      const sources = [
        new PostgresRestore("orders", local(dump, "orders.sql"), hooks(), { database: pgDb, host: "127.0.0.1", user: "postgres" }, undefined, { replace: true }),
        new MysqlRestore("shop", local(dump, "shop.sql"), hooks(), { database: myDb, host: "127.0.0.1", user: "root" }, undefined, { replace: true }),
        new FilesRestore("s", [`${conf}/*.json`], [local(dump, `s${conf}/d.json`)], hooks()),
      ];
      await assert.rejects(restoreAll(t, sources, silentLogger), /d\.json .*already exists/s);
      assert.equal(psql("SELECT x FROM a", pgDb), "1");
      assert.equal(maria("SELECT x FROM a", myDb), "1");
      assert.equal(psql(`SELECT count(*) FROM pg_database WHERE datname LIKE 'cairn_restore_%' OR datname LIKE '${pgDb}_before_%'`), "0");
      assert.equal(maria(`SELECT count(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'cairn\\_restore\\_%' OR SCHEMA_NAME LIKE '${myDb}\\_before\\_%'`), "0");
      assert.deepEqual(picture(conf), before);
    } finally {
      psql(`DROP DATABASE IF EXISTS ${pgDb}`);
      maria(`DROP DATABASE IF EXISTS ${myDb}`);
    }
  });

  test("files: a mode from the snapshot is never set-user-ID or set-group-ID; a missing folder is made", async () => {
    const bin = join(srv, "bin", "sub");
    const tool = join(dir, "tool");
    writeFileSync(tool, "#!/bin/sh\n");
    await restoreAll(t, [new FilesRestore("s", [`${srv}/bin`], [local(tool, `s${bin}/tool`, 0o6755)], {})], silentLogger);
    assert.equal(statSync(join(bin, "tool")).mode & 0o7777, 0o755);
  });

  test("files: a path no pattern of cairn.yml names is refused before anything is done", () => {
    assert.equal(serverPath("s", "s/srv/bot/.env", ["/srv/bot/.env"]), "/srv/bot/.env");
    assert.equal(serverPath("s", "s/srv/bot/keys/a/b.pem", ["/srv/bot/keys"]), "/srv/bot/keys/a/b.pem");
    assert.equal(serverPath("s", "s/srv/bot/config/x.json", ["/srv/bot/config/*.json"]), "/srv/bot/config/x.json");
    assert.equal(serverPath("s", "s/etc/passwd", ["/srv/bot/config/*.json"]), undefined);
    assert.equal(serverPath("s", "s/root/.ssh/authorized_keys", ["/srv/bot/*"]), undefined);
    assert.throws(() => new FilesRestore("s", ["/srv/bot/*.json"], [local(good, "s/root/.ssh/authorized_keys")], {}), /no pattern of the source in cairn\.yml names: s\/root\/\.ssh\/authorized_keys/);
  });

  test("a forged dump cannot run commands on the server: psql behind \\restrict, mysql in --binary-mode", async () => {
    const pgDb = uniq();
    const myDb = uniq();
    const pwned = join(srv, "pwned");
    const dump = join(dir, "forged.sql");
    // pg_dump's own \\restrict lines are dropped (psql refuses a second), a shell escape is refused.
    writeFileSync(dump, `\\restrict abc123\nCREATE TABLE a(x int);\n\\unrestrict abc123\n\\! touch ${pwned}\nINSERT INTO a VALUES (1);\n`);
    try {
      const pg = new PostgresRestore("orders", local(dump, "orders.sql"), {}, { database: pgDb, host: "127.0.0.1", user: "postgres" }, undefined, {});
      await assert.rejects(restoreAll(t, [pg], silentLogger), /backslash commands are restricted/);
      const my = new MysqlRestore("shop", local(dump, "shop.sql"), {}, { database: myDb, host: "127.0.0.1", user: "root" }, undefined, {});
      await assert.rejects(restoreAll(t, [my], silentLogger), /with mysql failed/);
      assert.equal(readdirSync(srv).includes("pwned"), false);
      assert.equal(psql(`SELECT count(*) FROM pg_database WHERE datname = '${pgDb}'`), "0");
      // Without the shell escape the same dump loads: only pg_dump's own lines were taken out.
      writeFileSync(dump, `\\restrict abc123\nCREATE TABLE a(x int);\nCOPY a (x) FROM stdin;\n7\n\\.\n\\unrestrict abc123\n`);
      await restoreAll(t, [pg], silentLogger);
      assert.equal(psql("SELECT x FROM a", pgDb), "7");
    } finally {
      psql(`DROP DATABASE IF EXISTS ${pgDb}`);
      maria(`DROP DATABASE IF EXISTS ${myDb}`);
    }
  });

  test("a dump that does not load (PostgreSQL, MariaDB) leaves the database as it was, and no temporary one", async () => {
    const pgDb = uniq();
    const myDb = uniq();
    psql(`CREATE DATABASE ${pgDb}`);
    maria(`CREATE DATABASE ${myDb}`);
    rmSync(marker(), { force: true });
    try {
      psql("CREATE TABLE a(x int); INSERT INTO a VALUES (1), (2);", pgDb);
      maria("CREATE TABLE a(x int); INSERT INTO a VALUES (1), (2);", myDb);
      const dump = join(dir, "broken.sql");
      writeFileSync(dump, "CREATE TABLE a(x int);\nINSERT INTO a VALUES (9);\nTHIS IS NOT SQL;\n");
      const pg = new PostgresRestore("orders", local(dump, "orders.sql"), hooks(), { database: pgDb, host: "127.0.0.1", user: "postgres" }, undefined, { replace: true });
      await assert.rejects(restoreAll(t, [pg], silentLogger), /loading the dump into cairn_restore_\w+ with psql failed .*syntax error.*; .* was left as it was/s);
      assert.equal(psql("SELECT string_agg(x::text, ',' ORDER BY x) FROM a", pgDb), "1,2");
      assert.equal(psql("SELECT count(*) FROM pg_database WHERE datname LIKE 'cairn_restore_%'"), "0");
      const my = new MysqlRestore("shop", local(dump, "shop.sql"), hooks(), { database: myDb, host: "127.0.0.1", user: "root" }, undefined, { replace: true });
      await assert.rejects(restoreAll(t, [my], silentLogger), /loading the dump into cairn_restore_\w+ with mysql failed .*syntax/s);
      assert.equal(maria("SELECT group_concat(x ORDER BY x) FROM a", myDb), "1,2");
      assert.equal(maria("SELECT count(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'cairn\\_restore\\_%'"), "0");
      // Into a new database: dropped again.
      const fresh = new PostgresRestore("orders", local(dump, "orders.sql"), {}, { database: `${pgDb}_new`, host: "127.0.0.1", user: "postgres" }, undefined, {});
      await assert.rejects(restoreAll(t, [fresh], silentLogger), /was not created/);
      assert.equal(psql(`SELECT count(*) FROM pg_database WHERE datname = '${pgDb}_new'`), "0");
      assert.equal(readdirSync(srv).includes("hooks.log"), false, "no hook ran for a dump that did not load");
    } finally {
      psql(`DROP DATABASE IF EXISTS ${pgDb}`);
      maria(`DROP DATABASE IF EXISTS ${myDb}`);
    }
  });
});
