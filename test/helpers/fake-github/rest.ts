// The REST routes for artifacts, as api.github.com answers them: list (all,
// by name, by run), get, download (302 to a signed blob URL that lives one
// minute; 410 once expired), delete. Auth as GitHub does it: no token on a
// private repository is 404, a wrong one 401, a token without actions: read
// (or actions: write to delete) 403 "Resource not accessible by
// integration". Every authenticated request counts against the
// repository's hourly limit, reported in x-ratelimit-* headers; past it, 403
// "API rate limit exceeded". Unknown routes are 404.
import type { IncomingMessage, ServerResponse } from "node:http";
import { HOUR, type FakeGitHub, type Permission, type StoredArtifact } from "./index.ts";

const DOCS = "https://docs.github.com/rest/actions/artifacts";

function send(res: ServerResponse, status: number, body: object | undefined, headers: Record<string, string | number> = {}): void {
  const text = body === undefined ? "" : JSON.stringify(body);
  res.writeHead(status, { ...(body === undefined ? {} : { "content-type": "application/json; charset=utf-8" }), "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

function artifactJson(fake: FakeGitHub, a: StoredArtifact): object {
  const api = `${fake.url}/repos/${fake.owner}/${fake.repo}/actions/artifacts/${a.id}`;
  return {
    id: a.id,
    node_id: Buffer.from(`Artifact${a.id}`).toString("base64"),
    name: a.name,
    size_in_bytes: a.size,
    url: api,
    archive_download_url: `${api}/zip`,
    expired: fake.isExpired(a),
    created_at: new Date(a.createdAt).toISOString().replace(/\.\d{3}Z$/, "Z"),
    updated_at: new Date(a.createdAt).toISOString().replace(/\.\d{3}Z$/, "Z"),
    expires_at: new Date(a.expiresAt).toISOString().replace(/\.\d{3}Z$/, "Z"),
    digest: a.digest ?? null,
    workflow_run: { id: a.runId, repository_id: 1, head_repository_id: 1, head_branch: "main", head_sha: "0".repeat(40) },
  };
}

const ROUTES: { method: string; re: RegExp; name: string; needs: Permission }[] = [
  { method: "GET", re: /^\/repos\/([^/]+)\/([^/]+)\/actions\/artifacts$/, name: "list", needs: "read" },
  { method: "GET", re: /^\/repos\/([^/]+)\/([^/]+)\/actions\/runs\/(\d+)\/artifacts$/, name: "list-run", needs: "read" },
  { method: "GET", re: /^\/repos\/([^/]+)\/([^/]+)\/actions\/artifacts\/(\d+)$/, name: "get", needs: "read" },
  { method: "GET", re: /^\/repos\/([^/]+)\/([^/]+)\/actions\/artifacts\/(\d+)\/([a-z]+)$/, name: "download", needs: "read" },
  { method: "DELETE", re: /^\/repos\/([^/]+)\/([^/]+)\/actions\/artifacts\/(\d+)$/, name: "delete", needs: "write" },
];

export async function handleRest(fake: FakeGitHub, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const notFound = () => send(res, 404, { message: "Not Found", documentation_url: "https://docs.github.com/rest", status: "404" });
  let m: RegExpExecArray | null = null;
  const route = ROUTES.find((r) => r.method === req.method && (m = r.re.exec(url.pathname)));
  if (!route || !m) return notFound();
  const match = m as RegExpExecArray;
  if (match[1].toLowerCase() !== fake.owner.toLowerCase() || match[2].toLowerCase() !== fake.repo.toLowerCase()) return notFound();

  // A private repository: without a token it does not exist; a wrong token is refused.
  const auth = /^(?:token|Bearer) (\S+)$/i.exec(req.headers.authorization ?? "");
  if (!auth) return notFound();
  const permission = fake.tokens.get(auth[1]);
  if (permission === undefined) return send(res, 401, { message: "Bad credentials", documentation_url: "https://docs.github.com/rest", status: "401" });

  const now = fake.now();
  if (now >= fake.rate.resetAt) fake.rate = { used: 0, resetAt: now + HOUR };
  const limit = fake.options.restLimit;
  const rateHeaders = () => ({
    "x-ratelimit-limit": limit,
    "x-ratelimit-remaining": Math.max(0, limit - fake.rate.used),
    "x-ratelimit-reset": Math.floor(fake.rate.resetAt / 1000),
    "x-ratelimit-used": fake.rate.used,
    "x-ratelimit-resource": "core",
  });
  if (fake.rate.used >= limit) {
    return send(res, 403, { message: "API rate limit exceeded for installation ID 4242.", documentation_url: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api", status: "403" }, rateHeaders());
  }
  fake.rate.used++;
  fake.stats.rest++;
  const key = `${route.method} ${route.name}`;
  fake.stats.restByRoute[key] = (fake.stats.restByRoute[key] ?? 0) + 1;
  const h = rateHeaders();
  if (fake.faults.rest.count > 0) {
    fake.faults.rest.count--;
    return send(res, fake.faults.rest.status, { message: "injected fault", documentation_url: "https://docs.github.com/rest" }, h);
  }

  const disabled = fake.options.actionsDisabled;
  if (disabled) return send(res, 422, { message: disabled === true ? "Actions has been disabled for this repository." : disabled, documentation_url: DOCS, status: "422" }, h);
  if (permission === "none" || (route.needs === "write" && permission !== "write")) {
    return send(res, 403, { message: "Resource not accessible by integration", documentation_url: DOCS, status: "403" }, h);
  }

  const byId = (id: string) => fake.visible().find((a) => a.id === Number(id));
  switch (route.name) {
    case "list":
    case "list-run": {
      const perPage = Math.min(100, Math.max(1, Number(url.searchParams.get("per_page") ?? 30) || 30));
      const page = Math.max(1, Number(url.searchParams.get("page") ?? 1) || 1);
      const name = url.searchParams.get("name");
      const all = fake
        .visible()
        .filter((a) => (name === null || a.name === name) && (route.name === "list" || a.runId === Number(match[3])))
        .sort((x, y) => y.id - x.id);
      return send(res, 200, { total_count: all.length, artifacts: all.slice((page - 1) * perPage, page * perPage).map((a) => artifactJson(fake, a)) }, h);
    }
    case "get": {
      const a = byId(match[3]);
      return a ? send(res, 200, artifactJson(fake, a), h) : notFound();
    }
    case "download": {
      const a = byId(match[3]);
      if (!a || match[4] !== "zip") return notFound();
      if (fake.isExpired(a)) return send(res, 410, { message: "Artifact has expired", documentation_url: `${DOCS}#download-an-artifact`, status: "410" }, h);
      return send(res, 302, undefined, { ...h, location: fake.signedUrl(a.blobKey, "r", 60_000) });
    }
    case "delete": {
      const a = byId(match[3]);
      if (!a) return notFound();
      a.deleted = true;
      return send(res, 204, undefined, h);
    }
  }
  return notFound();
}
