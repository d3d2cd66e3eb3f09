// One typed settings object for every operation, made once from what a front
// end was given (CLI flags, Action inputs) and the environment. This is the
// only place that knows the CAIRN_* variable names; nothing below src/app
// reads process.env: sources get their passwords and the transport its SSH
// secrets from here.
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { loadConfig, type Config } from "../config/config.ts";
import { ExitCode, fromSystemError, isSystemError, UsageError } from "../errors.ts";
import type { GitHubContext } from "../github/context.ts";
import { parseFingerprints } from "../transport/hostkeys.ts";
import type { SshSecrets } from "../transport/ssh-settings.ts";

export type Env = Record<string, string | undefined>;

/** What a front end gathered, as given: every field optional; the environment fills the rest. */
export interface SettingsInput {
  /** Path of cairn.yml (default ./cairn.yml when it exists). */
  config?: string;
  /** Repository URL, or several (backup writes into each); overrides CAIRN_REPOSITORY and cairn.yml. */
  repository?: string | string[];
  /** Path of an age identity file. */
  identityFile?: string;
  /** An age identity's text. */
  identity?: string;
  writeKeyFile?: string;
  writeKey?: string;
  sshKey?: string;
  sshPassphrase?: string;
  knownHosts?: string;
  hostFingerprint?: string;
  /** A GitHub token; overrides GITHUB_TOKEN. */
  githubToken?: string;
  /** Days the artifacts this run writes are kept (--retention-days, the Action's retention-days input); overrides CAIRN_RETENTION_DAYS. */
  retentionDays?: string;
  /** How long to wait for another run's conflicting lock: "30s", "5m", "1h30m" (restic's --retry-lock); default 0. */
  retryLock?: string;
  json?: boolean;
}

/** Where a key's text came from, for messages. */
export interface KeyText {
  text: string;
  from: string;
}

export interface Settings {
  /** cairn.yml, when one was given or ./cairn.yml exists. */
  config: Config | undefined;
  /** The repository URL, when one was given (flag, CAIRN_REPOSITORY or cairn.yml); relative local paths made absolute. The first when several were given. */
  repository: string | undefined;
  /** Every repository given (a backup goes into each: 3-2-1); empty when none. */
  repositories: string[];
  identity: KeyText | undefined;
  writeKey: KeyText | undefined;
  /** The repository fingerprint a recipient who is not the owner expects (CAIRN_REPOSITORY_FINGERPRINT). */
  repositoryFingerprint: string | undefined;
  ssh: SshSecrets;
  /** Values of the variables cairn.yml names (password-env, secret-env), by name. */
  secrets: Record<string, string | undefined>;
  /** GitHub: the REST API, this repository and run, the Actions runtime (inside a workflow run). */
  github: GitHubContext;
  /** Milliseconds a command waits for another run's conflicting lock (0: fails at once, exit 11). */
  retryLockMs: number;
  json: boolean;
}

/**
 * Every environment variable cairn reads, for --help and the README
 * (test/cli/help.test.ts checks it against what the code reads). Besides
 * these, the variables cairn.yml names in password-env and secret-env.
 */
export const ENVIRONMENT: [name: string, meaning: string][] = [
  ["CAIRN_REPOSITORY", "repository URL (local:PATH, git:URL, github:OWNER/REPO, artifacts:NAME); several: one per line"],
  ["CAIRN_IDENTITY", "age identity text (reads backups)"],
  ["CAIRN_WRITE_KEY", "write key from `cairn init` (backs up, cannot read)"],
  ["CAIRN_RETENTION_DAYS", "days the artifacts a backup writes to an artifacts: repository are kept (default: the repository's maximum)"],
  ["CAIRN_REPOSITORY_FINGERPRINT", "the repository's fingerprint (`cairn key show`): lets an identity that is not the owner's read it"],
  ["CAIRN_SSH_KEY", "SSH private key text"],
  ["CAIRN_SSH_KEY_FILE", "path of the SSH private key file (instead of CAIRN_SSH_KEY)"],
  ["CAIRN_SSH_PASSPHRASE", "passphrase of that key"],
  ["CAIRN_KNOWN_HOSTS", "known_hosts lines pinning the server"],
  ["CAIRN_KNOWN_HOSTS_FILE", "path of a known_hosts file (instead of CAIRN_KNOWN_HOSTS)"],
  ["CAIRN_HOST_FINGERPRINT", "the server's SHA256:... host key fingerprint(s), comma-separated"],
  ["SSH_AUTH_SOCK", "ssh-agent socket, tried after the key"],
  ["CI", "set (as CI systems do): no progress bars"],
  ["GITHUB_TOKEN", "token for GitHub repositories, artifacts, and the settings history's pushes and pull requests (set in workflow runs)"],
  ["GITHUB_REPOSITORY", "OWNER/REPO for artifacts: repositories (set in workflow runs)"],
  ["GITHUB_API_URL", "GitHub's REST API (default https://api.github.com)"],
  ["GITHUB_SERVER_URL", "GitHub's web and git server (default https://github.com)"],
  ["GITHUB_RUN_ID", "the workflow run (set in workflow runs)"],
  ["GITHUB_RETENTION_DAYS", "the repository's artifact retention in days (set in workflow runs): the longest an artifacts: repository's files live"],
  ["ACTIONS_RUNTIME_TOKEN", "with ACTIONS_RESULTS_URL: the Actions runtime, given to actions only; an artifacts: repository is written only with it"],
  ["ACTIONS_RESULTS_URL", "the Actions results service, for artifacts (set in workflow runs)"],
];

