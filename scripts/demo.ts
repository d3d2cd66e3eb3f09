// `npm run demo`: a real backup and restore of a generated trading bot, with
// the shipped CLI (dist/cli.js), in ./demo-out. Every command is printed as a
// user would type it. Then the shipped Action (dist/action.js), run as a
// GitHub runner runs it, backs the bot up into a local bare git repository
// and shows the job summary it wrote.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { DatabaseSync } from "node:sqlite";

const root = resolve("demo-out");
const bot = join(root, "bot");
const cli = resolve("dist/cli.js");
const action = resolve("dist/action.js");

function say(text: string) {
  process.stdout.write(`\n\x1b[1m# ${text}\x1b[0m\n`);
}

function cairn(args: string[], env: Record<string, string> = {}, expect = 0): string {
  process.stdout.write(`$ cairn ${args.join(" ")}\n`);
  const r = spawnSync(process.execPath, [cli, ...args], { cwd: root, env: { ...process.env, ...env }, encoding: "utf8" });
  process.stdout.write(r.stdout);
  process.stdout.write(r.stderr.split("\n").filter((l) => !l.startsWith("CAIRN_WRITE_KEY")).join("\n"));
  if (r.status !== expect) {
    process.stderr.write(`demo: cairn ${args[0]} exited ${r.status}, expected ${expect}\n`);
    process.exit(1);
  }
  return r.stdout;
}

