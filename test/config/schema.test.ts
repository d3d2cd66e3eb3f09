// schema/cairn.schema.json is generated from the zod schema (scripts/gen-schema.ts)
// and must not go stale; the README's source kinds parse with errors
// that point at the line.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { generateSchema, SCHEMA_PATH } from "../../scripts/gen-schema.ts";
import { parseConfig } from "../../src/config/config.ts";
import { UsageError } from "../../src/errors.ts";

test("the committed JSON Schema equals the generated one (run node scripts/gen-schema.ts)", () => {
  assert.equal(readFileSync(SCHEMA_PATH, "utf8"), generateSchema());
});

test("the JSON Schema offers every source kind and the host settings", () => {
  const s = JSON.parse(generateSchema());
  const kinds = s.properties.sources.items.anyOf.map((o: { required: string[] }) => o.required.find((k) => k !== "name"));
  assert.deepEqual(kinds.sort(), ["command", "files", "mysql", "postgres", "sqlite"]);
  assert.ok(s.properties.host.properties.jump);
  assert.ok(s.properties.host.properties["command-timeout-seconds"]);
});

test("an example cairn.yml with every source kind parses", () => {
  const c = parseConfig(
    `host: { address: bot.example.com, port: 2222, user: backup, jump: { address: bastion.example.com, user: jump } }
sources:
  - { name: trading-db, sqlite: /srv/bot/data/trading_bot.db }
  - { name: orders, postgres: { database: bot, user: bot, password-env: PG_PW, globals: true }, docker: pg }
  - { name: shop, mysql: { database: shop, user: backup } }
  - { name: settings, files: [/srv/bot/config/*.json, /srv/bot/.env, /srv/bot/security/salt.key] }
  - { name: keys, files: [/srv/bot/binance_keys/*] }
  - { name: logs, files: [/srv/bot/*.log, /srv/bot/security/audit.log], newer-than: 7d }
  - { name: redis, command: "redis-cli --rdb -", filename: dump.rdb, secret-env: { REDISCLI_AUTH: REDIS_PW } }
  - { name: argv, command: [pg_dumpall, --schema-only] }
`,
    "cairn.yml",
    "/",
  );
  assert.equal(c.host!.port, 2222);
  assert.equal(c.host!.jump!.port, 22);
  assert.equal(c.host!["command-timeout-seconds"], 600);
  assert.equal(c.sources.length, 8);
});

test("docker on a files source is refused, naming the line", () => {
  assert.throws(
    () => parseConfig("sources:\n  - name: s\n    files: /etc/x\n    docker: c\n", "cairn.yml", "/"),
    (e: UsageError) => e instanceof UsageError && /cairn\.yml:2/.test(e.message) && /docker/.test(e.message),
  );
});

test("settings history: top-level history with defaults, and history, secret-files, redact, mask on a files source", () => {
  const c = parseConfig(
    `history: { repository: github:me/bot-settings }
sources:
  - name: settings
    files: [/srv/bot/config/*.json, /srv/bot/.env]
    history: true
    secret-files: ["/srv/bot/binance_keys/*"]
    redact: ['license: (\\S+)']
    mask: ['^# generated at .*$']
`,
    "cairn.yml",
    "/",
  );
  assert.deepEqual(c.history, { repository: "github:me/bot-settings", branch: "settings-history", "pull-request": true });
  const s = c.sources[0];
  assert.ok(s.kind === "files" && s.history && s.mask![0] === "^# generated at .*$");
  const schema = JSON.parse(generateSchema());
  assert.ok(schema.properties.history.properties["pull-request"]);
  const files = schema.properties.sources.items.anyOf.find((o: { required: string[] }) => o.required.includes("files"));
  for (const k of ["history", "secret-files", "redact", "mask"]) assert.ok(files.properties[k], k);
});

test("settings history: a bad regular expression, a history source without history:, and stray options name the line", () => {
  const cases: Array<[string, RegExp]> = [
    [`history: { repository: git:/srv/h.git }\nsources:\n  - name: s\n    files: /etc/x\n    history: true\n    redact:\n      - ok\n      - "(unclosed"\n`, /cairn\.yml:8:\d+: sources\.0\.redact\.1: not a valid regular expression/],
    [`sources:\n  - { name: a, sqlite: /x.db }\n  - name: s\n    files: /etc/x\n    history: true\n`, /cairn\.yml:3:\d+: source s has history: true, but cairn.yml has no history/],
    [`sources:\n  - name: s\n    files: /etc/x\n    mask: [x]\n`, /cairn\.yml:2:\d+: source s: mask only apply with history: true/],
    [`history: { repository: github:a/b }\nsources:\n  - name: s\n    files: /etc/x\n`, /cairn\.yml:1:\d+: history is set, but no files source has history: true/],
    [`history: { repository: https://github.com/a/b }\nsources:\n  - { name: s, files: /etc/x, history: true }\n`, /cairn\.yml:1:\d+: history\.repository: github:OWNER\/REPO or git:URL/],
    [`history: { repository: github:a/b, branch: "a..b" }\nsources:\n  - { name: s, files: /etc/x, history: true }\n`, /history\.branch: a git branch name/],
  ];
  for (const [text, re] of cases) {
    assert.throws(() => parseConfig(text, "cairn.yml", "/"), (e: UsageError) => e instanceof UsageError && re.test(e.message), text);
  }
});

test("the JSON Schema's name rule is the parser's: both cases allowed", () => {
  const s = JSON.parse(generateSchema());
  const pattern = new RegExp(s.properties.sources.items.anyOf[0].properties.name.pattern);
  for (const name of ["trading-db", "Trading-DB", "DB_2.bak"]) {
    assert.match(name, pattern);
    assert.equal(parseConfig(`sources:\n  - { name: ${name}, sqlite: a.db }\n`, "cairn.yml", "/").sources[0].name, name);
  }
  assert.doesNotMatch("-db", pattern);
});

test("restore hooks: top level and per source, in the parser and the JSON Schema; a misspelt hook is named", () => {
  const c = parseConfig(
    `restore: { stop: "docker compose stop bot", start: "docker compose start bot" }
sources:
  - { name: db, sqlite: /srv/bot/data/trading_bot.db, restore: { stop: "systemctl stop bot" } }
`,
    "cairn.yml",
    "/",
  );
  assert.deepEqual(c.restore, { stop: "docker compose stop bot", start: "docker compose start bot" });
  assert.deepEqual(c.sources[0].restore, { stop: "systemctl stop bot" });
  const schema = JSON.parse(generateSchema());
  assert.ok(schema.properties.restore.properties.stop);
  for (const kind of schema.properties.sources.items.anyOf) assert.ok(kind.properties.restore.properties.start);
  assert.throws(
    () => parseConfig(`restore: { stpo: x }\nsources:\n  - { name: a, sqlite: a.db }\n`, "cairn.yml", "/"),
    (e: UsageError) => /cairn\.yml:1:\d+: restore: unknown key "stpo" \(did you mean "stop"\?\)/.test(e.message),
  );
});
