// The shape CI also checks with dependency-cruiser (npm run check-layers):
// here, that nothing below the front ends and the app layer reads the
// environment, so every setting arrives through src/app/settings.ts.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";

const SRC = new URL("../src/", import.meta.url).pathname;
/** Where process.env may be read, and why. */
const ALLOWED = [
  /^cli\//, // the CLI's front end (CI=... for progress bars)
  /^action\//, // the Action's front end
  /^app\/settings\.ts$/, // the one place settings come from
  /^transport\/local\.ts$/, // a local command inherits this process's environment, as any child does
  /^history\/git\.ts$/, // so does git, run for the settings history
  /^backends\/git\.ts$/, // and for a git repository
];

/** Where process.env may only be written: @actions/artifact reads the Actions runtime from there, and nothing else can give it. */
const WRITES_ONLY = /^github\/runtime\.ts$/;

test("only the front ends and src/app/settings.ts read process.env", () => {
  const offenders: string[] = [];
  for (const f of readdirSync(SRC, { recursive: true, encoding: "utf8" })) {
    if (!f.endsWith(".ts") || ALLOWED.some((re) => re.test(f))) continue;
    const text = readFileSync(join(SRC, f), "utf8");
    text.split("\n").forEach((line, i) => {
      if (!/process\.env\b/.test(line) || line.trim().startsWith("//")) return;
      // An assignment `process.env.NAME = value;` and nothing else on the line.
      if (WRITES_ONLY.test(f) && /^process\.env\.[A-Z_]+ = [^=]+;$/.test(line.trim()) && !/process\.env/.test(line.trim().replace(/^process\.env\.[A-Z_]+ =/, ""))) return;
      offenders.push(`src/${f}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.deepEqual(offenders, []);
});