/** A deterministic pseudo-random sequence, so every run builds the same bot. */
function rng(seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

function makeBot() {
  for (const d of ["data", "config", "security", "binance_keys"]) mkdirSync(join(bot, d), { recursive: true });
  const db = new DatabaseSync(join(bot, "data", "trading_bot.db"));
  db.exec(`PRAGMA journal_mode=WAL;
    CREATE TABLE tickers(id INTEGER PRIMARY KEY, symbol TEXT, ts INTEGER, price REAL, volume REAL);
    CREATE TABLE orders(id INTEGER PRIMARY KEY, symbol TEXT, side TEXT, qty REAL, price REAL, status TEXT, ts INTEGER);
    CREATE TABLE deals(id INTEGER PRIMARY KEY, order_id INTEGER, qty REAL, price REAL, fee REAL, ts INTEGER);
    CREATE INDEX orders_symbol ON orders(symbol, ts); CREATE INDEX deals_order ON deals(order_id);`);
  const r = rng(42);
  const symbols = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT"];
  db.exec("BEGIN");
  const t = db.prepare("INSERT INTO tickers(symbol, ts, price, volume) VALUES (?, ?, ?, ?)");
  const o = db.prepare("INSERT INTO orders(symbol, side, qty, price, status, ts) VALUES (?, ?, ?, ?, ?, ?)");
  const d = db.prepare("INSERT INTO deals(order_id, qty, price, fee, ts) VALUES (?, ?, ?, ?, ?)");
  for (let i = 0; i < 300_000; i++) t.run(symbols[i % 4], 1_700_000_000 + i, 100 + r() * 50_000, r() * 1000);
  for (let i = 1; i <= 100_000; i++) {
    o.run(symbols[i % 4], r() < 0.5 ? "BUY" : "SELL", r() * 10, 100 + r() * 50_000, "FILLED", 1_700_000_000 + i * 3);
    d.run(i, r() * 10, 100 + r() * 50_000, r(), 1_700_000_000 + i * 3);
  }
  db.exec("COMMIT");
  db.close();
  writeFileSync(join(bot, "config", "config.json"), JSON.stringify({ symbols, risk_per_trade: 0.01, max_open_orders: 8 }, null, 2) + "\n");
  writeFileSync(join(bot, ".env"), "BINANCE_API_KEY=demo-not-a-real-key\nTELEGRAM_TOKEN=demo\n", { mode: 0o600 });
  writeFileSync(join(bot, "security", "salt.key"), Buffer.from(Array.from({ length: 32 }, (_, i) => (i * 37) & 0xff)), { mode: 0o600 });
  writeFileSync(join(bot, "binance_keys", "main.json"), '{"key":"demo","secret":"demo"}\n', { mode: 0o600 });
  writeFileSync(join(root, "cairn.yml"),
    `# The demo's sources, read on this machine (a real setup names a host: and pulls over SSH).
repository: local:repo
sources:
  - { name: trading-db, sqlite: bot/data/trading_bot.db }
  - { name: settings, files: [bot/config/*.json, bot/.env, bot/security/salt.key] }
  - { name: keys, files: [bot/binance_keys/*] }
`);
}

function aDayOfTrading() {
  const db = new DatabaseSync(join(bot, "data", "trading_bot.db"));
  const r = rng(7);
  db.exec("BEGIN");
  const o = db.prepare("INSERT INTO orders(symbol, side, qty, price, status, ts) VALUES ('BTCUSDT', 'BUY', ?, ?, 'NEW', ?)");
  for (let i = 0; i < 1000; i++) o.run(r() * 10, 100 + r() * 50_000, 1_800_000_000 + i);
  const u = db.prepare("UPDATE orders SET status = 'CANCELLED' WHERE id = ?");
  for (let i = 0; i < 1000; i++) u.run(1 + Math.floor(r() * 100_000));
  db.exec("COMMIT");
  db.close();
  const cfg = JSON.parse(readFileSync(join(bot, "config", "config.json"), "utf8"));
  cfg.risk_per_trade = 0.02;
  writeFileSync(join(bot, "config", "config.json"), JSON.stringify(cfg, null, 2) + "\n");
}

rmSync(root, { recursive: true, force: true });
mkdirSync(root, { recursive: true });
say("A trading bot: a SQLite database, settings and API keys (generated in demo-out/bot)");
makeBot();
process.stdout.write(execFileSync("du", ["-sh", join(bot, "data", "trading_bot.db")]).toString());

say("Make an age identity: the only key that can read backups. Keep it offline.");
cairn(["keygen", "-o", "key.txt"]);

say("Create an encrypted repository owned by that identity; it prints a write key for the backup machine");
const writeKey = /CAIRN_WRITE_KEY=(\S+)/.exec(cairn(["init", "-r", "local:repo", "-i", "key.txt"]))![1];
const backupSide = { CAIRN_WRITE_KEY: writeKey };

say("Back up with the write key only (it cannot read backups)");
cairn(["backup"], backupSide);

say("A day of trading: 1% new orders, 1% cancelled at random, a settings change");
aDayOfTrading();

say("Back up again: only the changed chunks are stored");
cairn(["backup"], backupSide);
cairn(["snapshots"], backupSide);

say("The write key cannot restore (exit code 12: no key matches)");
cairn(["restore", "latest", "--target", "nope"], backupSide, 12);

say("Verify every byte: decrypt every pack, check every chunk against its ID");
cairn(["verify", "--read-data", "-i", "key.txt"]);

say("Restore the latest snapshot with the identity");
cairn(["restore", "latest", "--target", "restored", "-i", "key.txt"]);

say("Check: the restored data equals the original");
const sha3 = (f: string) => execFileSync("sqlite3", [f, ".sha3sum"]).toString().trim();
const restoredDb = join(root, "restored", "trading-db.sqlite");
const check = execFileSync("sqlite3", [restoredDb, "PRAGMA integrity_check"]).toString().trim();
const dbSame = sha3(restoredDb) === sha3(join(bot, "data", "trading_bot.db"));
const rel = (p: string) => join(root, "restored", "settings", bot.slice(1), p);
const filesSame = ["config/config.json", ".env", "security/salt.key"].every((p) => readFileSync(rel(p)).equals(readFileSync(join(bot, p))));
process.stdout.write(`integrity_check: ${check}\ndatabase content equal (sqlite3 .sha3sum): ${dbSame}\nsettings files equal: ${filesSame}\n`);
if (check !== "ok" || !dbSame || !filesSame) {
  process.stderr.write("demo: the restored data differs from the original\n");
  process.exit(1);
}
say("The GitHub Action, run as a runner runs it: inputs as INPUT_* variables, outputs and job summary in files");
const runner = join(root, "runner");
mkdirSync(runner);
execFileSync("git", ["init", "-q", "--bare", join(root, "backups.git")]);
/** Run dist/action.js with these inputs, as the runner does (in the workspace, with GITHUB_OUTPUT and GITHUB_STEP_SUMMARY). */
function runAction(inputs: Record<string, string>): { outputs: string; summary: string } {
  const output = join(runner, "output");
  const summary = join(runner, "summary.md");
  writeFileSync(output, "");
  writeFileSync(summary, "");
  const env: NodeJS.ProcessEnv = { ...process.env, CI: "true", GITHUB_ACTIONS: "true", GITHUB_WORKSPACE: root, GITHUB_OUTPUT: output, GITHUB_STEP_SUMMARY: summary };
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase()}`] = v;
  process.stdout.write(`$ ${Object.keys(inputs).map((k) => `INPUT_${k.toUpperCase()}=${k === "write-key" ? "***" : JSON.stringify(inputs[k])}`).join(" ")} node dist/action.js\n`);
  const r = spawnSync(process.execPath, [action], { cwd: root, env, encoding: "utf8" });
  // The runner hides its own commands (::add-mask::) and the values they mask.
  process.stdout.write(r.stdout.split("\n").filter((l) => !l.startsWith("::add-mask::")).join("\n").split(writeKey).join("***"));
  process.stdout.write(r.stderr);
  if (r.status !== 0) {
    process.stderr.write(`demo: the Action exited ${r.status}\n`);
    process.exit(1);
  }
  return { outputs: readFileSync(output, "utf8"), summary: readFileSync(summary, "utf8") };
}
// The repository is made with the write key the CLI's init printed: a key made in a run would show in its log.
const remote = `git:${join(root, "backups.git")}`;
runAction({ command: "init", repository: remote, "write-key": writeKey });
runAction({ command: "backup", repository: remote, "write-key": writeKey });
aDayOfTrading();
const run = runAction({ command: "backup", repository: remote, "write-key": writeKey });
say("The step's outputs (GITHUB_OUTPUT)");
for (const m of run.outputs.matchAll(/^([\w-]+)<<(\S+)\n([^]*?)\n\2$/gm)) process.stdout.write(`${m[1]}: ${m[3]}\n`);
say("The job summary it wrote (GITHUB_STEP_SUMMARY, shown as text; the file is demo-out/runner/summary.md)");
process.stdout.write(asText(run.summary));

/** The summary's HTML as terminal text: headings, table rows with | between cells, list items. */
function asText(html: string): string {
  return html
    .replace(/<h2>(.*?)<\/h2>/g, "\n## $1\n")
    .replace(/<h3>(.*?)<\/h3>/g, "\n### $1\n")
    .replace(/<\/t[dh]><t[dh]>/g, " | ")
    .replace(/<tr>/g, "  ")
    .replace(/<\/tr>/g, "\n")
    .replace(/<li>/g, "  - ")
    .replace(/<\/li>/g, "\n")
    .replace(/<br>/g, "\n    ")
    .replace(/<[^>]+>/g, "")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#124;/g, "|")
    .replace(/&amp;/g, "&")
    .replace(/\n{3,}/g, "\n\n");
}

say("Done. Everything is in demo-out/: bot/ (the source), repo/ (the repository), restored/, backups.git/ (the Action's git repository), runner/ (its output and summary files).");
