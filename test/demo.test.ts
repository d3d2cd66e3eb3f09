// The README's first command, `npm run demo` (scripts/demo.ts after the
// build): it must end well and show what the README says it shows.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { test } from "node:test";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

test("the demo backs up, restores equal data, and runs the Action into a bare git repository", () => {
  const r = spawnSync(process.execPath, ["scripts/demo.ts"], { cwd: ROOT, encoding: "utf8", maxBuffer: 1 << 26 });
  assert.equal(r.status, 0, `${r.stdout.slice(-4000)}\n${r.stderr}`);
  assert.match(r.stdout, /database content equal \(sqlite3 \.sha3sum\): true/);
  assert.match(r.stdout, /settings files equal: true/);
  assert.match(r.stdout, /cairn: this command reads backed-up data and needs the age identity/, "the write key cannot restore");
  assert.match(r.stdout, /^snapshot-id: [0-9a-f]{64}$/m, "the Action's outputs");
  assert.match(r.stdout, /cairn backup: snapshot [0-9a-f]{8}/, "the Action's job summary");
});
