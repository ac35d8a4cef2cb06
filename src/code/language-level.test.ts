/**
 * syntaxHint reads V8's SyntaxError and names syntax a newer Node's V8 has, only where the signs
 * are clear, and never on a Node whose V8 has the feature. The messages are V8's own: taken from
 * this Node where its V8 rejects the code, else the text V8 11.3 and 12.4 give.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hostRuntime, hostTarget, syntaxHint } from "./language-level.ts";

const NODE_MAJOR = Number(process.versions.node.split(".")[0]);

/** V8's message for a RegExp literal, from this Node when it rejects it, else what V8 before 12.5 says. */
function regexpMessage(source: string, older: string): string {
  try {
    new Function(`return ${source}`);
    return older;
  } catch (error) {
    return (error as Error).message;
  }
}

describe("language level: esbuild's target and syntax hints", () => {
  it("bundles for this Node's V8", () => {
    assert.equal(hostTarget(), `node${process.versions.node}`);
    assert.match(hostRuntime(), /^Node \d+\.\d+\.\d+ \(V8 \d+\.\d+\)$/);
  });

  it("names RegExp modifiers and the Node that has them, below Node 24 only", () => {
    const message = regexpMessage("/(?i:a)b/", "Invalid regular expression: /(?i:a)b/: Invalid group");
    const hint = syntaxHint(message, "const r = /(?i:a)b/;", 1, 11);
    if (NODE_MAJOR >= 24) assert.equal(hint, undefined);
    else assert.equal(hint, `RegExp modifiers (/(?i:…)/) need Node 24 (V8 12.5) or later; this node runs ${hostRuntime()}`);
    for (const flags of ["(?-i:a)", "(?ms-i:a)", "(?s:.)"]) {
      const hinted = syntaxHint(`Invalid regular expression: /${flags}/: Invalid group`, "", 1, 1);
      assert.equal(hinted === undefined, NODE_MAJOR >= 24, flags);
    }
  });

  it("says nothing of a group that is wrong on every Node", () => {
    for (const message of [
      "Invalid regular expression: /(?x:a)/: Invalid group",
      "Invalid regular expression: /(?:a)(?<)/: Invalid capture group name",
      "Invalid regular expression: /(?<a>x)(?<a>y)/: Duplicate capture group name",
      "Invalid regular expression: /(?:(?<a>x)|y)(?<a>z)/: Duplicate capture group name",
      "Unterminated regular expression",
    ]) {
      assert.equal(syntaxHint(message, "", 1, 1), undefined, message);
    }
  });

  it("names duplicate named groups only when each alternative names a group once", () => {
    const message = regexpMessage("/(?<y>a)|(?<y>b)/", "Invalid regular expression: /(?<y>a)|(?<y>b)/: Duplicate capture group name");
    assert.equal(syntaxHint(message, "", 1, 1) === undefined, NODE_MAJOR >= 24);
    // A `|` inside a class or a group, or escaped, does not split the pattern.
    const inClass = "Invalid regular expression: /(?<y>[|])(?<y>b)/: Duplicate capture group name";
    const escaped = "Invalid regular expression: /(?<y>a)\\|(?<y>b)/: Duplicate capture group name";
    assert.equal(syntaxHint(inClass, "", 1, 1), undefined);
    assert.equal(syntaxHint(escaped, "", 1, 1), undefined);
  });

  it("names `using` from the code before V8's unexpected identifier, and nothing else that looks like it", () => {
    const source = "export function f() {\n  using file = open();\n  await using conn = db();\n  let x = y z;\n}";
    const expected =
      NODE_MAJOR >= 24
        ? undefined
        : `\`using\` and \`await using\` declarations need Node 24 (V8 13.4) or later; this node runs ${hostRuntime()}`;
    assert.equal(syntaxHint("Unexpected identifier 'file'", source, 2, 9), expected);
    assert.equal(syntaxHint("Unexpected identifier 'conn'", source, 3, 15), expected);
    assert.equal(syntaxHint("Unexpected identifier 'z'", source, 4, 13), undefined);
    assert.equal(syntaxHint("Unexpected identifier 'file'", source, 9, 1), undefined, "a position past the end");
    assert.equal(syntaxHint("Unexpected identifier 'x'", "const confusing x", 1, 17), undefined);
  });
});
