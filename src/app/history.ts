// Settings history in the app layer: the bytes a backup reads of the files of
// `history: true` sources are kept as the engine reads them (no second read
// from the server), recorded after the snapshot is saved (history/record.ts),
// and read back for `cairn history`. Settings are small: a file is kept up to
// the size the history records as text; a larger one only by its digest.
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Config, SourceConfig } from "../config/config.ts";
import { settingsHistoryKey, type RepoKeys } from "../engine/crypto/keys.ts";
import type { NewSnapshot } from "../engine/snapshot/snapshot.ts";
import { CairnError, errorMessage, UsageError } from "../errors.ts";
import { parseRemote } from "../history/git.ts";
import { readLog, type HistoryCommit } from "../history/log.ts";
import { recordSettings } from "../history/record.ts";
import { MAX_TEXT_BYTES, NO_RULES, type RedactRules } from "../history/redact/redact.ts";
import type { Logger } from "../log.ts";
import type { Source, SourceEntry } from "../sources/source.ts";
import { requireConfig, type Settings } from "./settings.ts";

/** What the settings history did in one backup: the backup report's `history` field (the Action's outputs and summary come from it). */
export interface HistoryOutcome {
  /** A history commit was made: some settings file changed. */
  changed: boolean;
  /** What that commit changed, by path in the history tree: <host>/<source>/<path on the server>. */
  files: Array<{ path: string; change: "added" | "removed" | "changed" }>;
  /** The history commit, when one was made. */
  commit?: string;
  /** The pull request's URL, when one was opened or updated. */
  pullRequest?: string;
}

type FilesSourceConfig = Extract<SourceConfig, { kind: "files" }>;

/** The `files` sources marked `history: true`, when cairn.yml has `history:`. */
export function historySources(config: Config): FilesSourceConfig[] {
  if (!config.history) return [];
  return config.sources.filter((s): s is FilesSourceConfig => s.kind === "files" && s.history === true);
}

/** A source's redaction rules, from cairn.yml (patterns per line, as cairn.yml's check compiles them). */
export function rulesOf(s: FilesSourceConfig | undefined): RedactRules {
  if (!s) return NO_RULES;
  return { secretFiles: s["secret-files"] ?? [], redact: (s.redact ?? []).map((r) => new RegExp(r, "m")), mask: (s.mask ?? []).map((r) => new RegExp(r, "m")) };
}

/**
 * What the history is given for a file of `total` bytes: the file itself,
 * or, past the size it records as text, its first bytes and its SHA-256 (so
 * it is recorded by fingerprint only, and the fingerprint still changes with
 * any byte of the file).
 */
function historyContent(head: Buffer, total: number, digest: () => Buffer): Buffer {
  return total <= MAX_TEXT_BYTES ? head : Buffer.concat([head.subarray(0, MAX_TEXT_BYTES), digest()]);
}

/** The path on the server of a files source's entry (<source>/<path>). */
export function serverPath(source: string, entryPath: string): string {
  return "/" + entryPath.slice(source.length + 1);
}

/** Keeps, per history source, the bytes the backup read of each file it stored. */
export class SettingsCapture {
  readonly files = new Map<string, Map<string, Buffer>>();
  readonly sources: FilesSourceConfig[];

  constructor(sources: FilesSourceConfig[]) {
    this.sources = sources;
    for (const s of sources) this.files.set(s.name, new Map());
  }

  /** `sources`, with those of the history wrapped so their files are kept as they are read. */
  wrap(sources: Source[]): Source[] {
    return sources.map((s) => {
      const kept = this.files.get(s.name);
      if (!kept) return s;
      return {
        name: s.name,
        kind: s.kind,
        dump: (transport, log) => {
          const d = s.dump(transport, log);
          return {
            entries: (async function* () {
              for await (const e of d.entries) yield keeping(e, kept);
            })(),
            info: () => d.info(),
          };
        },
      } satisfies Source;
    });
  }
}

/** The entry, whose every complete read is kept (a read again after a change replaces the last). */
function keeping(e: SourceEntry, kept: Map<string, Buffer>): SourceEntry {
  return {
    ...e,
    open: async function* () {
      const head: Buffer[] = [];
      const sha = createHash("sha256");
      let total = 0;
      let headBytes = 0;
      for await (const c of e.open()) {
        sha.update(c);
        total += c.length;
        if (headBytes <= MAX_TEXT_BYTES) {
          const part = c.subarray(0, MAX_TEXT_BYTES + 1 - headBytes);
          head.push(Buffer.from(part));
          headBytes += part.length;
        }
        yield c;
      }
      kept.set(e.path, historyContent(Buffer.concat(head), total, () => sha.digest()));
    },
  };
}

