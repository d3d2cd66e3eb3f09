// Redaction: secrets in every format become keyed fingerprints in place,
// everything else stays byte for byte, and whatever cannot be redacted safely
// is recorded by fingerprint only.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { highEntropyStrings, knownTokens } from "../../src/history/redact/detect.ts";
import { fingerprint } from "../../src/history/redact/fingerprint.ts";
import { isSecretKey } from "../../src/history/redact/keys.ts";
import { NO_RULES, redactFile, type RedactRules } from "../../src/history/redact/redact.ts";

const KEY = new Uint8Array(32).fill(1);
const redact = (path: string, text: string, rules: Partial<RedactRules> = {}) => redactFile(path, Buffer.from(text), { ...NO_RULES, ...rules }, KEY);
const PH = /<redacted:hmac:[0-9a-f]{12}>/;

test("secret-looking key names, and names that only mention a secret", () => {
  for (const k of ["password", "DB_PASSWORD", "dbPassword", "passwd", "pwd", "client_secret", "api_key", "apiKey", "x-api-key", "BINANCE_API_KEY", "auth_token", "Authorization", "credentials", "private_key", "salt", "key", "requirepass", "secretKey", "aws_secret_access_key"]) {
    assert.ok(isSecretKey(k), k);
  }
  for (const k of ["author", "monkey", "primary_key", "max_position", "host", "user", "password_file", "token_url", "auth_enabled", "keyboard", "passenger", "compass"]) {
    assert.ok(!isSecretKey(k), k);
  }
});

test("each format: values under secret keys are redacted in place, the rest is unchanged", async () => {
  const cases: Array<[string, string, string]> = [
    ["/srv/.env", `API_URL=https://api.example.com\nexport API_KEY=abc123def\nSECRET="two words"\nMAX=5 # note\n`, `API_URL=https://api.example.com\nexport API_KEY=P\nSECRET="P"\nMAX=5 # note\n`],
    ["/srv/c.json", `{\n  "pair": "ETHUSDT",\n  "exchange": { "api": { "secret": "s3cr3t!", "pin": 1234 } },\n  "on": true\n}\n`, `{\n  "pair": "ETHUSDT",\n  "exchange": { "api": { "secret": "P", "pin": "P" } },\n  "on": true\n}\n`],
    ["/srv/c.yml", `db:\n  host: localhost\n  password: 'it''s'\n  token: plain value here\n  enabled: true\n`, `db:\n  host: localhost\n  password: 'P'\n  token: P\n  enabled: true\n`],
    ["/srv/c.toml", `[db]\nhost = "x" # c\npassword = """\nmulti\n"""\napi_token = 12345678\n`, `[db]\nhost = "x" # c\npassword = """P"""\napi_token = "P"\n`],
    ["/etc/my.cnf", `[client]\nuser = backup\npassword = "q w e"\n[mysqld]\nskip-networking\n`, `[client]\nuser = backup\npassword = "P"\n[mysqld]\nskip-networking\n`],
    ["/etc/redis.conf", `bind 127.0.0.1\nrequirepass foobared\n`, `bind 127.0.0.1\nrequirepass P\n`],
  ];
  for (const [path, input, expected] of cases) {
    const r = await redact(path, input);
    assert.equal(r.recorded, "redacted", `${path}: ${r.reason}`);
    assert.equal(r.text.replace(new RegExp(PH, "g"), "P"), expected, path);
  }
});

