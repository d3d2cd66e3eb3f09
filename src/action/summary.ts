// The job summary (core.summary, Markdown and HTML in GITHUB_STEP_SUMMARY):
// what a person reads after a run. Every text from outside (paths, messages,
// URLs) is escaped; repository URLs lose any user:password part.
import * as core from "@actions/core";
import type { BackupReport, RepositoryResult } from "../app/backup.ts";
import type { snapshots } from "../app/snapshots.ts";
import { formatBytes } from "../app/format.ts";

type Row = Parameters<typeof core.summary.addTable>[0][number];
type Listed = Awaited<ReturnType<typeof snapshots>>["snapshots"][number];

/** When a snapshot's files expire (artifacts: repositories); undefined where they do not. */
function expiresOf(x: object): Date | undefined {
  const e = (x as { expires?: unknown }).expires;
  return e instanceof Date ? e : undefined;
}

function day(d: Date): string {
  return d.toISOString().slice(0, 16).replace("T", " ") + "Z";
}

export { formatBytes };

export function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/\|/g, "&#124;");
}

/** A repository URL as shown: a password or token in it (https://user:token@host) never is. */
export function shownUrl(url: string): string {
  return url.replace(/\/\/[^/@\s]*@/, "//***@");
}

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms < 600_000 ? `${Math.round(ms / 1000)} s` : `${(ms / 60_000).toFixed(1)} min`;
}

/** Data read ÷ new data: how many times over deduplication saved storing it ("∞" when nothing was new). */
export function dedupRatio(read: number, added: number): string {
  if (added === 0) return read === 0 ? "-" : "all data was stored already";
  return `${(read / added).toFixed(1)}×`;
}

const th = (data: string): Row[number] => ({ data, header: true });

export function backupSummary(results: RepositoryResult[], resultOf: (r: RepositoryResult) => string, runMs: number): void {
  const s = core.summary;
  const done = results.filter((r) => r.report);
  const first = done[0]?.report;
  if (!first) {
    s.addHeading("cairn backup failed: no snapshot was saved", 2);
  } else {
    const snap = first.snapshot;
    const failed = results.length - done.length;
    s.addHeading(`cairn backup: snapshot ${first.id.slice(0, 8)}${failed ? ` (${failed} of ${results.length} repositories failed)` : ""}`, 2);
    const st = snap.stats;
    s.addRaw(
      `<p>Snapshot <code>${first.id}</code> of <b>${escape(snap.host)}</b> at ${escape(snap.time)}, ${snap.full ? "full (self-contained)" : "incremental"}` +
        `${snap.incomplete?.length ? `, <b>incomplete</b> (${snap.incomplete.length} not read)` : ""}` +
        `${expiresOf(first) ? `; it can be restored until ${day(expiresOf(first)!)}, when the first file it needs expires` : ""}.</p>`,
      true,
    );
    s.addTable([
      [th("Source"), th("Kind"), th("Files"), th("Size"), th("New data")],
      ...snap.sources.map((src) => [escape(src.name), escape(src.kind), String(src.files), formatBytes(src.size), formatBytes(first.newBytes[src.name] ?? 0)]),
      [th("Total"), "-", String(snap.sources.reduce((n, x) => n + x.files, 0)), formatBytes(st.bytes), formatBytes(st.newBytes)],
    ]);
    s.addList([
      `Data read: ${formatBytes(st.bytes)}; new data: ${formatBytes(st.newBytes)} (${st.newChunks} of ${st.chunks} chunks); stored: ${formatBytes(st.storedBytes)} compressed and encrypted`,
      `Deduplication ratio (data read ÷ new data): ${dedupRatio(st.bytes, st.newBytes)}`,
      `Duration: ${seconds(st.durationMs)} for the snapshot, ${seconds(runMs)} for the whole step`,
    ]);
    if (snap.incomplete?.length) {
      s.addHeading("Not read (the snapshot is incomplete)", 3);
      s.addList(snap.incomplete.slice(0, 20).map((u) => `${escape(u.source)}: <code>${escape(u.path)}</code>: ${escape(u.reason)}`));
    }
    const history = first.history;
    if (history) {
      s.addHeading("Settings history", 3);
      if (!history.changed) s.addRaw("<p>No settings changed since the last backup.</p>", true);
      else s.addList(history.files.map((f) => `<code>${escape(f.path)}</code> ${escape(f.change)}`));
      if (history.pullRequest) s.addRaw(`<p>Pull request: <a href="${escape(history.pullRequest)}">${escape(history.pullRequest)}</a></p>`, true);
    }
    if (first.historyError) s.addRaw(`<p>The settings history failed: ${escape(first.historyError.message)}</p>`, true);
  }
  s.addHeading("Repositories", 3);
  s.addTable([
    [th("Repository"), th("Result"), th("Snapshot"), th("Stored")],
    ...results.map((r) => [
      `<code>${escape(shownUrl(r.repository) || "(none given)")}</code>`,
      escape(resultOf(r)),
      r.report ? `<code>${r.report.id.slice(0, 8)}</code>` : "-",
      r.report ? formatBytes(r.report.snapshot.stats.storedBytes) : "-",
    ]),
  ]);
}

/** The last `n` snapshots, newest first. */
export function snapshotsTable(all: Listed[], repository: string, n = 10): void {
  const s = core.summary;
  s.addHeading(`Last ${Math.min(n, all.length)} of ${all.length} snapshots in <code>${escape(shownUrl(repository))}</code>`, 3);
  if (all.length === 0) {
    s.addRaw("<p>No snapshots yet.</p>", true);
    return;
  }
  const shown = all.slice(-n).reverse();
  const expiring = shown.some((x) => expiresOf(x));
  s.addTable([
    [th("ID"), th("Time"), th("Host"), th("Type"), th("Sources"), th("Size"), th("New data"), th("Stored"), ...(expiring ? [th("Expires")] : [])],
    ...shown.map((listed) => {
      const { id, snapshot: x } = listed;
      const expires = expiresOf(listed);
      return [
        `<code>${id.slice(0, 8)}</code>`,
        escape(x.time.replace("T", " ").replace(/\.\d+Z$/, "Z")),
        escape(x.host),
        (x.full ? "full" : "incremental") + (x.incomplete?.length ? ", incomplete" : ""),
        escape(x.sources.map((src) => src.name).join(", ")),
        formatBytes(x.stats.bytes),
        formatBytes(x.stats.newBytes),
        formatBytes(x.stats.storedBytes),
        ...(expiring ? [expires ? day(expires) : "never"] : []),
      ];
    }),
  ]);
}

/** What failed and what to do, as the last section. */
export function failureSection(failures: { what: string; message: string; hint?: string }[]): void {
  const s = core.summary;
  s.addHeading("What failed", 3);
  s.addList(failures.map((f) => `<b>${escape(f.what)}</b>: ${escape(f.message)}${f.hint ? `<br>What to do: ${escape(f.hint)}` : ""}`));
}
