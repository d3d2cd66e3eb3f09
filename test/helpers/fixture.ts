// A small trading-bot-like source tree and a repository, made with the real CLI.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { initRepo } from "./repo.ts";

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
  const repo = join(dir, "repo"); // where initRepo puts it
  writeFileSync(config, `repository: local:${repo}\nsources:\n  - { name: trading-db, sqlite: srv/data/bot.db }\n  - { name: settings, files: ["srv/config/*"] }\n`);
  const { identityFile: key, recipient, writeKey } = initRepo(dir);
  return { dir, repo, key, recipient, db, config, env: { CAIRN_WRITE_KEY: writeKey } };
}
