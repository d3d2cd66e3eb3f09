// Secrets found in the text itself, whatever the format: private key blocks,
// passwords in URLs and connection strings, known token formats
// (secretlint's recommended rule set: GitHub, Slack, AWS, GCP, npm, Stripe,
// OpenAI, ...), long high-entropy strings, "key: value" lines with a secret
// key (comments, plain text), and the user's own `redact:` and `mask:`
// patterns. Each returns spans of the text to replace.
import { lintSource } from "@secretlint/core";
import { creator as recommended } from "@secretlint/secretlint-rule-preset-recommend";
import { isSecretKey } from "./keys.ts";

export interface Span {
  start: number;
  end: number;
  /** redact: replaced by a fingerprint; mask: by a constant (volatile values). */
  kind: "redact" | "mask";
}

const span = (start: number, end: number, kind: Span["kind"] = "redact"): Span => ({ start, end, kind });

/** PEM private key blocks, BEGIN to END inclusive (to the end of the text when END is missing). */
export function privateKeyBlocks(text: string): Span[] {
  const re = /-----BEGIN ([A-Z0-9 ]*?)PRIVATE KEY( BLOCK)?-----[\s\S]*?(?:-----END \1PRIVATE KEY\2-----|$)/g;
  return [...text.matchAll(re)].map((m) => span(m.index, m.index + m[0].length));
}

/** True when the whole text is one private key (a key file): it is recorded as a secret file. */
export function isPrivateKeyFile(text: string): boolean {
  const t = text.trim();
  const blocks = privateKeyBlocks(t);
  return blocks.length > 0 && blocks[0].start === 0 && blocks.at(-1)!.end === t.length;
}

/** scheme://user:PASSWORD@host: the password. */
export function urlPasswords(text: string): Span[] {
  const re = /\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@'"<>]*:([^\s@'"<>]+)@/gid;
  return [...text.matchAll(re)].map((m) => span(m.indices![1][0], m.indices![1][1]));
}

/** ?token=... and &api_key=... in URLs: query parameters with a secret name. */
export function urlQuerySecrets(text: string): Span[] {
  const re = /[?&;]([\w.[\]-]+)=([^&#\s"'<>]+)/gd;
  return [...text.matchAll(re)].filter((m) => isSecretKey(m[1])).map((m) => span(m.indices![2][0], m.indices![2][1]));
}

/** Password=...; in connection strings (ADO.NET, JDBC properties, libpq keyword=value). */
export function connectionStringPasswords(text: string): Span[] {
  const re = /(?:^|[;\s'"?&])(?:password|passwd|pwd)\s*=\s*([^;'"\s&]+)/gid;
  return [...text.matchAll(re)].map((m) => span(m.indices![1][0], m.indices![1][1]));
}

function entropy(s: string): number {
  const counts = new Map<string, number>();
  for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) h -= (n / s.length) * Math.log2(n / s.length);
  return h;
}

/**
 * Long high-entropy strings: hex of 32+ digits (keys, salts, digests), and
 * 20+ characters of base64/base62 mixing upper case, lower case and digits
 * with an entropy of 3.5 bits per character or more (gitleaks' generic rule
 * uses 3.5). Paths made of plain words are left alone.
 */
export function highEntropyStrings(text: string): Span[] {
  const out: Span[] = [];
  for (const m of text.matchAll(/[A-Za-z0-9+/_-]{20,}={0,2}/g)) {
    const t = m[0];
    let secret: boolean;
    if (/^[0-9a-fA-F]+$/.test(t)) secret = t.length >= 32 && entropy(t) >= 3.0;
    else {
      const pathLike = t.includes("/") && t.split("/").every((seg) => /^([A-Z]?[a-z0-9._-]*|[A-Z0-9._-]*)$/.test(seg));
      secret = !pathLike && /[a-z]/.test(t) && /[A-Z]/.test(t) && /[0-9]/.test(t) && entropy(t) >= 3.5;
    }
    if (secret) out.push(span(m.index, m.index + t.length));
  }
  return out;
}

/**
 * In the given ranges (comments, lines of a plain text file): a line that is
 * `key: value`, `key = value` or `key value` with a secret key (its whole
 * value), and anywhere in a line `key: value` or `key=value` with a secret
 * key ("# old password: hunter2", "login with pwd=hunter2").
 */
export function secretKeyLines(text: string, ranges: Array<[number, number]>): Span[] {
  const out: Span[] = [];
  const whole = /^[ \t]*(?:export[ \t]+)?["']?([\p{L}\p{N}_.-]+)["']?[ \t]*(?:[:=][ \t]*|[ \t]+)(\S(?:.*\S)?)[ \t]*$/du;
  const inline = /(?<![\p{L}\p{N}_.-])([\p{L}\p{N}_.-]+)["']?[ \t]*[:=][ \t]*["']?([^\s"',;&]+)/dgu;
  for (const [s, e] of ranges) {
    let at = s;
    for (const line of text.slice(s, e).split("\n")) {
      const l = line.replace(/\r$/, "");
      const m = whole.exec(l);
      if (m && isSecretKey(m[1])) {
        let [a, b] = m.indices![2];
        const v = m[2];
        if (v.length >= 2 && (v[0] === '"' || v[0] === "'") && v.at(-1) === v[0]) [a, b] = [a + 1, b - 1];
        if (b > a) out.push(span(at + a, at + b));
      }
      for (const n of l.matchAll(inline)) if (isSecretKey(n[1])) out.push(span(at + n.indices![2][0], at + n.indices![2][1]));
      at += line.length + 1;
    }
  }
  return out;
}

/** The user's patterns: each match, or only its capture groups when the pattern has some. */
export function patternSpans(text: string, patterns: RegExp[], kind: Span["kind"]): Span[] {
  const out: Span[] = [];
  for (const p of patterns) {
    const re = new RegExp(p.source, uniqueFlags(p.flags + "gmd"));
    for (const m of text.matchAll(re)) {
      if (m[0] === "") continue;
      if (m.length > 1) {
        for (let g = 1; g < m.length; g++) if (m.indices![g]) out.push(span(m.indices![g]![0], m.indices![g]![1], kind));
      } else out.push(span(m.index, m.index + m[0].length, kind));
    }
  }
  return out;
}

function uniqueFlags(flags: string): string {
  return [...new Set(flags)].join("");
}

/** Known token formats, by secretlint's recommended rule set. A URL's basic-auth finding is narrowed to its password. */
export async function knownTokens(text: string): Promise<Span[]> {
  const result = await lintSource({
    source: { content: text, filePath: "settings", ext: "", contentType: "text" },
    options: { config: { rules: [{ id: "@secretlint/secretlint-rule-preset-recommend", rule: recommended }] }, noPhysicFilePath: true },
  });
  return result.messages.map((m) => {
    const [s, e] = m.range;
    const inner = urlPasswords(text.slice(s, e));
    return inner.length > 0 ? span(s + inner[0].start, s + inner[0].end) : span(s, e);
  });
}