export const DEFAULT_CONFIG = "cairn.yml";

function repositoryFingerprint(v: string | undefined): string | undefined {
  if (v === undefined || v.trim() === "") return undefined;
  const f = v.trim().toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(f)) throw new UsageError(`CAIRN_REPOSITORY_FINGERPRINT is not a repository fingerprint: ${JSON.stringify(v)} (expected 32 hex digits)`, "copy it from the owner's `cairn key show`");
  return f;
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    if (isSystemError(err)) throw fromSystemError(err, `read ${what} ${path}`, ExitCode.usage);
    throw err;
  }
}

/** A value given directly, else its variable, else the file its _FILE variable names. */
function fromEnv(env: Env, name: string): KeyText | undefined {
  const file = env[`${name}_FILE`];
  if (file) return { text: readText(file, `${name}_FILE=`), from: `${name}_FILE=${file}` };
  const v = env[name];
  return v ? { text: v, from: name } : undefined;
}

export async function resolveSettings(input: SettingsInput, env: Env): Promise<Settings> {
  const configPath = input.config ?? (existsSync(DEFAULT_CONFIG) ? DEFAULT_CONFIG : undefined);
  const config = configPath ? await loadConfig(configPath) : undefined;

  const identity = input.identity
    ? { text: input.identity, from: "the identity input" }
    : input.identityFile
      ? { text: readText(input.identityFile, "identity file"), from: input.identityFile }
      : env.CAIRN_IDENTITY
        ? { text: env.CAIRN_IDENTITY, from: "CAIRN_IDENTITY" }
        : undefined;
  const writeKey = input.writeKey
    ? { text: input.writeKey, from: "the write-key input" }
    : input.writeKeyFile
      ? { text: readText(input.writeKeyFile, "write key file").replace(/^\s*CAIRN_WRITE_KEY=/, ""), from: input.writeKeyFile }
      : env.CAIRN_WRITE_KEY
        ? { text: env.CAIRN_WRITE_KEY, from: "CAIRN_WRITE_KEY" }
        : undefined;

  const repositories = repositoryUrls(input.repository ?? env.CAIRN_REPOSITORY, config);

  const secrets: Record<string, string | undefined> = {};
  for (const s of config?.sources ?? []) {
    const names = s.kind === "postgres" ? [s.postgres["password-env"]] : s.kind === "mysql" ? [s.mysql["password-env"]] : s.kind === "command" ? Object.values(s["secret-env"] ?? {}) : [];
    for (const n of names) if (n) secrets[n] = env[n];
  }

  return {
    config,
    repository: repositories[0],
    repositories,
    identity,
    writeKey,
    repositoryFingerprint: repositoryFingerprint(env.CAIRN_REPOSITORY_FINGERPRINT),
    ssh: sshSecrets(input, env),
    secrets,
    github: githubContext(input, env),
    retryLockMs: input.retryLock === undefined ? 0 : parseDuration(input.retryLock, "--retry-lock"),
    json: input.json ?? false,
  };
}

function githubContext(input: SettingsInput, env: Env): GitHubContext {
  const runId = Number(env.GITHUB_RUN_ID);
  const maxRetention = Number(env.GITHUB_RETENTION_DAYS);
  return {
    token: input.githubToken || env.GITHUB_TOKEN || undefined,
    apiUrl: env.GITHUB_API_URL || "https://api.github.com",
    serverUrl: env.GITHUB_SERVER_URL || "https://github.com",
    repository: env.GITHUB_REPOSITORY || undefined,
    runId: Number.isSafeInteger(runId) && runId > 0 ? runId : undefined,
    runtime: env.ACTIONS_RUNTIME_TOKEN && env.ACTIONS_RESULTS_URL ? { token: env.ACTIONS_RUNTIME_TOKEN, resultsUrl: env.ACTIONS_RESULTS_URL } : undefined,
    retentionDays: retentionDays(input.retentionDays || undefined, "retention-days") ?? retentionDays(env.CAIRN_RETENTION_DAYS || undefined, "CAIRN_RETENTION_DAYS"),
    // The runner sets it; anything unusable is treated as unknown (GitHub's own cap still applies).
    maxRetentionDays: Number.isInteger(maxRetention) && maxRetention >= 1 ? maxRetention : undefined,
  };
}

