/**
 * The JavaScript syntax a module may use is the host V8's: isolated-vm runs the V8 of the Node
 * that runs Lively (Node 20: V8 11.3; 22: V8 12.4; 24: V8 13.6). Two things follow from it:
 *
 * - esbuild bundles for that V8 (`hostTarget`): what it can lower (class fields, decorators,
 *   `using`…) becomes code this V8 runs, and what this V8 has is left as written.
 * - what esbuild cannot lower (RegExp syntax it passes through: modifiers, duplicate named
 *   groups) and what reaches the node already bundled by a newer Node (the CLI bundles for its
 *   own Node) fails to parse in the deploy's validation isolate. `syntaxHint` reads V8's
 *   SyntaxError and the code at its position, and names the feature and the Node that has it.
 *   It only ever explains a failure V8 itself reported, so it cannot refuse valid code; where
 *   the signs are not clear (a duplicate group name inside one alternative is an error on every
 *   Node) it says nothing.
 *
 * docs/runtime.md ("Language level") is the table this file's entries come from.
 */

/** esbuild's target for this process's Node: `node20.20.2`, so its V8's syntax is kept and the rest lowered. */
export const hostTarget = (): string => `node${process.versions.node}`;

/** This process's Node and V8, as a hint names them: "Node 20.20.2 (V8 11.3)". */
export const hostRuntime = (): string => `Node ${process.versions.node} (V8 ${process.versions.v8.split(".").slice(0, 2).join(".")})`;

interface SyntaxFeature {
  /** What the hint calls it. */
  feature: string;
  /** The first supported Node whose V8 has it, and that V8. */
  node: number;
  v8: string;
  /** Whether V8's message, and the code just before the error's position, show this feature. */
  matches(message: string, before: string): boolean;
}

const REGEXP_ERROR = /^Invalid regular expression: \/(.*)\/([a-z]*): (.+)$/s;

/** The top-level alternatives of a RegExp pattern (`|` outside groups and classes, escapes skipped). */
function alternatives(pattern: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let inClass = false;
  let start = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "\\") i++;
    else if (inClass) inClass = c !== "]";
    else if (c === "[") inClass = true;
    else if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "|" && depth === 0) {
      out.push(pattern.slice(start, i));
      start = i + 1;
    }
  }
  out.push(pattern.slice(start));
  return out;
}

const groupNames = (pattern: string): string[] => [...pattern.matchAll(/\(\?<([^>=!]+)>/g)].map((m) => m[1] as string);

const FEATURES: SyntaxFeature[] = [
  {
    feature: "RegExp modifiers (/(?i:…)/)",
    node: 24,
    v8: "12.5",
    matches: (message) => {
      const m = REGEXP_ERROR.exec(message);
      return m !== null && m[3] === "Invalid group" && /\(\?(?:[ims]+(?:-[ims]*)?|-[ims]+):/.test(m[1] as string);
    },
  },
  {
    feature: "duplicate named capture groups in different alternatives (/(?<y>…)|(?<y>…)/)",
    node: 24,
    v8: "12.5",
    // Only where every top-level alternative names each group once: a name twice in one alternative is an error everywhere.
    matches: (message) => {
      const m = REGEXP_ERROR.exec(message);
      if (m === null || m[3] !== "Duplicate capture group name") return false;
      return alternatives(m[1] as string).every((alt) => new Set(groupNames(alt)).size === groupNames(alt).length);
    },
  },
  {
    feature: "`using` and `await using` declarations",
    node: 24,
    v8: "13.4",
    matches: (message, before) => /^Unexpected identifier /.test(message) && /(?:^|[\s;{}(])(?:await\s+)?using\s+$/.test(before),
  },
];

/** The code of `source` before 1-based `line`:`column`, on that line. */
function textBefore(source: string, line: number, column: number): string {
  let at = 0;
  for (let n = 1; n < line; n++) {
    const next = source.indexOf("\n", at);
    if (next < 0) return "";
    at = next + 1;
  }
  const end = source.indexOf("\n", at);
  return source.slice(at, end < 0 ? undefined : end).slice(0, Math.max(0, column - 1));
}

/**
 * What to add to V8's SyntaxError `message` (at `line`:`column` of `source`, 1-based) when the
 * cause is likely syntax a newer Node's V8 has: "RegExp modifiers … need Node 24 (V8 12.5);
 * this node runs Node 20.20.2 (V8 11.3)". Undefined when it cannot tell, or when this V8
 * already has the feature (then the code is wrong on every Node).
 */
export function syntaxHint(message: string, source: string, line: number, column: number): string | undefined {
  const hostMajor = Number(process.versions.node.split(".")[0]);
  const before = textBefore(source, line, column);
  const found = FEATURES.find((f) => f.node > hostMajor && f.matches(message, before));
  if (!found) return undefined;
  return `${found.feature} need Node ${found.node} (V8 ${found.v8}) or later; this node runs ${hostRuntime()}`;
}
