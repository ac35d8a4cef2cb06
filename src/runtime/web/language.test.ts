/**
 * The built-ins of a newer V8 inside isolates (web/language.ts): on this Node every one of
 * POLYFILLED_BUILTINS is there, answers as the spec says (language-cases.ts), is not enumerable,
 * survives module code replacing the intrinsics it uses, and never replaces a native one: on a
 * Node whose V8 has them (24) the language script installs nothing, which the identity checks
 * below see whichever Node runs them.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { loadIsolatedVm } from "../ivm/isolated-vm.ts";
import { isolateLacks, POLYFILLED_BUILTINS, runLanguage } from "./language.ts";
import { LANGUAGE_CASES, LANGUAGE_HELPERS } from "./language-cases.ts";
import { createWebSandbox, type WebSandbox } from "./test-support.ts";

const NODE_MAJOR = Number(process.versions.node.split(".")[0]);

/** A bare context (no prelude): what the language script finds and leaves, by identity. */
async function bareContext() {
  const ivm = loadIsolatedVm();
  const isolate = new ivm.Isolate({ memoryLimit: 32 });
  const context = await isolate.createContext();
  const run = (code: string) => context.evalSync(code, { copy: true });
  return { isolate, context, run, dispose: () => isolate.dispose() };
}

const SYMBOLS = ["Symbol.dispose", "Symbol.asyncDispose"];
const FUNCTIONS = POLYFILLED_BUILTINS.filter((path) => !SYMBOLS.includes(path));
const PATHS = JSON.stringify(POLYFILLED_BUILTINS);
const LOOKUP = `const at = (p) => p.split(".").reduce((o, k) => (o == null ? undefined : o[k]), globalThis);`;

