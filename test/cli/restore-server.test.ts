// Restore onto the server through the CLI, over the test sshd: back up every
// restorable kind (SQLite, PostgreSQL, MariaDB, files), change the server,
// then put each source back and compare with what was backed up. The
// previous versions must be kept (dated copies, renamed databases), the
// hooks must run around the swap, a dry run must change nothing, and an
// existing database must not be replaced without --replace.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, describe, test } from "node:test";
import { restoreToServer, type ServerRestoreRequest, type ServerRestoreReport } from "../../src/app/restore.ts";
import { resolveSettings } from "../../src/app/settings.ts";
import { CairnError } from "../../src/errors.ts";
import { silentLogger } from "../../src/log.ts";
import { cairn } from "../helpers/cli.ts";
import { initRepo } from "../helpers/repo.ts";
import { maria, mariaUp, pgUp, psql, uniq } from "../helpers/sources.ts";
import { haveSshd, SshFixture, type Sshd } from "../helpers/sshd.ts";

const CI = !!process.env.CI;
const ready = haveSshd() && pgUp() && mariaUp();
const skip = ready || CI ? false : "needs sshd, PostgreSQL and MariaDB";

/** Every file under dir (the hooks' log left out), with its bytes' hash and mode. */
function picture(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name !== "hooks.log") out[relative(dir, p)] = `${createHash("sha256").update(readFileSync(p)).digest("hex")} ${(statSync(p).mode & 0o777).toString(8)}`;
    }
  };
  walk(dir);
  return out;
}

