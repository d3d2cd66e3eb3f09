// A local stand-in for the three GitHub services an artifact backend talks
// to, on 127.0.0.1, strict enough to refuse what GitHub would refuse:
//
//   /twirp/...  the Actions results service (what @actions/artifact calls with
//               ACTIONS_RUNTIME_TOKEN: CreateArtifact, FinalizeArtifact,
//               ListArtifacts, GetSignedArtifactURL, DeleteArtifact)    results.ts
//   /blob/...   block-blob storage behind the signed URLs: staged blocks,
//               a block list, ranged reads; signatures that expire      blob.ts
//   /repos/...  the REST API: list, get, download (302), delete, with
//               tokens, permissions and a rate limit                     rest.ts
//
// Artifacts outlive the simulated runs that made them (run IDs are the
// test's); they expire on a clock the test moves (advance()); the account
// has a storage quota and each job an artifact limit. Every request is
// counted (stats) so tests can say what an operation cost.
import { createHmac, randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { GitHubContext } from "../../../src/github/context.ts";
import { handleBlob } from "./blob.ts";
import { handleRest } from "./rest.ts";
import { handleTwirp } from "./results.ts";

export const DAY = 86_400_000;
export const HOUR = 3_600_000;

export interface FakeGitHubOptions {
  owner?: string;
  repo?: string;
  /** public: artifact storage is free, retention at most 90 days; private (the default): up to 400 days, counted against the quota. */
  visibility?: "public" | "private";
  /** The repository's artifact retention setting in days: the default and the cap (GitHub: 1-90 public, up to 400 private). */
  retentionDays?: number;
  /** The account's artifact storage in bytes (private repositories); absent: unlimited (public). */
  quotaBytes?: number;
  /** REST requests per hour for the repository's token (GITHUB_TOKEN: 1,000). */
  restLimit?: number;
  /** Artifacts one job may create (GitHub: 500). */
  jobLimit?: number;
  /** Whether blob reads honour Range (Azure's Get Blob does); false: always the whole blob. */
  ranges?: boolean;
  /** Actions disabled for the repository: the REST artifact routes answer 422 with this message (true: GitHub's usual one). */
  actionsDisabled?: boolean | string;
}

export type Permission = "none" | "read" | "write";

export interface StoredArtifact {
  id: number;
  name: string;
  runId: number;
  runBackendId: string;
  jobBackendId: string;
  /** On the fake's clock (ms). */
  createdAt: number;
  expiresAt: number;
  finalized: boolean;
  deleted: boolean;
  blobKey: string;
  size: number;
  /** "sha256:<hex>", as the client sent it at finalize. */
  digest: string | undefined;
}

export interface StoredBlob {
  blocks: Map<string, Buffer>;
  /** Set once the block list is committed; never changed after. */
  data: Buffer | undefined;
  contentType: string;
  /** The artifact it belongs to (uploads to a finalized artifact are refused). */
  artifactId: number;
}

export interface RunState {
  runId: number;
  runBackendId: string;
  jobBackendId: string;
  token: string;
  ended: boolean;
  /** Artifacts created by the job (deleted ones included: the limit counts creations). */
  created: number;
}

/** What the services were asked, for measuring an operation. */
export interface FakeStats {
  rest: number;
  restByRoute: Record<string, number>;
  twirp: Record<string, number>;
  blobPuts: number;
  blobUploadBytes: number;
  blobGets: number;
  blobDownloadBytes: number;
  /** Every blob read: the artifact's name and the bytes sent. */
  downloads: { name: string; bytes: number; ranged: boolean }[];
}

function emptyStats(): FakeStats {
  return { rest: 0, restByRoute: {}, twirp: {}, blobPuts: 0, blobUploadBytes: 0, blobGets: 0, blobDownloadBytes: 0, downloads: [] };
}

export class FakeGitHub {
  readonly owner: string;
  readonly repo: string;
  readonly options: Required<Omit<FakeGitHubOptions, "quotaBytes">> & { quotaBytes: number | undefined };
  /** http://127.0.0.1:PORT: the REST base URL, the results service and the blob host. */
  url = "";
  readonly artifacts: StoredArtifact[] = [];
  readonly blobs = new Map<string, StoredBlob>();
  readonly runs = new Map<number, RunState>();
  /** REST tokens and what they may do with Actions. */
  readonly tokens = new Map<string, Permission>();
  /** A token with actions: write (what a workflow with `permissions: actions: write` gets). */
  readonly token: string;
  stats: FakeStats = emptyStats();
  /** Faults to inject: commits of block lists that fail (an upload broken half way), REST answers replaced by an error status. */
  faults = { commits: 0, rest: { status: 0, count: 0 } };
  /** REST requests in the current rate-limit window, and when it resets (fake clock). */
  rate = { used: 0, resetAt: 0 };
  readonly secret = randomBytes(32);
  private offset = 0;
  private nextId = 1000;
  private server: Server | undefined;

  constructor(opts: FakeGitHubOptions = {}) {
    this.owner = opts.owner ?? "octo";
    this.repo = opts.repo ?? "bot";
    const visibility = opts.visibility ?? "private";
    const retentionDays = opts.retentionDays ?? 90;
    // GitHub's settings page allows no other value; a test asking for one is wrong.
    const most = visibility === "public" ? 90 : 400;
    if (!Number.isInteger(retentionDays) || retentionDays < 1 || retentionDays > most) {
      throw new Error(`fake GitHub: a ${visibility} repository's artifact retention is 1-${most} days, not ${retentionDays}`);
    }
    this.options = {
      owner: this.owner,
      repo: this.repo,
      visibility,
      retentionDays,
      quotaBytes: opts.quotaBytes,
      restLimit: opts.restLimit ?? 1000,
      jobLimit: opts.jobLimit ?? 500,
      ranges: opts.ranges ?? true,
      actionsDisabled: opts.actionsDisabled ?? false,
    };
    this.token = this.addToken("write");
  }

  /** The fake's clock: real time moved on by advance(). */
  now(): number {
    return Date.now() + this.offset;
  }

  advance(ms: number): void {
    if (ms < 0) throw new Error("the fake's clock only moves forward");
    this.offset += ms;
  }

  addToken(permission: Permission): string {
    const t = `ghs_${randomBytes(18).toString("base64url")}`;
    this.tokens.set(t, permission);
    return t;
  }

  newId(): number {
    return this.nextId++;
  }

  resetStats(): FakeStats {
    const s = this.stats;
    this.stats = emptyStats();
    return s;
  }

  /** Start a workflow run (its one job): the runtime the runner gives a JavaScript action. */
  startRun(runId: number): { runId: number; runtime: { token: string; resultsUrl: string } } {
    if (this.runs.has(runId)) throw new Error(`run ${runId} was already started`);
    const run: RunState = { runId, runBackendId: randomUUID(), jobBackendId: randomUUID(), token: "", ended: false, created: 0 };
    run.token = this.sign({ scp: `Actions.GenericRead:${randomUUID()} Actions.Results:${run.runBackendId}:${run.jobBackendId}`, run: runId });
    this.runs.set(runId, run);
    return { runId, runtime: { token: run.token, resultsUrl: `${this.url}/` } };
  }

  /** The run ended: its runtime token no longer works. */
  endRun(runId: number): void {
    const run = this.runs.get(runId);
    if (!run) throw new Error(`no run ${runId}`);
    run.ended = true;
  }

  /** Deleting a workflow run deletes its artifacts. */
  deleteRun(runId: number): void {
    this.endRun(runId);
    for (const a of this.artifacts) if (a.runId === runId) a.deleted = true;
  }

  /** The run a runtime token belongs to, if the token is one this fake signed. */
  runOfToken(token: string): RunState | undefined {
    const parts = token.split(".");
    if (parts.length !== 3) return undefined;
    const mac = createHmac("sha256", this.secret).update(`${parts[0]}.${parts[1]}`).digest("base64url");
    if (mac !== parts[2]) return undefined;
    try {
      const claims = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
      return this.runs.get(claims.run);
    } catch {
      return undefined;
    }
  }

  private sign(claims: object): string {
    const head = Buffer.from(JSON.stringify({ alg: "HS256", typ: "JWT" })).toString("base64url");
    const body = Buffer.from(JSON.stringify(claims)).toString("base64url");
    return `${head}.${body}.${createHmac("sha256", this.secret).update(`${head}.${body}`).digest("base64url")}`;
  }

  /** A signed blob URL: path, permission ("cw" upload, "r" read) and expiry, HMAC'd with the fake's secret. */
  signedUrl(blobKey: string, permission: "cw" | "r", lifetimeMs: number): string {
    const path = `/blob/artifacts/${blobKey}`;
    const se = new Date(this.now() + lifetimeMs).toISOString();
    const sig = this.sasSignature(path, permission, se);
    return `${this.url}${path}?sv=2023-11-03&sr=b&sp=${permission}&se=${encodeURIComponent(se)}&sig=${encodeURIComponent(sig)}`;
  }

  sasSignature(path: string, permission: string, se: string): string {
    return createHmac("sha256", this.secret).update(`${permission}\n${se}\n${path}`).digest("base64");
  }

  isExpired(a: StoredArtifact): boolean {
    return this.now() >= a.expiresAt;
  }

  /** Bytes the account stores: finalized artifacts not deleted or expired. */
  usedBytes(): number {
    return this.artifacts.filter((a) => a.finalized && !a.deleted && !this.isExpired(a)).reduce((n, a) => n + a.size, 0);
  }

  /** Finalized artifacts that were not deleted (expired ones included, as GitHub lists them). */
  visible(): StoredArtifact[] {
    return this.artifacts.filter((a) => a.finalized && !a.deleted);
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.route(req, res).catch((err) => {
        if (!res.headersSent) {
          res.writeHead(500, { "content-type": "application/json" });
          res.end(JSON.stringify({ code: "internal", msg: `fake: ${(err as Error).message}` }));
        } else res.destroy();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (url.pathname.startsWith("/twirp/")) return await handleTwirp(this, req, res, url);
    if (url.pathname.startsWith("/blob/")) return await handleBlob(this, req, res, url);
    return await handleRest(this, req, res, url);
  }
}

/** The whole request body, refused past limit bytes. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return undefined;
    parts.push(chunk as Buffer);
  }
  return Buffer.concat(parts);
}

/** Start a fake; `using`-free tests call close() in finally. */
export async function startFakeGitHub(opts: FakeGitHubOptions = {}): Promise<FakeGitHub> {
  return await new FakeGitHub(opts).start();
}

/** The GitHub context a workflow run (with `run`) or a machine outside Actions (without) would have against this fake. */
export function contextFor(
  fake: FakeGitHub,
  run?: { runId: number; runtime: { token: string; resultsUrl: string } },
  extra: Partial<GitHubContext> = {},
): GitHubContext {
  return {
    token: fake.token,
    apiUrl: fake.url,
    serverUrl: "https://github.com",
    repository: `${fake.owner}/${fake.repo}`,
    runId: run?.runId,
    runtime: run?.runtime,
    ...extra,
  };
}

/** What a workflow run's environment would say, for the CLI and resolveSettings. */
export function envFor(fake: FakeGitHub, run?: { runId: number; runtime: { token: string; resultsUrl: string } }): Record<string, string> {
  return {
    GITHUB_TOKEN: fake.token,
    GITHUB_API_URL: fake.url,
    GITHUB_SERVER_URL: "https://github.com",
    GITHUB_REPOSITORY: `${fake.owner}/${fake.repo}`,
    GITHUB_RETENTION_DAYS: String(fake.options.retentionDays),
    ...(run ? { GITHUB_RUN_ID: String(run.runId), ACTIONS_RUNTIME_TOKEN: run.runtime.token, ACTIONS_RESULTS_URL: run.runtime.resultsUrl } : {}),
  };
}

/**
 * @actions/artifact narrates every upload on stdout (as a workflow log would
 * show it: ~10 lines per artifact). Tests drop those lines so their own
 * output stays readable; everything else passes through.
 */
export function quietArtifactClient(): void {
  if ((process.stdout.write as { quiet?: boolean }).quiet) return;
  const write = process.stdout.write.bind(process.stdout);
  const CLIENT = /^(::(debug|add-mask)::|Artifact name is valid|Root directory input is valid|Uploading artifact|Beginning upload|Uploaded bytes|Finished uploading|SHA256 digest of uploaded|Finalizing artifact|Artifact .* (successfully finalized|deleted)|::warning::No data was uploaded)/;
  const quiet = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    // The client writes strings; anything else (the test runner's own protocol) passes untouched.
    if (typeof chunk !== "string") return (write as (c: Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
    const kept = chunk.split(/(?<=\n)/).filter((l) => !CLIENT.test(l)).join("");
    return kept ? (write as (c: string, ...r: unknown[]) => boolean)(kept, ...rest) : true;
  }) as typeof process.stdout.write & { quiet?: boolean };
  quiet.quiet = true;
  process.stdout.write = quiet;
}
