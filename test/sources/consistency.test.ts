// Consistency under load, over SSH: while a dump runs, a writer keeps moving
// money between accounts (the total never changes). The dumped SQLite passes
// `PRAGMA integrity_check` and the total holds, in WAL and rollback-journal
// modes, and the longest wait of the writer is measured and reported; the
// PostgreSQL and MariaDB dumps reload into fresh databases with the total intact.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { MysqlSource, PostgresSource } from "../../src/sources/sqldump.ts";
import { SqliteSource } from "../../src/sources/sqlite.ts";
import { SshTransport } from "../../src/transport/ssh.ts";
import { settingsFor } from "../helpers/ssh-settings.ts";
import { collect, maria, mariaUp, pgUp, psql, psqlFile, uniq } from "../helpers/sources.ts";
import { haveSshd, SshFixture, type Sshd } from "../helpers/sshd.ts";

const CI = !!process.env.CI;
const need = (ok: boolean, what: string) => (ok || CI ? false : `${what} is not available`);
const ACCOUNTS = 100;
const TOTAL = ACCOUNTS * 1000;

// Transfers until the stop file appears; prints "<transactions> <longest wait ms>".
const SQLITE_WRITER = `
import os, random, sqlite3, sys, time
db, stop = sys.argv[1], sys.argv[2]
c = sqlite3.connect(db, timeout=120, isolation_level=None)
n, longest = 0, 0.0
while not os.path.exists(stop):
    a, b = random.sample(range(1, ${ACCOUNTS + 1}), 2)
    amount = random.randint(1, 50)
    t0 = time.perf_counter()
    c.execute("BEGIN IMMEDIATE")
    c.execute("UPDATE accounts SET balance = balance - ? WHERE id = ?", (amount, a))
    c.execute("UPDATE accounts SET balance = balance + ? WHERE id = ?", (amount, b))
    c.execute("COMMIT")
    longest = max(longest, time.perf_counter() - t0)
    n += 1
    time.sleep(0.002)
print(n, round(longest * 1000, 1))
`;