test("secrets found in any text: comments, URLs, connection strings, private key blocks, tokens, high-entropy strings", async () => {
  const text = [
    "# password: oldpass99",
    "db: postgres://bot:urlPass77@db:5432/bot",
    'mssql: "Server=x;Database=y;Password=connPw55;"',
    "notes: 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",
    "blob: Zk3q9XvB2mLp8RtY6wNc4HsJ7dFg1Ae5",
    "hex: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "cert: |",
    "  -----BEGIN RSA PRIVATE KEY-----",
    "  MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun",
    "  -----END RSA PRIVATE KEY-----",
    "path: /var/lib/postgresql/15/main",
    "id: 123e4567-e89b-12d3-a456-426614174000",
    "",
  ].join("\n");
  const r = await redact("/srv/x.yml", text);
  assert.equal(r.recorded, "redacted", r.reason);
  for (const secret of ["oldpass99", "urlPass77", "connPw55", "ghp_wWPw5k4a", "Zk3q9XvB2mLp8", "9f86d081884c", "MIIEowIBAAKCAQEA", "BEGIN RSA"]) assert.ok(!r.text.includes(secret), secret);
  assert.match(r.text, /db: postgres:\/\/bot:<redacted:hmac:[0-9a-f]{12}>@db:5432\/bot/);
  assert.match(r.text, /cert: \|\n  <redacted:hmac:[0-9a-f]{12}>\npath:/);
  assert.ok(r.text.includes("path: /var/lib/postgresql/15/main") && r.text.includes("id: 123e4567-e89b-12d3-a456-426614174000"));
});

test("secretlint's rule set finds known token formats on its own", async () => {
  const text = "a = 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\nb = xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx\n";
  const found = (await knownTokens(text)).map((s) => text.slice(s.start, s.end));
  assert.deepEqual(found.sort(), ["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", "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"]);
  assert.deepEqual(highEntropyStrings("see /usr/share/doc/postgresql-15/README and version_2024_stable_release_v2"), []);
});

test("the fingerprint is keyed: the same value gives the same placeholder, another key another, and it is no plain hash", async () => {
  const a = await redact("/a.env", "PASSWORD=123456\n");
  const b = await redact("/b.env", "PASSWORD=123456\n");
  const c = await redactFile("/a.env", Buffer.from("PASSWORD=123456\n"), NO_RULES, new Uint8Array(32).fill(2));
  const d = await redact("/a.env", "PASSWORD=123457\n");
  assert.equal(a.text, b.text);
  assert.notEqual(a.text, c.text);
  assert.notEqual(a.text, d.text);
  const fp = /hmac:([0-9a-f]{12})/.exec(a.text)![1];
  assert.equal(fp, fingerprint(KEY, "123456"));
  assert.notEqual(fp, createHash("sha256").update("123456").digest("hex").slice(0, 12));
});

test("a YAML anchor that an alias under a secret key points at is redacted too", async () => {
  const r = await redact("/a.yml", "defaults: &pw hunter2x\nservice:\n  password: *pw\n");
  assert.equal(r.text.replace(new RegExp(PH, "g"), "P"), "defaults: &pw P\nservice:\n  password: *pw\n");
});

test("a secret repeated elsewhere is redacted everywhere", async () => {
  const r = await redact("/a.env", "DB_PASSWORD=Rep3atedPw\nDSN_COPY=host=db user=bot Rep3atedPw\n");
  assert.ok(!r.text.includes("Rep3atedPw"), r.text);
});

