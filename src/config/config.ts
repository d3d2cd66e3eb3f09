// cairn.yml: the schema, and loading it into one typed settings object.
// Errors name the line, the bad value and the expected form. Nothing below
// src/config reads the YAML or the environment again.
import { readFile } from "node:fs/promises";
import { LineCounter, parseDocument, isNode } from "yaml";
import * as z from "zod";
import { UsageError } from "../errors.ts";

const name = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/i, "a name of letters, digits, '.', '_' or '-' (at most 63)");

/** "7d", "12h", "30m": a duration, parsed to milliseconds. */
const duration = z
  .string()
  .regex(/^\d+[smhdw]$/, 'a duration such as "7d", "12h" or "30m"')
  .transform((s) => {
    const n = Number(s.slice(0, -1));
    const unit = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 }[s.slice(-1) as "s"];
    return n * unit;
  });

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "an environment variable name");

const common = {
  name,
  /** Run the dump inside this Docker container on the source machine (`docker exec`). */
  docker: z.string().min(1).optional(),
};

const sqliteSource = z.strictObject({ ...common, sqlite: z.string().min(1) });

const filesSource = z.strictObject({
  ...common,
  files: z.union([z.string().min(1).transform((s) => [s]), z.array(z.string().min(1)).min(1)]),
  /** Only files modified within this duration (logs). */
  "newer-than": duration.optional(),
});

const dbConnection = {
  database: z.string().min(1),
  user: z.string().min(1).optional(),
  host: z.string().min(1).optional(),
  port: z.number().int().min(1).max(65535).optional(),
  /** Name of the environment variable that holds the password. */
  "password-env": envName.optional(),
};

const postgresSource = z.strictObject({
  ...common,
  postgres: z.strictObject({ ...dbConnection, globals: z.boolean().optional() }),
});

const mysqlSource = z.strictObject({ ...common, mysql: z.strictObject(dbConnection) });

const commandSource = z.strictObject({
  ...common,
  command: z.string().min(1),
  /** The file name the output restores to. */
  filename: z.string().regex(/^[^/\\]+$/, "a file name without '/'").refine((s) => s !== "." && s !== "..").optional(),
});

const sourceKinds = {
  sqlite: sqliteSource,
  files: filesSource,
  postgres: postgresSource,
  mysql: mysqlSource,
  command: commandSource,
} as const;
export type SourceKind = keyof typeof sourceKinds;
export const SOURCE_KINDS = Object.keys(sourceKinds) as SourceKind[];

const sshHost = z.strictObject({
  address: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(22),
  user: z.string().min(1),
  /** A bastion to connect through; its key and pins come from the same place as the host's. */
  jump: z
    .strictObject({
      address: z.string().min(1),
      port: z.number().int().min(1).max(65535).default(22),
      user: z.string().min(1),
    })
    .optional(),
  "keepalive-seconds": z.number().int().min(0).default(15),
  "connect-timeout-seconds": z.number().int().min(1).default(20),
});

const source = z.custom<unknown>().transform((value, ctx) => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    ctx.addIssue({ code: "custom", message: `expected a source such as { name: db, sqlite: /path/to.db }` });
    return z.NEVER;
  }
  const kinds = SOURCE_KINDS.filter((k) => k in value);
  if (kinds.length !== 1) {
    ctx.addIssue({
      code: "custom",
      message:
        kinds.length === 0
          ? `a source needs exactly one of: ${SOURCE_KINDS.join(", ")}`
          : `a source has one kind, found ${kinds.join(" and ")}`,
    });
    return z.NEVER;
  }
  const kind = kinds[0];
  const parsed = sourceKinds[kind].safeParse(value);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) ctx.addIssue({ ...issue, path: issue.path } as never);
    return z.NEVER;
  }
  return { kind, ...parsed.data } as SourceConfig;
});

export const configSchema = z.strictObject({
  /** Repository URL, e.g. local:/var/backups/cairn. CAIRN_REPOSITORY and -r override it. */
  repository: z.string().min(1).optional(),
  /** The server; without it, sources are read on this machine. */
  host: sshHost.optional(),
  sources: z.array(source).min(1, "at least one source"),
});

type Dist<K extends SourceKind> = { kind: K } & z.output<(typeof sourceKinds)[K]>;
export type SourceConfig = { [K in SourceKind]: Dist<K> }[SourceKind];
export type HostConfig = z.output<typeof sshHost>;
export interface Config {
  repository?: string;
  host?: HostConfig;
  sources: SourceConfig[];
  /** Folder of the config file: relative source paths resolve against it. */
  baseDir: string;
}

export async function loadConfig(path: string): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new UsageError(`cannot read config ${path}: ${(err as Error).message}`, "pass the config file with -c FILE");
  }
  const { resolve, dirname } = await import("node:path");
  return parseConfig(text, path, dirname(resolve(path)));
}

export function parseConfig(text: string, file: string, baseDir: string): Config {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const where = (offset: number | undefined): string => {
    if (offset === undefined) return file;
    const { line, col } = lines.linePos(offset);
    return `${file}:${line}:${col}`;
  };
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    throw new UsageError(`${where(e.pos[0])}: invalid YAML: ${e.message.split("\n")[0]}`);
  }
  const parsed = configSchema.safeParse(doc.toJS());
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    // Point at the deepest node that exists for the issue's path.
    let node: unknown;
    for (let n = issue.path.length; n >= 0 && node === undefined; n--) {
      const candidate = n === 0 ? doc.contents : doc.getIn(issue.path.slice(0, n) as (string | number)[], true);
      if (isNode(candidate)) node = candidate;
    }
    const offset = isNode(node) ? node.range?.[0] : undefined;
    const at = issue.path.length ? issue.path.join(".") : "(top level)";
    const got = isNode(node) && "value" in node ? ` (got ${JSON.stringify((node as { value: unknown }).value)})` : "";
    throw new UsageError(`${where(offset)}: ${at}: ${issue.message}${got}`, "see the README's cairn.yml reference");
  }
  const names = new Set<string>();
  for (const s of parsed.data.sources as SourceConfig[]) {
    if (names.has(s.name)) throw new UsageError(`${file}: two sources are named "${s.name}"`, "give each source its own name");
    names.add(s.name);
  }
  return { ...(parsed.data as Omit<Config, "baseDir">), baseDir };
}