/** retention-days: a whole number of days, 1 to 400 (GitHub's range; the repository's setting caps it further). */
function retentionDays(text: string | undefined, from: string): number | undefined {
  if (text === undefined) return undefined;
  const days = Number(text.trim());
  if (!/^\d+$/.test(text.trim()) || days < 1 || days > 400) {
    throw new UsageError(
      `${from}: ${JSON.stringify(text)} is not a number of days from 1 to 400`,
      "GitHub keeps artifacts 1-90 days in public repositories and up to 400 in private ones (the repository's setting caps it); leave it out for the repository's maximum",
    );
  }
  return days;
}

/** "90s", "5m", "1h30m", "0": a duration as restic and Go write it; milliseconds. */
export function parseDuration(text: string, what: string): number {
  const t = text.trim();
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  if (t === "0") return 0;
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(t)) {
    throw new UsageError(`${what}: ${JSON.stringify(text)} is not a duration`, "write a number with a unit: 30s, 5m, 1h30m (0: do not wait)");
  }
  let ms = 0;
  for (const m of t.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) ms += Number(m[1]) * units[m[2]];
  return Math.round(ms);
}

/** The repositories given (a list, or lines of one string), else cairn.yml's; duplicates dropped. */
function repositoryUrls(given: string | string[] | undefined, config: Config | undefined): string[] {
  const list = (v: string | string[]) => (Array.isArray(v) ? v : v.split("\n")).map((u) => u.trim()).filter(Boolean);
  const urls = given && list(given).length > 0 ? list(given) : config?.repository ? list(config.repository).map((u) => fromConfig(u, config)) : [];
  return [...new Set(urls)];
}

/** A relative path in cairn.yml (local:PATH, git:PATH) is relative to cairn.yml, like the sources. */
function fromConfig(url: string, config: Config): string {
  const local = /^local:(?!\/)(.+)$/.exec(url);
  if (local) return `local:${resolve(config.baseDir, local[1])}`;
  // git:PATH[#BRANCH]: not a URL (scheme://) and not host:path.
  const git = /^git:(?![a-z][a-z0-9+.-]*:\/\/)(?![^/#]*:)(?!\/)([^#]+)(#.*)?$/i.exec(url);
  return git ? `git:${resolve(config.baseDir, git[1])}${git[2] ?? ""}` : url;
}

function sshSecrets(input: SettingsInput, env: Env): SshSecrets {
  const key = input.sshKey ? { text: input.sshKey, from: "the ssh-key input" } : fromEnv(env, "CAIRN_SSH_KEY");
  // GitHub secrets pasted with literal "\n" still make a usable key.
  let privateKey = key?.text;
  if (privateKey && !privateKey.includes("\n") && privateKey.includes("\\n")) privateKey = privateKey.replace(/\\n/g, "\n");
  const { fingerprints, bad } = parseFingerprints(input.hostFingerprint ?? env.CAIRN_HOST_FINGERPRINT ?? "");
  if (bad !== undefined) {
    throw new UsageError(
      `${input.hostFingerprint !== undefined ? "host-fingerprint" : "CAIRN_HOST_FINGERPRINT"}: ${JSON.stringify(bad)} is not a SHA256 fingerprint`,
      "expected SHA256:<43 base64 characters>, or the line `ssh-keygen -lf KEY.pub` prints (256 SHA256:... comment (ED25519)); several: bare ones separated by commas, ssh-keygen lines one per line",
    );
  }
  return {
    privateKey,
    privateKeyFrom: key?.from,
    passphrase: input.sshPassphrase || env.CAIRN_SSH_PASSPHRASE || undefined,
    agent: env.SSH_AUTH_SOCK || undefined,
    knownHosts: input.knownHosts ?? fromEnv(env, "CAIRN_KNOWN_HOSTS")?.text ?? "",
    fingerprints,
  };
}

/** The config, or a usage error saying how to give one. */
export function requireConfig(settings: Settings): Config {
  if (!settings.config) throw new UsageError(`no config file: pass -c FILE or create ${DEFAULT_CONFIG}`, "see the README's cairn.yml section");
  return settings.config;
}

/** The repository URL, or a usage error saying how to give one. */
export function requireRepository(settings: Settings): string {
  if (!settings.repository) throw new UsageError("no repository given", "pass -r local:/path, set CAIRN_REPOSITORY, or set repository: in cairn.yml");
  return settings.repository;
}

/** The write key, or a usage error saying how to give one. */
export function requireWriteKey(settings: Settings): KeyText {
  if (!settings.writeKey) throw new UsageError("no write key given", "set CAIRN_WRITE_KEY, pass --write-key-file FILE, or give the Action's write-key input");
  return settings.writeKey;
}
