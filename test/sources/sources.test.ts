// Every source kind over the local transport and over SSH to a real sshd,
// against real sqlite3, PostgreSQL and MariaDB: dumps reload to equal data,
// info() says what was dumped, and failures (no sqlite3, wrong password,
// missing database, dropped connection) throw clear errors and leave no temp
// files on the server.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { appendFileSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { ChangedWhileReadingError, ConnectionError, SourceError, UnreadableFileError } from "../../src/errors.ts";
import { FilesSource } from "../../src/sources/files.ts";
import { MysqlSource, PostgresSource } from "../../src/sources/sqldump.ts";
import { SqliteSource } from "../../src/sources/sqlite.ts";
import { CommandSource } from "../../src/sources/command.ts";
import { LocalTransport } from "../../src/transport/local.ts";
import { SshTransport } from "../../src/transport/ssh.ts";
import type { Transport } from "../../src/transport/transport.ts";
import { settingsFor } from "../helpers/ssh-settings.ts";
import { binWithout, collect, maria, mariaUp, pgUp, psql, psqlFile, quietLog, scratchPostgres, uniq, withEnv } from "../helpers/sources.ts";
import { haveSshd, SshFixture, type Sshd } from "../helpers/sshd.ts";

const CI = !!process.env.CI;
const need = (ok: boolean, what: string) => (ok || CI ? false : `${what} is not available`);

let fx: SshFixture;
let sshd: Sshd;
let ssh: SshTransport;
let dir: string;
const local = new LocalTransport();

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "cairn-src-"));
  if (!haveSshd() && !CI) return;
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

const transports: [string, () => Transport][] = [
  ["local", () => local],
  ["ssh", () => ssh],
];

function makeSqlite(path: string, mode: "wal" | "delete", rows = 100): void {
  execFileSync("sqlite3", [path, `PRAGMA journal_mode=${mode}; CREATE TABLE accounts(id INTEGER PRIMARY KEY, balance INTEGER NOT NULL); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < ${rows}) INSERT INTO accounts SELECT i, 1000 FROM n; CREATE TABLE "odd ""name"""(x);`]);
}

function cairnTemps(tmp: string): string[] {
  return readdirSync(tmp).filter((n) => n.startsWith("cairn-sqlite"));
}

