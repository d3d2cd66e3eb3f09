// A real smart-HTTP git server for tests: git http-backend behind node's
// HTTP server, standing in for GitHub's git side. It insists on a token as
// GitHub does (Basic x-access-token:TOKEN), records every request's
// authorization and body (refs asked for), and counts the bytes it sends
// for fetches (git-upload-pack) and pushes (git-receive-pack) apart.
import { spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import { gunzipSync } from "node:zlib";

export interface GitHttpLog {
  /** Authorization header of every request ("" when none). */
  authorizations: string[];
  /** Bodies of upload-pack requests (ls-refs, fetch), as text. */
  fetchBodies: string[];
  /** Bytes sent in answer to fetches (ref listing and packs) and to pushes. */
  sent: { fetch: number; push: number };
}

export interface GitHttpServer {
  url: string;
  log: GitHttpLog;
  reset(): void;
  close(): Promise<void>;
}

export async function gitHttpServer(root: string, token: string): Promise<GitHttpServer> {
  const expected = `basic ${Buffer.from(`x-access-token:${token}`).toString("base64")}`.toLowerCase();
  const log: GitHttpLog = { authorizations: [], fetchBodies: [], sent: { fetch: 0, push: 0 } };
  const server: Server = createServer((req, res) => {
    const auth = req.headers.authorization ?? "";
    log.authorizations.push(auth);
    const url = new URL(req.url!, "http://x");
    if (auth.toLowerCase() !== expected) {
      res.writeHead(401, { "WWW-Authenticate": 'Basic realm="GitHub"' }).end();
      return;
    }
    const pushing = url.pathname.endsWith("/git-receive-pack") || url.searchParams.get("service") === "git-receive-pack";
    const body: Buffer[] = [];
    req.on("data", (d: Buffer) => body.push(d));
    req.on("end", () => {
      let data = Buffer.concat(body);
      if (!pushing && data.length) {
        const text = req.headers["content-encoding"] === "gzip" ? gunzipSync(data) : data;
        log.fetchBodies.push(text.toString("latin1"));
      }
      const cgi = spawn("git", ["http-backend"], {
        env: {
          PATH: process.env.PATH,
          GIT_PROJECT_ROOT: root,
          GIT_HTTP_EXPORT_ALL: "1",
          REMOTE_USER: "x-access-token",
          REQUEST_METHOD: req.method!,
          PATH_INFO: url.pathname,
          QUERY_STRING: url.search.slice(1),
          CONTENT_TYPE: req.headers["content-type"] ?? "",
          HTTP_CONTENT_ENCODING: req.headers["content-encoding"] ?? "",
          GIT_PROTOCOL: String(req.headers["git-protocol"] ?? ""),
        },
      });
      cgi.stdin.on("error", () => {});
      cgi.stdin.end(data);
      data = Buffer.alloc(0);
      const out: Buffer[] = [];
      cgi.stdout.on("data", (d: Buffer) => out.push(d));
      cgi.on("close", () => {
        const all = Buffer.concat(out);
        const split = all.indexOf("\r\n\r\n");
        const headers: Record<string, string> = {};
        let status = 200;
        for (const h of all.subarray(0, split).toString().split("\r\n")) {
          const [k, ...v] = h.split(":");
          if (k.toLowerCase() === "status") status = Number(v.join(":").trim().split(" ")[0]);
          else headers[k] = v.join(":").trim();
        }
        const payload = all.subarray(split + 4);
        if (pushing) log.sent.push += payload.length;
        else log.sent.fetch += payload.length;
        res.writeHead(status, headers).end(payload);
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    log,
    reset() {
      log.authorizations.length = 0;
      log.fetchBodies.length = 0;
      log.sent.fetch = 0;
      log.sent.push = 0;
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}
