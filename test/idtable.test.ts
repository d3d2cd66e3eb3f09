// The compact chunk-ID tables: every ID added is found with its values, IDs
// never added are not, duplicates are all visited, and growth loses nothing.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { Index } from "../src/engine/index.ts";
import { IdList, IdTable } from "../src/engine/idtable.ts";

test("IdTable finds each of 100k IDs with its values, and no stranger", () => {
  const t = new IdTable(2);
  const ids = Array.from({ length: 100_000 }, () => randomBytes(32));
  ids.forEach((id, i) => t.add(id, [i, i * 7]));
  assert.equal(t.size, ids.length);
  ids.forEach((id, i) => {
    let got: number[] | undefined;
    assert.ok(t.find(id, (v) => ((got = [...v]), true)));
    assert.deepEqual(got, [i, i * 7]);
  });
  for (let i = 0; i < 1000; i++) assert.equal(t.has(randomBytes(32)), false);
  // Same first word, different rest: a probe collision, not a match.
  const a = randomBytes(32);
  const b = Buffer.from(a);
  b[31] ^= 1;
  t.add(a, [1, 1]);
  assert.equal(t.has(b), false);
});

test("Index: a chunk in two packs is read from the preferred one", () => {
  const index = new Index();
  const id = randomBytes(32).toString("hex");
  const p1 = "a".repeat(64);
  const p2 = "b".repeat(64);
  index.add({ id: p1, size: 100, chunks: [[id, 0, 10, 20, 0]] });
  index.add({ id: p2, size: 200, chunks: [[id, 40, 11, 20, 5]] });
  assert.equal(index.lookup(Buffer.from(id, "hex"))!.pack, p1);
  assert.deepEqual(index.lookup(Buffer.from(id, "hex"), new Set([p2])), { pack: p2, offset: 40, length: 11, rawLength: 20, inner: 5 });
  assert.equal(index.lookup(randomBytes(32)), undefined);
});

test("IdList keeps IDs in order across growth", () => {
  const l = new IdList();
  const ids = Array.from({ length: 5000 }, () => randomBytes(32));
  ids.forEach((id) => l.push(id));
  assert.equal(l.length, 5000);
  assert.deepEqual([...l], ids);
});
