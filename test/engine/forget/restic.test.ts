// cairn's retention policy against restic itself: generated timelines
// (irregular times, gaps, several a day, year ends, ISO week 53, nights of
// daylight-saving changes) as snapshots in one restic repository, one host
// per timeline; one `restic forget --dry-run --json --group-by host` call per
// policy and time zone; cairn's applyPolicy must keep exactly the same
// snapshots in every timeline. CAIRN_TIMELINES=2000 runs a longer check.
import assert from "node:assert/strict";
import { writeFileSync, rmSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { applyPolicy, parseWithin, type Policy } from "../../../src/engine/forget/policy.ts";
import { tempDir } from "../../helpers/repo.ts";
import { goTime, masterKey, restic, resticVersion, writeSnapshot } from "../../helpers/restic.ts";

const TIMELINES = Number(process.env.CAIRN_TIMELINES ?? 200);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Snapshots are in the past: restic takes the latest snapshot not in the future for --keep-within. */
const NOW = Date.parse("2026-11-01T00:00:00Z");

let dir: { dir: string; cleanup(): Promise<void> };
let repo: string;
let tree: string;
let paths: string[];
const version = resticVersion();
// restic 0.16 on keeps the oldest snapshot while a counter has counts left; 0.14 (Debian 12) does not.
const keepOldest = version[0] > 0 || version[1] >= 16;

/** mulberry32: the same timelines on every run for one seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Last Sunday of a month, 00:00 UTC (Europe's daylight-saving changes are that night). */
function lastSunday(year: number, month: number): number {
  const d = new Date(Date.UTC(year, month + 1, 0));
  return d.getTime() - d.getUTCDay() * DAY;
}

/** A timeline: snapshot instants (ms), ascending and distinct, all before NOW. */
function timeline(r: () => number, n: number): number[] {
  const pick = <T>(a: T[]) => a[Math.floor(r() * a.length)];
  const kind = n % 6;
  let t: number;
  const out: number[] = [];
  const count = 1 + Math.floor(r() * 60);
  const add = (ms: number) => {
    if (ms < NOW && !out.includes(ms)) out.push(ms);
  };
  switch (kind) {
    case 0: // a daily cron with jitter, and missed runs
      t = Date.UTC(2016 + Math.floor(r() * 9), Math.floor(r() * 12), 1 + Math.floor(r() * 28), 1, 0);
      for (let i = 0; i < count; i++, t += DAY * (r() < 0.15 ? 2 + Math.floor(r() * 10) : 1)) add(t + Math.floor(r() * 40 * 60_000));
      break;
    case 1: // several a day (every 6 h and manual runs)
      t = Date.UTC(2017 + Math.floor(r() * 9), Math.floor(r() * 12), 1 + Math.floor(r() * 28));
      for (let i = 0; i < count * 2; i++) add((t += Math.floor(r() * 8 * HOUR) + 60_000));
      break;
    case 2: // irregular: minutes to months apart
      t = Date.UTC(2014 + Math.floor(r() * 10), Math.floor(r() * 12), 1 + Math.floor(r() * 28));
      for (let i = 0; i < count; i++) add((t += Math.floor(Math.exp(r() * Math.log(90 * DAY / 60_000)) * 60_000)));
      break;
    case 3: {
      // around a year end; 2009, 2015 and 2020 have an ISO week 53
      const year = pick([2009, 2014, 2015, 2019, 2020, 2021, 2025]);
      t = Date.UTC(year, 11, 10 + Math.floor(r() * 15));
      for (let i = 0; i < count; i++) add((t += Math.floor(r() * 30 * HOUR) + 60_000));
      break;
    }
    case 4: {
      // the night of a daylight-saving change, then days after
      const year = 2015 + Math.floor(r() * 11);
      const night = lastSunday(year, pick([2, 9])) - 3 * HOUR;
      t = night;
      for (let i = 0; i < count; i++) add((t += i < 12 ? Math.floor(r() * 50 * 60_000) + 60_000 : Math.floor(r() * 2 * DAY)));
      break;
    }
    default: // sparse, over years
      t = Date.UTC(2012 + Math.floor(r() * 5), Math.floor(r() * 12), 1);
      for (let i = 0; i < count; i++) add((t += Math.floor(r() * 200 * DAY)));
  }
  return out.sort((a, b) => a - b);
}

const POLICIES: { flags: string[]; policy: Policy }[] = [
  { flags: ["--keep-daily", "7", "--keep-weekly", "4", "--keep-monthly", "12", "--keep-yearly", "2"], policy: { daily: 7, weekly: 4, monthly: 12, yearly: 2 } },
  { flags: ["--keep-last", "2", "--keep-hourly", "6", "--keep-daily", "3", "--keep-within", "2d5h"], policy: { last: 2, hourly: 6, daily: 3, within: parseWithin("2d5h") } },
  { flags: ["--keep-weekly", "3", "--keep-monthly", "2", "--keep-yearly", "5", "--keep-within", "1y2m"], policy: { weekly: 3, monthly: 2, yearly: 5, within: parseWithin("1y2m") } },
  { flags: ["--keep-hourly", "30", "--keep-within", "10h"], policy: { hourly: 30, within: parseWithin("10h") } },
];

before(async () => {
  dir = await tempDir("cairn-restic-");
  repo = join(dir.dir, "repo");
  restic(repo, ["init", "--repository-version", "1"]);
  const file = join(dir.dir, "f");
  writeFileSync(file, "a tiny file\n");
  // restic's own snapshots at chosen times: one inside Berlin's spring-forward gap, one in the repeated autumn hour.
  for (const time of ["2026-03-29 01:30:00", "2026-03-29 02:30:00", "2026-03-29 03:30:00", "2025-10-26 02:30:00", "2025-12-31 23:30:00"]) {
    restic(repo, ["backup", "-q", "--time", time, "--host", "t-restic", file], { TZ: "Europe/Berlin" });
  }
  const first = JSON.parse(restic(repo, ["snapshots", "--json"]))[0];
  tree = first.tree;
  paths = first.paths;
});
after(() => dir.cleanup());

/** restic's keep set per host, for one policy. */
function resticKeeps(flags: string[], tz: string): Map<string, Set<string>> {
  const groups = JSON.parse(restic(repo, ["forget", "--dry-run", "--json", "--group-by", "host", ...flags], { TZ: tz }));
  const out = new Map<string, Set<string>>();
  for (const g of groups) out.set(g.host ?? g.group_key?.hostname, new Set((g.keep ?? []).map((s: { id: string }) => s.id)));
  return out;
}

for (const tz of ["Europe/Berlin", "UTC"]) {
  test(`restic forget and cairn keep the same snapshots: ${TIMELINES} timelines, ${POLICIES.length} policies, TZ=${tz}`, () => {
    const saved = process.env.TZ;
    process.env.TZ = tz;
    try {
      // Fresh generated snapshots, their times written with this zone's offsets as restic backup --time would.
      const real = new Set(JSON.parse(restic(repo, ["snapshots", "--json", "--host", "t-restic"])).map((s: { id: string }) => s.id));
      for (const f of readdirSync(join(repo, "snapshots"))) if (!real.has(f)) rmSync(join(repo, "snapshots", f));
      const key = masterKey(repo);
      const r = rng(14);
      const timelines = new Map<string, { id: string; time: Date }[]>();
      let count = 0;
      for (let n = 0; n < TIMELINES; n++) {
        const host = `t${n}`;
        timelines.set(
          host,
          timeline(r, n).map((ms) => {
            count++;
            return { id: writeSnapshot(repo, key, { time: goTime(ms), tree, paths, hostname: host, username: "root", uid: 0, gid: 0 }), time: new Date(ms) };
          }),
        );
      }
      // restic's own snapshots: only in the zone they were made in (restic keeps each snapshot's zone offset).
      if (tz === "Europe/Berlin") {
        timelines.set("t-restic", JSON.parse(restic(repo, ["snapshots", "--json", "--host", "t-restic"])).map((s: { id: string; time: string }) => ({ id: s.id, time: new Date(s.time) })));
      }
      const mismatches: string[] = [];
      for (const { flags, policy } of POLICIES) {
        const theirs = resticKeeps(flags, tz);
        for (const [host, snaps] of timelines) {
          const ours = applyPolicy(snaps, policy, { keepOldest, now: new Date(NOW) });
          const kept = new Set(ours.filter((d) => d.keep).map((d) => d.id));
          const want = theirs.get(host) ?? new Set();
          const diff = [...snaps].filter((s) => kept.has(s.id) !== want.has(s.id));
          if (diff.length) {
            mismatches.push(
              `${flags.join(" ")} ${host}: ` + diff.map((s) => `${goTime(s.time.getTime())} cairn ${kept.has(s.id) ? "keeps" : "removes"}, restic ${want.has(s.id) ? "keeps" : "removes"}`).join("; "),
            );
          }
        }
      }
      assert.ok(count >= TIMELINES, `${count} snapshots`);
      assert.deepEqual(mismatches.slice(0, 10), [], `${mismatches.length} of ${timelines.size * POLICIES.length} timeline-policy pairs differ (restic ${version.join(".")})`);
    } finally {
      if (saved === undefined) delete process.env.TZ;
      else process.env.TZ = saved;
    }
  });
}