describe("language level inside isolates", () => {
  let sandbox: WebSandbox;
  before(async () => {
    sandbox = await createWebSandbox();
  });
  after(() => sandbox?.close());

  it("a pristine isolate says what its V8 lacks: all of them on Node 20, the two symbols on Node 22, none on Node 24", async () => {
    const bare = await bareContext();
    try {
      assert.deepEqual(isolateLacks(bare.context), NODE_MAJOR >= 24 ? [] : NODE_MAJOR >= 22 ? SYMBOLS : POLYFILLED_BUILTINS);
    } finally {
      bare.dispose();
    }
  });

  for (const c of LANGUAGE_CASES) {
    it(`${c.builtin}: ${c.name}`, async () => {
      assert.equal(await sandbox.runAsync(`${LANGUAGE_HELPERS}\n${c.code}`), true);
    });
  }

  it("every one is a function of the isolate's realm, defined as built-ins are: not enumerable, writable, configurable", async () => {
    const shapes = (await sandbox.run(`${LOOKUP}
      JSON.stringify(${JSON.stringify(FUNCTIONS)}.map((path) => {
        const dot = path.lastIndexOf(".");
        const owner = dot < 0 ? globalThis : at(path.slice(0, dot));
        const d = Object.getOwnPropertyDescriptor(owner, path.slice(dot + 1));
        const fn = d.value;
        return [path, typeof fn, d.enumerable, d.writable, d.configurable, Object.getPrototypeOf(fn) === Function.prototype,
          Object.getOwnPropertyNames(fn).filter((k) => k !== "length" && k !== "name" && !(path === "Iterator" && (k === "prototype" || k === "from")))];
      }))`)) as string;
    for (const [path, type, enumerable, writable, configurable, sameRealm, extra] of JSON.parse(shapes)) {
      assert.deepEqual([type, enumerable, writable, configurable, sameRealm, extra], ["function", false, true, true, true, []], path);
    }
    const symbols = await sandbox.run(`JSON.stringify(${JSON.stringify(SYMBOLS)}.map((path) => {
      const d = Object.getOwnPropertyDescriptor(Symbol, path.slice(7));
      return [typeof d.value, d.value.description, Symbol.keyFor(d.value) ?? null, d.enumerable, d.writable, d.configurable];
    }))`);
    assert.equal(symbols, JSON.stringify(SYMBOLS.map((path) => ["symbol", path, null, false, false, false])));
    const keys = await sandbox.run(
      `JSON.stringify([Object.keys(Set.prototype), Object.keys(Iterator.prototype), Object.keys(Promise), Object.keys(Array), "Iterator" in { ...globalThis }])`,
    );
    assert.equal(keys, JSON.stringify([[], [], [], [], false]));
  });

  it("methods are not constructors, and have the spec's lengths", async () => {
    const answer = await sandbox.run(`JSON.stringify([
      (() => { try { new Set.prototype.union(new Set()); return "constructed"; } catch (e) { return e.constructor.name; } })(),
      [Promise.withResolvers.length, Object.groupBy.length, Map.groupBy.length, Array.fromAsync.length, Set.prototype.union.length,
       Set.prototype.isDisjointFrom.length, Iterator.from.length, Iterator.prototype.map.length, Iterator.prototype.toArray.length, Iterator.prototype.reduce.length],
      [Set.prototype.union.name, Iterator.prototype.flatMap.name, Array.fromAsync.name]])`);
    assert.equal(answer, JSON.stringify(["TypeError", [0, 2, 2, 1, 1, 1, 1, 1, 0, 1], ["union", "flatMap", "fromAsync"]]));
  });

  it("keep working when module code replaces the intrinsics they use, and never call the replacements", async () => {
    const answer = await sandbox.runAsync(`
      const calls = [];
      const a = new Set([1, 2]), b = new Set([3]); // the Set constructor calls add: made before the spies
      const note = (key) => { calls[calls.length] = key; };
      const spy = (owner, key) => { const original = owner[key]; owner[key] = function (...args) { note(key); return saved.apply(original, this, args); }; };
      const GeneratorPrototype = Object.getPrototypeOf(function* () {}).prototype.__proto__;
      const saved = { apply: Reflect.apply, push: Array.prototype.push, defineProperty: Object.defineProperty };
      spy(Set.prototype, "has"); spy(Set.prototype, "add"); spy(Map.prototype, "set"); spy(WeakMap.prototype, "get"); spy(GeneratorPrototype, "next");
      Array.prototype.push = function (...args) { note("push"); return saved.apply(saved.push, this, args); };
      Function.prototype.call = function () { note("call"); };
      Object.defineProperty = function () { note("defineProperty"); };
      Reflect.apply = function () { note("apply"); };
      const answers = [[...a.union(b)], [1, 2, 3].values().map((x) => x * 2).toArray(), Object.keys(Object.groupBy([1], () => "k")),
        Map.groupBy([1], () => "k").size, await Array.fromAsync([1])];
      Reflect.apply = saved.apply;
      Object.defineProperty = saved.defineProperty;
      return JSON.stringify({ answers, calls });`);
    // The native Set/Map methods call nothing of the module's either: the same answer on every Node.
    assert.equal(answer, JSON.stringify({ answers: [[1, 2, 3], [2, 4, 6], ["k"], 1, [1]], calls: [] }));
  });

  it("never replaces a built-in the realm has: what was there before is there after, by identity", async () => {
    const bare = await bareContext();
    try {
      // A stand-in "native" for one of them, to see the guard on a Node whose V8 lacks them all.
      bare.run(`${LOOKUP}
        Object.defineProperty(Promise, "withResolvers", { value: function withResolvers() { return "realm's own"; }, writable: true, configurable: true });
        globalThis.before = ${PATHS}.map(at);
        0;`);
      const installed = runLanguage(bare.isolate, bare.context, true);
      const kept = bare.run(
        `(() => { ${LOOKUP} return JSON.stringify(${PATHS}.map((p, i) => before[i] === undefined || at(p) === before[i])); })()`,
      );
      assert.equal(kept, JSON.stringify(POLYFILLED_BUILTINS.map(() => true)));
      assert.equal(bare.run(`Promise.withResolvers()`), "realm's own");
      assert.deepEqual(
        installed.filter((name) => POLYFILLED_BUILTINS.includes(name)).sort(),
        isolateLacks(bare.context)
          .filter((p) => p !== "Promise.withResolvers")
          .sort(),
      );
      assert.ok(!installed.includes("Promise.withResolvers"));
    } finally {
      bare.dispose();
    }
  });

  it("the language script runs only where the V8 lacks a built-in (not at all on Node 24), and installs just those", async () => {
    const bare = await bareContext();
    try {
      const installed = runLanguage(bare.isolate, bare.context);
      assert.deepEqual(installed.filter((name) => POLYFILLED_BUILTINS.includes(name)).sort(), [...isolateLacks(bare.context)].sort());
      if (NODE_MAJOR >= 24) assert.deepEqual(installed, []);
    } finally {
      bare.dispose();
    }
  });
});