/** What record() returns: the outcome when the history was recorded, and the error the run ends with, if any. */
export interface Recorded {
  outcome?: HistoryOutcome;
  error?: CairnError;
}

/**
 * Record the captured files in the settings history after the snapshot
 * `id` was saved. Never throws for a history failure (the snapshot is saved
 * whatever happens here): the error comes back for the front end to show
 * after the report, naming the snapshot; only cancellation throws.
 */
export async function recordHistory(
  settings: Settings,
  capture: SettingsCapture,
  saved: { id: string; snapshot: NewSnapshot; keys: RepoKeys },
  req: { log: Logger; signal?: AbortSignal },
): Promise<Recorded> {
  const config = requireConfig(settings);
  const h = config.history!;
  const { id, snapshot } = saved;
  const unread = snapshot.incomplete ?? [];
  const sources = [];
  for (const s of capture.sources) {
    const files = [...capture.files.get(s.name)!].map(([path, content]) => ({ path: serverPath(s.name, path), content }));
    const notRead = unread.filter((u) => u.source === s.name).map((u) => u.path);
    // Nothing read at all: a source that matched nothing this time is not recorded as deleted.
    if (files.length === 0 && notRead.length > 0) {
      req.log.warn(`settings history: ${s.name} is not recorded this time: none of its files could be read`);
      continue;
    }
    sources.push({ name: s.name, files, unread: notRead, rules: rulesOf(s) });
  }
  if (sources.length === 0) return { outcome: { changed: false, files: [] } };
  const failed = (err: unknown, committed?: string): CairnError => {
    const where = committed ? `and the settings history commit ${committed.slice(0, 12)} is on ${h.branch}, but` : ", but the settings history was not recorded:";
    const why = (err instanceof Error ? err.message : errorMessage(err)).replace(/^settings history: /, "");
    const message = `snapshot ${id.slice(0, 8)} was saved${committed ? " " : ""}${where} ${why}`;
    return err instanceof CairnError ? new CairnError(message, err.exitCode, err.hint, { cause: err }) : new CairnError(message, undefined, "this is a bug; please report it with --debug's output", { cause: err });
  };
  let workDir: string | undefined;
  try {
    workDir = await mkdtemp(join(tmpdir(), "cairn-history-"));
    const r = await recordSettings({
      history: { repository: h.repository, branch: h.branch, base: h.base, pullRequest: h["pull-request"] },
      host: snapshot.host,
      snapshot: id,
      time: new Date(snapshot.time),
      sources,
      fingerprintKey: settingsHistoryKey(saved.keys),
      github: settings.github,
      workDir,
      log: req.log,
      signal: req.signal,
    });
    const outcome: HistoryOutcome = {
      changed: r.changed,
      files: r.files.map((f) => ({ path: f.path, change: f.status === "deleted" ? "removed" : f.status === "modified" ? "changed" : "added" })),
      ...(r.commit ? { commit: r.commit } : {}),
      ...(r.pullRequest ? { pullRequest: r.pullRequest.url } : {}),
    };
    return { outcome, error: r.pullRequestError ? failed(r.pullRequestError, r.commit) : undefined };
  } catch (err) {
    if (req.signal?.aborted) throw err;
    return { error: failed(err) };
  } finally {
    if (workDir) await rm(workDir, { recursive: true, force: true });
  }
}

export interface HistoryRequest {
  /** Only changes to this source's files. */
  source?: string;
  signal?: AbortSignal;
}

export interface HistoryReport {
  /** history.repository and history.branch of cairn.yml. */
  repository: string;
  branch: string;
  /** Newest first. */
  changes: HistoryCommit[];
}

/** `cairn history`: the settings history's commits, read from the history branch. */
export async function history(settings: Settings, req: HistoryRequest = {}): Promise<HistoryReport> {
  const config = requireConfig(settings);
  if (!config.history) throw new UsageError("cairn.yml has no history: setting, so there is no settings history", "add history: { repository: github:OWNER/REPO } and history: true to a files source (see the README's Settings history)");
  const workDir = await mkdtemp(join(tmpdir(), "cairn-history-"));
  try {
    const changes = await readLog({ remote: parseRemote(config.history.repository, settings.github), branch: config.history.branch, source: req.source, workDir, signal: req.signal });
    return { repository: config.history.repository, branch: config.history.branch, changes };
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}