test("user patterns: redact (whole match or capture groups) and mask (volatile values make no change)", async () => {
  const rules = { redact: [/license: (\S+)/], mask: [/^# generated at .*$/, /"last_run": (\d+)/, /^LAST_RUN=.*$/] };
  const one = await redact("/a.yml", "# generated at 2025-01-01 10:00\nlicense: ABCD-EFGH\nname: bot\n", rules);
  const two = await redact("/a.yml", "# generated at 2025-01-02 11:30\nlicense: ABCD-EFGH\nname: bot\n", rules);
  assert.equal(one.text, two.text);
  assert.match(one.text, /^#<masked>\nlicense: <redacted:hmac:[0-9a-f]{12}>\nname: bot\n$/);
  const j1 = await redact("/s.json", '{"last_run": 1700000000, "n": 1}\n', rules);
  const j2 = await redact("/s.json", '{"last_run": 1700000999, "n": 1}\n', rules);
  assert.equal(j1.recorded, "redacted");
  assert.equal(j1.text, '{"last_run": "<masked>", "n": 1}\n');
  assert.equal(j1.text, j2.text);
  const e1 = await redact("/s.env", "A=1\nLAST_RUN=2025-01-01T10:00\n", rules);
  assert.equal(e1.text, "A=1\nLAST_RUN=<masked>\n");
});

test("fails closed: a file that does not parse is recorded by fingerprint only, never its text", async () => {
  const bad = await redact("/c.json", '{ "a": 1, "password": "Unparsed99" \n');
  assert.equal(bad.recorded, "opaque");
  assert.ok(!bad.text.includes("Unparsed99") && !bad.text.includes('"a"'));
  assert.match(bad.text, /not valid JSON \(line 2\)/);
  const bad2 = await redact("/c.json", '{ "a": 2, "password": "Unparsed99" \n');
  assert.notEqual(bad.text.split("\n")[1], bad2.text.split("\n")[1], "a change still changes the fingerprint");
  assert.equal(bad.text.split("\n")[0], bad2.text.split("\n")[0]);
});

test("fails closed: a redaction that breaks the file's structure is caught by parsing it again", async () => {
  // The user's pattern hits a key, not a value: the result no longer reads the same.
  const r = await redact("/c.json", '{"user": "bob", "n": 1}\n', { redact: [/"user"/] });
  assert.equal(r.recorded, "opaque");
  assert.match(r.text, /its redaction could not be checked/);
  assert.ok(!r.text.includes("bob"));
});

test("secret files, key files, private keys and binary files are recorded as changed or unchanged only", async () => {
  const pem = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----\n";
  const cases: Array<[string, Uint8Array, string]> = [
    ["/srv/bot/binance_keys/keys.json", Buffer.from('{"k":"v"}'), "secret-files"],
    ["/srv/bot/security/salt.key", Buffer.from("0123456789abcdef"), "a key file"],
    ["/home/bot/.ssh/deploy", Buffer.from(pem), "a private key"],
    ["/srv/bot/data.bin", Buffer.from([0xff, 0xfe, 0x00, 0x41]), "a binary file"],
  ];
  for (const [path, content, why] of cases) {
    const r = await redactFile(path, content, { ...NO_RULES, secretFiles: ["/srv/bot/binance_keys/*"] }, KEY);
    assert.equal(r.recorded, "secret", path);
    assert.ok(r.text.includes(why), `${path}: ${r.text}`);
    assert.match(r.text, PH);
    assert.ok(!r.text.includes("b3BlbnNzaC") && !r.text.includes("0123456789"));
  }
});

test("layout kept: changing one value of each format changes one line of the recorded text", async () => {
  const formats: Array<[string, string, Array<[string, string]>]> = [
    ["/a.env", "A=1\nPASSWORD=one1one1\nB=2\n", [["A=1", "A=3"], ["one1one1", "two2two2"]]],
    ["/a.json", '{\n  "a": 1,\n  "db": {\n    "password": "one1one1"\n  },\n  "b": [1, 2]\n}\n', [['"a": 1', '"a": 5'], ["one1one1", "two2two2"]]],
    ["/a.yml", "a: 1\ndb:\n  password: one1one1\ncert: |\n  line one\n  line two\nb: x\n", [["a: 1", "a: 7"], ["one1one1", "two2two2"], ["line two", "line 2"]]],
    ["/a.toml", 'a = 1\n[db]\npassword = "one1one1"\nb = "x"\n', [["a = 1", "a = 9"], ["one1one1", "two2two2"]]],
    ["/a.ini", "[s]\na = 1\npassword = one1one1\nb = x\n", [["a = 1", "a = 4"], ["one1one1", "two2two2"]]],
    ["/a.conf", "listen 80\nrequirepass one1one1\nname x\n", [["listen 80", "listen 81"], ["one1one1", "two2two2"]]],
  ];
  for (const [path, text, edits] of formats) {
    const before = (await redact(path, text)).text.split("\n");
    for (const [from, to] of edits) {
      const after = (await redact(path, text.replace(from, to))).text.split("\n");
      assert.equal(after.length, before.length, `${path}: ${from} -> ${to}`);
      const diff = before.filter((l, i) => l !== after[i]);
      assert.equal(diff.length, 1, `${path}: ${from} -> ${to} changed ${diff.length} lines`);
    }
  }
});
