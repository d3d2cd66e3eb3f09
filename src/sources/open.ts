// Builds the configured sources, one line per kind. The passwords cairn.yml
// names (password-env, secret-env) come in `secrets`, by variable name: the
// app layer gathered them from the environment.
import type { Config, SourceConfig } from "../config/config.ts";
import { resolve } from "node:path";
import { UsageError } from "../errors.ts";
import { FilesSource } from "./files.ts";
import type { Source } from "./source.ts";
import { SqliteSource } from "./sqlite.ts";
import { MysqlSource, PostgresSource } from "./sqldump.ts";
import { CommandSource } from "./command.ts";

/** Values of the variables cairn.yml names, by name. */
export type Secrets = Record<string, string | undefined>;

function secret(secrets: Secrets, source: string, variable: string | undefined): string | undefined {
  if (variable === undefined) return undefined;
  const value = secrets[variable];
  if (value === undefined || value === "") {
    throw new UsageError(`source ${source}: the environment variable ${variable} (named in cairn.yml) is not set`, `set ${variable} to the password, e.g. from a GitHub secret`);
  }
  return value;
}

export function createSources(config: Config, secrets: Secrets): Source[] {
  // Relative paths are relative to cairn.yml when the sources are local.
  const abs = (p: string) => (config.host ? p : resolve(config.baseDir, p));
  return config.sources.map((s: SourceConfig): Source => {
    switch (s.kind) {
      case "sqlite":
        return new SqliteSource(s.name, s.docker ? s.sqlite : abs(s.sqlite), s.docker);
      case "files":
        return new FilesSource(s.name, s.files.map(abs), s["newer-than"]);
      case "postgres":
        return new PostgresSource(s.name, { ...s.postgres, password: secret(secrets, s.name, s.postgres["password-env"]) }, s.docker);
      case "mysql":
        return new MysqlSource(s.name, { ...s.mysql, password: secret(secrets, s.name, s.mysql["password-env"]) }, s.docker);
      case "command": {
        const secretEnv: Record<string, string> = {};
        for (const [k, v] of Object.entries(s["secret-env"] ?? {})) secretEnv[k] = secret(secrets, s.name, v)!;
        return new CommandSource(s.name, s.command, { filename: s.filename, container: s.docker, secretEnv });
      }
      default:
        throw new UsageError(`source ${(s as SourceConfig).name}: unknown kind`);
    }
  });
}
