// The GitHub token reaches git only through the child's environment: never
// in an argument, a URL or a file on disk. A real smart-HTTP git server
// (git http-backend behind a local HTTP server) stands in for GitHub's git
// side and insists on the token as GitHub does (Basic x-access-token:TOKEN);
// a token that may not push gets a 403, and the error names the permission.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import { test } from "node:test";
import { parseRemote } from "../../src/history/git.ts";
import { recordSettings } from "../../src/history/record.ts";
import { bareRepo, files, gitIn, request } from "../helpers/history.ts";
import { tempDir } from "../helpers/repo.ts";
import { quietLog } from "../helpers/sources.ts";

const TOKEN = "ghs_PLANTEDtoken0123456789abcdefABCDEF";
const READ_ONLY = "ghs_PLANTEDreadonly0123456789abcdefAB";

/** git http-backend for the repositories under `root`; `seen` collects each request's authorization. */
async function gitHttpServer(root: string, seen: string[]): Promise<{ url: string; server: Server }> {
  const basic = (t: string) => `basic ${Buffer.from(`x-access-token:${t}`).toString("base64")}`;
  const server = createServer((req, res) => {
    const auth = (req.headers.authorization ?? "").toLowerCase();
    seen.push(req.headers.authorization ?? "");
    const url = new URL(req.url!, "http://x");
    if (auth !== basic(TOKEN).toLowerCase() && auth !== basic(READ_ONLY).toLowerCase()) {
      res.writeHead(401, { "WWW-Authenticate": 'Basic realm="GitHub"' }).end();
      return;
    }
    const pushing = url.pathname.endsWith("/git-receive-pack") || url.searchParams.get("service") === "git-receive-pack";
    if (pushing && auth === basic(READ_ONLY).toLowerCase()) {
      res.writeHead(403, { "content-type": "text/plain" }).end("Permission to me/bot-settings.git denied to github-actions[bot].\n");
      return;
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
      },
    });
    req.pipe(cgi.stdin);
    const out: Buffer[] = [];
    cgi.stdout.on("data", (d: Buffer) => out.push(d));
    cgi.on("close", () => {
      const all = Buffer.concat(out);
      const split = all.indexOf("\r\n\r\n");
      const head = all.subarray(0, split).toString().split("\r\n");
      const headers: Record<string, string> = {};
      let status = 200;
      for (const h of head) {
        const [k, ...v] = h.split(":");
        if (k.toLowerCase() === "status") status = Number(v.join(":").trim().split(" ")[0]);
        else headers[k] = v.join(":").trim();
      }
      res.writeHead(status, headers).end(all.subarray(split + 4));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server };
}

function allFiles(dir: string): string {
  let text = "";
  for (const f of readdirSync(dir, { recursive: true, encoding: "utf8" })) {
    const p = join(dir, f);
    if (statSync(p).isFile()) text += readFileSync(p).toString("latin1");
  }
  return text;
}

test("the token goes to git in the environment only, scoped to the GitHub server", () => {
  const r = parseRemote("github:me/bot-settings", { token: TOKEN, apiUrl: "https://api.github.com", serverUrl: "https://github.com" });
  assert.equal(r.url, "https://github.com/me/bot-settings.git");
  assert.deepEqual(r.github, { owner: "me", repo: "bot-settings" });
  assert.equal(r.env.GIT_CONFIG_KEY_0, "http.https://github.com/.extraheader");
  assert.equal(r.env.GIT_CONFIG_VALUE_0, `AUTHORIZATION: basic ${Buffer.from(`x-access-token:${TOKEN}`).toString("base64")}`);
  // Another server's URL gets no token.
  assert.deepEqual(parseRemote("git:https://git.example.com/me/x.git", { token: TOKEN, apiUrl: "", serverUrl: "https://github.com" }).env, {});
  assert.throws(() => parseRemote("git:https://me:pw@github.com/me/x.git", { apiUrl: "", serverUrl: "https://github.com" }), /password in its URL/);
});

test("a push over HTTPS-like smart HTTP authenticates with the token, which is nowhere on disk; a read-only token is told what permission to add", async (t) => {
  const tmp = await tempDir();
  t.after(tmp.cleanup);
  const root = join(tmp.dir, "server");
  const remote = bareRepo(join(root, "me", "bot-settings.git"));
  gitIn(remote, "config", "http.receivepack", "true");
  const seen: string[] = [];
  const { url, server } = await gitHttpServer(root, seen);
  t.after(() => server.close());
  const log = quietLog();
  const workDir = join(tmp.dir, "work");
  const github = { token: TOKEN, apiUrl: "http://127.0.0.1:1", serverUrl: url };

  const r = await recordSettings(request({ sources: [files({ "/srv/bot/.env": "A=1\n" })], workDir, log, github }, { pullRequest: false }));
  assert.equal(gitIn(remote, "rev-parse", "settings-history"), r.commit, "the push landed");
  assert.ok(seen.some((a) => a.toLowerCase().startsWith("basic ")), "git sent the token");
  const disk = allFiles(workDir);
  for (const secret of [TOKEN, Buffer.from(`x-access-token:${TOKEN}`).toString("base64")]) {
    assert.ok(!disk.includes(secret), "not in the local repository");
    assert.ok(!log.lines.join("\n").includes(secret), "not in the log");
  }
  assert.ok(!readFileSync(join(workDir, "history.git", "config"), "utf8").includes("extraheader"));

  const denied = recordSettings(request({ sources: [files({ "/srv/bot/.env": "A=2\n" })], workDir, log, github: { ...github, token: READ_ONLY } }, { pullRequest: false }));
  await assert.rejects(denied, (e: Error & { hint?: string }) => {
    assert.match(e.message, /me\/bot-settings refused the push to settings-history/);
    assert.match(e.hint!, /permissions: contents: write/);
    assert.ok(!e.message.includes(READ_ONLY) && !e.hint!.includes(READ_ONLY));
    return true;
  });
});
