// The retention policy: which snapshots of one group to keep, and why.
// Exactly restic's `forget` (internal/restic/snapshot_policy.go): newest
// first, each --keep-* counter walks calendar buckets (hour, day, ISO week,
// month, year) in the local time zone and keeps the newest snapshot of each
// bucket until its count is used up; counters are independent and OR-ed;
// --keep-within counts back from the latest snapshot (not from now); the
// oldest snapshot is kept while a counter has counts left (restic >= 0.16);
// an empty policy keeps everything. A pure function: no repository here.

export interface Policy {
  last?: number;
  hourly?: number;
  daily?: number;
  weekly?: number;
  monthly?: number;
  yearly?: number;
  /** Keep every snapshot newer than this before the latest one. */
  within?: Within;
}

/** A calendar duration as restic's: years, months, days, hours ("1y6m7d2h"). */
export interface Within {
  years: number;
  months: number;
  days: number;
  hours: number;
  /** As given, for reasons ("within 30d"). */
  text: string;
}

export interface Decision {
  id: string;
  time: Date;
  keep: boolean;
  /** Why it is kept, e.g. "daily #3", "weekly #1", "within 30d", "oldest monthly #2"; empty when removed. */
  reasons: string[];
}

export interface PolicyOptions {
  /** Latest snapshot times in the future are ignored (as restic); default the current time. */
  now?: Date;
  /** Keep the oldest snapshot while a counter has counts left (restic 0.16 on); false is restic 0.14's rule. */
  keepOldest?: boolean;
}

const COUNTERS = ["last", "hourly", "daily", "weekly", "monthly", "yearly"] as const;
export type Counter = (typeof COUNTERS)[number];

export function isEmptyPolicy(p: Policy): boolean {
  return COUNTERS.every((c) => !p[c]) && !hasWithin(p);
}

/** A zero duration is no --keep-within at all (as restic's). */
function hasWithin(p: Policy): boolean {
  const w = p.within;
  return !!w && w.years + w.months + w.days + w.hours > 0;
}

/** "keep 7 daily, 4 weekly snapshots and all within 30d of the latest". */
export function describePolicy(p: Policy): string {
  if (isEmptyPolicy(p)) return "empty policy: keep everything";
  const counts = COUNTERS.filter((c) => p[c]).map((c) => `${p[c]} ${c === "last" ? "latest" : c}`);
  const parts = counts.length ? [`${counts.join(", ")} snapshot(s)`] : [];
  if (hasWithin(p)) parts.push(`all within ${p.within!.text} of the latest`);
  return `keep ${parts.join(" and ")}`;
}

/** Parse restic's duration form: "30d", "1y6m", "2w" is not one (restic has none); "h" hours, "m" months. */
export function parseWithin(text: string): Within | undefined {
  const m = /^(?:(\d+)y)?(?:(\d+)m)?(?:(\d+)d)?(?:(\d+)h)?$/.exec(text.trim());
  if (!m || text.trim() === "") return undefined;
  const [years, months, days, hours] = m.slice(1).map((v) => Number(v ?? 0));
  return { years, months, days, hours, text: text.trim() };
}

/** Local calendar fields of an instant (the process's time zone, as restic's time.Local). */
function bucket(counter: Counter, t: Date, nr: number): number {
  const y = t.getFullYear();
  const mo = t.getMonth() + 1;
  const d = t.getDate();
  switch (counter) {
    case "last":
      return nr;
    case "hourly":
      return y * 1_000_000 + mo * 10_000 + d * 100 + t.getHours();
    case "daily":
      return y * 10_000 + mo * 100 + d;
    case "weekly": {
      const [wy, w] = isoWeek(y, mo, d);
      return wy * 100 + w;
    }
    case "monthly":
      return y * 100 + mo;
    case "yearly":
      return y;
  }
}

/** ISO 8601 week-numbering year and week of a calendar date. */
export function isoWeek(y: number, mo: number, d: number): [number, number] {
  const day = new Date(Date.UTC(y, mo - 1, d));
  const weekday = (day.getUTCDay() + 6) % 7; // Monday 0
  // The Thursday of this week decides the year.
  const thursday = new Date(day.getTime() + (3 - weekday) * 86_400_000);
  const year = thursday.getUTCFullYear();
  const jan1 = Date.UTC(year, 0, 1);
  return [year, Math.floor((thursday.getTime() - jan1) / 86_400_000 / 7) + 1];
}

/** The process's UTC offset at an instant, in ms. */
function offsetAt(ms: number): number {
  return -new Date(ms).getTimezoneOffset() * 60_000;
}

/**
 * latest minus a calendar duration, as Go's t.AddDate(-y, -m, -d).Add(-h):
 * the date part on the local wall clock (normalised: 31 March minus a month
 * is 3 March), a wall time that a daylight-saving change skips or repeats
 * resolved as Go's time.Date does, then the hours as elapsed time.
 */
export function withinStart(latest: Date, w: Within): number {
  const wall = Date.UTC(
    latest.getFullYear() - w.years,
    latest.getMonth() - w.months,
    latest.getDate() - w.days,
    latest.getHours(),
    latest.getMinutes(),
    latest.getSeconds(),
    latest.getMilliseconds(),
  );
  let offset = offsetAt(wall);
  const utc = wall - offset;
  if (offsetAt(utc) !== offset) offset = offsetAt(utc);
  return wall - offset - w.hours * 3_600_000;
}

/**
 * Decide for one group of snapshots. The result is newest first. Snapshots of
 * equal time keep their given order (a stable sort, as restic's).
 */
export function applyPolicy(snapshots: { id: string; time: Date }[], p: Policy, opts: PolicyOptions = {}): Decision[] {
  const list = snapshots.map((s, i) => ({ ...s, i })).sort((a, b) => b.time.getTime() - a.time.getTime() || a.i - b.i);
  if (isEmptyPolicy(p)) return list.map((s) => ({ id: s.id, time: s.time, keep: true, reasons: ["empty policy"] }));
  if (list.length === 0) return [];
  const keepOldest = opts.keepOldest ?? true;
  const now = (opts.now ?? new Date()).getTime();
  // The latest snapshot not in the future.
  let latest = 0;
  for (const s of list) if (s.time.getTime() > latest && s.time.getTime() < now) latest = s.time.getTime();
  const since = hasWithin(p) ? withinStart(new Date(latest), p.within!) : 0;
  const buckets = COUNTERS.filter((c) => (p[c] ?? 0) > 0).map((c) => ({ counter: c, left: p[c]!, last: -1, used: 0 }));
  return list.map((s, nr) => {
    const reasons: string[] = [];
    if (hasWithin(p) && s.time.getTime() > since) reasons.push(`within ${p.within!.text}`);
    const oldest = nr === list.length - 1;
    for (const b of buckets) {
      if (b.left === 0) continue;
      const v = bucket(b.counter, s.time, nr);
      if (v !== b.last || (keepOldest && oldest)) {
        b.used++;
        b.left--;
        reasons.push(`${v === b.last ? "oldest " : ""}${b.counter} #${b.used}`);
        b.last = v;
      }
    }
    return { id: s.id, time: s.time, keep: reasons.length > 0, reasons };
  });
}
