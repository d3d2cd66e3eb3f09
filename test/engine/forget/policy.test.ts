// The retention policy function on its own, in chosen time zones: the rules
// restic's forget has (test/engine/forget/restic.test.ts checks them against
// restic itself), each shown on a small case whose answer is worked out here.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { applyPolicy, describePolicy, isoWeek, parseWithin, withinStart } from "../../../src/engine/forget/policy.ts";

let savedTz: string | undefined;
before(() => {
  savedTz = process.env.TZ;
  process.env.TZ = "Europe/Berlin";
});
after(() => {
  if (savedTz === undefined) delete process.env.TZ;
  else process.env.TZ = savedTz;
});

const snaps = (...iso: string[]) => iso.map((t, i) => ({ id: `s${i}`, time: new Date(t) }));
const kept = (d: ReturnType<typeof applyPolicy>) => d.filter((x) => x.keep).map((x) => x.id);

test("ISO weeks: 2020-12-31 is in week 53 of 2020, 2021-01-03 too, 2021-01-04 starts week 1; 2026-12-31 is week 53", () => {
  assert.deepEqual(isoWeek(2020, 12, 31), [2020, 53]);
  assert.deepEqual(isoWeek(2021, 1, 3), [2020, 53]);
  assert.deepEqual(isoWeek(2021, 1, 4), [2021, 1]);
  assert.deepEqual(isoWeek(2026, 12, 31), [2026, 53]);
  assert.deepEqual(isoWeek(2019, 12, 30), [2020, 1]);
});

test("days are local: 23:30 UTC on 1 January is 2 January in Berlin, so two snapshots that day are one daily bucket", () => {
  const d = applyPolicy(snaps("2026-01-01T23:30:00Z", "2026-01-02T10:00:00Z", "2026-01-01T12:00:00Z"), { daily: 5 }, { keepOldest: false });
  assert.deepEqual(kept(d), ["s1", "s2"]);
  assert.deepEqual(d.find((x) => x.id === "s1")!.reasons, ["daily #1"]);
});

test("counters are independent and OR-ed; reasons number each counter's keeps; the oldest is kept while counts are left", () => {
  const d = applyPolicy(snaps("2026-01-05T02:00:00Z", "2026-01-04T02:00:00Z", "2026-01-03T02:00:00Z", "2026-01-02T02:00:00Z"), { last: 1, daily: 2, weekly: 3 });
  assert.deepEqual(
    d.map((x) => [x.id, x.reasons.join(", ")]),
    [
      ["s0", "last #1, daily #1, weekly #1"],
      ["s1", "daily #2, weekly #2"],
      ["s2", ""],
      ["s3", "oldest weekly #3"],
    ],
  );
  // restic 0.14's rule: no oldest.
  assert.deepEqual(kept(applyPolicy(snaps("2026-01-05T02:00:00Z", "2026-01-04T02:00:00Z", "2026-01-03T02:00:00Z"), { daily: 1, weekly: 5 }, { keepOldest: false })), ["s0", "s1"]);
});

test("an empty policy keeps everything; a zero --keep-within is no policy", () => {
  const all = snaps("2026-01-05T02:00:00Z", "2026-01-04T02:00:00Z");
  assert.deepEqual(kept(applyPolicy(all, {})), ["s0", "s1"]);
  assert.deepEqual(kept(applyPolicy(all, { within: parseWithin("0d") })), ["s0", "s1"]);
  assert.equal(describePolicy({}), "empty policy: keep everything");
  assert.equal(describePolicy({ daily: 7, weekly: 4, monthly: 12, yearly: 2 }), "keep 7 daily, 4 weekly, 12 monthly, 2 yearly snapshot(s)");
});

test("--keep-within counts back from the latest snapshot, on the calendar: a month before 31 March is 3 March; strictly after", () => {
  assert.equal(new Date(withinStart(new Date("2026-03-31T10:00:00+02:00"), parseWithin("1m")!)).toISOString(), "2026-03-03T09:00:00.000Z");
  // 2d across the spring-forward night is 47 hours, as Go's AddDate on the wall clock.
  assert.equal(withinStart(new Date("2026-03-30T12:00:00+02:00"), parseWithin("2d")!), Date.parse("2026-03-28T12:00:00+01:00"));
  const d = applyPolicy(snaps("2026-03-30T12:00:00+02:00", "2026-03-28T12:00:00+01:00", "2026-03-28T12:00:01+01:00"), { within: parseWithin("2d") }, { now: new Date("2027-01-01") });
  assert.deepEqual(kept(d), ["s0", "s2"]);
  // Counted from the latest snapshot, not from now: a stopped schedule keeps its last days.
  assert.deepEqual(kept(applyPolicy(snaps("2020-01-10T00:00:00Z", "2020-01-01T00:00:00Z"), { within: parseWithin("30d") })), ["s0", "s1"]);
  assert.equal(parseWithin("1y6m7d2h")!.months, 6);
  assert.equal(parseWithin("3 weeks"), undefined);
});
