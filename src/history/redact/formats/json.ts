// JSON (comments and trailing commas allowed, as in many tools' config
// files): values located by jsonc-parser's node offsets.
import { createScanner, parseTree, type Node, type ParseError } from "jsonc-parser";

// jsonc-parser's SyntaxKind is a const enum, which type stripping cannot read.
const LINE_COMMENT = 12;
const BLOCK_COMMENT = 13;
const EOF = 17;
import { FormatError, type Format, type Leaf, type Parsed } from "./format.ts";

export const jsonFormat: Format = {
  name: "json",
  parse(text: string): Parsed {
    const errors: ParseError[] = [];
    const root = parseTree(text, errors, { allowTrailingComma: true, disallowComments: false, allowEmptyContent: true });
    if (errors.length > 0) {
      const line = text.slice(0, errors[0].offset).split("\n").length;
      throw new FormatError(`not valid JSON (line ${line})`);
    }
    const leaves: Leaf[] = [];
    const walk = (node: Node, path: string[]): void => {
      if (node.type === "object") {
        for (const prop of node.children ?? []) {
          const [k, v] = prop.children ?? [];
          if (k && v) walk(v, [...path, String(k.value)]);
        }
      } else if (node.type === "array") {
        (node.children ?? []).forEach((c, i) => walk(c, [...path, String(i)]));
      } else if (node.type === "string") {
        leaves.push({ path, start: node.offset + 1, end: node.offset + node.length - 1, value: `s:${node.value}`, quote: false, trivial: node.value === "" });
      } else {
        const raw = text.slice(node.offset, node.offset + node.length);
        leaves.push({ path, start: node.offset, end: node.offset + node.length, value: `${node.type}:${raw}`, quote: true, trivial: node.type !== "number" });
      }
    };
    if (root) walk(root, []);
    const comments: Array<[number, number]> = [];
    const scanner = createScanner(text, false);
    for (let kind = scanner.scan(); kind !== EOF; kind = scanner.scan()) {
      if (kind === LINE_COMMENT || kind === BLOCK_COMMENT) {
        const at = scanner.getTokenOffset();
        comments.push([at + 2, at + scanner.getTokenLength()]);
      }
    }
    return { leaves, comments };
  },
};
