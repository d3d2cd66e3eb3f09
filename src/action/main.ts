// The GitHub Action: inputs -> settings -> the app layer's operations ->
// outputs, job summary and annotations. This is the one place that turns the
// Action's failures into what the run shows: an ::error annotation with what
// to do, the failure in the job summary, and a non-zero exit (a red run).
import * as core from "@actions/core";
import { backupEach, backupError, failedError, incompleteError, type RepositoryResult } from "../app/backup.ts";
import { download } from "../app/download.ts";
import { init } from "../app/init.ts";
import { forget } from "../app/forget.ts";
import { restore, restoreToServer } from "../app/restore.ts";
import type { Settings } from "../app/settings.ts";
import { snapshots } from "../app/snapshots.ts";
import { verify } from "../app/verify.ts";
import { CairnError, CancelledError, errorMessage, ExitCode, fromSystemError, isSystemError, UsageError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { readInputs, scrub, type ActionInputs } from "./inputs.ts";
import { backupSummary, escape, failureSection, formatBytes, shownUrl, snapshotsTable } from "./summary.ts";

const log: Logger = { info: (m) => core.info(scrub(m)), warn: (m) => core.warning(scrub(m)) };

// The runner cancels a step with SIGINT (then SIGTERM): stop, release the lock, remove temp files.
const cancel = new AbortController();
for (const name of ["SIGINT", "SIGTERM"] as const) {
  process.on(name, () => {
    if (cancel.signal.aborted) process.exit(ExitCode.cancelled);
    core.info(`${name}: stopping; removing the lock and temporary files`);
    cancel.abort(new CancelledError(name));
  });
}

interface Failure {
  what: string;
  error: CairnError;
}

/** What a command ends with: its failures (each an annotation) and, when it is not the first failure's, the exit code. */
interface Outcome {
  failures: Failure[];
  exitCode?: number;
}

/** Any thrown value as a CairnError with a hint (an unexpected one said as a bug). */
function failure(err: unknown): CairnError {
  if (cancel.signal.aborted) return cancel.signal.reason instanceof CairnError ? cancel.signal.reason : new CairnError("cancelled", ExitCode.cancelled);
  if (err instanceof CairnError) return err;
  if (isSystemError(err)) return fromSystemError(err);
  return new CairnError(`unexpected error: ${errorMessage(err)}`, ExitCode.runtime, "this is a bug, please report it with the step's log (with ACTIONS_STEP_DEBUG for more)");
}

function setOutput(name: string, value: string | number): void {
  core.setOutput(name, scrub(String(value)));
}

/** The repositories output: each repository with its result. */
function repositoriesOutput(rows: { repository: string; result: string; snapshot?: string; error?: string }[]): void {
  setOutput("repositories", JSON.stringify(rows.map((r) => ({ ...r, repository: shownUrl(r.repository) }))));
}

function onRepository(settings: Settings, url: string): Settings {
  return { ...settings, repository: url, repositories: [url] };
}

async function lastSnapshots(settings: Settings, url: string): Promise<void> {
  try {
    snapshotsTable((await snapshots(onRepository(settings, url), { signal: cancel.signal })).snapshots, url);
  } catch (err) {
    log.warn(`could not list the snapshots in ${shownUrl(url)}: ${failure(err).message}`);
  }
}

async function runBackup(a: ActionInputs, started: number): Promise<Outcome> {
  let results: RepositoryResult[];
  try {
    results = await backupEach(a.settings, { full: a.full, log, signal: cancel.signal });
  } catch (err) {
    // One repository: its failure comes as it is; shown like any repository's.
    if (cancel.signal.aborted) throw err;
    const e = failure(err);
    results = [{ repository: a.settings.repository ?? "", error: { message: e.message, hint: e.hint, exitCode: e.exitCode } }];
  }
  const failures: Failure[] = [];
  const resultOf = (r: RepositoryResult): string => {
    if (!r.report) return `failed: ${r.error!.message}`;
    return incompleteError(r.report) ? "saved, incomplete" : "saved";
  };
  for (const r of results) {
    const what = `backup into ${shownUrl(r.repository) || "the repository"}`;
    if (r.error) failures.push({ what, error: new CairnError(r.error.message, r.error.exitCode, r.error.hint) });
    else {
      const err = backupError(r.report!);
      if (err) failures.push({ what, error: err });
      core.info(`${shownUrl(r.repository)}: snapshot ${r.report!.id} saved, ${formatBytes(r.report!.snapshot.stats.storedBytes)} stored`);
    }
  }
  const first = results.find((r) => r.report)?.report;
  if (first) {
    setOutput("snapshot-id", first.id);
    setOutput("bytes-added", first.snapshot.stats.newBytes);
    setOutput("bytes-stored", first.snapshot.stats.storedBytes);
    if (first.history) {
      setOutput("settings-changed", String(first.history.changed));
      if (first.history.pullRequest) setOutput("pull-request", first.history.pullRequest);
    }
  }
  repositoriesOutput(results.map((r) => ({ repository: r.repository, result: r.report ? (incompleteError(r.report) ? "incomplete" : "ok") : "failed", snapshot: r.report?.id, error: r.error?.message })));
  backupSummary(results, resultOf, Date.now() - started);
  const saved = results.find((r) => r.report);
  if (saved) await lastSnapshots(a.settings, saved.repository);
  // Some repositories failed: the run ends with the CLI's code for that (partial: 5), each failure an annotation.
  return { failures, exitCode: failedError(results)?.exitCode };
}

async function runRestore(a: ActionInputs): Promise<Outcome> {
  const url = a.settings.repository ?? "";
  const s = core.summary;
  if (a.toServer) {
    // Onto the server: a dry run needs only the write key; the real one the identity (from a protected environment).
    const r = await restoreToServer(a.settings, { snapshot: a.snapshot, source: a.source, dryRun: a.dryRun, replace: a.replace, log, signal: cancel.signal });
    setOutput("snapshot-id", r.snapshot);
    s.addHeading(`cairn restore onto ${escape(r.server)}: snapshot ${r.snapshot.slice(0, 8)}${r.dryRun ? " (dry run: nothing changed)" : ""}`, 2);
    for (const src of r.sources) {
      const what = r.dryRun ? src.steps : [`wrote ${src.written.join(", ")}`, src.kept.length ? `previous version kept: ${src.kept.join(", ")}` : "there was no previous version"];
      s.addRaw(`<p>Source <code>${escape(src.source)}</code> (${escape(src.kind)}):</p>`, true).addList(what.map((w) => escape(scrub(w))));
    }
    for (const k of r.skipped) s.addRaw(`<p>Source <code>${escape(k.source)}</code> left out: ${escape(scrub(k.reason))}</p>`, true);
    repositoriesOutput([{ repository: url, result: "ok" }]);
    return { failures: [] };
  }
  if (a.settings.identity) {
    const r = await restore(a.settings, { snapshot: a.snapshot, target: a.target, source: a.source, signal: cancel.signal });
    setOutput("snapshot-id", r.snapshot);
    setOutput("restore-path", r.target);
    s.addHeading(`cairn restore: snapshot ${r.snapshot.slice(0, 8)}`, 2);
    s.addRaw(`<p>Restored ${r.files} file(s), ${formatBytes(r.bytes)}${a.source ? ` of source ${escape(a.source)}` : ""} to <code>${escape(r.target)}</code> from <code>${escape(shownUrl(url))}</code>.</p>`, true);
  } else {
    const r = await download(a.settings, { snapshot: a.snapshot, target: a.target, signal: cancel.signal });
    setOutput("snapshot-id", r.snapshot);
    setOutput("restore-path", r.target);
    s.addHeading(`cairn restore: the encrypted files of snapshot ${r.snapshot.slice(0, 8)}`, 2);
    s.addRaw(
      `<p>No identity was given, so nothing was decrypted: the ${r.files} encrypted files (${formatBytes(r.bytes)}) snapshot <code>${r.snapshot}</code> needs ` +
        `were written to <code>${escape(r.target)}</code>, a repository of their own. Download the run's artifact into <code>./downloaded</code> and restore on your machine:</p>`,
      true,
    );
    s.addCodeBlock(`npx cairn restore ${r.snapshot.slice(0, 8)} -r local:./downloaded -i key.txt --target ./restored${a.source ? ` --source ${a.source}` : ""}`, "sh");
  }
  repositoriesOutput([{ repository: url, result: "ok" }]);
  await lastSnapshots(a.settings, url);
  return { failures: [] };
}

async function runVerify(a: ActionInputs): Promise<Outcome> {
  const failures: Failure[] = [];
  const rows: { repository: string; result: string; error?: string }[] = [];
  const s = core.summary;
  s.addHeading(`cairn verify${a.settings.identity ? ": every byte decrypted and checked" : ": structure and checksums"}`, 2);
  const table = [[{ data: "Repository", header: true }, { data: "Snapshots", header: true }, { data: "Packs", header: true }, { data: "Result", header: true }]];
  for (const url of a.settings.repositories) {
    try {
      const r = await verify(onRepository(a.settings, url), { readData: a.readData.percent, subset: a.readData.subset, maxAge: a.maxAge, signal: cancel.signal });
      cancel.signal.throwIfAborted();
      for (const n of r.notes) core.notice(scrub(n));
      for (const e of r.errors) core.error(scrub(e), { title: `cairn verify: ${shownUrl(url)}` });
      const ok = r.errors.length === 0;
      rows.push({ repository: url, result: ok ? "ok" : "damaged", error: ok ? undefined : `${r.errors.length} problem(s)` });
      table.push([`<code>${escape(shownUrl(url))}</code>`, String(r.snapshots), `${r.packs} (${r.packsRead} read)`, ok ? "no problems found" : escape(`${r.errors.length} problem(s): ${r.errors.slice(0, 5).join("; ")}`)].map((d) => ({ data: d, header: false })));
      if (!ok) failures.push({ what: `verify ${shownUrl(url)}`, error: new CairnError(`verify found ${r.errors.length} problem(s)`, ExitCode.integrity, "restore from another repository or an earlier snapshot; see the errors above") });
    } catch (err) {
      const e = failure(err);
      rows.push({ repository: url, result: "failed", error: e.message });
      table.push([`<code>${escape(shownUrl(url))}</code>`, "-", "-", escape(`failed: ${e.message}`)].map((d) => ({ data: d, header: false })));
      failures.push({ what: `verify ${shownUrl(url)}`, error: e });
    }
  }
  s.addTable(table);
  repositoriesOutput(rows);
  if (a.settings.repositories[0]) await lastSnapshots(a.settings, a.settings.repositories[0]);
  return { failures };
}

/** Forget by cairn.yml's retention: policy in every repository, and prune when it says so. */
async function runForget(a: ActionInputs): Promise<Outcome> {
  const failures: Failure[] = [];
  const rows: { repository: string; result: string; error?: string }[] = [];
  core.summary.addHeading("cairn forget", 2);
  if (!a.settings.config?.retention) {
    throw new UsageError("command forget needs a retention: policy in cairn.yml", "e.g. retention: { keep-daily: 7, keep-weekly: 4, keep-monthly: 12, keep-yearly: 2, prune: true }");
  }
  for (const url of a.settings.repositories) {
    try {
      const r = await forget(onRepository(a.settings, url), { signal: cancel.signal });
      const kept = r.groups.reduce((n, g) => n + g.snapshots.filter((s) => s.keep).length, 0);
      const freed = r.prune ? `; pruned: ${formatBytes(r.prune.bytesFreed)} freed` : "";
      core.info(`${shownUrl(url)}: ${r.policy}: kept ${kept}, removed ${r.removed.length} snapshot(s)${freed}`);
      core.summary.addRaw(`<p><code>${escape(shownUrl(url))}</code>: ${escape(r.policy)}: kept ${kept}, removed ${r.removed.length} snapshot(s)${escape(freed)}.</p>`, true);
      rows.push({ repository: url, result: "ok" });
    } catch (err) {
      const e = failure(err);
      rows.push({ repository: url, result: "failed", error: e.message });
      failures.push({ what: `forget in ${shownUrl(url)}`, error: e });
    }
  }
  repositoriesOutput(rows);
  if (a.settings.repositories[0]) await lastSnapshots(a.settings, a.settings.repositories[0]);
  return { failures };
}

async function runSnapshots(a: ActionInputs): Promise<Outcome> {
  core.summary.addHeading("cairn snapshots", 2);
  const failures: Failure[] = [];
  const rows: { repository: string; result: string; snapshot?: string; error?: string }[] = [];
  for (const url of a.settings.repositories) {
    try {
      // latest, as restore means it: never a snapshot dated in the future (one the write key could plant).
      const { snapshots: all, latest } = await snapshots(onRepository(a.settings, url), { signal: cancel.signal });
      if (rows.length === 0 && latest) setOutput("snapshot-id", latest);
      rows.push({ repository: url, result: "ok", snapshot: latest });
      snapshotsTable(all, url);
      for (const { id, snapshot } of all.slice(-10)) core.info(`${id.slice(0, 8)}  ${snapshot.time}  ${snapshot.full ? "full" : "incremental"}  ${formatBytes(snapshot.stats.bytes)}`);
    } catch (err) {
      const e = failure(err);
      rows.push({ repository: url, result: "failed", error: e.message });
      failures.push({ what: `list the snapshots in ${shownUrl(url)}`, error: e });
    }
  }
  repositoriesOutput(rows);
  return { failures };
}

async function runInit(a: ActionInputs): Promise<Outcome> {
  core.summary.addHeading("cairn init", 2);
  const failures: Failure[] = [];
  const rows: { repository: string; result: string; error?: string }[] = [];
  for (const url of a.settings.repositories) {
    try {
      const r = await init(onRepository(a.settings, url), { recipients: a.recipients, existingWriteKey: true, signal: cancel.signal });
      rows.push({ repository: url, result: "created" });
      core.info(`created repository ${r.id} at ${shownUrl(url)} for ${r.recipients.length} recipient(s), with the write key given`);
      core.summary.addRaw(`<p>Created repository <code>${r.id}</code> at <code>${escape(shownUrl(url))}</code> for ${r.recipients.length} recipient(s), with the write key you gave.</p>`, true);
    } catch (err) {
      const e = failure(err);
      rows.push({ repository: url, result: "failed", error: e.message });
      failures.push({ what: `create a repository at ${shownUrl(url)}`, error: e });
    }
  }
  repositoriesOutput(rows);
  return { failures };
}

async function run(): Promise<number> {
  const started = Date.now();
  let failures: Failure[];
  let exitCode: number | undefined;
  let command = "the step";
  try {
    const a = await readInputs(process.env);
    command = a.command;
    if (a.settings.repositories.length === 0) {
      throw new CairnError("no repository given", ExitCode.usage, "give the repository input (one URL per line) or repository: in cairn.yml");
    }
    const handlers = { backup: () => runBackup(a, started), restore: () => runRestore(a), verify: () => runVerify(a), snapshots: () => runSnapshots(a), forget: () => runForget(a), init: () => runInit(a) };
    ({ failures, exitCode } = await handlers[a.command]());
  } catch (err) {
    failures = [{ what: command === "the step" ? "the step's inputs" : `cairn ${command}`, error: failure(err) }];
  }
  for (const f of failures) {
    const { message, hint } = f.error;
    core.error(scrub(`${message}${hint ? `\nWhat to do: ${hint}` : ""}`), { title: scrub(`cairn: ${f.what}`) });
  }
  if (failures.length > 0) failureSection(failures.map((f) => ({ what: scrub(f.what), message: scrub(f.error.message), hint: f.error.hint && scrub(f.error.hint) })));
  try {
    // Outside a runner (no summary file) this fails, and says so as a warning.
    const text = scrub(core.summary.stringify());
    await core.summary.emptyBuffer().addRaw(text).write();
  } catch (err) {
    core.warning(`could not write the job summary: ${scrub(errorMessage(err))}`);
  }
  if (failures.length === 0) return ExitCode.ok;
  // Otherwise the first failure's code (a usage error before a runtime error, as they came).
  return exitCode || failures[0].error.exitCode || ExitCode.runtime;
}

process.on("unhandledRejection", (err) => {
  if (cancel.signal.aborted) return;
  core.error(scrub(failure(err).message));
  process.exit(ExitCode.runtime);
});
const code = await run();
if (code === ExitCode.cancelled) process.exit(code);
process.exitCode = code;
