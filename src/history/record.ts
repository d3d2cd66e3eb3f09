// Settings history, the one call the app layer makes after a backup saved its
// snapshot: redact the files of the sources marked `history: true`, commit
// them to the history branch when they changed, and open or update the pull
// request that shows the change. A pull request that GitHub refuses does not
// undo the commit: the report carries both, and the caller fails the run.
import { CairnError } from "../errors.ts";
import { restClient, type GitHubContext } from "../github/context.ts";
import type { Logger } from "../log.ts";
import { body, title } from "./body.ts";
import { commitHistory, type FileChange } from "./commit.ts";
import { parseRemote } from "./git.ts";
import { upsertPullRequest, type PullRequestResult } from "./pull-request.ts";
import type { FingerprintKey } from "./redact/fingerprint.ts";
import { redactFile, type RedactRules, type Recorded } from "./redact/redact.ts";
import { review } from "./review.ts";

export interface HistorySettings {
  /** github:OWNER/REPO or git:URL. */
  repository: string;
  /** Default settings-history. */
  branch: string;
  /** Default: the repository's default branch. */
  base?: string;
  /** Open or update a pull request (GitHub repositories only). */
  pullRequest: boolean;
}

export interface SettingsSource {
  name: string;
  /** The files the source read, by their path on the server. */
  files: Array<{ path: string; content: Uint8Array }>;
  /** Paths on the server the backup could not read: their last recorded version is kept. */
  unread?: string[];
  rules: RedactRules;
}

export interface RecordRequest {
  history: HistorySettings;
  /** The server's name (host address, or this machine's name for local sources). */
  host: string;
  /** The snapshot that holds the unredacted files. */
  snapshot: string;
  time: Date;
  sources: SettingsSource[];
  /** At least 32 bytes derived from the repository's keys; never stored. */
  fingerprintKey: FingerprintKey;
  github: GitHubContext;
  /** A folder cairn may keep the history's local bare repository in. */
  workDir: string;
  log: Logger;
  signal?: AbortSignal;
}

export interface HistoryReport {
  changed: boolean;
  commit?: string;
  branch: string;
  /** What this backup changed in the history. */
  files: FileChange[];
  /** How each file was recorded, by path in the history tree (and why only a fingerprint, when so). */
  recorded: Array<{ path: string; recorded: Recorded; reason?: string }>;
  pullRequest?: PullRequestResult;
  /** The pull request could not be opened or updated; the commit is on its branch all the same. */
  pullRequestError?: CairnError;
}

export async function recordSettings(req: RecordRequest): Promise<HistoryReport> {
  const remote = parseRemote(req.history.repository, req.github);
  const recorded: HistoryReport["recorded"] = [];
  const sources = [];
  for (const s of req.sources) {
    const files = [];
    for (const f of s.files) {
      const r = await redactFile(f.path, f.content, s.rules, req.fingerprintKey);
      const path = f.path.replace(/^\/+/, "");
      recorded.push({ path: `${req.host}/${s.name}/${path}`, recorded: r.recorded, reason: r.reason });
      if (r.recorded !== "redacted") req.log.info(`settings history: ${s.name}/${path} is recorded by fingerprint only (${r.reason})`);
      files.push({ path, text: r.text });
    }
    sources.push({ name: s.name, files, unread: s.unread });
  }
  const c = await commitHistory({
    remote,
    branch: req.history.branch,
    base: req.history.base,
    workDir: req.workDir,
    host: req.host,
    time: req.time,
    snapshot: req.snapshot,
    sources,
    log: req.log,
    signal: req.signal,
  });
  const report: HistoryReport = { changed: c.changed, commit: c.commit, branch: c.branch, files: c.files, recorded };
  if (!c.changed) {
    req.log.info("settings history: no settings changed");
    return report;
  }
  req.log.info(`settings history: ${c.files.length} file(s) changed; commit ${c.commit!.slice(0, 12)} on ${c.branch}`);
  if (!req.history.pullRequest) return report;
  if (!remote.github) {
    req.log.info("settings history: no pull request (history.repository is not a GitHub repository)");
    return report;
  }
  if (!c.base) {
    req.log.warn(`settings history: no pull request: the base branch ${req.history.base ?? "(the default branch)"} does not exist in ${remote.github.owner}/${remote.github.repo}`);
    return report;
  }
  const r = await review(c.gitDir, c.base, c.commit!);
  try {
    report.pullRequest = await upsertPullRequest(
      restClient(req.github, req.log),
      { ...remote.github, branch: c.branch, base: c.base },
      { title: title(r), body: body(r, { base: c.base, branch: c.branch }) },
    );
    req.log.info(`settings history: pull request #${report.pullRequest.number} ${report.pullRequest.action}: ${report.pullRequest.url}`);
  } catch (err) {
    if (!(err instanceof CairnError)) throw err;
    report.pullRequestError = err;
  }
  return report;
}
