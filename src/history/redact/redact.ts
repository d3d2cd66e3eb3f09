// Redaction: a settings file in, the text to commit out, failing closed.
// Values are replaced character for character inside the original text, so
// the layout stays and a one-value change is a one-line diff. Then the result
// is parsed again: every value that was not redacted must read exactly as
// before, and no redacted text may remain anywhere. A file that does not
// parse, or whose redaction cannot be checked, is recorded only by its keyed
// fingerprint, never by its text; so are secret files, private keys, binary
// and very large files.
import { basename, matchesGlob } from "node:path";
import { connectionStringPasswords, highEntropyStrings, isPrivateKeyFile, knownTokens, patternSpans, privateKeyBlocks, secretKeyLines, urlPasswords, urlQuerySecrets, type Span } from "./detect.ts";
import { checkFingerprintKey, MASKED, placeholder, PLACEHOLDER_RE, type FingerprintKey } from "./fingerprint.ts";
import { FormatError, type Format, type FormatName, type Leaf } from "./formats/format.ts";
import { jsonFormat } from "./formats/json.ts";
import { envFormat, iniFormat, textFormat } from "./formats/lines.ts";
import { tomlFormat } from "./formats/toml.ts";
import { yamlFormat } from "./formats/yaml.ts";
import { isSecretKey } from "./keys.ts";

export interface RedactRules {
  /** Globs matched against the file's path on the server: these files are recorded only as changed or unchanged. */
  secretFiles: string[];
  /** More values to redact: each match (or its capture groups) becomes a fingerprint. */
  redact: RegExp[];
  /** Volatile values: each match (or its capture groups) becomes `<masked>`, so it never makes a commit. */
  mask: RegExp[];
}

export const NO_RULES: RedactRules = { secretFiles: [], redact: [], mask: [] };

/** How a file's text was recorded. */
export type Recorded =
  /** its text, with secrets replaced by fingerprints */
  | "redacted"
  /** only its fingerprint: a secret file (secret-files, a private key, binary, too large) */
  | "secret"
  /** only its fingerprint: it could not be redacted safely (it did not parse, or the check failed) */
  | "opaque";

export interface RedactedFile {
  /** The text to commit. */
  text: string;
  recorded: Recorded;
  format: FormatName;
  /** How many values were replaced by a fingerprint, and by <masked>. */
  redacted: number;
  masked: number;
  /** Why only a fingerprint was recorded (never quotes the file). */
  reason?: string;
}

/** Files larger than this are recorded by fingerprint only: settings are small, and GitHub shows no diff over 500 KB. */
export const MAX_TEXT_BYTES = 512 * 1024;

const SECRET_FILE_NAMES = [/\.(key|p12|pfx|jks|keystore|kdbx|gpg)$/i, /^id_(rsa|dsa|ecdsa|ed25519)(_sk)?$/];

export function formatOf(path: string): FormatName {
  const name = basename(path).toLowerCase();
  if (name === ".env" || name === "env" || name.endsWith(".env") || name.startsWith(".env.")) return "env";
  if (/\.jsonc?$/.test(name)) return "json";
  if (/\.ya?ml$/.test(name)) return "yaml";
  if (name.endsWith(".toml")) return "toml";
  if (/\.(ini|cfg|cnf|properties)$/.test(name)) return "ini";
  return "text";
}

const FORMATS: Record<FormatName, Format> = { yaml: yamlFormat, json: jsonFormat, toml: tomlFormat, ini: iniFormat, env: envFormat, text: textFormat };

/** Redact one file. `path` is its path on the server (for secret-files globs and the format). */
export async function redactFile(path: string, content: Uint8Array, rules: RedactRules, key: FingerprintKey): Promise<RedactedFile> {
  checkFingerprintKey(key);
  const format = formatOf(path);
  const onlyFingerprint = (recorded: "secret" | "opaque", reason: string): RedactedFile => ({
    text: `# cairn: ${reason}; its content is not recorded here\n${placeholder(key, content)}\n`,
    recorded,
    format,
    redacted: 1,
    masked: 0,
    reason,
  });
  const glob = rules.secretFiles.find((g) => matchesGlob(path, g));
  if (glob !== undefined) return onlyFingerprint("secret", `a secret file (secret-files: ${glob})`);
  if (SECRET_FILE_NAMES.some((re) => re.test(basename(path)))) return onlyFingerprint("secret", "a key file");
  if (content.length > MAX_TEXT_BYTES) return onlyFingerprint("secret", `larger than ${MAX_TEXT_BYTES / 1024} KiB`);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(content);
  } catch {
    return onlyFingerprint("secret", "a binary file");
  }
  if (text.includes("\0")) return onlyFingerprint("secret", "a binary file");
  if (isPrivateKeyFile(text)) return onlyFingerprint("secret", "a private key");
  try {
    return { ...(await redactText(text, FORMATS[format], rules, key)), recorded: "redacted", format };
  } catch (err) {
    if (err instanceof FormatError) return onlyFingerprint("opaque", `${err.message}, so it cannot be redacted safely`);
    throw err;
  }
}