/** A writer process; stop() ends it and returns how many transfers it made and its longest wait. */
function sqliteWriter(db: string, dir: string) {
  const stopFile = join(dir, `stop-${Math.random()}`);
  const child = spawn("/usr/bin/python3", ["-c", SQLITE_WRITER, db, stopFile], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  return {
    async stop(): Promise<{ transactions: number; longestMs: number }> {
      writeFileSync(stopFile, "");
      await new Promise((r) => child.once("exit", r));
      const [n, ms] = out.trim().split(" ").map(Number);
      return { transactions: n, longestMs: ms };
    },
  };
}

/** Streams transfer transactions into a SQL client's stdin until stopped. */
function sqlWriter(cmd: string, args: string[], transfer: (a: number, b: number, amount: number) => string) {
  const child = spawn(cmd, args, { stdio: ["pipe", "ignore", "inherit"] });
  let running = true;
  let n = 0;
  const loop = (async () => {
    while (running) {
      const a = 1 + Math.floor(Math.random() * ACCOUNTS);
      const b = 1 + ((a + Math.floor(Math.random() * (ACCOUNTS - 1))) % ACCOUNTS);
      if (!child.stdin.write(transfer(a, b, 1 + Math.floor(Math.random() * 50)))) await new Promise((r) => child.stdin.once("drain", r));
      n++;
      await new Promise((r) => setTimeout(r, 2));
    }
    child.stdin.end();
  })();
  return {
    async stop(): Promise<number> {
      running = false;
      await loop;
      await new Promise((r) => child.once("exit", r));
      return n;
    },
  };
}

describe("consistency under load, over ssh", { skip: need(haveSshd(), "sshd") }, () => {
  let fx: SshFixture;
  let sshd: Sshd;
  let ssh: SshTransport;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "cairn-load-"));
    fx = new SshFixture();
    sshd = await fx.start();
    ssh = await SshTransport.connect(settingsFor(sshd));
  });
  after(async () => {
    await ssh?.close();
    await sshd?.stop();
    fx?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const mode of ["wal", "delete"] as const) {
    test(`sqlite (${mode === "wal" ? "WAL" : "rollback journal"}): copy is intact, total holds; writer wait measured`, async (t) => {
      const db = join(dir, `load-${mode}.db`);
      // ~64 MiB, so the backup takes long enough for many transfers to overlap it.
      execFileSync("sqlite3", [
        db,
        `PRAGMA journal_mode=${mode}; CREATE TABLE accounts(id INTEGER PRIMARY KEY, balance INTEGER NOT NULL);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < ${ACCOUNTS}) INSERT INTO accounts SELECT i, 1000 FROM n;
         CREATE TABLE filler(b BLOB); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 8000) INSERT INTO filler SELECT randomblob(8000) FROM n;`,
      ]);
      const writer = sqliteWriter(db, dir);
      await new Promise((r) => setTimeout(r, 300));
      const t0 = performance.now();
      const { files, info } = await collect(new SqliteSource("db", db), ssh);
      const dumpMs = performance.now() - t0;
      await new Promise((r) => setTimeout(r, 200));
      const w = await writer.stop();
      const copy = join(dir, `load-${mode}.copy.db`);
      writeFileSync(copy, files.get("db.sqlite")!);
      assert.equal(execFileSync("sqlite3", [copy, "PRAGMA integrity_check"]).toString().trim(), "ok");
      assert.equal(Number(execFileSync("sqlite3", [copy, "SELECT sum(balance) FROM accounts"]).toString()), TOTAL);
      assert.equal(Number(execFileSync("sqlite3", [db, "SELECT sum(balance) FROM accounts"]).toString()), TOTAL);
      assert.equal(info.journalMode, mode);
      assert.ok(w.transactions > 20, `the writer kept writing (${w.transactions})`);
      t.diagnostic(`${mode}: dump of ${(files.get("db.sqlite")!.length / 1048576).toFixed(0)} MiB over ssh took ${dumpMs.toFixed(0)} ms; writer made ${w.transactions} transfers, longest wait ${w.longestMs} ms`);
      if (mode === "wal") assert.ok(w.longestMs < 3000, `a WAL writer is never blocked by the backup (longest ${w.longestMs} ms)`);
    });
  }

  test("postgres: pg_dump under load reloads with the total intact", { skip: need(pgUp(), "PostgreSQL") }, async (t) => {
    const db = uniq();
    psql(`CREATE DATABASE ${db}`);
    try {
      psql(`CREATE TABLE accounts(id int PRIMARY KEY, balance int NOT NULL); INSERT INTO accounts SELECT i, 1000 FROM generate_series(1, ${ACCOUNTS}) i;
            CREATE TABLE filler(id int, t text); INSERT INTO filler SELECT i, md5(i::text) FROM generate_series(1, 300000) i;`, db);
      const writer = sqlWriter("psql", ["-h", "127.0.0.1", "-U", "postgres", "-d", db, "-q", "-v", "ON_ERROR_STOP=1"], (a, b, x) => `BEGIN; UPDATE accounts SET balance = balance - ${x} WHERE id = ${a}; UPDATE accounts SET balance = balance + ${x} WHERE id = ${b}; COMMIT;\n`);
      await new Promise((r) => setTimeout(r, 300));
      const { files } = await collect(new PostgresSource("pg", { database: db, user: "postgres", host: "127.0.0.1" }), ssh);
      const n = await writer.stop();
      psql(`CREATE DATABASE ${db}_r`);
      try {
        psqlFile(files.get("pg.sql")!.toString(), `${db}_r`);
        assert.equal(Number(psql("SELECT sum(balance) FROM accounts", `${db}_r`)), TOTAL);
        assert.equal(Number(psql("SELECT count(*) FROM filler", `${db}_r`)), 300000);
      } finally {
        psql(`DROP DATABASE ${db}_r`);
      }
      t.diagnostic(`postgres: ${n} transfers during the dump`);
      assert.ok(n > 10);
    } finally {
      psql(`DROP DATABASE ${db}`);
    }
  });

  test("mariadb: mysqldump --single-transaction under load reloads with the total intact", { skip: need(mariaUp(), "MariaDB") }, async (t) => {
    const db = uniq();
    maria(`CREATE DATABASE ${db}`);
    try {
      maria(`CREATE TABLE accounts(id int PRIMARY KEY, balance int NOT NULL) ENGINE=InnoDB; INSERT INTO accounts SELECT seq, 1000 FROM seq_1_to_${ACCOUNTS};
             CREATE TABLE filler(id int, t varchar(64)) ENGINE=InnoDB; INSERT INTO filler SELECT seq, md5(seq) FROM seq_1_to_300000;`, db);
      const writer = sqlWriter("mariadb", ["-h", "127.0.0.1", "-u", "root", db], (a, b, x) => `START TRANSACTION; UPDATE accounts SET balance = balance - ${x} WHERE id = ${a}; UPDATE accounts SET balance = balance + ${x} WHERE id = ${b}; COMMIT;\n`);
      await new Promise((r) => setTimeout(r, 300));
      const { files } = await collect(new MysqlSource("my", { database: db, user: "root", host: "127.0.0.1" }), ssh);
      const n = await writer.stop();
      maria(`CREATE DATABASE ${db}_r`);
      try {
        maria("", `${db}_r`, files.get("my.sql")!.toString());
        assert.equal(Number(maria("SELECT sum(balance) FROM accounts", `${db}_r`)), TOTAL);
        assert.equal(Number(maria("SELECT count(*) FROM filler", `${db}_r`)), 300000);
      } finally {
        maria(`DROP DATABASE ${db}_r`);
      }
      t.diagnostic(`mariadb: ${n} transfers during the dump`);
      assert.ok(n > 10);
    } finally {
      maria(`DROP DATABASE ${db}`);
    }
  });
});