describe("restore --to-server over ssh", { skip }, () => {
  let fx: SshFixture;
  let sshd: Sshd;
  let dir: string;
  let srv: string;
  let config: string;
  let env: Record<string, string>;
  let repoArgs: string[];
  const pgDb = uniq();
  const myDb = uniq();
  const db = () => join(srv, "data/trading_bot.db");
  const sha3 = (p: string) => execFileSync("sqlite3", [p, ".sha3sum"]).toString();
  const hooksLog = () => {
    try {
      return readFileSync(join(srv, "hooks.log"), "utf8");
    } catch {
      return "";
    }
  };
  let dbBefore: string;
  const filesBefore: Record<string, Buffer> = {};

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "cairn-to-server-"));
    srv = join(dir, "srv");
    for (const d of ["data", "config", "keys"]) mkdirSync(join(srv, d), { recursive: true });
    execFileSync("sqlite3", [
      db(),
      "PRAGMA journal_mode=WAL; CREATE TABLE orders(id INTEGER PRIMARY KEY, symbol TEXT, qty REAL); WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<5000) INSERT INTO orders SELECT x, 'BTCUSDT', x*0.5 FROM c;",
    ]);
    dbBefore = sha3(db());
    writeFileSync(join(srv, "config/config.json"), '{"pair":"ETHUSDT","max_position":0.5}');
    writeFileSync(join(srv, "config/it's; rm -rf ~ #.json"), "{}");
    writeFileSync(join(srv, ".env"), "API_KEY=abc\n", { mode: 0o600 });
    chmodSync(join(srv, ".env"), 0o600);
    writeFileSync(join(srv, "keys/key.pem"), "-----BEGIN KEY-----\n", { mode: 0o640 });
    chmodSync(join(srv, "keys/key.pem"), 0o640);
    for (const f of ["config/config.json", "config/it's; rm -rf ~ #.json", ".env", "keys/key.pem"]) filesBefore[f] = readFileSync(join(srv, f));

    psql(`CREATE DATABASE ${pgDb}`);
    psql("CREATE TABLE accounts(id int PRIMARY KEY, balance int); INSERT INTO accounts SELECT i, i * 10 FROM generate_series(1, 1000) i;", pgDb);
    maria(`CREATE DATABASE ${myDb}`);
    maria("CREATE TABLE items(id int PRIMARY KEY, name varchar(20)) ENGINE=InnoDB; INSERT INTO items SELECT seq, concat('item', seq) FROM seq_1_to_500;", myDb);

    fx = new SshFixture();
    sshd = await fx.start();
    const repo = initRepo(dir);
    repoArgs = ["-r", repo.repoUrl, "-i", repo.identityFile];
    config = join(dir, "cairn.yml");
    writeFileSync(
      config,
      `repository: ${repo.repoUrl}
host: { address: 127.0.0.1, port: ${sshd.port}, user: ${fx.user} }
restore: { stop: "echo stop >> ${srv}/hooks.log", start: "echo start >> ${srv}/hooks.log" }
sources:
  - { name: trading-db, sqlite: ${db()} }
  - { name: orders, postgres: { database: ${pgDb}, user: postgres, host: 127.0.0.1, password-env: PG_PASSWORD } }
  - { name: shop, mysql: { database: ${myDb}, user: root, host: 127.0.0.1 } }
  - name: settings
    files: ["${srv}/config/*.json", "${srv}/.env", "${srv}/keys"]
    restore: { stop: "echo settings-stop >> ${srv}/hooks.log" }
  - { name: redis, command: "echo redis", filename: dump.rdb }
`,
    );
    env = { CAIRN_WRITE_KEY: repo.writeKey, CAIRN_SSH_KEY: fx.clientKeys.ed25519.text, CAIRN_KNOWN_HOSTS: sshd.knownHosts(), PG_PASSWORD: "unused-with-trust-auth" };
    const b = cairn(["backup", "-c", config], { env });
    assert.equal(b.code, 0, b.stderr);

    // The server moves on after the backup.
    execFileSync("sqlite3", [db(), "UPDATE orders SET qty = -1 WHERE id <= 100; DELETE FROM orders WHERE id > 4000;"]);
    writeFileSync(join(srv, "config/config.json"), '{"pair":"ETHUSDT","max_position":5}');
    chmodSync(join(srv, ".env"), 0o644);
    unlinkSync(join(srv, "keys/key.pem"));
    psql("UPDATE accounts SET balance = 0 WHERE id <= 10; DELETE FROM accounts WHERE id > 900;", pgDb);
    maria("DELETE FROM items WHERE id > 400;", myDb);
  });

  after(async () => {
    await sshd?.stop();
    fx?.cleanup();
    try {
      for (const d of psql(`SELECT datname FROM pg_database WHERE datname LIKE '${pgDb}%'`).split("\n").filter(Boolean)) psql(`DROP DATABASE IF EXISTS "${d}"`);
      for (const d of maria(`SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE '${myDb}%'`).split("\n").filter(Boolean)) maria(`DROP DATABASE IF EXISTS \`${d}\``);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const restore = (args: string[]) => cairn(["restore", "latest", "-c", config, ...repoArgs, "--to-server", ...args], { env });
  /** The app layer in this process (what the CLI calls), for the cases whose printing is not the point: no node start-up each. */
  const app = async (req: Omit<ServerRestoreRequest, "snapshot" | "log">): Promise<ServerRestoreReport> => {
    const settings = await resolveSettings({ config, identityFile: repoArgs[3] }, env);
    return await restoreToServer(settings, { snapshot: "latest", log: silentLogger, ...req });
  };
  const refused = (re: RegExp) => (e: unknown) => e instanceof CairnError && e.exitCode === 2 && re.test(e.message);

  test("--dry-run says what would happen for every source and changes nothing", async () => {
    const before = picture(srv);
    const pg = psql("SELECT count(*), sum(balance) FROM accounts", pgDb);
    // With the write key alone (env), no identity: a dry run decrypts no data.
    const r = cairn(["restore", "latest", "-c", config, "--to-server", "--dry-run", "--source", "trading-db"], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /dry run: restoring snapshot \w{8} onto ssh /);
    assert.match(r.stdout, /PRAGMA integrity_check/);
    assert.match(r.stdout, /run the stop hook: echo stop/);
    assert.match(r.stdout, /keep the current file as .*trading_bot\.db\.before-restore-\d{8}T\d{6}Z/);
    assert.match(r.stdout, /nothing was changed/);
    const report = await app({ dryRun: true, source: "settings" });
    assert.equal(report.dryRun, true);
    assert.deepEqual(report.sources[0].written.sort(), [".env", "config/config.json", "config/it's; rm -rf ~ #.json", "keys/key.pem"].map((f) => join(srv, f)).sort());
    // Every source at once: the databases are refused without --replace (they exist), before anything is done.
    await assert.rejects(app({ dryRun: true }), refused(/orders: the database .* exists; replacing its data needs --replace/));
    assert.deepEqual(picture(srv), before);
    assert.equal(hooksLog(), "");
    assert.equal(psql("SELECT count(*), sum(balance) FROM accounts", pgDb), pg);
  });

  test("sqlite: the backed-up database is back, the replaced one kept dated, hooks around the swap", () => {
    const changed = sha3(db());
    const r = restore(["--source", "trading-db"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(sha3(db()), dbBefore);
    assert.equal(execFileSync("sqlite3", [db(), "PRAGMA integrity_check"]).toString().trim(), "ok");
    const kept = readdirSync(join(srv, "data")).filter((f) => /^trading_bot\.db\.before-restore-\d{8}T\d{6}Z$/.test(f));
    assert.equal(kept.length, 1, readdirSync(join(srv, "data")).join(" "));
    assert.equal(sha3(join(srv, "data", kept[0])), changed);
    assert.match(r.stdout, new RegExp(`previous version kept: .*${kept[0]}`));
    assert.equal(hooksLog(), "stop\nstart\n");
    assert.deepEqual(readdirSync(join(srv, "data")).filter((f) => f.includes("cairn-restore")), []);
  });

  test("files: written back with their modes, a removed one recreated, changed ones kept dated; only the source's own hook", async () => {
    writeFileSync(join(srv, "hooks.log"), "");
    const r = await app({ source: "settings" });
    assert.equal(r.sources[0].kept.length, 3);
    for (const [f, bytes] of Object.entries(filesBefore)) assert.deepEqual(readFileSync(join(srv, f)), bytes, f);
    assert.equal(statSync(join(srv, ".env")).mode & 0o777, 0o600);
    assert.equal(statSync(join(srv, "keys/key.pem")).mode & 0o777, 0o640);
    const dated = (d: string, f: string) => readdirSync(join(srv, d)).filter((x) => x.startsWith(`${f}.before-restore-`));
    assert.equal(readFileSync(join(srv, "config", dated("config", "config.json")[0]), "utf8"), '{"pair":"ETHUSDT","max_position":5}');
    assert.equal(dated(".", ".env").length, 1);
    assert.equal(dated("keys", "key.pem").length, 0, "there was no file to keep");
    assert.equal(hooksLog(), "settings-stop\n");
  });

  test("postgres: refused without --replace; into a new database; replaced with --replace, the old data kept", async () => {
    const changed = psql("SELECT count(*), sum(balance) FROM accounts", pgDb);
    await assert.rejects(app({ source: "orders" }), refused(/needs --replace/));
    assert.equal(psql("SELECT count(*), sum(balance) FROM accounts", pgDb), changed);

    await app({ source: "orders", database: `${pgDb}_new` });
    assert.equal(psql("SELECT count(*), sum(balance) FROM accounts", `${pgDb}_new`), "1000|5005000");

    const r = await app({ source: "orders", replace: true });
    assert.equal(psql("SELECT count(*), sum(balance) FROM accounts", pgDb), "1000|5005000");
    const kept = r.sources[0].kept[0];
    assert.match(kept, new RegExp(`^${pgDb}_before_\\d{8}_\\d{6}$`));
    assert.equal(psql("SELECT count(*), sum(balance) FROM accounts", kept), changed);
    assert.equal(psql("SELECT count(*) FROM pg_database WHERE datname LIKE 'cairn_restore_%'"), "0");
  });

  test("mysql: refused without --replace; replaced with --replace, the old tables kept in a dated database", async () => {
    await assert.rejects(app({ source: "shop" }), refused(/needs --replace/));
    assert.equal(maria("SELECT count(*) FROM items", myDb), "400");
    const r = await app({ source: "shop", replace: true });
    assert.equal(maria("SELECT count(*), sum(id), max(name) FROM items", myDb), "500\t125250\titem99");
    const kept = r.sources[0].kept[0];
    assert.equal(maria("SELECT count(*) FROM items", kept), "400");
    assert.equal(maria("SELECT count(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'cairn\\_restore\\_%'"), "0");
  });

  test("every source at once with --replace: the command source left out, each distinct hook run once", async () => {
    writeFileSync(join(srv, "hooks.log"), "");
    execFileSync("sqlite3", [db(), "DELETE FROM orders WHERE id > 10"]);
    writeFileSync(join(srv, ".env"), "API_KEY=changed\n");
    psql("DELETE FROM accounts WHERE id > 10", pgDb);
    maria("DELETE FROM items WHERE id > 10", myDb);
    const r = await app({ replace: true });
    assert.deepEqual(r.sources.map((s) => s.source), ["trading-db", "orders", "shop", "settings"]);
    assert.deepEqual(r.skipped, [{ source: "redis", reason: "it is a command's output; cairn cannot know how to load it (restore it with --target and load it by hand)" }]);
    assert.equal(sha3(db()), dbBefore);
    assert.deepEqual(readFileSync(join(srv, ".env")), filesBefore[".env"]);
    assert.equal(psql("SELECT count(*) FROM accounts", pgDb), "1000");
    assert.equal(maria("SELECT count(*) FROM items", myDb), "500");
    assert.equal(hooksLog(), "stop\nsettings-stop\nstart\n");
  });

  test("a command source is not restored onto the server; --target and --to-server are exclusive", async () => {
    await assert.rejects(app({ source: "redis" }), refused(/command's output/));
    const both = cairn(["restore", "latest", "-c", config, ...repoArgs, "--to-server", "--target", join(dir, "x")], { env });
    assert.equal(both.code, 2);
    assert.match(both.stderr, /either --target DIR .* or --to-server/);
  });
});