interface Group {
  start: number;
  end: number;
  kind: Span["kind"];
}

async function redactText(text: string, format: Format, rules: RedactRules, key: FingerprintKey): Promise<{ text: string; redacted: number; masked: number }> {
  const parsed = format.parse(text);
  const secretPath = (p: string[]) => p.some(isSecretKey);
  parsed.aliasTargets?.(secretPath);
  const spans: Span[] = [];
  for (const leaf of parsed.leaves) {
    if (leaf.end > leaf.start && !leaf.trivial && (leaf.forceSecret || secretPath(leaf.path))) spans.push({ start: leaf.start, end: leaf.end, kind: "redact" });
  }
  spans.push(
    ...secretKeyLines(text, parsed.comments),
    ...privateKeyBlocks(text),
    ...urlPasswords(text),
    ...urlQuerySecrets(text),
    ...connectionStringPasswords(text),
    ...highEntropyStrings(text),
    ...(await knownTokens(text)),
    ...toValues(patternSpans(text, rules.redact, "redact"), parsed.leaves, parsed.comments),
  );
  // A secret written twice (a password and the URL that repeats it) is
  // redacted everywhere it appears.
  for (const s of spans.slice()) {
    const value = text.slice(s.start, s.end).trim();
    if (value.length < 6) continue;
    for (let i = text.indexOf(value); i !== -1; i = text.indexOf(value, i + 1)) spans.push({ start: i, end: i + value.length, kind: "redact" });
  }
  spans.push(...toValues(patternSpans(text, rules.mask, "mask"), parsed.leaves, parsed.comments));

  const groups = merge(spans);
  let out = "";
  let at = 0;
  let redacted = 0;
  let masked = 0;
  for (const g of groups) {
    const original = text.slice(g.start, g.end);
    let replacement = g.kind === "mask" ? MASKED : placeholder(key, original);
    if (parsed.leaves.some((l) => l.quote && l.start === g.start && l.end === g.end)) replacement = `"${replacement}"`;
    out += text.slice(at, g.start) + replacement;
    at = g.end;
    if (g.kind === "mask") masked++;
    else redacted++;
  }
  out += text.slice(at);
  verify(format, text, out, parsed.leaves, groups);
  return { text: out, redacted, masked };
}

/**
 * The user's patterns replace values, not structure: a match that spans a
 * key, a quote or a comment marker (a whole-line pattern such as
 * `^# generated at .*$` or `^LAST_RUN=.*$`) is narrowed to the values and
 * comment text inside it. A match inside one value or comment stays as it is.
 */
function toValues(spans: Span[], leaves: Leaf[], comments: Array<[number, number]>): Span[] {
  const ranges: Array<[number, number]> = [...leaves.filter((l) => l.end > l.start).map((l) => [l.start, l.end] as [number, number]), ...comments];
  return spans.flatMap((s) => {
    if (ranges.some(([a, b]) => a <= s.start && s.end <= b)) return [s];
    const pieces = ranges
      .filter(([a, b]) => a < s.end && b > s.start)
      .map(([a, b]) => ({ start: Math.max(a, s.start), end: Math.min(b, s.end), kind: s.kind }));
    return pieces.length > 0 ? pieces : [s];
  });
}

/** Overlapping spans become one; a group with any mask in it is masked. */
function merge(spans: Span[]): Group[] {
  const sorted = spans.filter((s) => s.end > s.start).sort((a, b) => a.start - b.start || b.end - a.end);
  const groups: Group[] = [];
  for (const s of sorted) {
    const last = groups.at(-1);
    if (last && s.start < last.end) {
      last.end = Math.max(last.end, s.end);
      if (s.kind === "mask") last.kind = "mask";
    } else groups.push({ ...s });
  }
  return groups;
}

/** The fail-closed check: same structure, every untouched value unchanged, no redacted text left. */
function verify(format: Format, before: string, after: string, leaves: Leaf[], groups: Group[]): void {
  const fail = () => {
    throw new FormatError("its redaction could not be checked");
  };
  let again: Leaf[];
  try {
    again = format.parse(after).leaves;
  } catch {
    return fail();
  }
  if (again.length !== leaves.length) fail();
  leaves.forEach((leaf, i) => {
    if (again[i].path.join("\0") !== leaf.path.join("\0")) fail();
    const touched = groups.some((g) => g.start < leaf.end && g.end > leaf.start);
    if (!touched && again[i].value !== leaf.value) fail();
  });
  const visible = after.replace(PLACEHOLDER_RE, "\0");
  for (const g of groups) {
    const secret = before.slice(g.start, g.end).trim();
    if (g.kind === "redact" && secret.length >= 6 && visible.includes(secret)) fail();
  }
}
