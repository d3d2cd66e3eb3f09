// Chunker properties: boundaries independent of read sizes, bounded sizes,
// local effect of an insertion, keyed boundaries, SQLite page alignment.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { sha256 } from "../../helpers/repo.ts";
import { CDC_DEFAULT, chunkerFor, FastCdc, gearTable, sqlitePageSize, type Chunker } from "../../../src/engine/chunk/chunker.ts";

const gear = gearTable(Buffer.alloc(32, 1));

function chunk(c: Chunker, data: Buffer, split: () => number): Buffer[] {
  const out: Buffer[] = [];
  for (let pos = 0; pos < data.length; ) {
    const n = Math.min(split(), data.length - pos);
    out.push(...c.push(data.subarray(pos, pos + n)));
    pos += n;
  }
  return [...out, ...c.end()];
}
const hash = sha256;

test("FastCDC: same boundaries whatever the read sizes; sizes within bounds; bytes preserved", () => {
  const data = randomBytes(12 * 1024 * 1024);
  const a = chunk(new FastCdc(gear), data, () => 1 << 20);
  const b = chunk(new FastCdc(gear), data, () => 1 + Math.floor(Math.random() * 300_000));
  assert.deepEqual(a.map((c) => c.length), b.map((c) => c.length));
  assert.deepEqual(Buffer.concat(a), data);
  for (const c of a.slice(0, -1)) {
    assert.ok(c.length >= CDC_DEFAULT.min && c.length <= CDC_DEFAULT.max, `chunk of ${c.length}`);
  }
  const avg = data.length / a.length;
  assert.ok(avg > CDC_DEFAULT.avg / 2 && avg < CDC_DEFAULT.avg * 2, `average ${avg}`);
});

test("FastCDC: an insertion in the middle changes only nearby chunks", () => {
  const data = randomBytes(16 * 1024 * 1024);
  const edited = Buffer.concat([data.subarray(0, 8_000_000), Buffer.from("inserted bytes"), data.subarray(8_000_000)]);
  const before = new Set(chunk(new FastCdc(gear), data, () => 1 << 20).map(hash));
  const after = chunk(new FastCdc(gear), edited, () => 1 << 20).map(hash);
  const fresh = after.filter((h) => !before.has(h));
  assert.ok(fresh.length >= 1 && fresh.length <= 2, `${fresh.length} new chunks of ${after.length}`);
});

test("FastCDC: the gear table is keyed, so another repository cuts elsewhere", () => {
  const data = randomBytes(8 * 1024 * 1024);
  const a = chunk(new FastCdc(gear), data, () => 1 << 20).map((c) => c.length);
  const b = chunk(new FastCdc(gearTable(Buffer.alloc(32, 2))), data, () => 1 << 20).map((c) => c.length);
  assert.notDeepEqual(a, b);
});

test("SQLite files are cut into one chunk per page", () => {
  const dir = mkdtempSync(join(tmpdir(), "cairn-chunk-"));
  try {
    const db = join(dir, "t.db");
    execFileSync("sqlite3", [db, "PRAGMA page_size=8192; CREATE TABLE t(v); WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<20000) INSERT INTO t SELECT randomblob(100) FROM c;"]);
    const data = readFileSync(db);
    assert.equal(sqlitePageSize(data), 8192);
    const { chunker, kind } = chunkerFor(data.subarray(0, 100), gear);
    assert.equal(kind, "sqlite");
    const chunks = chunk(chunker, data, () => 100_000);
    assert.deepEqual(Buffer.concat(chunks), data);
    for (const c of chunks) assert.equal(c.length, 8192); // one chunk per page
    assert.equal(sqlitePageSize(Buffer.from("not a database".padEnd(100))), 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
