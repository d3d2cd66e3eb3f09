// The README shows a real settings pull request: the title, body and diff
// these tests produce for the trading bot example, byte for byte.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { examplePullRequest } from "../helpers/history.ts";
import { tempDir } from "../helpers/repo.ts";

const README = new URL("../../README.md", import.meta.url);

function between(text: string, name: string): string {
  const m = new RegExp(`<!-- ${name}:start -->\\n\`\`\`[a-z]*\\n([\\s\\S]*?)\`\`\`\\n<!-- ${name}:end -->`).exec(text);
  assert.ok(m, `README has no ${name} block`);
  return m[1];
}

test("the README's settings pull request is the one the tests produce", async (t) => {
  const tmp = await tempDir();
  t.after(tmp.cleanup);
  const pr = await examplePullRequest(tmp.dir);
  const readme = readFileSync(README, "utf8");
  assert.equal(between(readme, "settings-pr-body"), `${pr.title}\n\n${pr.body}\n`);
  assert.equal(between(readme, "settings-pr-diff"), pr.diff + "\n");
});
