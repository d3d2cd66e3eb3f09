// cairn.yml: valid configs parse to typed settings; bad ones name the line and the expected form.
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseConfig } from "../../src/config/config.ts";
import { UsageError } from "../../src/errors.ts";

const parse = (text: string) => parseConfig(text, "cairn.yml", "/etc/bot");

test("a valid config becomes typed sources", () => {
  const c = parse(`repository: local:/var/backups\nsources:\n  - { name: db, sqlite: data/bot.db }\n  - name: logs\n    files: /srv/*.log\n    newer-than: 7d\n`);
  assert.equal(c.repository, "local:/var/backups");
  assert.deepEqual(c.sources[0], { kind: "sqlite", name: "db", sqlite: "data/bot.db" });
  assert.equal(c.sources[1].kind, "files");
  if (c.sources[1].kind === "files") {
    assert.deepEqual(c.sources[1].files, ["/srv/*.log"]);
    assert.equal(c.sources[1]["newer-than"], 7 * 86400e3);
  }
});

function fails(text: string, pattern: RegExp) {
  assert.throws(
    () => parse(text),
    (err: unknown) => {
      assert.ok(err instanceof UsageError, String(err));
      assert.equal(err.exitCode, 2);
      assert.match(err.message, pattern);
      return true;
    },
  );
}

test("errors name file:line, the bad value and what was expected", () => {
  fails(`sources:\n  - { name: db, sqlite: a.db }\n  - { name: logs, files: [a], newer-than: soon }\n`, /^cairn\.yml:3:\d+: sources\.1\.newer-than: a duration such as "7d".*\(got "soon"\)/);
  fails(`sources:\n  - { name: db, sqlite: a.db, colour: red }\n`, /^cairn\.yml:2:\d+: .*colour/);
  fails(`sources:\n  - { name: db }\n`, /^cairn\.yml:2:\d+: .*exactly one of: sqlite, files/);
  fails(`sources:\n  - { name: db, sqlite: a, files: [b] }\n`, /one kind, found sqlite and files/);
  fails(`sources:\n  - { name: "bad name!", sqlite: a }\n`, /^cairn\.yml:2:\d+: sources\.0\.name: a name of letters/);
  fails(`sources: [\n`, /^cairn\.yml:\d+:\d+: invalid YAML/);
  fails(`repository: local:/x\n`, /sources/);
  fails(`sources:\n  - { name: a, sqlite: x }\n  - { name: a, files: [y] }\n`, /two sources are named "a"/);
  fails(`host: { address: h, user: u, port: 99999 }\nsources:\n  - { name: a, sqlite: x }\n`, /^cairn\.yml:1:\d+: host\.port/);
});

test("a misspelt key is named, with the closest known one (a misspelt kind first of all)", () => {
  fails(`sources:\n  - { name: db, sqlit: /srv/bot.db }\n`, /^cairn\.yml:2:\d+: sources\.0: unknown key "sqlit" \(did you mean "sqlite"\?\); a source needs exactly one of: sqlite, files/);
  fails(`sources:\n  - { name: db, postgers: { database: bot } }\n`, /unknown key "postgers" \(did you mean "postgres"\?\)/);
  fails(`sources:\n  - { name: db, sqlite: a.db, dcoker: pg }\n`, /sources\.0: unknown key "dcoker" \(did you mean "docker"\?\)/);
  fails(`sourcs:\n  - { name: db, sqlite: a.db }\n`, /unknown key "sourcs" \(did you mean "sources"\?\)/);
  fails(`sources:\n  - { name: db, colour: red }\n`, /exactly one of: .*\(unknown key: "colour"\)/);
});

test("a missing or wrong value is said in words, not as a validator's type names", () => {
  fails(`sources:\n  - { sqlite: a.db }\n`, /^cairn\.yml:2:\d+: sources\.0\.name is missing \(expected text\)$/);
  fails(`sources:\n  - { name: db, postgres: { user: bot } }\n`, /sources\.0\.postgres\.database is missing \(expected text\)/);
  fails(`host: { address: h }\nsources:\n  - { name: a, sqlite: x }\n`, /host\.user is missing/);
  fails(`sources:\n  - { name: db, files: 3 }\n`, /sources\.0\.files: a path or glob, or a list of them \(got 3\)/);
  fails(`host: { address: h, user: u, port: "22" }\nsources:\n  - { name: a, sqlite: x }\n`, /host\.port: expected a number, got "22"/);
  for (const text of [`sources:\n  - { sqlite: a.db }\n`, `host: { address: h, user: u, port: "22" }\nsources:\n  - { name: a, sqlite: x }\n`]) {
    assert.throws(() => parse(text), (err: Error) => !/expected \w+, received|Invalid input/.test(err.message));
  }
});

test("names: letters of either case, digits, '.', '_', '-'; names equal but for case are refused", () => {
  assert.equal(parse(`sources:\n  - { name: Trading-DB.v2, sqlite: a.db }\n`).sources[0].name, "Trading-DB.v2");
  fails(`sources:\n  - { name: "-db", sqlite: a }\n`, /a name of letters \(either case\), digits/);
  fails(`sources:\n  - { name: DB, sqlite: a }\n  - { name: db, files: [b] }\n`, /sources "DB" and "db" differ only in case/);
});
