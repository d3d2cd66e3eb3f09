// Pull throughput of the SQLite source over loopback SSH (backup API copy on
// the "server", then streamed) for a DB of N MiB, and peak memory.
// Usage: node bench/sqlite-pull.ts [MiB=512] [cipher]
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { SqliteSource } from "../src/sources/sqlite.ts";
import { LocalTransport } from "../src/transport/local.ts";
import { SshTransport } from "../src/transport/ssh.ts";
import type { Transport } from "../src/transport/transport.ts";
import { SshFixture } from "../test/helpers/sshd.ts";
import { settingsFor } from "../test/helpers/ssh-settings.ts";

const mib = Number(process.argv[2] ?? 512);
const cipher = process.argv[3];
const fx = new SshFixture();
const db = join(fx.dir, "bot.db");
const rows = Math.floor((mib * 1048576) / 4200);
execFileSync("sqlite3", [db, `PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < ${rows}) INSERT INTO t SELECT i, randomblob(4000) FROM n;`]);
const sshd = await fx.start();
const log = { info: () => {}, warn: () => {} };
async function pull(t: Transport): Promise<string> {
  const t0 = performance.now();
  let n = 0;
  const dump = new SqliteSource("db", db).dump(t, log);
  for await (const e of dump.entries) for await (const c of e.open()) n += c.length;
  const s = (performance.now() - t0) / 1000;
  return `${(n / 1048576).toFixed(0)} MiB in ${s.toFixed(2)} s = ${(n / 1e6 / s).toFixed(0)} MB/s (incl. the server-side .backup copy)`;
}
try {
  console.log(`local: ${await pull(new LocalTransport())}`);
  const t = await SshTransport.connect(settingsFor(sshd, undefined, cipher ? { ciphers: [cipher] } : {}));
  console.log(`ssh ${cipher ?? "default (aes128-gcm)"}: ${await pull(t)}`);
  console.log(`ssh again: ${await pull(t)}`);
  await t.close();
  console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
} finally {
  await sshd.stop();
  fx.cleanup();
}
