// The wrappers around a backend: the retry wrapper passes the conformance
// suite and retries only what the backend calls retryable, with a pause that
// a cancelled run cuts short; the fault-injecting wrapper fails, truncates and
// delays exactly the calls it is told to.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FaultyBackend, TransientError } from "../../src/backends/faulty.ts";
import { MemoryBackend } from "../../src/backends/memory.ts";
import { RetryBackend } from "../../src/backends/retry.ts";
import { backendSuite, nameFor } from "./suite.ts";

backendSuite("retry(memory)", async () => ({ backend: new RetryBackend(new MemoryBackend(), { delayMs: 1 }), cleanup: async () => {} }));
backendSuite("faulty(memory), no faults", async () => ({ backend: new FaultyBackend(new MemoryBackend()), cleanup: async () => {} }));

const pack = (s: string) => ({ type: "pack" as const, name: nameFor(s) });

describe("retry wrapper", () => {
  test("a retryable failure is retried until the call succeeds", async () => {
    const faulty = new FaultyBackend(new MemoryBackend(), [{ op: "save", nth: 1, times: 2, fault: "fail" }]);
    const b = new RetryBackend(faulty, { delayMs: 1, attempts: 3 });
    await b.save(pack("a"), Buffer.from("a"));
    assert.deepEqual(faulty.calls.filter((c) => c.startsWith("save")).length, 3);
    assert.equal((await b.load(pack("a"))).toString(), "a");
  });

  test("it gives up after the last attempt with the backend's error", async () => {
    const faulty = new FaultyBackend(new MemoryBackend(), [{ op: "load", fault: "fail" }]);
    const b = new RetryBackend(faulty, { delayMs: 1, attempts: 4 });
    await faulty.inner.save(pack("a"), Buffer.from("a"));
    await assert.rejects(b.load(pack("a")), TransientError);
    assert.equal(faulty.calls.filter((c) => c.startsWith("load")).length, 4);
  });

  test("a missing file or any other permanent error fails at once", async () => {
    const faulty = new FaultyBackend(new MemoryBackend(), [{ op: "stat", fault: "fail", error: new Error("403 forbidden") }]);
    const b = new RetryBackend(faulty, { delayMs: 1 });
    await assert.rejects(b.load(pack("missing")), (err) => b.isNotExist(err));
    await assert.rejects(b.stat(pack("x")), /403 forbidden/);
    assert.equal(faulty.calls.filter((c) => c.startsWith("stat")).length, 1);
    assert.equal(faulty.calls.filter((c) => c.startsWith("load")).length, 1);
  });

  test("a cancelled run stops waiting between attempts", async () => {
    const faulty = new FaultyBackend(new MemoryBackend(), [{ op: "save", fault: "fail" }]);
    const b = new RetryBackend(faulty, { delayMs: 60_000, attempts: 5 });
    const ac = new AbortController();
    const started = Date.now();
    setTimeout(() => ac.abort(), 50);
    await assert.rejects(b.save(pack("a"), Buffer.from("a"), { signal: ac.signal }), (err) => (err as Error).name === "AbortError");
    assert.ok(Date.now() - started < 5000, "did not wait out the pause");
    assert.equal(faulty.calls.length, 1);
  });

  test("the run's signal reaches every call that gives none; remove is never cancelled, so a cancelled run can clean up", async () => {
    const mem = new MemoryBackend();
    const ac = new AbortController();
    const b = new RetryBackend(mem, { delayMs: 1, signal: ac.signal });
    await b.save(pack("a"), Buffer.from("a"));
    await b.save(pack("lock"), Buffer.from("lock"));
    ac.abort(new Error("cancelled by SIGTERM"));
    const cancelled = /cancelled by SIGTERM/;
    await assert.rejects(b.save(pack("b"), Buffer.from("b")), cancelled);
    await assert.rejects(b.load(pack("a")), cancelled);
    await assert.rejects(b.stat(pack("a")), cancelled);
    await assert.rejects(b.flush(), cancelled);
    await assert.rejects(
      (async () => {
        for await (const _ of b.list("pack"));
      })(),
      cancelled,
    );
    // A call with its own signal uses that one.
    assert.equal((await b.load(pack("a"), undefined, { signal: new AbortController().signal })).toString(), "a");
    await b.remove(pack("lock"));
    assert.ok(!(await mem.stat(pack("lock")).catch(() => false)), "removed");
  });

  test("a listing that fails part way starts again and yields each name once", async () => {
    const mem = new MemoryBackend();
    for (const s of ["a", "b", "c"]) await mem.save(pack(s), Buffer.from(s));
    let calls = 0;
    const flaky = Object.assign(Object.create(mem) as MemoryBackend, {
      async *list(type: "pack") {
        calls++;
        let n = 0;
        for await (const f of mem.list(type)) {
          if (calls === 1 && n++ === 2) throw new TransientError();
          yield f;
        }
      },
      isRetryable: (err: unknown) => err instanceof TransientError,
    });
    const b = new RetryBackend(flaky, { delayMs: 1 });
    const names: string[] = [];
    for await (const f of b.list("pack")) names.push(f.name);
    assert.equal(calls, 2);
    assert.deepEqual(names.sort(), ["a", "b", "c"].map(nameFor).sort());
  });
});

describe("fault-injecting wrapper", () => {
  test("fails the nth call of a type only, truncates loads, delays calls", async () => {
    const mem = new MemoryBackend();
    const b = new FaultyBackend(mem, [
      { op: "save", type: "pack", nth: 2, fault: "fail" },
      { op: "load", type: "index", fault: "truncate" },
      { op: "stat", fault: "delay", delayMs: 120 },
    ]);
    await b.save(pack("1"), Buffer.from("1"));
    await assert.rejects(b.save(pack("2"), Buffer.from("2")), TransientError);
    await b.save(pack("3"), Buffer.from("3"));
    await b.save({ type: "snapshot", name: nameFor("s") }, Buffer.from("s"));
    assert.deepEqual([...mem.files.keys()].sort(), [`pack/${nameFor("1")}`, `pack/${nameFor("3")}`, `snapshot/${nameFor("s")}`].sort());
    await b.save({ type: "index", name: nameFor("i") }, Buffer.from("0123456789"));
    assert.equal((await b.load({ type: "index", name: nameFor("i") })).toString(), "01234");
    assert.equal((await b.load(pack("1"))).toString(), "1");
    const t = Date.now();
    await b.stat(pack("1"));
    assert.ok(Date.now() - t >= 100);
  });
});
