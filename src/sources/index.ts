// Builds the configured sources. One line per kind.
import type { Config, SourceConfig } from "../config/config.ts";
import { resolve } from "node:path";
import { UsageError } from "../errors.ts";
import { FilesSource } from "./files.ts";
import type { Source } from "./source.ts";
import { SqliteSource } from "./sqlite.ts";

export function createSources(config: Config): Source[] {
  // Relative paths are relative to cairn.yml when the sources are local.
  const abs = (p: string) => (config.host ? p : resolve(config.baseDir, p));
  return config.sources.map((s: SourceConfig): Source => {
    switch (s.kind) {
      case "sqlite":
        return new SqliteSource(s.name, abs(s.sqlite));
      case "files":
        return new FilesSource(s.name, s.files.map(abs), s["newer-than"]);
      default:
        throw new UsageError(`source ${s.name}: the ${s.kind} source is not built yet`);
    }
  });
}
