// YAML: values located through the `yaml` package's documents with their
// source tokens (offsets into the original text); comments from its CST.
import { isAlias, isMap, isPair, isScalar, isSeq, parseAllDocuments, Parser, type Node, type Scalar } from "yaml";
import { FormatError, type Format, type Leaf, type Parsed } from "./format.ts";

export const yamlFormat: Format = {
  name: "yaml",
  parse(text: string): Parsed {
    const docs = parseAllDocuments(text, { keepSourceTokens: true, uniqueKeys: false });
    const leaves: Leaf[] = [];
    if (!Array.isArray(docs)) return { leaves, comments: comments(text) };
    const anchored = new Map<string, Leaf[]>(); // anchor name -> the leaves under it
    const aliasedFromSecret = new Set<string>();
    const walk = (node: Node | null, path: string[], anchors: string[]): void => {
      if (!node) return;
      const under = node.anchor ? [...anchors, node.anchor] : anchors;
      if (isMap(node)) {
        for (const pair of node.items) if (isPair(pair)) walk(pair.value as Node | null, [...path, keyName(pair.key)], under);
      } else if (isSeq(node)) {
        node.items.forEach((item, i) => walk(item as Node | null, [...path, String(i)], under));
      } else if (isAlias(node)) {
        const [s, e] = node.range!;
        const leaf: Leaf = { path, start: s, end: e, value: `*${node.source}`, quote: false, trivial: true };
        leaves.push(leaf);
        aliases.set(leaf, node.source);
      } else if (isScalar(node)) {
        const leaf = scalarLeaf(text, node, path);
        leaves.push(leaf);
        for (const a of under) anchored.set(a, [...(anchored.get(a) ?? []), leaf]);
      }
    };
    const aliases = new Map<Leaf, string>();
    docs.forEach((doc, i) => {
      if (doc.errors.length > 0) {
        const line = text.slice(0, doc.errors[0].pos[0]).split("\n").length;
        throw new FormatError(`not valid YAML (line ${line})`);
      }
      walk(doc.contents as Node | null, docs.length > 1 ? [String(i)] : [], []);
    });
    // The redactor decides which paths are secret; an alias is marked here so
    // that an anchored value reached from a secret key is redacted too.
    return {
      leaves,
      comments: comments(text),
      aliasTargets: (isSecretPath) => {
        for (const [leaf, name] of aliases) if (isSecretPath(leaf.path)) aliasedFromSecret.add(name);
        for (const name of aliasedFromSecret) for (const l of anchored.get(name) ?? []) l.forceSecret = true;
      },
    };
  },
};

function keyName(key: unknown): string {
  return isScalar(key) ? String(key.value) : String(key);
}

function scalarLeaf(text: string, node: Scalar, path: string[]): Leaf {
  const [s, e] = node.range!;
  const token = node.srcToken as { type: string; source: string } | undefined;
  const v = node.value;
  const value = `${typeof v}:${v instanceof Uint8Array ? Buffer.from(v).toString("base64") : String(v)}`;
  const trivial = v === null || typeof v === "boolean" || v === "";
  if (token?.type === "single-quoted-scalar" || token?.type === "double-quoted-scalar") {
    return { path, start: s + 1, end: e - 1, value, quote: false, trivial };
  }
  if (token?.type === "block-scalar") {
    const bodyStart = e - token.source.length;
    if (text.slice(bodyStart, e) !== token.source) throw new FormatError("a YAML block scalar could not be located");
    let a = bodyStart;
    let b = e;
    while (a < b && /\s/.test(text[a])) a++;
    while (b > a && /\s/.test(text[b - 1])) b--;
    return { path, start: a, end: b, value, quote: false, trivial: trivial || a === b };
  }
  return { path, start: s, end: e, value, quote: false, trivial };
}

/** [start, end) of each comment's text, after its "#". */
function comments(text: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const visit = (t: unknown): void => {
    if (Array.isArray(t)) {
      for (const x of t) visit(x);
    } else if (t && typeof t === "object") {
      const tok = t as { type?: string; offset?: number; source?: string };
      if (tok.type === "comment" && typeof tok.offset === "number" && typeof tok.source === "string") {
        out.push([tok.offset + 1, tok.offset + tok.source.length]);
        return;
      }
      for (const v of Object.values(t)) if (v && typeof v === "object") visit(v);
    }
  };
  for (const token of new Parser().parse(text)) visit(token);
  return out;
}
