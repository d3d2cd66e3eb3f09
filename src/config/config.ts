// cairn.yml: the schema, and loading it into one typed settings object.
// Errors name the line, the bad value and the expected form. Nothing below
// src/config reads the YAML or the environment again.
import { readFile } from "node:fs/promises";
import { LineCounter, parseDocument, isNode } from "yaml";
import * as z from "zod";
import { ExitCode, fromSystemError, isSystemError, UsageError } from "../errors.ts";

// Upper and lower case are both allowed, spelled out (not /i) so that the JSON
// Schema editors use allows the same; names equal but for case are refused as
// duplicates (they restore to one path on a case-insensitive file system).
const name = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, "a name of letters (either case), digits, '.', '_' or '-', starting with a letter or digit (at most 63)");

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

/** Commands around a restore onto the server (cairn restore --to-server), run with sh -c there. */
const restoreHooks = z
  .strictObject({
    stop: z.string().min(1).optional().describe('Run on the server before the restored data replaces the current one, e.g. "docker compose stop bot"; if it fails nothing is replaced'),
    start: z.string().min(1).optional().describe('Run on the server after the restored data is in place, e.g. "docker compose start bot"'),
  })
  .describe("Commands cairn restore --to-server runs on the server around the swap (a source's own replace the top-level ones)");

const common = {
  name: name.describe("The source's name: its entries are stored under it"),
  restore: restoreHooks.optional(),
  secret: z
    .boolean()
    .optional()
    .describe("Store this source's files with random chunk IDs, so the write key cannot test guesses about their content (no deduplication: each backup stores them whole)"),
};
/** Run the dump inside this Docker container on the source machine (`docker exec -i`). */
const docker = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, "a container name or ID")
  .optional()
  .describe("Run the dump inside this Docker container on the server (docker exec -i NAME ...)");

const sqliteSource = z.strictObject({
  ...common,
  sqlite: z.string().min(1).describe("Path of the SQLite database on the server; copied with SQLite's backup API, never as a live file"),
  docker,
});

/** A JavaScript regular expression, compiled as settings history will use it (per line: ^ and $ match at line ends). */
const regex = z
  .string()
  .min(1)
  .superRefine((s, ctx) => {
    try {
      new RegExp(s, "gmd");
    } catch (err) {
      ctx.addIssue({ code: "custom", message: `not a valid regular expression: ${(err as Error).message.replace(/^Invalid regular expression: /, "")}` });
    }
  });

const filesSource = z.strictObject({
  ...common,
  files: z
    .union([z.string().min(1).transform((s) => [s]), z.array(z.string().min(1)).min(1)], { error: "a path or glob, or a list of them" })
    .describe("Paths or globs on the server (*, ?, [..], ** for any depth); a directory is taken whole"),
  /** Only files modified within this duration (logs). */
  "newer-than": duration.optional().describe('Only files modified within this long, e.g. "7d" (logs)'),
  history: z.boolean().optional().describe("Also record these files, secrets redacted, in the settings history (the top-level history: setting)"),
  "secret-files": z
    .array(z.string().min(1))
    .optional()
    .describe("Globs (paths on the server) of files whose content the settings history never shows: only whether they changed"),
  redact: z
    .array(regex)
    .optional()
    .describe("More values to redact in the settings history: regular expressions; a match, or its capture groups, becomes a fingerprint"),
  mask: z
    .array(regex)
    .optional()
    .describe("Volatile values (timestamps, counters) the settings history ignores: regular expressions; a match, or its capture groups, becomes <masked>"),
});

const dbConnection = {
  database: z.string().min(1).describe("The database to dump"),
  user: z.string().min(1).optional().describe("Database user (default: the tool's default, usually the login user)"),
  host: z.string().min(1).optional().describe("Database host as seen from the server (default: local socket)"),
  port: z.number().int().min(1).max(65535).optional(),
  /** Name of the environment variable that holds the password. */
  "password-env": envName
    .optional()
    .describe("Name of the environment variable (on the runner) holding the password; it reaches the dump tool via its environment or stdin, never a command line"),
};

const postgresSource = z.strictObject({
  ...common,
  postgres: z
    .strictObject({ ...dbConnection, globals: z.boolean().optional().describe("Also dump roles and tablespaces (pg_dumpall --globals-only) as NAME.globals.sql") })
    .describe("pg_dump of one database, plain SQL"),
  docker,
});

const mysqlSource = z.strictObject({
  ...common,
  mysql: z.strictObject(dbConnection).describe("mysqldump --single-transaction of one MySQL/MariaDB database"),
  docker,
});