for (const [tname, transport] of transports) {
  describe(`sources over ${tname}`, { skip: tname === "ssh" ? need(haveSshd(), "sshd") : false }, () => {
    test("sqlite: a consistent copy equal to the source (sha3sum), with info", async () => {
      const db = join(dir, `${tname}-plain.db`);
      makeSqlite(db, "wal");
      const { files, info } = await collect(new SqliteSource("trading-db", db), transport());
      const copy = join(dir, `${tname}-plain.copy.db`);
      writeFileSync(copy, files.get("trading-db.sqlite")!);
      assert.equal(execFileSync("sqlite3", [copy, "PRAGMA integrity_check"]).toString().trim(), "ok");
      const sha = (p: string) => execFileSync("sqlite3", [p, ".sha3sum"]).toString();
      assert.equal(sha(copy), sha(db));
      assert.equal(info.tool, "sqlite3");
      assert.equal(info.journalMode, "wal");
      assert.deepEqual(info.tables, { accounts: 100, 'odd "name"': 0 });
    });

    test("sqlite: without the sqlite3 CLI, python3's module is used and said so", async () => {
      const db = join(dir, `${tname}-py.db`);
      makeSqlite(db, "delete", 10);
      const bin = binWithout(mkdtempSync(join(dir, "bin")), true);
      const log = quietLog();
      const { files, info } = await collect(new SqliteSource("db", db), withEnv(transport(), { PATH: bin }), log);
      const copy = join(dir, `${tname}-py.copy.db`);
      writeFileSync(copy, files.get("db.sqlite")!);
      assert.equal(execFileSync("sqlite3", [copy, "PRAGMA integrity_check; SELECT sum(balance) FROM accounts"]).toString(), "ok\n10000\n");
      assert.equal(info.tool, "python3-sqlite3");
      assert.deepEqual(info.tables, { accounts: 10, 'odd "name"': 0 });
      assert.ok(log.lines.some((l) => l.includes("used python3-sqlite3")));
      assert.ok(log.lines.some((l) => l.includes("WAL")), "warns about rollback-journal mode");
    });

    test("sqlite: neither sqlite3 nor python3 is a clear failure, no copy of the live file, no temp left", async () => {
      const db = join(dir, `${tname}-none.db`);
      makeSqlite(db, "wal", 1);
      const tmp = mkdtempSync(join(dir, "tmp"));
      const bin = binWithout(mkdtempSync(join(dir, "bin")), false);
      await assert.rejects(collect(new SqliteSource("db", db), withEnv(transport(), { PATH: bin, TMPDIR: tmp })), (e: Error) => e instanceof SourceError && /neither the sqlite3 command nor python3/.test(e.message));
      await assert.rejects(collect(new SqliteSource("db", join(dir, "missing.db")), transport()), (e: Error) => e instanceof SourceError && /no database file/.test(e.message));
      assert.deepEqual(cairnTemps(tmp), []);
    });

    test("postgres: pg_dump reloads into a fresh database; tables and row counts recorded", { skip: need(pgUp(), "PostgreSQL") }, async () => {
      const db = uniq();
      psql(`CREATE DATABASE ${db}`);
      try {
        psql(`CREATE TABLE accounts(id int PRIMARY KEY, balance int NOT NULL); INSERT INTO accounts SELECT i, 1000 FROM generate_series(1, 50) i; CREATE TABLE notes(t text); INSERT INTO notes VALUES (E'multi\\nline'), ('x');`, db);
        const src = new PostgresSource("orders", { database: db, user: "postgres", host: "127.0.0.1", password: "not-needed-here", globals: true });
        const { files, info } = await collect(src, transport());
        assert.deepEqual([...files.keys()], ["orders.sql", "orders.globals.sql"]);
        assert.match(String(info.version), /^\d+/);
        assert.deepEqual(info.tables, { "public.accounts": 50, "public.notes": 2 });
        psql(`CREATE DATABASE ${db}_r`);
        try {
          psqlFile(files.get("orders.sql")!.toString(), `${db}_r`);
          assert.equal(psql("SELECT count(*), sum(balance) FROM accounts", `${db}_r`), "50|50000");
          assert.equal(psql("SELECT string_agg(t, '|' ORDER BY t) FROM notes", `${db}_r`), "multi\nline|x");
        } finally {
          psql(`DROP DATABASE ${db}_r`);
        }
        assert.match(files.get("orders.globals.sql")!.toString(), /CREATE ROLE postgres/);
      } finally {
        psql(`DROP DATABASE ${db}`);
      }
    });

    test("postgres: a missing database fails with pg_dump's message", { skip: need(pgUp(), "PostgreSQL") }, async () => {
      const src = new PostgresSource("x", { database: "cairn_no_such_db", user: "postgres", host: "127.0.0.1", password: "s3cret-pw" });
      await assert.rejects(collect(src, transport()), (e: Error) => e instanceof SourceError && /cairn_no_such_db/.test(e.message) && /does not exist/.test(e.message) && !e.message.includes("s3cret-pw"));
    });

    test("postgres: a wrong password fails with pg_dump's message, password masked", { skip: need(pgUp(), "PostgreSQL") }, async () => {
      const pg = await scratchPostgres(mkdtempSync(join(tmpdir(), "cairn-pg-")), "right-pw-1");
      try {
        const ok = new PostgresSource("x", { database: "postgres", user: "postgres", host: "127.0.0.1", port: pg.port, password: "right-pw-1" });
        const { info } = await collect(ok, transport());
        assert.match(String(info.version), /^\d+/);
        const wrong = new PostgresSource("x", { database: "postgres", user: "postgres", host: "127.0.0.1", port: pg.port, password: "wrong-pw-2" });
        await assert.rejects(collect(wrong, transport()), (e: Error) => e instanceof SourceError && /password authentication failed/.test(e.message) && !e.message.includes("wrong-pw-2"));
      } finally {
        pg.stop();
      }
    });

    test("mysql: mysqldump reloads into a fresh database; password via stdin option file", { skip: need(mariaUp(), "MariaDB") }, async () => {
      const db = uniq();
      const user = `u${Math.random().toString(36).slice(2, 8)}`;
      const pw = `p'w"d\\ $x #1`;
      maria(`CREATE DATABASE ${db}; CREATE USER '${user}'@'127.0.0.1' IDENTIFIED BY '${pw.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'; GRANT ALL ON ${db}.* TO '${user}'@'127.0.0.1';`);
      try {
        maria(`CREATE TABLE accounts(id int PRIMARY KEY, balance int NOT NULL) ENGINE=InnoDB; INSERT INTO accounts SELECT seq, 1000 FROM seq_1_to_50; CREATE TRIGGER t1 BEFORE UPDATE ON accounts FOR EACH ROW SET NEW.balance = NEW.balance;`, db);
        const src = new MysqlSource("shop", { database: db, user, host: "127.0.0.1", password: pw });
        assert.ok(!src.command().argv.join(" ").includes(pw));
        const { files, info } = await collect(src, transport());
        assert.equal(info.engine, "mariadb");
        assert.deepEqual(info.tables, ["accounts"]);
        maria(`CREATE DATABASE ${db}_r`);
        try {
          maria("", `${db}_r`, files.get("shop.sql")!.toString());
          assert.equal(maria("SELECT count(*), sum(balance) FROM accounts", `${db}_r`), "50\t50000");
          assert.equal(maria(`SELECT count(*) FROM information_schema.triggers WHERE trigger_schema='${db}_r'`), "1");
        } finally {
          maria(`DROP DATABASE ${db}_r`);
        }
        const wrong = new MysqlSource("shop", { database: db, user, host: "127.0.0.1", password: "wrong-password-123" });
        await assert.rejects(collect(wrong, transport()), (e: Error) => e instanceof SourceError && /Access denied/.test(e.message) && !e.message.includes("wrong-password-123"));
        const missing = new MysqlSource("shop", { database: "cairn_no_such_db", user: "root", host: "127.0.0.1" });
        await assert.rejects(collect(missing, transport()), (e: Error) => e instanceof SourceError && /cairn_no_such_db/.test(e.message));
      } finally {
        maria(`DROP DATABASE ${db}; DROP USER '${user}'@'127.0.0.1'`);
      }
    });

    test("command: stdout is the backup; a non-zero exit fails with stderr; secrets masked", async () => {
      const { files, info } = await collect(new CommandSource("redis", ["sh", "-c", 'printf "dump:%s" "$TOKEN"'], { filename: "dump.rdb", secretEnv: { TOKEN: "tok-123" } }), transport());
      assert.equal(files.get("redis/dump.rdb")!.toString(), "dump:tok-123");
      assert.equal(info.bytes, 12);
      const { files: f2 } = await collect(new CommandSource("cmd", "echo hi | tr a-z A-Z"), transport());
      assert.equal(f2.get("cmd/cmd.out")!.toString(), "HI\n");
      await assert.rejects(
        collect(new CommandSource("bad", 'echo "partial"; echo "failed with $TOKEN" >&2; exit 3', { secretEnv: { TOKEN: "tok-123" } }), transport()),
        (e: Error) => e instanceof SourceError && /exited with code 3/.test(e.message) && /failed with \*\*\*/.test(e.message),
      );
    });

    test("files: server-side glob, metadata, weird names; appended while read, rewritten while read, vanished", async () => {
      const root = mkdtempSync(join(dir, "files-"));
      writeFileSync(join(root, "config.json"), '{"a":1}');
      writeFileSync(join(root, "a'; rm -rf ~ #.json"), "data", { mode: 0o600 });
      writeFileSync(join(root, "old.log"), "old");
      writeFileSync(join(root, "new.log"), "new");
      utimesSync(join(root, "old.log"), new Date(Date.now() - 10 * 86400e3), new Date(Date.now() - 10 * 86400e3));
      const src = new FilesSource("settings", [`${root}/*.json`]);
      const dump = src.dump(transport(), quietLog());
      const got: Record<string, string> = {};
      for await (const e of dump.entries) {
        const parts: Buffer[] = [];
        for await (const c of e.open()) parts.push(c);
        got[e.path] = Buffer.concat(parts).toString();
        if (e.path.endsWith("#.json")) assert.equal(e.mode, 0o600);
      }
      const rel = root.replace(/^\//, "");
      assert.deepEqual(got, { [`settings/${rel}/a'; rm -rf ~ #.json`]: "data", [`settings/${rel}/config.json`]: '{"a":1}' });
      const logs = await collect(new FilesSource("logs", [`${root}/*.log`], 7 * 86400e3), transport());
      assert.deepEqual([...logs.files.keys()], [`logs/${rel}/new.log`]);
      // A file appended to while it is read: stored as it was when the read began.
      // (16 MiB: more than an SSH channel holds, so the server is still reading when the file changes.)
      const growing = join(root, "growing.log");
      const size = 16 << 20;
      writeFileSync(growing, Buffer.alloc(size, "x"));
      const grown = new FilesSource("g", [growing]).dump(transport(), quietLog());
      for await (const e of grown.entries) {
        const parts: Buffer[] = [];
        for await (const c of e.open()) {
          if (parts.length === 0) appendFileSync(growing, "y".repeat(1 << 20));
          parts.push(c);
        }
        assert.ok(Buffer.concat(parts).equals(Buffer.alloc(size, "x")));
      }
      assert.deepEqual(grown.info(), { files: 1, bytes: size, grew: [growing] });
      // A file rewritten in place while it is read: read again (by the engine).
      const g = new FilesSource("g", [growing]).dump(transport(), quietLog());
      for await (const e of g.entries) {
        await assert.rejects(
          (async () => {
            let first = true;
            for await (const _ of e.open()) {
              if (first) writeFileSync(growing, Buffer.alloc(size * 2, "z"));
              first = false;
            }
          })(),
          (err: Error) => err instanceof ChangedWhileReadingError && err.message.includes(growing),
        );
      }
      // A file that vanishes between listing and reading is an error naming it.
      const gone = join(root, "gone.txt");
      writeFileSync(gone, "soon gone");
      const v = new FilesSource("v", [gone]).dump(transport(), quietLog());
      for await (const e of v.entries) {
        rmSync(gone);
        await assert.rejects(
          (async () => {
            for await (const _ of e.open());
          })(),
          (err: Error) => err instanceof UnreadableFileError && err.path === gone && err.reason === "it was removed before it could be read",
        );
      }
    });
  });
}

describe("over ssh only", { skip: need(haveSshd(), "sshd") }, () => {
  test("sqlite: connection dropped mid-dump → clear error, temp file removed on the server", async () => {
    const db = join(dir, "drop.db");
    makeSqlite(db, "wal", 10);
    execFileSync("sqlite3", [db, "CREATE TABLE filler(b BLOB); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 6000) INSERT INTO filler SELECT randomblob(8000) FROM n;"]);
    const tmp = mkdtempSync(join(dir, "tmp-drop"));
    const t = await SshTransport.connect(settingsFor(sshd));
    try {
      let n = 0;
      await assert.rejects(
        (async () => {
          for await (const e of new SqliteSource("db", db).dump(withEnv(t, { TMPDIR: tmp }), quietLog()).entries) {
            for await (const c of e.open()) {
              if (n === 0) assert.equal(cairnTemps(tmp).length, 1, "the temp copy exists while streaming");
              n += c.length;
              if (n > 1 << 20 && n - c.length <= 1 << 20) sshd.dropConnections();
            }
          }
        })(),
        (e: Error) => e instanceof ConnectionError && /cut off/.test(e.message) && /lost/.test(e.message) && /check that the server is up/.test((e as ConnectionError).hint ?? ""),
      );
      const deadline = Date.now() + 10_000;
      while (cairnTemps(tmp).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(cairnTemps(tmp), [], "the server's temp copy was removed");
    } finally {
      await t.close();
    }
  });

  test("sqlite: a dump killed by the caller removes its temp file", async () => {
    const db = join(dir, "kill.db");
    makeSqlite(db, "wal", 10);
    execFileSync("sqlite3", [db, "CREATE TABLE filler(b BLOB); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 3000) INSERT INTO filler SELECT randomblob(8000) FROM n;"]);
    const tmp = mkdtempSync(join(dir, "tmp-kill"));
    const t = await SshTransport.connect(settingsFor(sshd));
    try {
      for await (const e of new SqliteSource("db", db).dump(withEnv(t, { TMPDIR: tmp }), quietLog()).entries) {
        for await (const _ of e.open()) break; // the consumer gives up: the generator kills the command
      }
    } finally {
      await t.close();
    }
    const deadline = Date.now() + 10_000;
    while (cairnTemps(tmp).length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(cairnTemps(tmp), []);
  });
});

describe("docker: the argv built for docker exec", () => {
  test("each kind runs its tool inside the container; secrets are passed by name only", () => {
    assert.deepEqual(new SqliteSource("db", "/data/bot.db", "bot").argv().slice(0, 6), ["docker", "exec", "-i", "bot", "sh", "-c"]);
    const pg = new PostgresSource("orders", { database: "bot", user: "bot", password: "pw" }, "pg").command();
    assert.deepEqual(pg.argv, ["docker", "exec", "-i", "-e", "PGPASSWORD", "pg", "pg_dump", "--format=plain", "--username", "bot", "--no-password", "--dbname=dbname='bot'"]);
    assert.deepEqual(pg.secretEnv, { PGPASSWORD: "pw" });
    const my = new MysqlSource("shop", { database: "shop", user: "backup", password: "pw" }, "db").command();
    assert.deepEqual(my.argv.slice(0, 6), ["docker", "exec", "-i", "db", "sh", "-c"]);
    assert.ok(my.argv[6].includes("mysqldump --defaults-extra-file=/dev/stdin"));
    assert.equal(my.argv.at(-1), "shop");
    assert.equal(my.stdin, 'password="pw"\n');
    assert.ok(!my.argv.includes("pw"));
    assert.deepEqual(new CommandSource("redis", "redis-cli --rdb -", { container: "redis", secretEnv: { REDISCLI_AUTH: "x" } }).argv(), ["docker", "exec", "-i", "-e", "REDISCLI_AUTH", "redis", "sh", "-c", "redis-cli --rdb -"]);
  });
});
