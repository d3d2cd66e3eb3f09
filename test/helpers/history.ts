// Settings history tests: a "GitHub server" folder of real bare repositories
// (github:OWNER/REPO resolves to file://SERVER/OWNER/REPO.git, since the
// context's serverUrl is that folder), the fake REST API beside it, and the
// request recordSettings takes, filled in.
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { GitHubContext } from "../../src/github/context.ts";
import { NO_RULES, type RedactRules } from "../../src/history/redact/redact.ts";
import type { RecordRequest, SettingsSource } from "../../src/history/record.ts";
import type { Logger } from "../../src/log.ts";
import { FakeGitHub } from "./github.ts";

export const FINGERPRINT_KEY = new Uint8Array(32).fill(42);

export function gitIn(gitDir: string, ...args: string[]): string {
  return execFileSync("git", [`--git-dir=${gitDir}`, ...args], { encoding: "utf8", maxBuffer: 1 << 28 }).trim();
}

/** A bare repository with one commit (a README) on `main`. */
export function bareRepo(gitDir: string): string {
  mkdirSync(gitDir, { recursive: true });
  execFileSync("git", ["init", "--bare", "-q", "-b", "main", gitDir]);
  const blob = execFileSync("git", [`--git-dir=${gitDir}`, "hash-object", "-w", "--stdin"], { input: "# bot\n", encoding: "utf8" }).trim();
  const tree = execFileSync("git", [`--git-dir=${gitDir}`, "mktree"], { input: `100644 blob ${blob}\tREADME.md\n`, encoding: "utf8" }).trim();
  const env = { ...process.env, GIT_AUTHOR_NAME: "me", GIT_AUTHOR_EMAIL: "me@example.com", GIT_COMMITTER_NAME: "me", GIT_COMMITTER_EMAIL: "me@example.com" };
  const commit = execFileSync("git", [`--git-dir=${gitDir}`, "commit-tree", tree, "-m", "first"], { encoding: "utf8", env }).trim();
  gitIn(gitDir, "update-ref", "refs/heads/main", commit);
  return gitDir;
}

export interface GitHubWorld {
  fake: FakeGitHub;
  /** The bare repository behind github:me/bot-settings. */
  gitDir: string;
  github: GitHubContext;
}

/** github:me/bot-settings, a bare repository behind it, and the fake API holding a token of the given kind. */
export function gitHubWorld(dir: string, token: { kind: "actions" | "user"; pullRequests?: "none" | "read" | "write"; actionsMayCreatePullRequests?: boolean } = { kind: "user" }): GitHubWorld {
  const server = join(dir, "server");
  const gitDir = bareRepo(join(server, "me", "bot-settings.git"));
  const fake = new FakeGitHub();
  fake.addRepo("me", "bot-settings", gitDir, { actionsMayCreatePullRequests: token.actionsMayCreatePullRequests });
  fake.addToken("tok-PLANTED-9d8c7b", { kind: token.kind, pullRequests: token.pullRequests ?? "write" });
  return { fake, gitDir, github: { token: "tok-PLANTED-9d8c7b", apiUrl: fake.apiUrl, serverUrl: `file://${server}`, repository: "me/bot-settings", fetch: fake.fetch } };
}

export function files(map: Record<string, string>, rules: Partial<RedactRules> = {}, name = "settings"): SettingsSource {
  return { name, files: Object.entries(map).map(([path, text]) => ({ path, content: Buffer.from(text) })), rules: { ...NO_RULES, ...rules } };
}

let snapshotCounter = 0;

/** A request with defaults: host bot.example.com, a new snapshot ID and time each call. */
export function request(over: Partial<RecordRequest> & Pick<RecordRequest, "sources" | "workDir" | "log">, history: Partial<RecordRequest["history"]> = {}): RecordRequest {
  snapshotCounter++;
  return {
    history: { repository: "github:me/bot-settings", branch: "settings-history", pullRequest: true, ...history },
    host: "bot.example.com",
    snapshot: `${String(snapshotCounter).padStart(4, "0")}${"ab12".repeat(15)}`,
    time: new Date(Date.UTC(2026, 10, 30, 12, snapshotCounter)),
    fingerprintKey: FINGERPRINT_KEY,
    github: { apiUrl: "https://api.github.test", serverUrl: "https://github.test" },
    ...over,
  };
}

export type { Logger };
