// Writes schema/cairn.schema.json (editor completion for cairn.yml) from the
// zod schema in src/config/config.ts. `node scripts/gen-schema.ts --check`
// fails when the committed file is stale.
import { readFileSync, writeFileSync } from "node:fs";
import * as z from "zod";
import { configInputSchema } from "../src/config/config.ts";

export const SCHEMA_PATH = new URL("../schema/cairn.schema.json", import.meta.url);

export function generateSchema(): string {
  const schema = z.toJSONSchema(configInputSchema, { io: "input", target: "draft-2020-12" });
  return JSON.stringify({ title: "cairn.yml", ...schema }, null, 2) + "\n";
}

if (import.meta.main) {
  const text = generateSchema();
  if (process.argv.includes("--check")) {
    if (readFileSync(SCHEMA_PATH, "utf8") !== text) {
      console.error("schema/cairn.schema.json is stale: run node scripts/gen-schema.ts");
      process.exit(1);
    }
  } else writeFileSync(SCHEMA_PATH, text);
}
