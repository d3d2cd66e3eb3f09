// End to end over SSH through the CLI: a cairn.yml with a host (the test
// sshd) and every source kind (SQLite, PostgreSQL, MariaDB, files, logs,
// command); back up, restore, and compare with the source: SQLite by
// .sha3sum, SQL dumps reloaded and compared, files byte for byte. A failing
// source (wrong password) makes the backup fail and creates no snapshot.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { cairn } from "../helpers/cli.ts";
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
    const recipient = readFileSync(key, "utf8").split("\n")[1].split(": ")[1];
    const init = cairn(["init", "-r", `local:${repo}`, "--recipient", recipient]);
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

  test("an unpinned host key is refused with the line to pin it", () => {
    writeFileSync(config, yml("MY_PASSWORD"));
    const b = cairn(["backup", "-c", config], { env: { ...env, CAIRN_KNOWN_HOSTS: fx.knownHostsLine(sshd.port, fx.hostKeys.b) } });
    assert.notEqual(b.code, 0);
    assert.match(b.stderr, /does not match/);
    assert.ok(b.stderr.includes(`CAIRN_HOST_FINGERPRINT=${sshd.hostKey.fingerprint}`), b.stderr);
  });
});
