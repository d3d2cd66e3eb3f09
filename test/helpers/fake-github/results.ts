// The Actions results service's artifact methods, as Twirp over JSON: what
// @actions/artifact 6.x sends (protobuf JSON with proto field names, default
// values left out) and answers it parses. Errors are JSON {code, msg} with
// Twirp's status for the code: anything else makes the client retry for
// ~30 s. Unknown methods, unknown or mistyped fields, a token that is not a
// live run's, or IDs that are not the token's are refused.
import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { DAY, readBody, type FakeGitHub, type RunState, type StoredArtifact } from "./index.ts";

const SERVICE = "github.actions.results.api.v1.ArtifactService";

const STATUS: Record<string, number> = {
  malformed: 400,
  invalid_argument: 400,
  bad_route: 404,
  unauthenticated: 401,
  permission_denied: 403,
  not_found: 404,
  already_exists: 409,
  failed_precondition: 412,
  resource_exhausted: 429,
  internal: 500,
};

class TwirpError extends Error {
  readonly code: string;
  constructor(code: string, msg: string) {
    super(msg);
    this.code = code;
  }
}

/** Characters GitHub refuses in an artifact name (the client's list; the service checks them too). */
const BAD_NAME = /["<>|*?\r\n\\/:]/;

type Field = "string" | "int" | "int64" | "timestamp" | "wrapped-string" | "wrapped-int64";
const IDS: Record<string, Field> = { workflow_run_backend_id: "string", workflow_job_run_backend_id: "string" };
const METHODS: Record<string, { fields: Record<string, Field>; required: string[] }> = {
  CreateArtifact: { fields: { ...IDS, name: "string", expires_at: "timestamp", version: "int", mime_type: "wrapped-string" }, required: ["name", "version"] },
  FinalizeArtifact: { fields: { ...IDS, name: "string", size: "int64", hash: "wrapped-string" }, required: ["name"] },
  ListArtifacts: { fields: { ...IDS, name_filter: "wrapped-string", id_filter: "wrapped-int64" }, required: [] },
  GetSignedArtifactURL: { fields: { ...IDS, name: "string" }, required: ["name"] },
  DeleteArtifact: { fields: { ...IDS, name: "string" }, required: ["name"] },
};

function send(res: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

export async function handleTwirp(fake: FakeGitHub, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const method = url.pathname.startsWith(`/twirp/${SERVICE}/`) ? url.pathname.slice(`/twirp/${SERVICE}/`.length) : "";
  fake.stats.twirp[method || url.pathname] = (fake.stats.twirp[method || url.pathname] ?? 0) + 1;
  try {
    const spec = METHODS[method];
    if (!spec || req.method !== "POST" || url.search) throw new TwirpError("bad_route", `no such method: ${req.method} ${url.pathname}${url.search}`);
    const auth = /^Bearer (.+)$/.exec(req.headers.authorization ?? "");
    const run = auth ? fake.runOfToken(auth[1]) : undefined;
    if (!run || run.ended) throw new TwirpError("unauthenticated", auth ? "the runtime token is not valid (or its run has ended)" : "no bearer token");
    if (!/^application\/json\b/.test(req.headers["content-type"] ?? "")) throw new TwirpError("bad_route", `unexpected Content-Type ${req.headers["content-type"]}`);
    const raw = await readBody(req, 1 << 20);
    if (!raw) throw new TwirpError("malformed", "request body too large");
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw.toString("utf8"));
    } catch {
      throw new TwirpError("malformed", "the body is not JSON");
    }
    const msg = parse(body, spec, method);
    if (msg.workflow_run_backend_id !== run.runBackendId || msg.workflow_job_run_backend_id !== run.jobBackendId) {
      throw new TwirpError("permission_denied", "the backend IDs are not the token's");
    }
    const answer = call(fake, run, method, msg);
    send(res, 200, answer);
  } catch (err) {
    if (!(err instanceof TwirpError)) throw err;
    send(res, STATUS[err.code], { code: err.code, msg: err.message });
  }
}

function parse(body: unknown, spec: (typeof METHODS)[string], method: string): Record<string, string | number | undefined> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new TwirpError("malformed", `${method}: the body is not a JSON object`);
  const out: Record<string, string | number | undefined> = {};
  for (const [k, v] of Object.entries(body)) {
    const type = spec.fields[k];
    if (!type) throw new TwirpError("malformed", `${method}: unknown field ${JSON.stringify(k)}`);
    const bad = () => new TwirpError("malformed", `${method}: field ${k} is not a valid ${type}: ${JSON.stringify(v)}`);
    switch (type) {
      case "string":
      case "wrapped-string":
        if (typeof v !== "string") throw bad();
        out[k] = v;
        break;
      case "int":
      case "int64":
      case "wrapped-int64":
        // protobuf JSON: integers as numbers or decimal strings (the client writes 64-bit ones as strings)
        if (!(Number.isSafeInteger(v) || (typeof v === "string" && /^-?\d{1,15}$/.test(v)))) throw bad();
        out[k] = Number(v);
        break;
      case "timestamp":
        if (typeof v !== "string" || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$/.test(v) || Number.isNaN(Date.parse(v))) throw bad();
        out[k] = Date.parse(v);
        break;
    }
  }
  for (const k of ["workflow_run_backend_id", "workflow_job_run_backend_id", ...spec.required]) {
    if (out[k] === undefined || out[k] === "") throw new TwirpError("invalid_argument", `${method}: ${k} is required`);
  }
  return out;
}

