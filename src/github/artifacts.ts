// GitHub Actions artifacts, as two services: inside a workflow run the
// results service uploads and deletes this run's artifacts (through
// @actions/artifact, with the Actions runtime token); from anywhere the REST
// API lists, downloads and deletes the repository's artifacts across runs
// (with a token: actions: read, or actions: write to delete). Downloads go
// to the signed blob URL the REST API redirects to, with a Range when only
// part of a file is wanted. Every failure comes out as a GitHubError.
import { writeFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { errorMessage } from "../errors.ts";
import { ownerRepo, restClient, type GitHubContext } from "./context.ts";
import {
  actionsDisabledError,
  authError,
  GitHubError,
  jobLimitError,
  noTokenError,
  notInARunError,
  permissionError,
  quotaError,
  rateLimitError,
  unsupportedServerError,
} from "./errors.ts";
import { exportRuntime } from "./runtime.ts";

/** An artifact as the REST API lists it. */
export interface RemoteArtifact {
  id: number;
  name: string;
  size: number;
  /** "sha256:<hex>" of the stored bytes, recorded at upload. */
  digest: string | undefined;
  created: number;
  /** When GitHub deletes it (ms); undefined if GitHub did not say. */
  expires: number | undefined;
  expired: boolean;
  runId: number | undefined;
}

export interface Uploaded {
  id: number;
  size: number;
  digest: string;
}

/** A part of a blob, or all of it when the server ignored the Range. */
export interface Fetched {
  body: Buffer;
  /** Whether body is the whole blob (a plain 200), so its digest can be checked. */
  whole: boolean;
}

type Octokit = ReturnType<typeof restClient>;

/** The upload client: ./artifact-client.ts in the source tree, dist/artifact-client.js beside the bundle. */
const CLIENT = new URL(import.meta.url.endsWith(".ts") ? "./artifact-client.ts" : "./artifact-client.js", import.meta.url).href;

async function artifactClient(): Promise<typeof import("./artifact-client.ts")> {
  try {
    return await import(CLIENT);
  } catch (err) {
    throw new GitHubError("failed", `cannot load the artifact upload client ${CLIENT}: ${errorMessage(err)}`, {
      hint: "dist/artifact-client.js must sit beside cairn's bundle (cli.js, action.js); reinstall cairn if it is missing",
      cause: err,
    });
  }
}

const PER_PAGE = 100;

export class GitHubArtifacts {
  readonly ctx: GitHubContext;
  readonly owner: string;
  readonly repo: string;
  private rest: Octokit | undefined;

  constructor(ctx: GitHubContext) {
    this.ctx = ctx;
    ({ owner: this.owner, repo: this.repo } = ownerRepo(ctx, "an artifacts: repository"));
  }

  get repository(): string {
    return `${this.owner}/${this.repo}`;
  }

  /** Whether this process runs inside a workflow run that may upload. */
  get canWrite(): boolean {
    return this.ctx.runtime !== undefined;
  }

  private client(): Octokit {
    if (!this.ctx.token) throw noTokenError();
    this.rest ??= restClient(this.ctx);
    return this.rest;
  }

  // --- this run's artifacts (results service) -------------------------------

  /** Upload data as one raw (unzipped) artifact of this run named `name`. */
  async upload(name: string, data: Buffer | readonly Buffer[], retentionDays: number | undefined, signal?: AbortSignal): Promise<Uploaded> {
    const runtime = this.writableRuntime();
    signal?.throwIfAborted();
    // skipArchive uploads one file and names the artifact after it.
    const dir = await mkdtemp(join(tmpdir(), "cairn-artifact-"));
    try {
      const file = join(dir, name);
      await writeFile(file, Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]), { mode: 0o600 });
      const { DefaultArtifactClient } = await artifactClient();
      signal?.throwIfAborted();
      exportRuntime(runtime);
      const r = await new DefaultArtifactClient().uploadArtifact(name, [file], dir, { skipArchive: true, retentionDays });
      if (r.id === undefined || r.digest === undefined) throw new GitHubError("failed", `uploading artifact ${name}: the service gave no ID or digest`);
      return { id: r.id, size: r.size ?? 0, digest: `sha256:${r.digest}` };
    } catch (err) {
      if ((err as Error).name === "AbortError") throw err;
      throw this.uploadError(err, `uploading artifact ${name}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Delete this run's artifact `name` (needs no REST permission). False when the run has none by that name. */
  async deleteInRun(name: string): Promise<boolean> {
    const runtime = this.writableRuntime();
    const { DefaultArtifactClient, ArtifactNotFoundError } = await artifactClient();
    try {
      exportRuntime(runtime);
      await new DefaultArtifactClient().deleteArtifact(name);
      return true;
    } catch (err) {
      if (err instanceof ArtifactNotFoundError) return false;
      throw this.uploadError(err, `deleting artifact ${name}`);
    }
  }

  /** This run's finalized artifact `name`, if it has one. */
  async findInRun(name: string): Promise<Uploaded | undefined> {
    const runtime = this.writableRuntime();
    const { DefaultArtifactClient, ArtifactNotFoundError } = await artifactClient();
    try {
      exportRuntime(runtime);
      const { artifact } = await new DefaultArtifactClient().getArtifact(name);
      return { id: artifact.id, size: artifact.size, digest: artifact.digest ?? "" };
    } catch (err) {
      if (err instanceof ArtifactNotFoundError) return undefined;
      throw this.uploadError(err, `looking up artifact ${name} in this run`);
    }
  }

  private writableRuntime(): NonNullable<GitHubContext["runtime"]> {
    if (!this.ctx.runtime) throw notInARunError();
    if (isEnterpriseServer(this.ctx.serverUrl)) throw unsupportedServerError(this.ctx.serverUrl);
    return this.ctx.runtime;
  }

  /** The results service's failures arrive as plain Errors; their text says which. */
  private uploadError(err: unknown, what: string): GitHubError {
    if (err instanceof GitHubError) return err;
    const message = errorMessage(err);
    const name = err instanceof Error ? err.name : "";
    if (/storage quota has been hit|insufficient usage/i.test(message)) return quotaError(err);
    if (name === "GHESNotSupportedError") return unsupportedServerError(this.ctx.serverUrl);
    if (/maximum number of artifacts/i.test(message)) return jobLimitError(message.replace(/^.*: /s, ""), err);
    const status = Number(/\((\d{3})\)/.exec(message)?.[1] ?? (err as { statusCode?: number }).statusCode ?? 0);
    if (status === 401) return new GitHubError("auth", `${what}: the Actions runtime token was refused (${message})`, { hint: "the workflow run may have ended; run the backup again", status, cause: err });
    if (status === 409) return new GitHubError("conflict", `${what}: this run already has an artifact by that name`, { status, cause: err });
    // The client already retried these for ~30 s; a later attempt may still work.
    const transient =
      name === "NetworkError" ||
      /after \d+ attempts|Upload progress stalled|ECONNRESET|ETIMEDOUT|socket hang up|fetch failed/i.test(message) ||
      status === 408 ||
      status === 429 ||
      status >= 500 ||
      // An upload URL that expired mid-way: a new attempt gets a new one.
      (status === 403 && /AuthenticationFailed|signature/i.test(message));
    return new GitHubError(transient ? "transient" : "failed", `${what}: ${message}`, { retryable: transient, status: status || undefined, cause: err });
  }

  // --- every run's artifacts (REST) ------------------------------------------

  /** Every artifact of the repository, newest first, page by page (100 a page). */
  async *listAll(signal?: AbortSignal): AsyncGenerator<RemoteArtifact[]> {
    for (let page = 1; ; page++) {
      const { data } = await this.call("listing artifacts", "read", signal, () =>
        this.client().rest.actions.listArtifactsForRepo({ owner: this.owner, repo: this.repo, per_page: PER_PAGE, page, request: { signal } }),
      );
      yield data.artifacts.map(toRemote);
      if (data.artifacts.length < PER_PAGE || page * PER_PAGE >= data.total_count) return;
    }
  }

  /** The artifacts named exactly `name`, across runs. */
  async byName(name: string, signal?: AbortSignal): Promise<RemoteArtifact[]> {
    const out: RemoteArtifact[] = [];
    for (let page = 1; ; page++) {
      const { data } = await this.call(`looking up artifact ${name}`, "read", signal, () =>
        this.client().rest.actions.listArtifactsForRepo({ owner: this.owner, repo: this.repo, name, per_page: PER_PAGE, page, request: { signal } }),
      );
      out.push(...data.artifacts.map(toRemote));
      if (data.artifacts.length < PER_PAGE || page * PER_PAGE >= data.total_count) return out;
    }
  }

  async get(id: number, signal?: AbortSignal): Promise<RemoteArtifact | undefined> {
    try {
      const { data } = await this.call(`reading artifact ${id}`, "read", signal, () =>
        this.client().rest.actions.getArtifact({ owner: this.owner, repo: this.repo, artifact_id: id, request: { signal } }),
      );
      return toRemote(data);
    } catch (err) {
      if (err instanceof GitHubError && err.problem === "not-found") return undefined;
      throw err;
    }
  }

  /** The short-lived signed URL a download redirects to. */
  async downloadUrl(id: number, signal?: AbortSignal): Promise<string> {
    const r = await this.call(`downloading artifact ${id}`, "read", signal, () =>
      this.client().rest.actions.downloadArtifact({ owner: this.owner, repo: this.repo, artifact_id: id, archive_format: "zip", request: { redirect: "manual", signal } }),
    );
    const location = (r.headers as Record<string, string | undefined>).location;
    if ((r.status as number) !== 302 || !location) throw new GitHubError("failed", `downloading artifact ${id}: GitHub answered ${r.status} without a redirect`, { status: r.status });
    return location;
  }

  async delete(id: number, signal?: AbortSignal): Promise<void> {
    await this.call(`deleting artifact ${id}`, "write", signal, () => this.client().rest.actions.deleteArtifact({ owner: this.owner, repo: this.repo, artifact_id: id, request: { signal } }));
  }

  /** Bytes from a signed blob URL: all, or `length` bytes from `offset`. No GitHub token goes to the blob host. */
  async fetchBlob(url: string, range: { offset: number; length: number } | undefined, signal?: AbortSignal): Promise<Fetched> {
    const f = this.ctx.fetch ?? fetch;
    let res: Response;
    try {
      res = await f(url, { headers: range ? { range: `bytes=${range.offset}-${range.offset + range.length - 1}`, "x-ms-version": "2023-11-03" } : { "x-ms-version": "2023-11-03" }, signal });
    } catch (err) {
      if ((err as Error).name === "AbortError") throw err;
      throw new GitHubError("transient", `downloading from blob storage: ${errorMessage(err)}`, { retryable: true, cause: err });
    }
    if (res.status === 200 || res.status === 206) {
      const body = Buffer.from(await res.arrayBuffer());
      if (res.status === 206 && range) {
        const start = Number(/^bytes (\d+)-/.exec(res.headers.get("content-range") ?? "")?.[1]);
        if (start !== range.offset) throw new GitHubError("transient", `blob storage answered a Range request from byte ${start}, not ${range.offset}`, { retryable: true });
      }
      return { body, whole: res.status === 200 };
    }
    const text = await res.text().catch(() => "");
    const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? res.headers.get("x-ms-error-code") ?? "";
    // 403: the signed URL expired (it lives about a minute); a fresh one may work.
    const retryable = res.status === 403 || res.status === 408 || res.status === 429 || res.status >= 500;
    throw new GitHubError(res.status === 404 ? "not-found" : retryable ? "transient" : "failed", `blob storage answered ${res.status} ${code}`.trim(), { retryable, status: res.status });
  }

  /** One REST call, its failure turned into a GitHubError that says what to do. */
  private async call<T>(what: string, need: "read" | "write", signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
    signal?.throwIfAborted();
    try {
      return await fn();
    } catch (err) {
      if ((err as Error).name === "AbortError" || err instanceof GitHubError) throw err;
      throw this.restError(err, what, need);
    }
  }

  private restError(err: unknown, what: string, need: "read" | "write"): GitHubError {
    const e = err as { status?: number; response?: { headers?: Record<string, string | undefined>; data?: unknown } };
    const status = e.status ?? 0;
    const headers = e.response?.headers ?? {};
    const data = e.response?.data;
    const said = typeof data === "object" && data !== null && "message" in data ? String((data as { message: unknown }).message) : errorMessage(err);
    if ((status === 403 || status === 429) && (headers["x-ratelimit-remaining"] === "0" || /rate limit/i.test(said) || headers["retry-after"] !== undefined)) {
      return rateLimitError(status, headers, err);
    }
    if (/Actions (has been|is) (disabled|not allowed)/i.test(said)) return actionsDisabledError(this.repository, said, status, err);
    if (status === 401) return authError(said, status, err);
    if (status === 403) return permissionError(need, said, status, err);
    if (status === 404) return new GitHubError("not-found", `${what}: not found (GitHub said: ${said})`, { status, cause: err });
    if (status === 410) return new GitHubError("expired", `${what}: the artifact has expired (GitHub said: ${said})`, { status, cause: err });
    // Octokit reports a failed connection as status 500.
    const retryable = status >= 500 || status === 408 || status === 0;
    return new GitHubError(retryable ? "transient" : "failed", `${what}: GitHub answered ${status || "nothing"} (${said})`, { retryable, status: status || undefined, cause: err });
  }
}

/** github.com, GHE.com and localhost are not Enterprise Server (as @actions/artifact decides). */
export function isEnterpriseServer(serverUrl: string): boolean {
  const host = new URL(serverUrl).hostname.toUpperCase();
  return !(host === "GITHUB.COM" || host.endsWith(".GHE.COM") || host.endsWith(".LOCALHOST"));
}

function toRemote(a: {
  id: number;
  name: string;
  size_in_bytes: number;
  digest?: string | null;
  created_at: string | null;
  expires_at: string | null;
  expired: boolean;
  workflow_run?: { id?: number } | null;
}): RemoteArtifact {
  const expires = a.expires_at ? Date.parse(a.expires_at) : undefined;
  return {
    id: a.id,
    name: a.name,
    size: a.size_in_bytes,
    digest: a.digest ?? undefined,
    created: a.created_at ? Date.parse(a.created_at) : 0,
    expires: Number.isNaN(expires) ? undefined : expires,
    expired: a.expired,
    runId: a.workflow_run?.id,
  };
}
