// One exit-code table and one environment list, in code: `cairn --help` is
// generated from them, the README's tables must equal them, and the list must
// name every variable the code reads. The README's JSON shapes must match
// what each command prints with --json.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ENVIRONMENT, resolveSettings } from "../../src/app/settings.ts";
import { EXIT_CODES } from "../../src/errors.ts";
import { cairn } from "../helpers/cli.ts";
import { makeRepo, type TempRepo } from "../helpers/repo.ts";

const README = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
const SRC = new URL("../../src/", import.meta.url).pathname;

/** The rows of the README table under the heading `### title`, as cells. */
function readmeTable(title: string): string[][] {
  const section = README.split(`\n### ${title}\n`)[1]?.split(/\n#{2,3} /)[0];
  assert.ok(section, `README has a "### ${title}" section`);
  return section
    .split("\n")
    .filter((l) => l.startsWith("|") && !/^\|[-| ]+\|$/.test(l))
    .slice(1)
    .map((l) => l.slice(1, -1).split(" | ").map((c) => c.trim()));
}

test("--help lists every exit code with its meaning, from the table in src/errors.ts", () => {
  const h = cairn(["--help"]);
  assert.equal(h.code, 0);
  const listed = h.stdout.split("Exit codes:\n")[1].split("\n\n")[0].split("\n");
  assert.deepEqual(listed, EXIT_CODES.map((r) => `  ${String(r.code).padEnd(4)}${r.meaning}`));
  for (const [name] of ENVIRONMENT) assert.match(h.stdout, new RegExp(`\\n  ${name} +\\S`), `--help names ${name}`);
});

test("the README's exit-code table is the table in src/errors.ts", () => {
  assert.deepEqual(readmeTable("Exit codes"), EXIT_CODES.map((r) => [String(r.code), r.meaning]));
});

test("the README's environment table is ENVIRONMENT", () => {
  assert.deepEqual(readmeTable("Environment"), ENVIRONMENT.map(([name, meaning]) => [`\`${name}\``, meaning]));
});

test("ENVIRONMENT names every variable the code reads", async () => {
  const listed = new Set(ENVIRONMENT.map(([n]) => n));
  // What settings read, watched as they read it.
  const read = new Set<string>();
  const env = new Proxy({} as Record<string, string | undefined>, {
    get: (_t, k) => {
      if (typeof k === "string") read.add(k);
      return undefined;
    },
  });
  await resolveSettings({}, env);
  assert.ok(read.size > 5, [...read].join(" "));
  assert.deepEqual([...read].filter((n) => !listed.has(n)), [], "read by resolveSettings but not in ENVIRONMENT");
  // Every CAIRN_* name and every process.env.X anywhere in the source.
  const named = new Set<string>();
  for (const f of readdirSync(SRC, { recursive: true, encoding: "utf8" })) {
    if (!f.endsWith(".ts")) continue;
    const text = readFileSync(join(SRC, f), "utf8");
    for (const m of text.matchAll(/\bCAIRN_[A-Z0-9_]*[A-Z0-9]\b/g)) named.add(m[0]);
    for (const m of text.matchAll(/process\.env(?:\.([A-Z_][A-Z0-9_]*)|\[["']([A-Z_][A-Z0-9_]*)["']\])/g)) named.add(m[1] ?? m[2]);
  }
  assert.ok(named.has("CAIRN_WRITE_KEY") && named.has("CI"), [...named].join(" "));
  assert.deepEqual([...named].filter((n) => !listed.has(n)).sort(), [], "named in src/ but not in ENVIRONMENT");
});

// The README's JSON shapes: `{a, b: {c}, d: [{e}]}`, parsed to key trees and
// compared with what the commands print.
type Shape = { keys: Map<string, Shape | undefined> } | { array: Shape | undefined };

function parseShape(text: string): Shape {
  let at = 0;
  const skip = () => {
    while (text[at] === " ") at++;
  };
  const value = (): Shape | undefined => {
    skip();
    if (text[at] === "{") return object();
    if (text[at] === "[") {
      at++;
      skip();
      const inner = text[at] === "{" ? object() : undefined;
      skip();
      assert.equal(text[at], "]", `] at ${at} in ${text}`);
      at++;
      return { array: inner };
    }
    return undefined;
  };
  const object = (): Shape => {
    assert.equal(text[at++], "{");
    const keys = new Map<string, Shape | undefined>();
    for (;;) {
      skip();
      const m = /^[A-Za-z]+/.exec(text.slice(at));
      assert.ok(m, `a key at ${at} in ${text}`);
      at += m[0].length;
      skip();
      let v: Shape | undefined;
      if (text[at] === ":") {
        at++;
        v = value();
        skip();
      }
      keys.set(m[0], v);
      if (text[at] === ",") at++;
      else break;
    }
    assert.equal(text[at++], "}", `} in ${text}`);
    return { keys };
  };
  const s = value();
  assert.ok(s, text);
  return s;
}

function matches(shape: Shape, value: unknown, where: string): void {
  if ("array" in shape) {
    assert.ok(Array.isArray(value), `${where} is a list`);
    assert.ok(value.length > 0, `${where} has an element to compare`);
    if (shape.array) for (const [i, v] of value.entries()) matches(shape.array, v, `${where}[${i}]`);
    return;
  }
  assert.ok(value && typeof value === "object" && !Array.isArray(value), `${where} is an object`);
  assert.deepEqual(Object.keys(value).sort(), [...shape.keys.keys()].sort(), `${where}'s keys`);
  for (const [k, sub] of shape.keys) if (sub) matches(sub, (value as Record<string, unknown>)[k], `${where}.${k}`);
}

let repo: TempRepo;
before(async () => {
  repo = await makeRepo();
  writeFileSync(join(repo.dir, "notes.txt"), "hello\n");
  // A missing literal path: the snapshot is incomplete, so that list has an element to compare too.
  // The settings history in a local bare repository: backup's history field and `cairn history` have something to show.
  execFileSync("git", ["init", "--bare", "-q", join(repo.dir, "history.git")]);
  writeFileSync(
    join(repo.dir, "cairn.yml"),
    `repository: ${repo.repoUrl}\nhistory: { repository: "git:${join(repo.dir, "history.git")}" }\nsources:\n  - { name: notes, files: [${join(repo.dir, "notes.txt")}, ${join(repo.dir, "gone.txt")}], history: true }\n`,
  );
});
after(() => repo.cleanup());

test("each command's --json output has the shape the README gives", () => {
  const shapes = new Map(readmeTable("JSON output").map(([cmd, shape]) => [cmd.replace(/`/g, ""), parseShape(shape.replace(/`/g, ""))]));
  const env = { CAIRN_WRITE_KEY: repo.writeKey };
  const runs: [string, string[], Record<string, string>?][] = [
    ["keygen", ["keygen"]],
    ["keygen -o FILE", ["keygen", "-o", join(repo.dir, "id2.txt")]],
    ["init", ["init", "-r", `local:${join(repo.dir, "repo2")}`, "-i", repo.identityFile]],
    ["backup", ["backup", "-c", join(repo.dir, "cairn.yml")], env],
    ["snapshots", ["snapshots", "-r", repo.repoUrl], env],
    ["restore", ["restore", "latest", "-r", repo.repoUrl, "-i", repo.identityFile, "--target", join(repo.dir, "restored")]],
    ["restore --to-server", ["restore", "latest", "-c", join(repo.dir, "cairn.yml"), "-i", repo.identityFile, "--to-server", "--dry-run"]],
    ["verify", ["verify", "-r", repo.repoUrl, "-i", repo.identityFile, "--read-data"]],
    ["export", ["export", "latest", "-r", repo.repoUrl, "-i", repo.identityFile, "-o", join(repo.dir, "x.tar.zst.age")]],
    ["history", ["history", "-c", join(repo.dir, "cairn.yml")]],
    // After a second backup with notes.txt changed (below): a file to list.
    ["diff A B", ["diff", "FIRST", "latest", "-c", join(repo.dir, "cairn.yml"), "-i", repo.identityFile]],
    ["ls", ["ls", "latest", "-r", repo.repoUrl], env],
    ["forget", ["forget", "-r", repo.repoUrl, "--keep-last", "1", "--prune", "--dry-run"], env],
    ["prune", ["prune", "-r", repo.repoUrl, "--dry-run"], env],
    ["key show", ["key", "show", "-r", repo.repoUrl, "-i", repo.identityFile]],
    // On the second repository: a new write key would change the first's.
    ["key add, key remove", ["key", "add", "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p", "-r", `local:${join(repo.dir, "repo2")}`, "-i", repo.identityFile]],
  ];
  assert.deepEqual([...shapes.keys()].sort(), runs.map(([c]) => c).sort(), "the README documents every command");
  let first = "";
  for (const [cmd, args, cmdEnv] of runs) {
    if (cmd === "diff A B") {
      writeFileSync(join(repo.dir, "notes.txt"), "hello again\n");
      assert.equal(cairn(["backup", "-c", join(repo.dir, "cairn.yml")], { env }).code, 4);
    }
    const r = cairn([...args.map((a) => (a === "FIRST" ? first : a)), "--json"], { env: cmdEnv });
    assert.equal(r.code, cmd === "backup" ? 4 : 0, `${cmd}: ${r.stderr}`);
    matches(shapes.get(cmd)!, JSON.parse(r.stdout), cmd);
    if (cmd === "backup") first = JSON.parse(r.stdout).id;
  }
});
