// Settings history tests: a "GitHub server" folder of real bare repositories
// (github:OWNER/REPO resolves to file://SERVER/OWNER/REPO.git, since the
// context's serverUrl is that folder), the fake REST API beside it, and the
// request recordSettings takes, filled in.
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { GitHubContext } from "../../src/github/context.ts";
import { NO_RULES, type RedactRules } from "../../src/history/redact/redact.ts";
import { recordSettings, type RecordRequest, type SettingsSource } from "../../src/history/record.ts";
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
  // Fixed names and dates: the same commit every time (the README's example pull request body is compared byte for byte).
  const date = "1764460800 +0000";
  const env = { ...process.env, GIT_AUTHOR_NAME: "me", GIT_AUTHOR_EMAIL: "me@example.com", GIT_COMMITTER_NAME: "me", GIT_COMMITTER_EMAIL: "me@example.com", GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date };
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
export function gitHubWorld(dir: string, token: TokenKind = { kind: "user" }, apiUrl?: string): GitHubWorld {
  const server = join(dir, "server");
  const gitDir = bareRepo(join(server, "me", "bot-settings.git"));
  const fake = new FakeGitHub(apiUrl);
  fake.addRepo("me", "bot-settings", gitDir, { actionsMayCreatePullRequests: token.actionsMayCreatePullRequests });
  fake.addToken("tok-PLANTED-9d8c7b", { kind: token.kind, pullRequests: token.pullRequests ?? "write" });
  return { fake, gitDir, github: { token: "tok-PLANTED-9d8c7b", apiUrl: fake.apiUrl, serverUrl: `file://${server}`, repository: "me/bot-settings", fetch: fake.fetch } };
}

export type TokenKind = { kind: "actions" | "user"; pullRequests?: "none" | "read" | "write"; actionsMayCreatePullRequests?: boolean };

/**
 * The same world with the fake API served over HTTP on 127.0.0.1, for the
 * CLI as a child process: `env` holds the variables a workflow run would set
 * (GITHUB_TOKEN, GITHUB_API_URL, GITHUB_SERVER_URL). Run the CLI with the
 * asynchronous helpers (runCli): a blocking spawn would stall the fake.
 */
export async function servedGitHubWorld(dir: string, token: TokenKind = { kind: "user" }): Promise<GitHubWorld & { env: Record<string, string>; close: () => Promise<void> }> {
  let world: GitHubWorld | undefined;
  const skip = new Set(["host", "connection", "content-length", "transfer-encoding", "keep-alive"]);
  const server = createServer(async (req, res) => {
    const parts: Buffer[] = [];
    for await (const c of req) parts.push(c as Buffer);
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !skip.has(k)) headers.set(k, Array.isArray(v) ? v.join(", ") : v);
    const body = Buffer.concat(parts);
    const r = await world!.fake.fetch(`${world!.fake.apiUrl}${req.url}`, { method: req.method, headers, body: body.length ? body : undefined });
    res.writeHead(r.status, { "content-type": r.headers.get("content-type") ?? "application/json" });
    res.end(Buffer.from(await r.arrayBuffer()));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  world = gitHubWorld(dir, token, apiUrl);
  return {
    ...world,
    env: { GITHUB_TOKEN: world.github.token!, GITHUB_API_URL: apiUrl, GITHUB_SERVER_URL: world.github.serverUrl },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
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

/**
 * The README's example: the trading bot's settings recorded by a backup, its
 * pull request merged, then another backup after max_position was raised and
 * the exchange secret rotated; returns the second pull request's title and
 * body as GitHub received them.
 */
export async function examplePullRequest(dir: string): Promise<{ title: string; body: string; diff: string }> {
  const { fake, github, gitDir } = gitHubWorld(dir);
  const { silentLogger } = await import("../../src/log.ts");
  const v1 = {
    "/srv/bot/config/config.json": '{\n  "pair": "ETHUSDT",\n  "max_position": 0.5,\n  "exchange": { "api_key": "k7Hq2", "api_secret": "s9Xw4" }\n}\n',
    "/srv/bot/.env": "API_URL=https://api.binance.com\nDATABASE_URL=postgres://bot:db-pass@db:5432/bot\nLOG_LEVEL=info\n",
    "/srv/bot/security/salt.key": "0c1d2e3f\n",
  };
  const v2 = { ...v1, "/srv/bot/config/config.json": v1["/srv/bot/config/config.json"].replace("0.5", "5").replace("s9Xw4", "s0Yv5") };
  const at = (minute: number, snapshot: string): Partial<RecordRequest> => ({ snapshot, time: new Date(Date.UTC(2026, 10, 30, 2, minute)) });
  const rules = { secretFiles: [] as string[] };
  const first = await recordSettings(request({ sources: [files(v1, rules)], workDir: join(dir, "work"), log: silentLogger, github, ...at(0, "3f9a1c2e7b10d4a5f6e7c8b9a0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9") }));
  fake.merge("me", "bot-settings", first.pullRequest!.number);
  await recordSettings(request({ sources: [files(v2, rules)], workDir: join(dir, "work"), log: silentLogger, github, ...at(5, "8e1b7c4d2a9f0e3b6c5d8a7f1e4b2c9d0a3f6e5b8c7d1a4e2f9b0c3d6a5e8f7b") }));
  const pr = fake.pulls("me", "bot-settings").find((p) => p.state === "open")!;
  const diff = gitIn(gitDir, "diff", "main", "settings-history");
  return { title: pr.title, body: pr.body!, diff };
}

export type { Logger };
