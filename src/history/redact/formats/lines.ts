// Line formats, read by line rules as Oxidized, RANCID and detect-secrets
// do: INI (`[section]`, `key = value`, `key: value`, `;`/`#` comments),
// .env (`KEY=value`, `export KEY=value`, quoted values that may span lines)
// and plain text (no values; every line is searched like a comment).
import { FormatError, lines, type Format, type Leaf, type Parsed } from "./format.ts";

export const iniFormat: Format = {
  name: "ini",
  parse(text: string): Parsed {
    const leaves: Leaf[] = [];
    const comments: Array<[number, number]> = [];
    let section: string[] = [];
    for (const [s, e] of lines(text)) {
      const line = text.slice(s, e);
      const lead = line.length - line.trimStart().length;
      const body = line.trim();
      if (body === "") continue;
      if (body[0] === ";" || body[0] === "#") {
        comments.push([s + lead + 1, e]);
        continue;
      }
      if (body[0] === "[") {
        const m = /^\[([^\]]*)\]\s*(?:[;#](.*))?$/.exec(body);
        if (!m) throw new FormatError(`not valid INI (line ${lineNo(text, s)})`);
        section = [m[1].trim()];
        if (m[2] !== undefined) comments.push([e - m[2].length, e]);
        continue;
      }
      const sep = /[=:]/.exec(line);
      if (!sep) {
        // A bare flag such as my.cnf's `skip-networking`.
        leaves.push({ path: [...section, body], start: e, end: e, value: "flag", quote: false, trivial: true });
        continue;
      }
      const key = line.slice(0, sep.index).trim();
      let a = sep.index + 1;
      while (a < line.length && (line[a] === " " || line[a] === "\t")) a++;
      let b = line.length;
      while (b > a && /\s/.test(line[b - 1])) b--;
      if (b - a >= 2 && (line[a] === '"' || line[a] === "'") && line[b - 1] === line[a]) {
        a++;
        b--;
      }
      const value = line.slice(a, b);
      leaves.push({ path: [...section, key], start: s + a, end: s + b, value: `s:${value}`, quote: false, trivial: value === "" || /^(true|false|yes|no|on|off)$/i.test(value) });
    }
    return { leaves, comments };
  },
};

export const envFormat: Format = {
  name: "env",
  parse(text: string): Parsed {
    const leaves: Leaf[] = [];
    const comments: Array<[number, number]> = [];
    const re = /[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_.-]*)[ \t]*=[ \t]*/y;
    let at = 0;
    while (at < text.length) {
      const nl = text.indexOf("\n", at);
      const eol = nl === -1 ? text.length : nl;
      const line = text.slice(at, eol).replace(/\r$/, "");
      const body = line.trim();
      if (body === "" || body[0] === "#") {
        if (body[0] === "#") comments.push([at + line.indexOf("#") + 1, at + line.length]);
        at = eol + 1;
        continue;
      }
      re.lastIndex = at;
      const m = re.exec(text);
      if (!m || m.index !== at || re.lastIndex > eol) throw new FormatError(`not a KEY=VALUE line (line ${lineNo(text, at)})`);
      const v = re.lastIndex;
      const q = text[v];
      let start: number;
      let end: number;
      let next: number; // where the rest of the line (after the value) starts
      if (q === '"' || q === "'" || q === "`") {
        start = v + 1;
        end = start;
        while (end < text.length && text[end] !== q) end += q === '"' && text[end] === "\\" ? 2 : 1;
        if (end >= text.length) throw new FormatError(`an unclosed quote (line ${lineNo(text, at)})`);
        next = end + 1;
      } else {
        start = v;
        const hash = /[ \t]#/.exec(text.slice(v, at + line.length));
        end = hash ? v + hash.index : at + line.length;
        while (end > start && /\s/.test(text[end - 1])) end--;
        next = end;
      }
      const lineEnd = text.indexOf("\n", next) === -1 ? text.length : text.indexOf("\n", next);
      const rest = text.slice(next, lineEnd).replace(/\r$/, "");
      if (rest.trim() !== "" && !rest.trim().startsWith("#")) throw new FormatError(`text after a quoted value (line ${lineNo(text, next)})`);
      if (rest.includes("#")) comments.push([next + rest.indexOf("#") + 1, next + rest.length]);
      const value = text.slice(start, end);
      leaves.push({ path: [m[1]], start, end, value: `s:${value}`, quote: false, trivial: value === "" });
      at = lineEnd + 1;
    }
    return { leaves, comments };
  },
};

export const textFormat: Format = {
  name: "text",
  parse(text: string): Parsed {
    return { leaves: [], comments: lines(text).filter(([s, e]) => e > s) };
  },
};

function lineNo(text: string, offset: number): number {
  return text.slice(0, offset).split("\n").length;
}
