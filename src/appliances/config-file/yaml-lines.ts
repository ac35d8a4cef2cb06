/**
 * YAML with lines: the `yaml` package's Document API keeps every node's offset, and a LineCounter
 * turns offsets into lines, so a key path (from a zod issue or our own checks) finds the line of
 * its key. Syntax errors (duplicate keys included) carry the parser's line. One document per file;
 * aliases are resolved (at most 100, against "billion laughs"). Owns this; must not import api/,
 * cli/, gateway/, store/.
 */
import { type Document, isAlias, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import { fileError, type LineOf } from "./errors.ts";

const MAX_ALIASES = 100;

export function parseYaml(text: string, file: string): { data: unknown; lineOf: LineOf } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: true });
  const error = doc.errors[0];
  if (error) {
    const reason = error.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
    throw fileError(file, error.linePos?.[0].line ?? 1, undefined, `YAML syntax: ${reason}`, error);
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (thrown) {
    throw fileError(file, 1, undefined, `YAML: ${thrown instanceof Error ? thrown.message : String(thrown)}`, thrown);
  }
  const lineAt = (offset: number) => lineCounter.linePos(offset).line;
  return { data, lineOf: (path) => yamlPathLine(doc, path, lineAt) };
}

function yamlPathLine(doc: Document, path: readonly (string | number)[], lineAt: (offset: number) => number): number {
  let node: unknown = doc.contents;
  let line = 1;
  for (const segment of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((item) => String(isScalar(item.key) ? item.key.value : item.key) === String(segment));
      const start = (pair?.key as Node | undefined)?.range?.[0];
      if (!pair || start === undefined) return line;
      line = lineAt(start);
      node = pair.value;
    } else if (isSeq(node) && typeof segment === "number") {
      const item = node.items[segment] as Node | undefined;
      const start = item?.range?.[0];
      if (start === undefined) return line;
      line = lineAt(start);
      node = item;
    } else {
      return line;
    }
  }
  return line;
}
