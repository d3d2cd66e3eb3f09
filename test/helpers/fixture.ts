// A small trading-bot-like source tree and a repository, made with the real CLI.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cairn } from "./cli.ts";

export interface Fixture {
  dir: string;
  repo: string;
  key: string;
  recipient: string;
  db: string;
  config: string;
  env: Record<string, string>;
}

export function makeFixture(dir: string, rows = 30000): Fixture {
  const db = join(dir, "srv", "data", "bot.db");
  mkdirSync(join(dir, "srv", "data"), { recursive: true });
  mkdirSync(join(dir, "srv", "config"), { recursive: true });
  execFileSync("sqlite3", [db, `CREATE TABLE deals(id INTEGER PRIMARY KEY, price REAL, note TEXT);
    WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<${rows}) INSERT INTO deals SELECT x, x*1.5, hex(randomblob(50)) FROM c;`]);
  writeFileSync(join(dir, "srv", "config", "config.json"), '{"pair":"ETHUSDT"}\n');
  writeFileSync(join(dir, "srv", "config", "it's here; rm -rf x #.json"), "odd name\n");
  const config = join(dir, "cairn.yml");
  const repo = join(dir, "repo");
  writeFileSync(config, `repository: local:${repo}\nsources:\n  - { name: trading-db, sqlite: srv/data/bot.db }\n  - { name: settings, files: ["srv/config/*"] }\n`);
  const key = join(dir, "key.txt");
  assert.equal(cairn(["keygen", "-o", key]).code, 0);
  const recipient = readFileSync(key, "utf8").split("\n")[1].split(": ")[1];
  const init = cairn(["init", "-r", `local:${repo}`, "--recipient", recipient]);
  assert.equal(init.code, 0, init.stderr);
  const writeKey = /CAIRN_WRITE_KEY=(\S+)/.exec(init.stdout)![1];
  return { dir, repo, key, recipient, db, config, env: { CAIRN_WRITE_KEY: writeKey } };
}
