// The esbuild plugin that lets scripts/isolate-code.mjs bundle html-rewriter-wasm's glue
// (wasm-bindgen's CommonJS, node_modules/html-rewriter-wasm/dist/) for the isolate, where
// there is no `require`, no `fs` and no `util`. The glue is rewritten as it is loaded, never
// copied into this repository:
// - html_rewriter.js becomes `module.exports = function instantiate(env) {…}`: the whole glue
//   runs when the isolate first uses HTMLRewriter, with TextEncoder/TextDecoder and the
//   compiled WebAssembly.Module taken from `env` (the isolate's own classes, captured by the
//   prelude; the module compiled once by the host: web/html-rewriter-host.ts) instead of
//   `require("util")` and `fs.readFileSync` of the .wasm beside it;
// - asyncify.js gets a four-line `assert` instead of Node's, and becomes a function the glue
//   calls once per instance: its state (the wasm exports it drives, the pending promises) is
//   one instance's, so an isolate can hold several instances (html-rewriter-lib.ts says why).
// Each edit must match exactly once: a new version of the package fails the build here, not in
// an isolate.
import { readFile } from "node:fs/promises";

const GLUE = /html-rewriter-wasm[/\\]dist[/\\]html_rewriter\.js$/;
const ASYNCIFY = /html-rewriter-wasm[/\\]dist[/\\]asyncify\.js$/;

const ASSERT = `function assert(ok, message) {
  if (!ok) throw new Error("HTMLRewriter: internal state error" + (message ? ": " + message : ""));
}
assert.strictEqual = (actual, expected) => assert(actual === expected, actual + " !== " + expected);`;

function edit(text, file, edits) {
  let out = text;
  for (const [from, to] of edits) {
    const count = out.split(from).length - 1;
    if (count !== 1) throw new Error(`html-rewriter-glue: expected ${JSON.stringify(from)} once in ${file}, found it ${count} times`);
    out = out.replace(from, () => to);
  }
  return out;
}

/** @type {import("esbuild").Plugin} */
export const htmlRewriterGlue = {
  name: "html-rewriter-glue",
  setup(build) {
    build.onLoad({ filter: GLUE }, async (args) => {
      const text = await readFile(args.path, "utf8");
      const body = edit(text, args.path, [
        ["require(String.raw`./asyncify.js`)", 'require("./asyncify.js")()'],
        ["require(String.raw`util`)", "env"],
        [
          "const path = require('path').join(__dirname, 'html_rewriter_bg.wasm');\nconst bytes = require('fs').readFileSync(path);\n\nconst wasmModule = new WebAssembly.Module(bytes);",
          "const wasmModule = env.module;",
        ],
        // Module code has no WebAssembly global (src/runtime/isolate/webassembly.ts): the prelude hands Instance over.
        ["new WebAssembly.Instance(wasmModule, imports)", "new env.Instance(wasmModule, imports)"],
      ]);
      return {
        contents: `module.exports = function instantiate(env) {\nconst module = { exports: {} };\n${body}\nreturn module.exports;\n};\n`,
        loader: "js",
      };
    });
    build.onLoad({ filter: ASYNCIFY }, async (args) => {
      const text = await readFile(args.path, "utf8");
      const body = edit(text, args.path, [['const assert = require("assert");', ASSERT]]);
      return {
        contents: `module.exports = function asyncifyState() {\nconst module = { exports: {} };\n${body}\nreturn module.exports;\n};\n`,
        loader: "js",
      };
    });
  },
};
