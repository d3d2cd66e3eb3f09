// Snapshot parsing: chunk lists read straight into binary IDs, and only a
// real "chunks" key (never text inside a string) is taken for one.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { IdList } from "../../../src/engine/chunk/idtable.ts";
import { applyChanges, diffIds, encodeSnapshot, parseSnapshot, type NewSnapshot } from "../../../src/engine/snapshot/snapshot.ts";

function snapshot(entries: NewSnapshot["entries"]): NewSnapshot {
  return {
    version: 1,
    time: "2026-11-22T00:00:00.000Z",
    seq: 1,
    parent: null,
    host: "h",
    full: false,
    sources: [{ name: "s", kind: "files", files: entries.length, size: 0, info: {}, warnings: [] }],
    stats: { bytes: 0, chunks: 0, newChunks: 0, newBytes: 0, storedBytes: 0, durationMs: 0 },
    packs: [],
    entries,
  };
}

const entry = (path: string, chunks: string[]) => ({ source: "s", path, mode: 0o600, mtime: 0, uid: 0, gid: 0, size: 0, chunker: "cdc" as const, chunks });

test("chunk lists parse to the same IDs, in order, whatever the paths hold", () => {
  const lists = [Array.from({ length: 3000 }, () => randomBytes(32).toString("hex")), [], [randomBytes(32).toString("hex")]];
  const tricky = ['a/"chunks":["x"]', 'b\\\\"chunks":[', 'c"],"chunks":['];
  const s = parseSnapshot(Buffer.from(encodeSnapshot(snapshot(lists.map((l, i) => entry(tricky[i], l))))), "t");
  assert.deepEqual(s.entries.map((e) => e.path), tricky);
  s.entries.forEach((e, i) => assert.deepEqual([...e.chunks].map((b) => b.toString("hex")), lists[i]));
});

test("malformed chunk lists are refused with a clear error", () => {
  const good = encodeSnapshot(snapshot([entry("a", [randomBytes(32).toString("hex")])]));
  for (const bad of [good.replace(/"chunks":\["[0-9a-f]{4}/, '"chunks":["../.'), good.replace(/"chunks":\[/, '"chunks":[1,'), good.replace(/\]\}\]\}/, "]]}")]) {
    assert.throws(() => parseSnapshot(Buffer.from(bad), "snapshot t"), /snapshot t: (malformed chunk list|not valid JSON)/);
  }
  const none = good.replace(/"chunks":\[[^\]]*\]/, '"chunks":7');
  assert.throws(() => parseSnapshot(Buffer.from(none), "snapshot t"), /malformed chunk list/);
});

test("a list rebuilt from its base and diff equals the list, whether it grew, shrank or changed", () => {
  const list = (n: number) => {
    const l = new IdList();
    for (let i = 0; i < n; i++) l.push(randomBytes(32));
    return l;
  };
  const base = list(2000);
  const cases: [string, IdList][] = [];
  const same = new IdList();
  for (const id of base) same.push(id);
  cases.push(["unchanged", same]);
  const changed = new IdList();
  [...base].forEach((id, i) => changed.push(i % 97 === 0 || (i > 500 && i < 540) ? randomBytes(32) : id));
  cases.push(["changed here and there", changed]);
  const grown = new IdList();
  for (const id of base) grown.push(id);
  for (let i = 0; i < 300; i++) grown.push(randomBytes(32));
  cases.push(["grown", grown]);
  const shrunk = new IdList();
  [...base].slice(0, 1500).forEach((id) => shrunk.push(id));
  cases.push(["shrunk", shrunk]);
  for (const [name, ids] of cases) {
    const { changes } = diffIds(base, ids);
    const back = applyChanges(base, { base: "b".repeat(64), count: ids.length, changes }, "t");
    assert.deepEqual([...back], [...ids], name);
  }
  assert.equal(diffIds(base, same).changes.length, 0);
});

test("malformed list references are refused: a gap, overlapping runs, a run past the count, a bad ID", () => {
  const base = new IdList();
  for (let i = 0; i < 10; i++) base.push(randomBytes(32));
  const id = randomBytes(32).toString("hex");
  const ref = (count: number, changes: (number | string)[][]) => ({ base: "b".repeat(64), count, changes });
  for (const [why, r] of [
    ["gap past the base", ref(12, [])],
    ["gap between base and run", ref(13, [[11, id, id]])],
    ["overlapping runs", ref(10, [[3, id, id], [4, id]])],
    ["past its count", ref(3, [[2, id, id]])],
    ["bad ID", ref(10, [[2, "zz"]])],
    ["empty run", ref(10, [[2]])],
  ] as const) {
    assert.throws(() => applyChanges(base, r, "snapshot t: a"), /snapshot t: a: (its chunk list has a gap|malformed chunk list)/, why);
  }
});
