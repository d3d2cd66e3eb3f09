// No secret escapes: settings in every format with secrets planted the ways
// they appear in real files (under secret keys, in a URL, in a comment, in a
// YAML block scalar, in a nested JSON object, as a known token, a PEM key, a
// key file, a secret-files match, a file that does not parse), recorded by
// several backups that change them; then every object of the resulting git
// repositories (all branches, all history), every request the fake GitHub
// received, every log line and the reports are searched for every planted
// value. None may appear.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { recordSettings, type HistoryReport } from "../../src/history/record.ts";
import { files, gitHubWorld, request } from "../helpers/history.ts";
import { tempDir } from "../helpers/repo.ts";
import { quietLog } from "../helpers/sources.ts";

/** The server's settings in backup `round`, and the secrets planted in them. */
function settings(round: number): { files: Record<string, string>; planted: string[] } {
  // Lower case words: nothing the high-entropy rule would catch, so each
  // planted value tests the rule meant for it.
  const p = (name: string) => `planted_${name.toLowerCase()}_${["one", "two", "three"][round - 1]}`;
  const planted: string[] = [];
  const s = (name: string) => {
    const v = p(name);
    planted.push(v);
    return v;
  };
  const pemBody = `MIIEvQIBADANBgkqhkiG9w0BAQEFAASC${s("PemBody")}`;
  const yamlBlock = s("YamlBlockLine");
  const ghToken = `ghp_${"wWPw5k4aXcaT4fNP0UcnZwJUVFk6LO0p".slice(0, 32 - String(round).length)}${round}Nx`.slice(0, 40);
  planted.push(ghToken);
  const f: Record<string, string> = {
    "/srv/bot/.env": [
      "# trading bot",
      "API_URL=https://api.binance.com",
      `BINANCE_API_KEY=${s("EnvKey")}`,
      `BINANCE_SECRET="${s("EnvSecret")} with spaces"`,
      `DATABASE_URL=postgres://bot:${s("UrlPassword")}@db:5432/bot`,
      `WEBHOOK=https://hooks.example.com/notify?channel=ops&token=${s("QueryToken")}`,
      `# old password: ${s("CommentPassword")}`,
      `MAX_POSITION=${round}`,
      "",
    ].join("\n"),
    "/srv/bot/config/config.json": JSON.stringify(
      { pair: "ETHUSDT", max_position: round / 2, exchange: { binance: { credentials: { api_secret: s("JsonNested"), testnet: false } } }, notes: `deploy token ${ghToken}` },
      null,
      2,
    ) + "\n",
    "/srv/bot/config/bot.yml": [
      "risk:",
      `  max_position: ${round}`,
      "db:",
      `  password: ${s("YamlPassword")}`,
      "tls:",
      "  private_key: |",
      `    ${yamlBlock}`,
      `    ${s("YamlBlockLine2")}`,
      "  ca: |",
      "    -----BEGIN PRIVATE KEY-----",
      `    ${pemBody}`,
      "    -----END PRIVATE KEY-----",
      "",
    ].join("\n"),
    "/srv/bot/config/bot.toml": `[database]\nhost = "db"\npassword = "${s("TomlPassword")}"\napi_token = '''\n${s("TomlMultiline")}\n'''\nretries = ${round}\n`,
    "/etc/mysql/conf.d/backup.cnf": `[client]\nuser = backup\npassword = ${s("IniPassword")}\n`,
    "/etc/redis/redis.conf": `bind 127.0.0.1\nrequirepass ${s("RedisPassword")}\nmaxmemory ${round}gb\n`,
    "/srv/bot/security/salt.key": `${s("SaltValue")}\n`,
    "/home/bot/.ssh/deploy_key": `-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ${s("SshKeyBody")}\n-----END OPENSSH PRIVATE KEY-----\n`,
    "/srv/bot/binance_keys/main.txt": `${s("BinanceKeyFile")}\n`,
    "/srv/bot/config/broken.json": `{ "note": "${s("BrokenJson")}", \n`,
    "/srv/bot/config/license.yml": `license: ${s("License")}\nseats: ${round}\n`,
  };
  return { files: f, planted };
}

test("no planted secret appears in any git object, pull request, log line or report", async (t) => {
  const tmp = await tempDir();
  t.after(tmp.cleanup);
  const { fake, gitDir, github } = gitHubWorld(tmp.dir);
  const log = quietLog();
  const workDir = join(tmp.dir, "work");
  const planted: string[] = [];
  const reports: HistoryReport[] = [];
  for (const round of [1, 2, 3]) {
    const s = settings(round);
    planted.push(...s.planted);
    const r = await recordSettings(
      request({ sources: [files(s.files, { secretFiles: ["/srv/bot/binance_keys/*"], redact: [/^license: (\S+)/] })], workDir, log, github }),
    );
    assert.equal(r.changed, true);
    assert.equal(r.pullRequestError, undefined, r.pullRequestError?.message);
    reports.push(r);
  }
  assert.equal(new Set(planted).size, planted.length);
  assert.equal(fake.pulls("me", "bot-settings").length, 1);

  const objects = (dir: string) => execFileSync("git", [`--git-dir=${dir}`, "cat-file", "--batch-all-objects", "--batch"], { maxBuffer: 1 << 28 }).toString("latin1");
  const onDisk = (dir: string): string => {
    let all = "";
    for (const f of readdirSync(dir, { recursive: true, encoding: "utf8" })) {
      const p = join(dir, f);
      if (statSync(p).isFile()) all += readFileSync(p).toString("latin1");
    }
    return all;
  };
  const places: Array<[string, string]> = [
    ["the remote's objects", objects(gitDir)],
    ["the local history repository's objects", objects(join(workDir, "history.git"))],
    ["the work folder's files", onDisk(workDir)],
    ["the pull request requests", fake.received.map((r) => r.raw).join("\n")],
    ["the pull requests", JSON.stringify(fake.pulls("me", "bot-settings"))],
    ["the log", log.lines.join("\n")],
    ["the reports", JSON.stringify(reports, (_k, v) => (v instanceof Error ? { message: v.message, hint: (v as { hint?: string }).hint } : v))],
  ];
  const escaped: string[] = [];
  for (const value of planted) for (const [where, text] of places) if (text.includes(value)) escaped.push(`${value} in ${where}`);
  assert.deepEqual(escaped, []);
  // The search can find things: the recorded history holds the non-secret values.
  assert.match(places[0][1], /MAX_POSITION=3/);
  assert.match(places[0][1], /max_position: 3/);
  // The token reaches GitHub's API only in the Authorization header, and is nowhere on disk or in the log.
  for (const [where, text] of [places[0], places[1], places[2], places[5], places[6]]) assert.ok(!text.includes(github.token!), `token in ${where}`);
  // Each kind of record is there: redacted text, secret files, and a file that did not parse.
  const how = Object.fromEntries(reports[2].recorded.map((r) => [r.path.split("/").slice(2).join("/"), r.recorded]));
  assert.equal(how["srv/bot/.env"], "redacted");
  assert.equal(how["srv/bot/security/salt.key"], "secret");
  assert.equal(how["home/bot/.ssh/deploy_key"], "secret");
  assert.equal(how["srv/bot/binance_keys/main.txt"], "secret");
  assert.equal(how["srv/bot/config/broken.json"], "opaque");
});
