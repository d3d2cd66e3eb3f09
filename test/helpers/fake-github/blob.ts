// Block-blob storage behind the signed URLs, as the Azure SDK drives it:
// PUT ?comp=block&blockid=... stages a block (blocks arrive in parallel, in
// any order), PUT ?comp=blocklist commits them in the listed order, GET reads
// the blob whole or a Range of it. A URL is good only with its signature,
// before its expiry, for its permission (cw: write, r: read), and a blob
// is written once: after its artifact is finalized nothing changes it.
// Errors are Azure's XML {Code, Message} with x-ms-error-code.
import type { IncomingMessage, ServerResponse } from "node:http";
import { readBody, type FakeGitHub } from "./index.ts";

function fail(res: ServerResponse, status: number, code: string, message: string): void {
  const body = `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`;
  res.writeHead(status, { "content-type": "application/xml", "x-ms-error-code": code, "content-length": Buffer.byteLength(body) });
  res.end(body);
}

function ok(res: ServerResponse, status: number, headers: Record<string, string | number> = {}): void {
  res.writeHead(status, { "x-ms-request-id": crypto.randomUUID(), "x-ms-version": "2023-11-03", date: new Date().toUTCString(), ...headers });
  res.end();
}

export async function handleBlob(fake: FakeGitHub, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const q = url.searchParams;
  const sp = q.get("sp") ?? "";
  const se = q.get("se") ?? "";
  const sig = q.get("sig") ?? "";
  if (!sig || sig !== fake.sasSignature(url.pathname, sp, se)) return fail(res, 403, "AuthenticationFailed", "Server failed to authenticate the request: signature mismatch");
  if (!(Date.parse(se) > fake.now())) return fail(res, 403, "AuthenticationFailed", `Signed expiry time [${se}] must be after signed start time`);
  const key = url.pathname.slice("/blob/artifacts/".length);
  const blob = fake.blobs.get(key);
  if (!blob) return fail(res, 404, "BlobNotFound", "The specified blob does not exist.");
  const artifact = fake.artifacts.find((a) => a.id === blob.artifactId)!;

  if (req.method === "PUT") {
    if (sp !== "cw") return fail(res, 403, "AuthorizationPermissionMismatch", "This request is not authorized to perform this operation using this permission.");
    if (artifact.finalized || artifact.deleted) return fail(res, 409, "BlobImmutable", "The artifact is finalized; its blob cannot change.");
    const comp = q.get("comp");
    if (comp === "block") {
      const id = q.get("blockid") ?? "";
      const decoded = Buffer.from(id, "base64");
      if (!id || decoded.length === 0 || decoded.length > 64 || decoded.toString("base64") !== id) return fail(res, 400, "InvalidQueryParameterValue", "blockid is not valid base64 of at most 64 bytes");
      const other = blob.blocks.keys().next().value;
      if (other !== undefined && other.length !== id.length) return fail(res, 400, "InvalidBlobOrBlock", "all block IDs of a blob must have the same length");
      const length = Number(req.headers["content-length"]);
      const data = await readBody(req, 100 * 1024 * 1024);
      if (!data || data.length !== length) return fail(res, 400, "InvalidHeaderValue", "the body is not Content-Length bytes");
      blob.blocks.set(id, data);
      fake.stats.blobPuts++;
      fake.stats.blobUploadBytes += data.length;
      return ok(res, 201, { "x-ms-request-server-encrypted": "true", "content-length": 0 });
    }
    if (comp === "blocklist") {
      const xml = (await readBody(req, 4 << 20))?.toString("utf8") ?? "";
      fake.stats.blobPuts++;
      if (fake.faults.commits > 0) {
        fake.faults.commits--;
        return fail(res, 400, "InvalidBlockList", "injected fault: the block list was not committed");
      }
      const m = /^(?:<\?xml[^>]*\?>)?\s*(?:<BlockList\s*\/>|<BlockList>([\s\S]*)<\/BlockList>)\s*$/.exec(xml);
      if (!m) return fail(res, 400, "InvalidXmlDocument", "the block list is not a BlockList document");
      const ids: string[] = [];
      const rest = (m[1] ?? "").replace(/<(Latest|Uncommitted)>([^<]*)<\/\1>/g, (_all, _tag, id: string) => {
        ids.push(id);
        return "";
      });
      if (rest.trim() || ids.some((id) => !blob.blocks.has(id))) return fail(res, 400, "InvalidBlockList", "The specified block list is invalid.");
      blob.data = Buffer.concat(ids.map((id) => blob.blocks.get(id)!));
      blob.blocks.clear();
      blob.contentType = String(req.headers["x-ms-blob-content-type"] ?? "application/octet-stream");
      return ok(res, 201, { etag: `"0x${Date.now().toString(16)}"`, "last-modified": new Date().toUTCString(), "x-ms-request-server-encrypted": "true", "content-length": 0 });
    }
    return fail(res, 400, "InvalidQueryParameterValue", `unsupported comp=${comp}`);
  }

  if (req.method === "GET") {
    if (sp !== "r") return fail(res, 403, "AuthorizationPermissionMismatch", "This request is not authorized to perform this operation using this permission.");
    if (artifact.deleted) return fail(res, 404, "BlobNotFound", "The specified blob does not exist.");
    if (!blob.data) return fail(res, 404, "BlobNotFound", "The blob has no committed content.");
    const data = blob.data;
    fake.stats.blobGets++;
    const headers: Record<string, string | number> = { "content-type": blob.contentType, "accept-ranges": "bytes", etag: `"${artifact.id}"` };
    const range = (req.headers["x-ms-range"] ?? req.headers.range) as string | undefined;
    if (range && fake.options.ranges) {
      const r = /^bytes=(\d+)-(\d*)$/.exec(range);
      if (!r) return fail(res, 400, "InvalidRange", `bad range ${range}`);
      const start = Number(r[1]);
      const end = r[2] ? Math.min(Number(r[2]), data.length - 1) : data.length - 1;
      if (start >= data.length || end < start) {
        res.writeHead(416, { "content-range": `bytes */${data.length}`, "x-ms-error-code": "InvalidRange", "content-type": "application/xml" });
        return void res.end(`<?xml version="1.0" encoding="utf-8"?><Error><Code>InvalidRange</Code><Message>The range specified is invalid for the current size of the resource.</Message></Error>`);
      }
      const part = data.subarray(start, end + 1);
      fake.stats.blobDownloadBytes += part.length;
      fake.stats.downloads.push({ name: artifact.name, bytes: part.length, ranged: true });
      res.writeHead(206, { ...headers, "content-range": `bytes ${start}-${end}/${data.length}`, "content-length": part.length });
      return void res.end(part);
    }
    fake.stats.blobDownloadBytes += data.length;
    fake.stats.downloads.push({ name: artifact.name, bytes: data.length, ranged: false });
    res.writeHead(200, { ...headers, "content-length": data.length });
    return void res.end(data);
  }
  return fail(res, 405, "UnsupportedHttpVerb", `${req.method} is not supported here`);
}