const commandSource = z.strictObject({
  ...common,
  command: z
    .union([z.string().min(1), z.array(z.string()).min(1)], { error: "a command line (text) or a list of arguments" })
    .describe("A command whose stdout is the backup: a string runs with sh -c on the server, a list runs as argv"),
  /** The file name the output restores to. */
  filename: z
    .string()
    .regex(/^[^/\\]+$/, "a file name without '/'")
    .refine((s) => s !== "." && s !== "..")
    .optional()
    .describe("File name the output is stored and restored as (default NAME.out)"),
  "secret-env": z
    .record(envName, envName)
    .optional()
    .describe("Secret variables for the command: { VAR_ON_SERVER: VAR_ON_RUNNER }; values travel on stdin, never on a command line"),
  docker,
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

const endpoint = {
  address: z.string().min(1).describe("Host name or IP address"),
  port: z.number().int().min(1).max(65535).default(22).describe("SSH port"),
  user: z.string().min(1).describe("Login user on the server"),
};

const sshHost = z
  .strictObject({
    ...endpoint,
    /** A bastion to connect through; its key and pins come from the same place as the host's. */
    jump: z
      .strictObject(endpoint)
      .optional()
      .describe("A bastion (jump host) to connect through; pin its host key in CAIRN_KNOWN_HOSTS / CAIRN_HOST_FINGERPRINT too"),
    "keepalive-seconds": z.number().int().min(0).default(15).describe("SSH keepalive interval; 0 turns it off"),
    "connect-timeout-seconds": z.number().int().min(1).default(20).describe("Give up connecting after this long"),
    /** A remote command (a dump) that prints nothing for this long is stopped. */
    "command-timeout-seconds": z.number().int().min(1).default(600).describe("Stop a dump that prints nothing for this long"),
    /** SSH cipher preference; the default is the fastest measured. */
    ciphers: z
      .array(z.enum(["aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com", "aes128-ctr", "aes192-ctr", "aes256-ctr"]))
      .min(1)
      .optional()
      .describe("SSH cipher preference, first wins (default: aes128-gcm, the fastest measured)"),
  })
  .describe("The server, reached over SSH; without it sources are read on this machine. Key and pins come from CAIRN_SSH_KEY, CAIRN_KNOWN_HOSTS, CAIRN_HOST_FINGERPRINT");

/** A branch name git accepts (git check-ref-format, simplified). */
const branch = z
  .string()
  .regex(/^(?!-|\/)(?!.*(\.\.|\/\/|@\{|\.lock$|\/$|\.$))[A-Za-z0-9._\/-]+$/, "a git branch name (letters, digits, '.', '_', '-', '/')");

const history = z
  .strictObject({
    repository: z
      .string()
      .regex(/^(github:[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+|git:.+)$/, "github:OWNER/REPO or git:URL")
      .describe("Where the settings history is kept: github:OWNER/REPO or git:URL (https://, ssh://, git@host:path, file://, a path)"),
    branch: branch.default("settings-history").describe("The history branch (default settings-history)"),
    base: branch.optional().describe("The branch pull requests go to (default: the repository's default branch)"),
    "pull-request": z.boolean().default(true).describe("Open or update a pull request for each change (GitHub repositories; default true)"),
  })
  .describe("Settings history: the files of sources with history: true, secrets redacted, one commit per change, reviewed in a pull request");

const keepCount = (what: string) => z.number().int().min(0).optional().describe(`Keep the newest snapshot of each of the last N ${what}`);

const retention = z
  .strictObject({
    "keep-last": z.number().int().min(0).optional().describe("Keep the N newest snapshots"),
    "keep-hourly": keepCount("hours"),
    "keep-daily": keepCount("days"),
    "keep-weekly": keepCount("ISO weeks"),
    "keep-monthly": keepCount("months"),
    "keep-yearly": keepCount("years"),
    "keep-within": z
      .string()
      .regex(/^(?=.)(\d+y)?(\d+m)?(\d+d)?(\d+h)?$/, 'a duration as restic writes it: years, months, days, hours, e.g. "30d" or "1y6m"')
      .optional()
      .describe('Keep every snapshot newer than this before the latest one, e.g. "30d" or "1y6m" (y years, m months, d days, h hours; as restic)'),
    prune: z.boolean().optional().describe("cairn forget also prunes: removes the data no remaining snapshot needs (default false)"),
  })
  .describe("Retention: which snapshots cairn forget keeps (per host and set of sources; restic's forget rules). The seeds' policy: keep-daily 7, keep-weekly 4, keep-monthly 12, keep-yearly 2");

const source = z.custom<unknown>().transform((value, ctx) => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    ctx.addIssue({ code: "custom", message: `expected a source such as { name: db, sqlite: /path/to.db }` });
    return z.NEVER;
  }
  const kinds = SOURCE_KINDS.filter((k) => k in value);
  if (kinds.length !== 1) {
    // A misspelt kind ("sqlit:") is an unknown key: name it, and the kind it is closest to.
    const unknown = Object.keys(value).filter((k) => !SOURCE_KEYS.has(k));
    const guess = unknown.map((k) => ({ k, near: closest(k, SOURCE_KINDS) })).find((g) => g.near);
    ctx.addIssue({
      code: "custom",
      message:
        kinds.length > 0
          ? `a source has one kind, found ${kinds.join(" and ")}`
          : guess
            ? `unknown key "${guess.k}" (did you mean "${guess.near}"?); a source needs exactly one of: ${SOURCE_KINDS.join(", ")}`
            : `a source needs exactly one of: ${SOURCE_KINDS.join(", ")}${unknown.length ? ` (unknown key${unknown.length > 1 ? "s" : ""}: ${unknown.map((k) => `"${k}"`).join(", ")})` : ""}`,
    });
    return z.NEVER;
  }
  const kind = kinds[0];
  const parsed = sourceKinds[kind].safeParse(value, { error: issueText });
  if (!parsed.success) {
    for (const issue of parsed.error.issues) ctx.addIssue({ ...issue, path: issue.path } as never);
    return z.NEVER;
  }
  return { kind, ...parsed.data } as SourceConfig;
});

/** Every key a source of any kind may have. */
const SOURCE_KEYS = new Set(Object.values(sourceKinds).flatMap((s) => Object.keys(s.shape)));

export const configSchema = z.strictObject({
  /** Repository URL, e.g. local:/var/backups/cairn, or several (each backup goes into every one). CAIRN_REPOSITORY and -r override it. */
  repository: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
  /** The server; without it, sources are read on this machine. */
  host: sshHost.optional(),
  history: history.optional(),
  retention: retention.optional(),
  /** Hooks for every source without its own. */
  restore: restoreHooks.optional(),
  sources: z.array(source).min(1, "at least one source"),
});

/** cairn.yml as editors see it (schema/cairn.schema.json): the same parts, sources as a plain union. */
export const configInputSchema = z
  .strictObject({
    repository: z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
      .optional()
      .describe("Repository URL, e.g. local:/var/backups/cairn, or a list of them: each backup goes into every one (3-2-1)"),
    host: sshHost.optional(),
    history: history.optional(),
    retention: retention.optional(),
    restore: restoreHooks.optional(),
    sources: z
      .array(z.union(Object.values(sourceKinds) as unknown as [typeof sqliteSource, typeof filesSource]))
      .min(1)
      .describe("What to back up; each source has a name and exactly one kind"),
  })
  .describe("cairn.yml: what to back up, from where");

type Dist<K extends SourceKind> = { kind: K } & z.output<(typeof sourceKinds)[K]>;
export type SourceConfig = { [K in SourceKind]: Dist<K> }[SourceKind];
export type HostConfig = z.output<typeof sshHost>;
export type HistoryConfig = z.output<typeof history>;
export type RetentionConfig = z.output<typeof retention>;
export type RestoreHooks = z.output<typeof restoreHooks>;
export interface Config {
  repository?: string | string[];
  host?: HostConfig;
  /** Settings history (sources with history: true). */
  history?: HistoryConfig;
  /** Which snapshots cairn forget keeps. */
  retention?: RetentionConfig;
  /** Stop and start hooks of restore --to-server, for sources without their own. */
  restore?: RestoreHooks;
  sources: SourceConfig[];
  /** Folder of the config file: relative source paths resolve against it. */
  baseDir: string;
}

export async function loadConfig(path: string): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if (isSystemError(err)) throw fromSystemError(err, `read the config file ${path}`, ExitCode.usage, err.code === "ENOENT" ? "pass the config file with -c FILE" : undefined);
    throw err;
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
  const parsed = configSchema.safeParse(doc.toJS(), { error: issueText });
  if (!parsed.success) {
    // A misspelt key is the cause of whatever else is missing: say it first.
    const issue = parsed.error.issues.find((i) => i.code === "unrecognized_keys") ?? parsed.error.issues[0];
    // Point at the deepest node that exists for the issue's path.
    let node: unknown;
    for (let n = issue.path.length; n >= 0 && node === undefined; n--) {
      const candidate = n === 0 ? doc.contents : doc.getIn(issue.path.slice(0, n) as (string | number)[], true);
      if (isNode(candidate)) node = candidate;
    }
    const offset = isNode(node) ? node.range?.[0] : undefined;
    const at = issue.path.length ? issue.path.join(".") : "(top level)";
    const said = issue.message.includes(", got ") || issue.message.startsWith("is missing");
    const got = !said && isNode(node) && "value" in node ? ` (got ${JSON.stringify((node as { value: unknown }).value)})` : "";
    const sep = issue.message.startsWith("is missing") ? " " : ": ";
    throw new UsageError(`${where(offset)}: ${at}${sep}${issue.message}${got}`, "see the README's cairn.yml reference");
  }
  const names = new Map<string, string>();
  const sources = parsed.data.sources as SourceConfig[];
  sources.forEach((s, i) => {
    const other = names.get(s.name.toLowerCase());
    if (other !== undefined) {
      throw new UsageError(
        other === s.name ? `${file}: two sources are named "${s.name}"` : `${file}: sources "${other}" and "${s.name}" differ only in case`,
        "give each source its own name (names equal but for case would restore to one path on some file systems)",
      );
    }
    names.set(s.name.toLowerCase(), s.name);
    const at = () => where((doc.getIn(["sources", i], true) as { range?: [number] } | undefined)?.range?.[0]);
    if (s.kind !== "files") return;
    const extras = (["secret-files", "redact", "mask"] as const).filter((k) => s[k] !== undefined);
    if (!s.history && extras.length > 0) {
      throw new UsageError(`${at()}: source ${s.name}: ${extras.join(", ")} only apply with history: true`, "add history: true to the source, or remove them");
    }
    if (s.history && !parsed.data.history) {
      throw new UsageError(`${at()}: source ${s.name} has history: true, but cairn.yml has no history: { repository: ... }`, "add a top-level history: { repository: github:OWNER/REPO }");
    }
  });
  if (parsed.data.history && !sources.some((s) => s.kind === "files" && s.history)) {
    const node = doc.get("history", true) as { range?: [number] } | undefined;
    throw new UsageError(`${where(node?.range?.[0])}: history is set, but no files source has history: true`, "mark the settings sources with history: true");
  }
  return { ...(parsed.data as Omit<Config, "baseDir">), baseDir };
}

const TYPE_WORDS: Record<string, string> = {
  string: "text",
  number: "a number",
  int: "a whole number",
  boolean: "true or false",
  object: "a mapping (key: value)",
  array: "a list",
  record: "a mapping (key: value)",
};

function describeValue(v: unknown): string {
  if (v === null) return "nothing (null)";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return JSON.stringify(v);
}

/** zod's issues in the words of a cairn.yml reader ("is missing", "expected a list, got 3"), where the schema has no message of its own. */
function issueText(issue: z.core.$ZodRawIssue): string | undefined {
  if (issue.code === "invalid_type") {
    const want = TYPE_WORDS[issue.expected] ?? issue.expected;
    return issue.input === undefined ? `is missing (expected ${want})` : `expected ${want}, got ${describeValue(issue.input)}`;
  }
  if (issue.code === "unrecognized_keys") {
    const keys = issue.keys as string[];
    const near = keys.length === 1 ? closest(keys[0], ALL_KEYS) : undefined;
    return `unknown key${keys.length > 1 ? "s" : ""} ${keys.map((k) => `"${k}"`).join(", ")}${near ? ` (did you mean "${near}"?)` : ""}`;
  }
  return undefined;
}

/** Every key cairn.yml knows, anywhere: what a misspelt key is compared with. */
const ALL_KEYS = [
  ...new Set([
    ...Object.keys(configSchema.shape),
    ...Object.keys(sshHost.shape),
    ...SOURCE_KEYS,
    ...Object.keys(dbConnection),
    ...Object.keys(retention.shape),
    ...Object.keys(restoreHooks.shape),
    "globals",
  ]),
];

/** The candidate closest to word (edit distance at most 2, and less than half its length), if any. */
function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.min(2, Math.floor((word.length - 1) / 2));
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c);
    if (d <= bestDistance && (best === undefined || d < editDistance(word.toLowerCase(), best))) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

/** Levenshtein distance, with a swap of two neighbours counting as one edit. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}