function live(fake: FakeGitHub, run: RunState, name: string, finalized: boolean | undefined): StoredArtifact | undefined {
  return fake.artifacts.find((a) => a.runId === run.runId && a.name === name && !a.deleted && (finalized === undefined || a.finalized === finalized));
}

function call(fake: FakeGitHub, run: RunState, method: string, m: Record<string, string | number | undefined>): object {
  const name = m.name as string;
  switch (method) {
    case "CreateArtifact": {
      if (m.version !== 7) throw new TwirpError("invalid_argument", `unsupported artifact version ${m.version}`);
      if (BAD_NAME.test(name) || name.length > 256) throw new TwirpError("invalid_argument", `The artifact name is not valid: ${name}`);
      // The quota (private repositories only) is checked when an artifact is created (GitHub recalculates usage every 6-12 hours).
      if (fake.options.visibility === "private" && fake.options.quotaBytes !== undefined && fake.usedBytes() >= fake.options.quotaBytes) {
        throw new TwirpError("resource_exhausted", "insufficient usage to create artifact: the account's artifact storage quota is used up");
      }
      if (live(fake, run, name, undefined)) throw new TwirpError("already_exists", `an artifact with this name already exists on the workflow run: ${name}`);
      if (run.created >= fake.options.jobLimit) {
        throw new TwirpError("failed_precondition", `the maximum number of artifacts (${fake.options.jobLimit}) for this job has been reached`);
      }
      // The client asks for an absolute time computed from the real clock; the
      // fake keeps the length asked for, capped by the repository's setting.
      const maxMs = fake.options.retentionDays * DAY;
      let lifetime = maxMs;
      if (m.expires_at !== undefined) {
        const asked = (m.expires_at as number) - Date.now();
        if (asked < DAY - 60_000 || asked > 400 * DAY + 60_000) throw new TwirpError("invalid_argument", `expires_at must be 1 to 400 days ahead, not ${(asked / DAY).toFixed(2)}`);
        lifetime = Math.min(asked, maxMs);
      }
      const now = fake.now();
      const a: StoredArtifact = {
        id: fake.newId(),
        name,
        runId: run.runId,
        runBackendId: run.runBackendId,
        jobBackendId: run.jobBackendId,
        createdAt: now,
        expiresAt: now + lifetime,
        finalized: false,
        deleted: false,
        blobKey: `${run.runId}/${createHash("sha256").update(`${run.runBackendId}/${name}/${now}/${Math.random()}`).digest("hex").slice(0, 24)}`,
        size: 0,
        digest: undefined,
      };
      fake.artifacts.push(a);
      run.created++;
      fake.blobs.set(a.blobKey, { blocks: new Map(), data: undefined, contentType: "application/octet-stream", artifactId: a.id });
      return { ok: true, signed_upload_url: fake.signedUrl(a.blobKey, "cw", 6 * 3_600_000) };
    }
    case "FinalizeArtifact": {
      const a = live(fake, run, name, false);
      if (!a) throw new TwirpError("not_found", `no artifact ${name} being uploaded in this run`);
      const blob = fake.blobs.get(a.blobKey)!;
      if (!blob.data) throw new TwirpError("failed_precondition", `artifact ${name}: no block list was committed`);
      const size = (m.size as number | undefined) ?? 0;
      if (size !== blob.data.length) throw new TwirpError("invalid_argument", `artifact ${name}: size ${size} is not the uploaded ${blob.data.length} bytes`);
      const hash = m.hash as string | undefined;
      if (hash !== undefined && hash !== `sha256:${createHash("sha256").update(blob.data).digest("hex")}`) {
        throw new TwirpError("invalid_argument", `artifact ${name}: hash ${hash} is not the uploaded content's`);
      }
      a.finalized = true;
      a.size = size;
      a.digest = hash;
      return { ok: true, artifact_id: String(a.id) };
    }
    case "ListArtifacts": {
      const list = fake.artifacts.filter(
        (a) => a.runId === run.runId && a.finalized && !a.deleted && (m.name_filter === undefined || a.name === m.name_filter) && (m.id_filter === undefined || a.id === m.id_filter),
      );
      return {
        artifacts: list.map((a) => ({
          workflow_run_backend_id: a.runBackendId,
          workflow_job_run_backend_id: a.jobBackendId,
          database_id: String(a.id),
          name: a.name,
          size: String(a.size),
          created_at: new Date(a.createdAt).toISOString(),
          ...(a.digest ? { digest: a.digest } : {}),
        })),
      };
    }
    case "GetSignedArtifactURL": {
      const a = live(fake, run, name, true);
      if (!a) throw new TwirpError("not_found", `no artifact ${name} in this run`);
      if (fake.isExpired(a)) throw new TwirpError("not_found", `artifact ${name} has expired`);
      return { signed_url: fake.signedUrl(a.blobKey, "r", 60_000) };
    }
    case "DeleteArtifact": {
      const a = live(fake, run, name, true);
      if (!a) throw new TwirpError("not_found", `no artifact ${name} in this run`);
      a.deleted = true;
      return { ok: true, artifact_id: String(a.id) };
    }
  }
  throw new TwirpError("bad_route", `no such method ${method}`);
}
