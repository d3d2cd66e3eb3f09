// Which restore puts each source of a snapshot back, from cairn.yml: the
// places (paths, databases) and hooks come from the config, never from the
// snapshot, whose files are only matched against them.
import { resolve } from "node:path";
import type { Config, SourceConfig } from "../../config/config.ts";
import { IntegrityError, UsageError } from "../../errors.ts";
import type { Secrets } from "../open.ts";
import { MysqlRestore, PostgresRestore, type DatabaseOptions } from "./databases.ts";
import { FilesRestore } from "./files.ts";
import type { RestoreFile, ServerRestore } from "./restore.ts";
import { SqliteRestore } from "./sqlite.ts";

/** Why a source cannot go back onto the server, or undefined when it can. */
export function cannotRestore(s: SourceConfig): string | undefined {
  if (s.kind === "command") return "it is a command's output; cairn cannot know how to load it (restore it with --target and load it by hand)";
  if (s.kind === "sqlite" && s.docker) return "its database is inside a Docker container (restore it with --target and copy it into the container's volume)";
  return undefined;
}

export function createServerRestore(config: Config, s: SourceConfig, files: RestoreFile[], secrets: Secrets, options: DatabaseOptions): ServerRestore {
  const abs = (p: string) => (config.host ? p : resolve(config.baseDir, p));
  const hooks = s.restore ?? config.restore ?? {};
  const one = (path: string) => {
    const f = files.find((x) => x.path === path);
    if (!f) throw new IntegrityError(`source ${s.name}: the snapshot has no ${path}`, "the snapshot was made by another cairn.yml; restore it with --target");
    return f;
  };
  const password = (variable: string | undefined) => {
    if (variable === undefined) return undefined;
    const v = secrets[variable];
    if (!v) throw new UsageError(`source ${s.name}: the environment variable ${variable} (named in cairn.yml) is not set`, `set ${variable} to the password`);
    return v;
  };
  switch (s.kind) {
    case "sqlite":
      return new SqliteRestore(s.name, abs(s.sqlite), one(`${s.name}.sqlite`), hooks);
    case "files":
      return new FilesRestore(s.name, s.files.map(abs), files, hooks);
    case "postgres":
      return new PostgresRestore(s.name, one(`${s.name}.sql`), hooks, { ...s.postgres, password: password(s.postgres["password-env"]) }, s.docker, options);
    case "mysql":
      return new MysqlRestore(s.name, one(`${s.name}.sql`), hooks, { ...s.mysql, password: password(s.mysql["password-env"]) }, s.docker, options);
    default:
      throw new UsageError(`source ${s.name}: ${cannotRestore(s) ?? "cannot be restored onto the server"}`);
  }
}
