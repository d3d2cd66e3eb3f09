// The compact chunk-ID tables: every ID added is found with its values, IDs
// never added are not, duplicates are all visited, and growth loses nothing.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { encodeIndex, Index } from "../../../src/engine/repository/chunk-index.ts";
import { IdList, IdTable } from "../../../src/engine/chunk/idtable.ts";

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

test("IdList keeps IDs in order across growth and across its 1 MiB blocks", () => {
  const l = new IdList();
  const ids = Array.from({ length: 70_000 }, () => randomBytes(32));
  ids.forEach((id, i) => (i % 2 ? l.push(id) : assert.ok(l.pushHex(Buffer.from(id.toString("hex")), 0))));
  assert.equal(l.length, ids.length);
  assert.deepEqual([...l], ids);
  const all = Buffer.alloc(ids.length * 32 + 5);
  l.copyTo(all, 5);
  assert.ok(all.subarray(5).equals(Buffer.concat(ids)));
  assert.equal(l.pushHex(Buffer.from("g".repeat(64)), 0), false, "not hex");
  assert.equal(l.pushHex(Buffer.from("A".repeat(64)), 0), false, "upper case is not what cairn writes");
  assert.equal(l.length, ids.length);
});

test("Index: an index file's bytes parse to the same locations as its records, and a bad line is refused", () => {
  const packs = [0, 1, 2].map((p) => ({
    id: randomBytes(32).toString("hex"),
    size: 1000 + p,
    chunks: Array.from({ length: 50 + p }, (_, i): [string, number, number, number, number] => [randomBytes(32).toString("hex"), i * 10, 10, 4096, (i % 3) * 4096]),
  }));
  const index = new Index();
  index.addBytes("x", Buffer.from(encodeIndex(packs)));
  assert.equal(index.size, 153);
  for (const p of packs) {
    assert.deepEqual(index.packs.get(p.id), { size: p.size, indexFile: "x" });
    for (const [id, offset, length, rawLength, inner] of p.chunks) {
      assert.deepEqual(index.lookup(Buffer.from(id, "hex")), { pack: p.id, offset, length, rawLength, inner });
    }
  }
  const text = encodeIndex(packs);
  for (const bad of [text.replace(/,10,4096,/, ",1x,4096,"), text.replace(/\["[0-9a-f]/, '["G'), text.replace('"size":1001', '"size":-1')]) {
    assert.throws(() => new Index().addBytes("y", Buffer.from(bad)), /index y: malformed line/);
  }
});
