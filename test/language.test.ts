/**
 * The language level end to end: modules bundled by `lively deploy DIR` and served by a real node
 * over real HTTP. A module using every built-in that web/language.ts provides where the host
 * V8 lacks it answers what the spec says (the cases of src/runtime/web/language-cases.ts); syntax
 * esbuild lowers for this Node's V8 (`using`) runs; syntax it cannot lower and this V8 lacks
 * (RegExp modifiers before Node 24) is refused at deploy naming the feature and the Node that
 * has it, and nothing is stored; an artifact sent already bundled (the API's entry+files+artifact)
 * gets the same hint from the validation isolate. On a Node whose V8 has the syntax, the same
 * modules deploy and answer.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { LANGUAGE_CASES, LANGUAGE_HELPERS } from "../src/runtime/web/language-cases.ts";
import { BACKENDS } from "./helpers/backends.ts";
import { runCli } from "./helpers/cli.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";
import { tempDir } from "./helpers/temp-dir.ts";

const NODE_MAJOR = Number(process.versions.node.split(".")[0]);
/** V8 12.5 (Node 24 among the supported ones) parses RegExp modifiers and `using`. */
const HAS_NEW_SYNTAX = NODE_MAJOR >= 24;

/** A project folder for `lively deploy DIR`: index.js with `source`. */
function project(source: string): string {
  const dir = tempDir("lively-language-");
  writeFileSync(join(dir, "index.js"), source);
  return dir;
}

const CASES_MODULE = `
${LANGUAGE_HELPERS}
const CASES = [
${LANGUAGE_CASES.map((c) => `  [${JSON.stringify(`${c.builtin}: ${c.name}`)}, async () => {${c.code}\n}],`).join("\n")}
];
export default {
  async fetch() {
    const results = {};
    for (const [name, run] of CASES) {
      try { results[name] = await run(); } catch (error) { results[name] = "threw " + error; }
    }
    return Response.json(results);
  },
};
`;

const MODIFIERS_MODULE = `
const word = /(?i:hello) world/;
export default { fetch: () => Response.json([word.test("HeLLo world"), word.test("hello WORLD")]) };
`;

const USING_MODULE = `
const log = [];
const resource = (name) => ({ [Symbol.dispose]() { log.push("disposed " + name); } });
export default {
  fetch() {
    {
      using a = resource("a");
      using b = resource("b");
      log.push("body");
    }
    return Response.json(log.splice(0));
  },
};
`;

describe("language level, deployed with lively deploy DIR, over HTTP", () => {
  let t: TestNode;
  const deploy = (dir: string, name: string) =>
    runCli({ url: t.url, token: t.adminToken, cwd: dir }, ["deploy", ".", "--name", name, "--json"]);
  const get = async (name: string) => {
    const response = await fetch(`${t.url}/${name}/`);
    return { status: response.status, body: await response.json() };
  };

  before(async () => {
    t = await startTestNode(BACKENDS.find((b) => b.name === "sqlite") ?? BACKENDS[0]);
  });
  after(() => t?.close());

  it("a module using each built-in of a newer V8 answers what the spec says", async () => {
    const deployed = await deploy(project(CASES_MODULE), "builtins");
    assert.equal(deployed.code, 0, deployed.stderr);
    const { status, body } = await get("builtins");
    assert.equal(status, 200);
    assert.equal(Object.keys(body).length, LANGUAGE_CASES.length);
    for (const [name, result] of Object.entries(body)) assert.equal(result, true, name);
  });

  it("syntax esbuild lowers for this Node's V8 runs: `using` declarations dispose in reverse order", async () => {
    const deployed = await deploy(project(USING_MODULE), "using");
    assert.equal(deployed.code, 0, deployed.stderr);
    assert.deepEqual(await get("using"), { status: 200, body: ["body", "disposed b", "disposed a"] });
  });

  it("syntax this V8 lacks and esbuild cannot lower is refused at deploy, naming it and the Node that has it; nothing is stored", async () => {
    const deployed = await deploy(project(MODIFIERS_MODULE), "modifiers");
    if (HAS_NEW_SYNTAX) {
      assert.equal(deployed.code, 0, deployed.stderr);
      assert.deepEqual(await get("modifiers"), { status: 200, body: [true, false] });
      return;
    }
    assert.notEqual(deployed.code, 0);
    assert.match(deployed.stderr, /does not parse: index\.js:2:\d+: Invalid regular expression/);
    assert.match(deployed.stderr, /RegExp modifiers .* need Node 24 \(V8 12\.5\) or later; this node runs Node 20\.\d+\.\d+ \(V8 11\.3\)/);
    const versions = await t.api("GET", "/modules/modifiers/versions");
    assert.equal(versions.status, 404, JSON.stringify(versions.body));
  });

  it("an artifact sent already bundled gets the same check: `using` left as written is named, and nothing is stored", async () => {
    const artifact = `export default { fetch() { using r = { [Symbol.dispose]() {} }; return new Response("ok"); } };\n`;
    const response = await t.api("POST", "/modules/prebuilt/versions", {
      body: { entry: "index.js", files: { "index.js": artifact }, artifact },
    });
    if (HAS_NEW_SYNTAX) {
      assert.equal(response.status, 201, JSON.stringify(response.body));
      return;
    }
    assert.equal(response.status, 400);
    assert.equal(response.body.error.code, "invalid_code");
    assert.match(response.body.error.message, /Unexpected identifier 'r'.*`using` and `await using` declarations need Node 24/);
    assert.match(response.body.error.details.hint, /this node runs Node 2\d\./);
    assert.equal((await t.api("GET", "/modules/prebuilt/versions")).status, 404);
  });

  it("code wrong on every Node gets V8's error and no hint: a group name twice in one alternative", async () => {
    const deployed = await deploy(project(`export default { fetch: () => new Response(String(/(?<a>x)(?<a>y)/)) };\n`), "wrong");
    assert.notEqual(deployed.code, 0);
    assert.match(deployed.stderr, /Duplicate capture group name/);
    assert.doesNotMatch(deployed.stderr, /need Node/);
  });
});
