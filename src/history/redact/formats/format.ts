// What a format parser gives the redactor: every value of the file (a leaf:
// a string, number, boolean, alias...) with the key path above it and where
// its characters are, and the file's comments. Parsers keep the file's
// layout because the redactor replaces characters in the original text; it
// never serializes a parsed tree.

export type FormatName = "yaml" | "json" | "toml" | "ini" | "env" | "text";

export interface Leaf {
  /** Keys and indexes from the root, e.g. ["db", "password"], ["servers", "0", "token"]. */
  path: string[];
  /** The characters a redaction replaces: inside the quotes for a quoted string. */
  start: number;
  end: number;
  /** The value as the format reads it, for comparing before and after redaction. */
  value: string;
  /** When replacing [start, end) with a placeholder needs quotes around it (a JSON or TOML number). */
  quote: boolean;
  /** A value with nothing to hide (boolean, null, empty string): never redacted for its key. */
  trivial: boolean;
  /** Secret whatever its key says (a YAML anchor that an alias under a secret key points at). */
  forceSecret?: boolean;
}

export interface Parsed {
  leaves: Leaf[];
  /** Ranges of comment text (after the marker): searched for "key: value" lines with secret keys. */
  comments: Array<[number, number]>;
  /** YAML: mark the anchored values that an alias under a secret path points at (forceSecret). */
  aliasTargets?(isSecretPath: (path: string[]) => boolean): void;
}

export interface Format {
  name: FormatName;
  /** Throws when the text does not parse; the message must not quote the text. */
  parse(text: string): Parsed;
}

/** A parse failure. Its message never quotes the file (parsers' own messages can). */
export class FormatError extends Error {}

/** Start offsets of each line. */
export function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
  return starts;
}

/** [start, end) of each line, without its "\n" or "\r\n". */
export function lines(text: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let s = 0;
  for (;;) {
    const nl = text.indexOf("\n", s);
    const e = nl === -1 ? text.length : nl;
    out.push([s, e > s && text[e - 1] === "\r" ? e - 1 : e]);
    if (nl === -1) return out;
    s = nl + 1;
  }
}
