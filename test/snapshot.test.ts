// Snapshot parsing: chunk lists read straight into binary IDs, and only a
// real "chunks" key (never text inside a string) is taken for one.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { encodeSnapshot, parseSnapshot, type NewSnapshot } from "../src/engine/snapshot.ts";

function snapshot(entries: NewSnapshot["entries"]): NewSnapshot {
  return {
    version: 1,
    time: "2026-11-22T00:00:00.000Z",
    host: "h",
    full: false,
    sources: [{ name: "s", kind: "files", entries: entries.length, size: 0, info: {}, warnings: [] }],
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
