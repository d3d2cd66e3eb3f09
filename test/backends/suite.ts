// The conformance suite every storage backend must pass (modelled on restic's
// internal/backend/test/suite.go). A backend's own test file only says how to
// make one: backendSuite("local", async () => ({ backend, cleanup })).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { sha256 } from "../helpers/repo.ts";
import { FILE_TYPES, type Backend, type FileEntry, type FileType, type Handle } from "../../src/backends/backend.ts";

export interface BackendFixture {
  backend: Backend;
  cleanup(): Promise<void>;
}

const NAMED_TYPES = FILE_TYPES.filter((t) => t !== "config" && t !== "keys");

/** A valid name for a named type: 64 hex digits (here the SHA-256 of the data, as the engine does). */
export const nameFor = sha256;

function handle(type: FileType, name?: string): Handle {
  return { type, name: type === "config" || type === "keys" ? "" : (name ?? nameFor(randomBytes(16))) };
}

/** Name and size only: what every backend must agree on (an expiring backend adds `expires`, checked apart). */
const plain = (f: FileEntry): FileEntry => ({ name: f.name, size: f.size });

async function listAll(b: Backend, type: FileType): Promise<FileEntry[]> {
  const out: FileEntry[] = [];
  for await (const f of b.list(type)) out.push(plain(f));
  return out.sort((x, y) => x.name.localeCompare(y.name));
}

async function stat(b: Backend, h: Handle): Promise<FileEntry> {
  return plain(await b.stat(h));
}

async function everything(b: Backend): Promise<Record<string, FileEntry[]>> {
  const all: Record<string, FileEntry[]> = {};
  for (const t of FILE_TYPES) all[t] = await listAll(b, t);
  return all;
}

async function rejectsNotExist(b: Backend, p: Promise<unknown>, what: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(b.isNotExist(err), `${what}: expected a NotExistError, got ${String(err)}`);
    return true;
  });
}

