// End to end over SSH through the CLI: a cairn.yml with a host (the test
// sshd) and every source kind (SQLite, PostgreSQL, MariaDB, files, logs,
// command); back up, restore, and compare with the source: SQLite by
// .sha3sum, SQL dumps reloaded and compared, files byte for byte. A failing
// source (wrong password) makes the backup fail and creates no snapshot.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { cairn, runCli } from "../helpers/cli.ts";
import { maria, mariaUp, pgUp, psql, psqlFile, uniq } from "../helpers/sources.ts";
import { haveSshd, SshFixture, type Sshd } from "../helpers/sshd.ts";

const CI = !!process.env.CI;
const ready = haveSshd() && pgUp() && mariaUp();
const skip = ready || CI ? false : "needs sshd, PostgreSQL and MariaDB";

describe("backup over ssh through the CLI", { skip }, () => {
  let fx: SshFixture;
  let sshd: Sshd;
  let dir: string;
  let env: Record<string, string>;
  const pgDb = uniq();
  const myDb = uniq();
  const myUser = `u${Math.random().toString(36).slice(2, 8)}`;
  let srv: string;
  let key: string;
  let repo: string;
  let config: string;

  const yml = (mysqlPasswordEnv: string) => `repository: local:${repo}
host:
  address: 127.0.0.1
  port: ${sshd.port}
  user: ${fx.user}
sources:
  - { name: trading-db, sqlite: ${srv}/data/trading_bot.db }
  - { name: orders, postgres: { database: ${pgDb}, user: postgres, host: 127.0.0.1, password-env: PG_PASSWORD, globals: true } }
  - { name: shop, mysql: { database: ${myDb}, user: ${myUser}, host: 127.0.0.1, password-env: ${mysqlPasswordEnv} } }
  - { name: settings, files: ["${srv}/config/*.json", "${srv}/.env", "${srv}/security/salt.key"] }
  - { name: keys, files: ["${srv}/binance_keys/*"] }
  - { name: logs, files: ["${srv}/*.log"], newer-than: 7d }
  - { name: redis, command: "printf 'REDIS%s' 0011; head -c 100000 ${srv}/blob.bin", filename: dump.rdb }
`;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "cairn-e2e-ssh-"));
    srv = join(dir, "srv");
    repo = join(dir, "repo");
    key = join(dir, "key.txt");
    config = join(dir, "cairn.yml");
    for (const d of ["data", "config", "security", "binance_keys"]) mkdirSync(join(srv, d), { recursive: true });
    execFileSync("sqlite3", [
      join(srv, "data/trading_bot.db"),
      "PRAGMA journal_mode=WAL; CREATE TABLE orders(id INTEGER PRIMARY KEY, symbol TEXT, qty REAL); WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<20000) INSERT INTO orders SELECT x, 'BTCUSDT', x*0.5 FROM c;",
    ]);
    writeFileSync(join(srv, "config/config.json"), '{"symbol":"BTCUSDT"}');
    writeFileSync(join(srv, "config/a'; rm -rf ~ #.json"), "{}");
    writeFileSync(join(srv, ".env"), "API_KEY=abc\n", { mode: 0o600 });
    writeFileSync(join(srv, "security/salt.key"), Buffer.from([1, 2, 3, 255]));
    writeFileSync(join(srv, "binance_keys/key.pem"), "-----BEGIN KEY-----\n");
    writeFileSync(join(srv, "app.log"), "recent\n");
    writeFileSync(join(srv, "trading.log"), "old\n");
    utimesSync(join(srv, "trading.log"), new Date(Date.now() - 30 * 86400e3), new Date(Date.now() - 30 * 86400e3));
    writeFileSync(join(srv, "blob.bin"), Buffer.alloc(200000, 7));

    psql(`CREATE DATABASE ${pgDb}`);
    psql("CREATE TABLE accounts(id int PRIMARY KEY, balance int); INSERT INTO accounts SELECT i, i * 10 FROM generate_series(1, 1000) i;", pgDb);
    maria(`CREATE DATABASE ${myDb}; CREATE USER '${myUser}'@'127.0.0.1' IDENTIFIED BY 'maria-pw'; GRANT ALL ON ${myDb}.* TO '${myUser}'@'127.0.0.1';`);
    maria("CREATE TABLE items(id int PRIMARY KEY, name varchar(20)) ENGINE=InnoDB; INSERT INTO items SELECT seq, concat('item', seq) FROM seq_1_to_500;", myDb);

    fx = new SshFixture();
    sshd = await fx.start();
    assert.equal(cairn(["keygen", "-o", key]).code, 0);
    const init = cairn(["init", "-r", `local:${repo}`, "-i", key]);
    assert.equal(init.code, 0, init.stderr);
    env = {
      CAIRN_WRITE_KEY: /^CAIRN_WRITE_KEY=(\S+)$/m.exec(init.stdout)![1],
      CAIRN_SSH_KEY: fx.clientKeys.ed25519.text,
      CAIRN_KNOWN_HOSTS: sshd.knownHosts(true),
      PG_PASSWORD: "unused-with-trust-auth",
      MY_PASSWORD: "maria-pw",
      MY_WRONG_PASSWORD: "not-the-password",
    };
  });

  after(async () => {
    await sshd?.stop();
    fx?.cleanup();
    try {
      psql(`DROP DATABASE IF EXISTS ${pgDb}`);
      psql(`DROP DATABASE IF EXISTS ${pgDb}_r`);
      maria(`DROP DATABASE IF EXISTS ${myDb}; DROP DATABASE IF EXISTS ${myDb}_r; DROP USER IF EXISTS '${myUser}'@'127.0.0.1'`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("every source kind backs up over SSH and restores equal to the source", () => {
    writeFileSync(config, yml("MY_PASSWORD"));
    const b = cairn(["backup", "-c", config, "--json"], { env });
    assert.equal(b.code, 0, b.stderr);
    const snap = JSON.parse(b.stdout);
    assert.deepEqual(
      snap.sources.map((s: { name: string }) => s.name),
      ["trading-db", "orders", "shop", "settings", "keys", "logs", "redis"],
    );
    const target = join(dir, "restored");
    const r = cairn(["restore", "latest", "-r", `local:${repo}`, "-i", key, "--target", target]);
    assert.equal(r.code, 0, r.stderr);

    const sha = (p: string) => execFileSync("sqlite3", [p, ".sha3sum"]).toString();
    assert.equal(sha(join(target, "trading-db.sqlite")), sha(join(srv, "data/trading_bot.db")));

    psql(`CREATE DATABASE ${pgDb}_r`);
    psqlFile(readFileSync(join(target, "orders.sql"), "utf8"), `${pgDb}_r`);
    assert.equal(psql("SELECT count(*), sum(balance) FROM accounts", `${pgDb}_r`), psql("SELECT count(*), sum(balance) FROM accounts", pgDb));
    assert.match(readFileSync(join(target, "orders.globals.sql"), "utf8"), /CREATE ROLE/);

    maria(`CREATE DATABASE ${myDb}_r`);
    maria("", `${myDb}_r`, readFileSync(join(target, "shop.sql"), "utf8"));
    assert.equal(maria("SELECT count(*), sum(id), max(name) FROM items", `${myDb}_r`), maria("SELECT count(*), sum(id), max(name) FROM items", myDb));

    const rel = srv.replace(/^\//, "");
    for (const [src, file] of [
      ["settings", "config/config.json"],
      ["settings", "config/a'; rm -rf ~ #.json"],
      ["settings", ".env"],
      ["settings", "security/salt.key"],
      ["keys", "binance_keys/key.pem"],
      ["logs", "app.log"],
    ]) {
      assert.deepEqual(readFileSync(join(target, src, rel, file)), readFileSync(join(srv, file)), file);
    }
    assert.equal(statSync(join(target, "settings", rel, ".env")).mode & 0o777, 0o600);
    assert.throws(() => statSync(join(target, "logs", rel, "trading.log")), "older than newer-than");
    const rdb = readFileSync(join(target, "redis", "dump.rdb"));
    assert.equal(rdb.subarray(0, 9).toString(), "REDIS0011");
    assert.equal(rdb.length, 9 + 100000);
  });

  test("a failing source (wrong MariaDB password) fails the backup and creates no snapshot", () => {
    const before = JSON.parse(cairn(["snapshots", "-r", `local:${repo}`, "-i", key, "--json"]).stdout).length;
    writeFileSync(config, yml("MY_WRONG_PASSWORD"));
    const b = cairn(["backup", "-c", config], { env });
    assert.notEqual(b.code, 0);
    assert.match(b.stderr, /mysqldump/);
    assert.match(b.stderr, /Access denied/);
    assert.ok(!b.stderr.includes("not-the-password"));
    const afterCount = JSON.parse(cairn(["snapshots", "-r", `local:${repo}`, "-i", key, "--json"]).stdout).length;
    assert.equal(afterCount, before);
  });

  /** A cairn.yml for the test sshd (or `server`) with these sources. */
  const hostYml = (sources: string, host: { port?: number; address?: string; extra?: string } = {}) => `repository: local:${repo}
host:
  address: ${host.address ?? "127.0.0.1"}
  port: ${host.port ?? sshd.port}
  user: ${fx.user}
${host.extra ?? ""}sources:
${sources}`;

  const snapshotCount = () => JSON.parse(cairn(["snapshots", "-r", `local:${repo}`, "-i", key, "--json"]).stdout).length as number;

  test("a wrong pin: refused with exit 2, the fingerprint and the lines to pin it", () => {
    writeFileSync(config, hostYml(`  - { name: settings, files: ["${srv}/.env"] }\n`));
    const before = snapshotCount();
    for (const pin of [{ CAIRN_KNOWN_HOSTS: fx.knownHostsLine(sshd.port, fx.hostKeys.b) }, { CAIRN_KNOWN_HOSTS: undefined, CAIRN_HOST_FINGERPRINT: fx.hostKeys.b.fingerprint }]) {
      const b = cairn(["backup", "-c", config], { env: { ...env, ...pin } });
      assert.equal(b.code, 2, b.stderr);
      assert.match(b.stderr, /does not match/);
      assert.ok(b.stderr.includes(`CAIRN_HOST_FINGERPRINT=${sshd.hostKey.fingerprint}`), b.stderr);
      assert.ok(b.stderr.includes(`[127.0.0.1]:${sshd.port} ${sshd.hostKey.publicLine}`), b.stderr);
    }
    assert.equal(snapshotCount(), before);
  });

  test("no pin at all: connects, reads the host key, and refuses with exit 2 showing the fingerprint and the lines to pin it (checked out of band)", () => {
    writeFileSync(config, hostYml(`  - { name: settings, files: ["${srv}/.env"] }\n`));
    const b = cairn(["backup", "-c", config], { env: { ...env, CAIRN_KNOWN_HOSTS: undefined } });
    assert.equal(b.code, 2, b.stderr);
    assert.match(b.stderr, /is not pinned: the server presented ssh-ed25519 SHA256:/);
    assert.ok(b.stderr.includes(`${sshd.hostKey.fingerprint}`), b.stderr);
    assert.ok(b.stderr.includes(`  CAIRN_HOST_FINGERPRINT=${sshd.hostKey.fingerprint}\n`), b.stderr);
    assert.ok(b.stderr.includes(`  [127.0.0.1]:${sshd.port} ${sshd.hostKey.publicLine}\n`), b.stderr);
    assert.match(b.stderr, /out of band/);
    assert.doesNotMatch(b.stderr, /\n\s+at /, "no stack trace");
  });

  test("CAIRN_HOST_FINGERPRINT as `ssh-keygen -lf` prints it, and a hashed known_hosts line for a host name in capitals", () => {
    const keygen = execFileSync("ssh-keygen", ["-lf", `${sshd.hostKey.path}.pub`]).toString().trim(); // 256 SHA256:... comment (ED25519)
    assert.match(keygen, /^256 SHA256:\S+ .*\(ED25519\)$/);
    writeFileSync(config, hostYml(`  - { name: settings, files: ["${srv}/.env"] }\n`));
    const b = cairn(["backup", "-c", config], { env: { ...env, CAIRN_KNOWN_HOSTS: undefined, CAIRN_HOST_FINGERPRINT: keygen } });
    assert.equal(b.code, 0, b.stderr);
    // OpenSSH lower-cases the name before hashing it; so must we.
    const hashed = fx.knownHostsLine(sshd.port, fx.hostKeys.a, true, "localhost");
    writeFileSync(config, hostYml(`  - { name: settings, files: ["${srv}/.env"] }\n`, { address: "LocalHost" }));
    const c = cairn(["backup", "-c", config], { env: { ...env, CAIRN_KNOWN_HOSTS: hashed } });
    assert.equal(c.code, 0, c.stderr);
  });

  test("CAIRN_SSH_KEY_FILE naming the .pub file, or a broken key: a plain message naming where it came from (exit 2)", () => {
    writeFileSync(config, hostYml(`  - { name: settings, files: ["${srv}/.env"] }\n`));
    const pub = `${fx.clientKeys.ed25519.path}.pub`;
    const b = cairn(["backup", "-c", config], { env: { ...env, CAIRN_SSH_KEY: undefined, CAIRN_SSH_KEY_FILE: pub } });
    assert.equal(b.code, 2, b.stderr);
    assert.ok(b.stderr.startsWith(`cairn: CAIRN_SSH_KEY_FILE=${pub} holds a public key (ssh-ed25519), not a private key\nhint: `), b.stderr);
    assert.doesNotMatch(b.stderr, /\n\s+at |does not contain a \(valid\) private key/);
    const broken = join(dir, "broken_key");
    writeFileSync(broken, "-----BEGIN OPENSSH PRIVATE KEY-----\nnot a key\n-----END OPENSSH PRIVATE KEY-----\n");
    const c = cairn(["backup", "-c", config], { env: { ...env, CAIRN_SSH_KEY: undefined, CAIRN_SSH_KEY_FILE: broken } });
    assert.equal(c.code, 2, c.stderr);
    assert.ok(c.stderr.startsWith(`cairn: cannot use the SSH key in CAIRN_SSH_KEY_FILE=${broken}: `), c.stderr);
    assert.match(c.stderr, /^hint: CAIRN_SSH_KEY_FILE must name a file holding the whole private key/m);
  });

  test("the snapshot's host is the server backed up, not the machine that ran the backup", () => {
    writeFileSync(config, hostYml(`  - { name: settings, files: ["${srv}/.env"] }\n`));
    const b = cairn(["backup", "-c", config, "--json"], { env });
    assert.equal(b.code, 0, b.stderr);
    assert.equal(JSON.parse(b.stdout).host, "127.0.0.1");
    const list = cairn(["snapshots", "-r", `local:${repo}`, "-i", key]);
    const id = JSON.parse(b.stdout).id.slice(0, 8);
    assert.match(list.stdout, new RegExp(`^${id}  \\S+ \\S+\\s+127\\.0\\.0\\.1 `, "m"), list.stdout);
  });

  test("a log a writer appends 5 lines a second to, over SSH: 5 backups of 5 succeed, the database restored byte for byte", async () => {
    const logs = join(srv, "live");
    mkdirSync(logs, { recursive: true });
    const log = join(logs, "app.log");
    const line = (i: number) => `${new Date(1_700_000_000_000 + i * 200).toISOString()} INFO order ${i} filled ${"x".repeat(40)}\n`;
    writeFileSync(log, Array.from({ length: 60_000 }, (_, i) => line(i)).join(""));
    writeFileSync(config, hostYml(`  - { name: trading-db, sqlite: ${srv}/data/trading_bot.db }\n  - { name: logs, files: ["${logs}/*.log"], newer-than: 7d }\n`));
    const dbCopy = join(dir, "live-reference.db");
    execFileSync("sqlite3", [join(srv, "data/trading_bot.db"), `.backup '${dbCopy}'`]);
    const writer = spawn(process.execPath, ["-e", `const fs=require("fs");let i=60000;const line=${line.toString()};setInterval(()=>fs.appendFileSync(process.argv[1],line(i++)),200);`, log], { stdio: "ignore" });
    const ids: string[] = [];
    try {
      for (let run = 1; run <= 5; run++) {
        const b = await runCli(["backup", "-c", config, "--json"], { env });
        assert.equal(b.code, 0, `run ${run} of 5: ${b.stderr}`);
        assert.doesNotMatch(b.stderr, /changed while it was read|left out/);
        ids.push(JSON.parse(b.stdout).id);
      }
    } finally {
      writer.kill("SIGKILL");
    }
    const final = readFileSync(log, "utf8");
    for (const id of ids) {
      const target = join(dir, `restored-live-${id}`);
      const r = cairn(["restore", id, "-r", `local:${repo}`, "-i", key, "--target", target]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(readFileSync(join(target, "trading-db.sqlite")).equals(readFileSync(dbCopy)), "the database, byte for byte");
      const got = readFileSync(join(target, "logs", logs.slice(1), "app.log"), "utf8");
      assert.ok(got.length > 0 && final.startsWith(got) && got.endsWith("\n"), "the log as it really was, at a write boundary");
      rmSync(target, { recursive: true });
    }
  });

  test("a missing literal path over SSH: the snapshot is saved, incomplete, naming it (exit 4)", () => {
    const missing = `${srv}/config/setings.json`;
    writeFileSync(config, hostYml(`  - { name: trading-db, sqlite: ${srv}/data/trading_bot.db }\n  - { name: settings, files: ["${srv}/config/config.json", "${missing}"] }\n`));
    const before = snapshotCount();
    const b = cairn(["backup", "-c", config, "--json"], { env });
    assert.equal(b.code, 4, b.stderr);
    assert.deepEqual(JSON.parse(b.stdout).incomplete, [{ source: "settings", path: missing, reason: "it does not exist" }]);
    assert.ok(b.stderr.includes(`settings: ${missing}: it does not exist`), b.stderr);
    assert.equal(snapshotCount(), before + 1);
  });

  describe("the connection fails mid-read", () => {
    let server: Sshd;
    let bigDir: string;
    before(async () => {
      server = await fx.start();
      bigDir = join(dir, "big");
      mkdirSync(bigDir);
      execFileSync("truncate", ["-s", "64G", join(bigDir, "big.bin")]); // sparse: reading it takes far longer than the test waits
    });
    after(async () => {
      server?.signalAll("SIGCONT");
      await server?.stop();
    });

    const check = (b: { code: number | null; stderr: string }, message: RegExp) => {
      assert.equal(b.code, 1, b.stderr);
      assert.match(b.stderr, message);
      assert.ok(b.stderr.includes(`(reading ${bigDir}/big.bin)`), b.stderr);
      assert.match(b.stderr, /^hint: check that the server is up and its sshd running, the network .*keepalive/m);
      assert.doesNotMatch(b.stderr, /read access/);
      assert.doesNotMatch(b.stderr, /\n\s+at /, "no stack trace");
    };

    test("sshd killed: a transport failure, with its own message and hint; no snapshot", async () => {
      writeFileSync(config, hostYml(`  - { name: big, files: ["${bigDir}/big.bin"] }\n`, { port: server.port }));
      const before = snapshotCount();
      const env2 = { ...env, CAIRN_KNOWN_HOSTS: server.knownHosts() };
      const running = runCli(["backup", "-c", config], { env: env2 });
      await server.waitForCommand(["cairn-read", "big.bin"]);
      await new Promise((r) => setTimeout(r, 500));
      server.signalAll("SIGKILL");
      const b = await running;
      check(b, /the SSH connection to 127\.0\.0\.1:\d+ was lost/);
      assert.equal(snapshotCount(), before);
      server = await fx.start({ port: server.port });
    });

    test("the server stops answering: the keepalive gives up, with the same hint; no snapshot", async () => {
      writeFileSync(config, hostYml(`  - { name: big, files: ["${bigDir}/big.bin"] }\n`, { port: server.port, extra: "  keepalive-seconds: 1\n" }));
      const before = snapshotCount();
      const running = runCli(["backup", "-c", config], { env: { ...env, CAIRN_KNOWN_HOSTS: server.knownHosts() } });
      await server.waitForCommand(["cairn-read", "big.bin"]);
      await new Promise((r) => setTimeout(r, 500));
      const t0 = Date.now();
      server.signalAll("SIGSTOP");
      let b;
      try {
        b = await running;
      } finally {
        server.signalAll("SIGCONT");
      }
      check(b, /the server 127\.0\.0\.1:\d+ stopped answering \(no reply to 3 keepalives, one every 1 s\)/);
      assert.ok(Date.now() - t0 < 60_000, "given up within a minute, not the command timeout");
      assert.equal(snapshotCount(), before);
    });
  });
});
