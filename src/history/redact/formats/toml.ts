// TOML: values located by toml-eslint-parser's AST ranges (offsets into the
// original text), so the file's layout, comments and quoting stay as they are.
import { parseTOML } from "toml-eslint-parser";
import { FormatError, type Format, type Leaf, type Parsed } from "./format.ts";

interface TomlNode {
  type: string;
  range: [number, number];
  loc?: { start: { line: number } };
  [k: string]: unknown;
}

export const tomlFormat: Format = {
  name: "toml",
  parse(text: string): Parsed {
    let ast: TomlNode & { body: TomlNode[]; comments: TomlNode[] };
    try {
      ast = parseTOML(text) as never;
    } catch (err) {
      const line = (err as { lineNumber?: number }).lineNumber;
      throw new FormatError(`not valid TOML${line ? ` (line ${line})` : ""}`);
    }
    const leaves: Leaf[] = [];
    const keyNames = (key: TomlNode): string[] => (key.keys as TomlNode[]).map((k) => String(k.name ?? k.value));
    const walk = (node: TomlNode, path: string[]): void => {
      switch (node.type) {
        case "TOMLTopLevelTable":
          for (const c of node.body as TomlNode[]) walk(c, path);
          return;
        case "TOMLTable":
          for (const c of node.body as TomlNode[]) walk(c, (node.resolvedKey as (string | number)[]).map(String));
          return;
        case "TOMLKeyValue":
          walk(node.value as TomlNode, [...path, ...keyNames(node.key as TomlNode)]);
          return;
        case "TOMLInlineTable":
          for (const c of node.body as TomlNode[]) walk(c, path);
          return;
        case "TOMLArray":
          (node.elements as TomlNode[]).forEach((c, i) => walk(c, [...path, String(i)]));
          return;
        case "TOMLValue": {
          const [s, e] = node.range;
          if (node.kind === "string") {
            const d = node.multiline ? 3 : 1;
            leaves.push({ path, start: s + d, end: e - d, value: `s:${node.value}`, quote: false, trivial: node.value === "" });
          } else {
            leaves.push({ path, start: s, end: e, value: `${node.kind}:${text.slice(s, e)}`, quote: true, trivial: node.kind === "boolean" });
          }
          return;
        }
        default:
          throw new FormatError(`unexpected TOML node ${node.type}`);
      }
    };
    for (const c of ast.body) walk(c, []);
    return { leaves, comments: ast.comments.map((c) => [c.range[0] + 1, c.range[1]] as [number, number]) };
  },
};