export function backendSuite(name: string, make: () => Promise<BackendFixture>): void {
  describe(`backend conformance: ${name}`, () => {
    /** Run fn on a fresh backend, always cleaning up. */
    const withBackend = (fn: (b: Backend) => Promise<void>) => async () => {
      const fx = await make();
      try {
        await fn(fx.backend);
      } finally {
        await fx.cleanup();
      }
    };

    test("properties name a location", withBackend(async (b) => {
      assert.equal(typeof b.properties.location, "string");
      assert.ok(b.properties.location.length > 0);
      assert.equal(typeof b.properties.atomicWrites, "boolean");
    }));

    test("a new backend lists nothing of any type", withBackend(async (b) => {
      for (const t of FILE_TYPES) assert.deepEqual(await listAll(b, t), [], `list(${t})`);
    }));

    test("save and load round trip, several sizes including 0 bytes", withBackend(async (b) => {
      for (const size of [0, 1, 2, 15, 16, 17, 4095, 4096, 65537, 1 << 20, 3 * (1 << 20) + 7]) {
        const data = randomBytes(size);
        for (const type of ["pack", "index", "snapshot", "lock"] as const) {
          const h = handle(type);
          await b.save(h, data);
          const got = await b.load(h);
          assert.equal(got.length, size, `${type} of ${size} bytes: length`);
          assert.ok(got.equals(data), `${type} of ${size} bytes: content`);
          assert.deepEqual(await stat(b, h), { name: h.name, size }, `${type} of ${size} bytes: stat`);
        }
      }
      for (const type of ["config", "keys"] as const) {
        const data = randomBytes(300);
        await b.save(handle(type), data);
        assert.ok((await b.load(handle(type))).equals(data), `${type} round trip`);
        assert.deepEqual(await stat(b, handle(type)), { name: "", size: 300 });
      }
    }));

    test("a file saved as pieces loads as their concatenation (2000 pieces, some empty)", withBackend(async (b) => {
      const pieces = Array.from({ length: 2000 }, (_, i) => randomBytes(i % 7 === 0 ? 0 : 1 + (i % 300)));
      const whole = Buffer.concat(pieces);
      const h = handle("pack", nameFor(whole));
      await b.save(h, pieces);
      assert.ok((await b.load(h)).equals(whole));
      assert.deepEqual(await stat(b, h), { name: h.name, size: whole.length });
    }));

    test("the stored bytes do not change when the caller reuses its buffer", withBackend(async (b) => {
      const data = randomBytes(1000);
      const copy = Buffer.from(data);
      const h = handle("pack", nameFor(copy));
      await b.save(h, data);
      data.fill(0);
      const got = await b.load(h);
      assert.ok(got.equals(copy));
      got.fill(1); // a loaded buffer is the caller's too
      assert.ok((await b.load(h)).equals(copy));
    }));

    test("ranged load: start, middle, exactly at the end, and empty", withBackend(async (b) => {
      const size = 200_003;
      const data = randomBytes(size);
      const h = handle("pack", nameFor(data));
      await b.save(h, data);
      const cases: [number, number][] = [
        [0, 1],
        [0, size],
        [1, 10],
        [65_536, 65_536],
        [123_456, 1],
        [size - 1, 1],
        [size - 17, 17],
        [size - 100_000, 100_000],
        [0, 0],
        [size, 0],
      ];
      for (const [offset, length] of cases) {
        const got = await b.load(h, { offset, length });
        assert.equal(got.length, length, `load(${offset}, ${length}): length`);
        assert.ok(got.equals(data.subarray(offset, offset + length)), `load(${offset}, ${length}): content`);
      }
      // Many random ranges.
      for (let i = 0; i < 50; i++) {
        const offset = Math.floor(Math.random() * size);
        const length = Math.floor(Math.random() * (size - offset + 1));
        assert.ok((await b.load(h, { offset, length })).equals(data.subarray(offset, offset + length)), `load(${offset}, ${length})`);
      }
    }));

    test("ranged load of a 0-byte file", withBackend(async (b) => {
      const h = handle("snapshot");
      await b.save(h, Buffer.alloc(0));
      assert.equal((await b.load(h, { offset: 0, length: 0 })).length, 0);
    }));

    test("list per type returns exactly the saved names and sizes, never another type's", withBackend(async (b) => {
      const saved: Record<string, FileEntry[]> = {};
      for (const t of FILE_TYPES) saved[t] = [];
      for (const t of NAMED_TYPES) {
        for (let i = 0; i < 7; i++) {
          const data = randomBytes(i * 37 + (t.length % 5));
          const h = handle(t);
          await b.save(h, data);
          saved[t].push({ name: h.name, size: data.length });
        }
      }
      // The same name under two types is two files.
      const shared = nameFor("shared");
      await b.save({ type: "index", name: shared }, Buffer.from("index!"));
      await b.save({ type: "snapshot", name: shared }, Buffer.from("a snapshot"));
      saved.index.push({ name: shared, size: 6 });
      saved.snapshot.push({ name: shared, size: 10 });
      await b.save(handle("config"), Buffer.from("cfg"));
      saved.config.push({ name: "", size: 3 });
      for (const t of FILE_TYPES) saved[t].sort((x, y) => x.name.localeCompare(y.name));
      assert.deepEqual(await everything(b), saved);
      assert.equal((await b.load({ type: "index", name: shared })).toString(), "index!");
      assert.equal((await b.load({ type: "snapshot", name: shared })).toString(), "a snapshot");
    }));

    test("an aborted signal stops every call before it changes anything", withBackend(async (b) => {
      const ac = new AbortController();
      ac.abort();
      const signal = ac.signal;
      const h = handle("pack");
      const aborted = (err: unknown) => (err as Error).name === "AbortError";
      await assert.rejects(b.save(h, Buffer.from("x"), { signal }), aborted, "save");
      await rejectsNotExist(b, b.stat(h), "the aborted save stored nothing");
      await b.save(h, Buffer.from("x"));
      await assert.rejects(b.load(h, undefined, { signal }), aborted, "load");
      await assert.rejects(b.load(h, { offset: 0, length: 1 }, { signal }), aborted, "ranged load");
      await assert.rejects(b.stat(h, { signal }), aborted, "stat");
      await assert.rejects(b.remove(h, { signal }), aborted, "remove");
      await assert.rejects((async () => {
        for await (const _ of b.list("pack", { signal }));
      })(), aborted, "list");
      assert.ok((await b.load(h)).equals(Buffer.from("x")), "the aborted remove removed nothing");
    }));

    test("remove, then load, stat and remove reject with a not-exist error", withBackend(async (b) => {
      for (const t of FILE_TYPES) {
        const h = handle(t);
        await b.save(h, Buffer.from("x"));
        await b.remove(h);
        await rejectsNotExist(b, b.load(h), `load ${t}`);
        await rejectsNotExist(b, b.load(h, { offset: 0, length: 1 }), `ranged load ${t}`);
        await rejectsNotExist(b, b.stat(h), `stat ${t}`);
        await rejectsNotExist(b, b.remove(h), `remove ${t}`);
        assert.deepEqual(await listAll(b, t), [], `list ${t} after remove`);
      }
    }));

    test("a file never saved: load and stat reject with a not-exist error", withBackend(async (b) => {
      for (const t of FILE_TYPES) {
        await rejectsNotExist(b, b.load(handle(t)), `load ${t}`);
        await rejectsNotExist(b, b.stat(handle(t)), `stat ${t}`);
      }
    }));

    test("remove takes away only the one file", withBackend(async (b) => {
      const a = handle("pack");
      const c = handle("pack");
      await b.save(a, Buffer.from("a"));
      await b.save(c, Buffer.from("c"));
      await b.remove(a);
      assert.deepEqual(await listAll(b, "pack"), [{ name: c.name, size: 1 }]);
      assert.equal((await b.load(c)).toString(), "c");
    }));

    test("saving the same name twice is allowed and keeps one file", withBackend(async (b) => {
      const data = randomBytes(5000);
      for (const t of FILE_TYPES) {
        const h = handle(t, nameFor(data));
        await b.save(h, data);
        await b.save(h, data);
        assert.ok((await b.load(h)).equals(data), `${t}`);
        assert.deepEqual(await listAll(b, t), [{ name: h.name, size: data.length }], `${t} listed once`);
      }
      // A lock is rewritten in place with new content (lease renewal): the last write wins.
      const lock = handle("lock");
      await b.save(lock, Buffer.from("first lease"));
      await b.save(lock, Buffer.from("second"));
      assert.equal((await b.load(lock)).toString(), "second");
    }));

    test("invalid handles are rejected and touch nothing", withBackend(async (b) => {
      const hex = nameFor("x");
      const bad: Handle[] = [
        { type: "pack", name: "../x" },
        { type: "pack", name: `../${hex.slice(3)}` },
        { type: "pack", name: "ab" },
        { type: "pack", name: hex.toUpperCase() },
        { type: "pack", name: "" },
        { type: "pack", name: hex + "0" },
        { type: "pack", name: hex.slice(1) },
        { type: "pack", name: `${hex.slice(0, 60)}/../` },
        { type: "index", name: `/${hex.slice(1)}` },
        { type: "snapshot", name: hex.slice(0, 63) + "g" },
        { type: "lock", name: "" },
        { type: "config", name: hex },
        { type: "config", name: "x" },
        { type: "keys", name: "../config" },
        { type: "bogus" as FileType, name: hex },
      ];
      for (const h of bad) {
        const what = JSON.stringify(h);
        await assert.rejects(b.save(h, Buffer.from("junk")), (err: unknown) => !b.isNotExist(err), `save ${what}`);
        await assert.rejects(b.load(h), (err: unknown) => !b.isNotExist(err), `load ${what}`);
        await assert.rejects(b.load(h, { offset: 0, length: 1 }), (err: unknown) => !b.isNotExist(err), `ranged load ${what}`);
        await assert.rejects(b.stat(h), (err: unknown) => !b.isNotExist(err), `stat ${what}`);
        await assert.rejects(b.remove(h), (err: unknown) => !b.isNotExist(err), `remove ${what}`);
      }
      for (const t of FILE_TYPES) assert.deepEqual(await listAll(b, t), [], `nothing stored under ${t}`);
    }));

    test("an invalid handle cannot reach a valid file (no path tricks)", withBackend(async (b) => {
      const h = handle("snapshot");
      await b.save(h, Buffer.from("keep me"));
      await b.save(handle("config"), Buffer.from("config"));
      for (const name of [`../snapshots/${h.name}`, `./${h.name}`, `${h.name}/`, `../config`]) {
        await assert.rejects(b.remove({ type: "snapshot", name }), `remove ${name}`);
        await assert.rejects(b.remove({ type: "pack", name }), `remove pack ${name}`);
      }
      assert.equal((await b.load(h)).toString(), "keep me");
      assert.equal((await b.load(handle("config"))).toString(), "config");
    }));

    test("many files across every pack prefix are all listed with their sizes", withBackend(async (b) => {
      const expected: FileEntry[] = [];
      const prefixes = new Set<string>();
      for (let i = 0; i < 200; i++) {
        const data = Buffer.from(`pack ${i} `.repeat(i % 13));
        const name = nameFor(`pack number ${i}`);
        prefixes.add(name.slice(0, 2));
        await b.save({ type: "pack", name }, data);
        expected.push({ name, size: data.length });
      }
      assert.ok(prefixes.size > 100, "the names spread over many prefixes");
      expected.sort((x, y) => x.name.localeCompare(y.name));
      assert.deepEqual(await listAll(b, "pack"), expected);
      for (const t of FILE_TYPES) if (t !== "pack") assert.deepEqual(await listAll(b, t), [], `no ${t}`);
      // Every listed name loads.
      for (const e of expected.slice(0, 20)) assert.equal((await b.load({ type: "pack", name: e.name })).length, e.size);
    }));

    test("removing files while listing does not fail the listing", withBackend(async (b) => {
      const names: string[] = [];
      for (let i = 0; i < 20; i++) {
        const h = handle("index");
        await b.save(h, Buffer.from(String(i)));
        names.push(h.name);
      }
      const seen: string[] = [];
      for await (const f of b.list("index")) {
        seen.push(f.name);
        if (seen.length === 1) for (const n of names) if (n !== f.name) await b.remove({ type: "index", name: n });
      }
      assert.ok(seen.length >= 1 && seen.every((n) => names.includes(n)));
      assert.equal((await listAll(b, "index")).length, 1);
    }));

    test("files expire only where the backend says so, and then stat and list say when", withBackend(async (b) => {
      const h = handle("pack");
      const before = Date.now();
      await b.save(h, Buffer.from("expiring?"));
      const st = await b.stat(h);
      const listed = [];
      for await (const f of b.list("pack")) listed.push(f);
      if (!b.properties.expiry) {
        assert.equal(st.expires, undefined, "a backend without the expiry property gives no expiry");
        assert.ok(listed.every((f) => f.expires === undefined));
        return;
      }
      assert.ok(st.expires instanceof Date && st.expires.getTime() > before, `stat gives a future expiry: ${st.expires}`);
      assert.ok(st.expires.getTime() <= b.properties.expiry.newFiles().getTime(), "a saved file expires no later than newFiles() says");
      assert.deepEqual(listed.map((f) => f.expires?.getTime()), [st.expires.getTime()], "list gives the same expiry as stat");
    }));

    test("flush succeeds and keeps what was saved", withBackend(async (b) => {
      const h = handle("pack");
      await b.save(h, Buffer.from("durable"));
      await b.flush();
      assert.equal((await b.load(h)).toString(), "durable");
    }));
  });
}
