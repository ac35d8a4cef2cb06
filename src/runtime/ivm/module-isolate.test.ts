/**
 * Top-level `await` in real isolates: evaluateModule waits for awaits that need host work
 * (a timer, crypto.subtle, fetch), fails with a rejection's own message and place, ends a
 * never-settling one at the wall limit and a busy one at the CPU limit, and leaves nothing of
 * its machinery where module code could find it; validateArtifact reports the same through the
 * source map. Deploys and serving over HTTP: test/top-level-await.test.ts.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startTextServer } from "../../../test/helpers/text-server.ts";
import { compileSource } from "../../code/compile.ts";
import type { LivelyError } from "../../errors.ts";
import { fetchHandlers } from "./fetch-handler.ts";
import { createModuleIsolate, evaluateModule, type ModuleIsolate, ModuleLoadFailure } from "./module-isolate.ts";
import { validateArtifact } from "./validate-artifact.ts";

const LIMITS = { cpuMs: 500, wallMs: 2000 };

/** Loads `code` and returns its exports, copied (JSON) out of the isolate. */
async function exportsOf(code: string, target?: ModuleIsolate): Promise<Record<string, unknown>> {
  const own = target ?? (await createModuleIsolate({ memoryMb: 64, timerTimeoutMs: LIMITS.cpuMs }));
  try {
    const namespace = await evaluateModule(own, code, LIMITS);
    await own.context.global.set("__ns", namespace.derefInto());
    return JSON.parse((await own.context.eval("JSON.stringify(Object.fromEntries(Object.entries(__ns)))")) as string);
  } finally {
    own.dispose();
  }
}

async function failureOf(code: string, limits = LIMITS): Promise<ModuleLoadFailure> {
  const target = await createModuleIsolate({ memoryMb: 64, timerTimeoutMs: limits.cpuMs });
  try {
    await evaluateModule(target, code, limits);
  } catch (error) {
    assert.ok(error instanceof ModuleLoadFailure, String(error));
    return error;
  } finally {
    target.dispose();
  }
  assert.fail("the module loaded");
}

describe("evaluateModule: top-level await of host work", () => {
  let upstream: Awaited<ReturnType<typeof startTextServer>>;
  before(async () => {
    upstream = await startTextServer("from the host");
  });
  after(() => upstream.close());

  it("waits for a timer, crypto.subtle.importKey and digest, and a chain of them", async () => {
    const code = `
      const slept = await new Promise((resolve) => setTimeout(() => resolve("slept"), 5));
      const key = await crypto.subtle.importKey("raw", new TextEncoder().encode("k"), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
      const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode("m")));
      const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode("x")));
      let count = 0;
      for (let i = 0; i < 3; i++) count += await new Promise((resolve) => setTimeout(() => resolve(1), 1));
      export default { slept, keyType: key.type, mac: mac.length, digest: digest[0], count };`;
    assert.deepEqual(await exportsOf(code), { default: { slept: "slept", keyType: "secret", mac: 32, digest: 45, count: 3 } });
  });

  it("waits for a fetch answered by the host", async () => {
    const target = await createModuleIsolate({
      memoryMb: 64,
      asyncHandlers: {
        fetch: fetchHandlers(async (request) => {
          const response = await fetch(request.url);
          const body = new Uint8Array(await response.arrayBuffer());
          return { status: response.status, statusText: "", url: request.url, redirected: false, headers: [], body };
        }).fetch,
      },
    });
    const code = `const text = await (await fetch("${upstream.origin}/")).text(); export const answer = text;`;
    assert.deepEqual(await exportsOf(code, target), { answer: "from the host" });
  });

  it("fails with a rejection's message and place, after a host await as before one", async () => {
    const late = await failureOf(`await new Promise((r) => setTimeout(r, 1));\nconst x = 1;\n  throw new Error("late " + x);`);
    assert.equal(late.stage, "evaluate");
    assert.equal(late.message, "late 1");
    assert.match((late.original as Error).stack ?? "", /module\.js:3:9/);
    const subtle = await failureOf(`await crypto.subtle.importKey("raw", new Uint8Array(1), { name: "NOPE" }, false, ["sign"]);`);
    assert.equal(subtle.stage, "evaluate");
    assert.match(subtle.message, /NOPE|not supported|Unrecognized/i);
    const early = await failureOf(`await null;\nthrow new Error("early");`);
    assert.deepEqual([early.stage, early.message], ["evaluate", "early"]);
  });

  it("ends a top-level await that never settles at the wall limit, and a busy one at the CPU limit", async () => {
    const never = await failureOf("await new Promise(() => {}); export default 1;", { cpuMs: 500, wallMs: 200 });
    assert.equal(never.stage, "unfinished");
    assert.match(never.message, /did not finish \(a top-level await that never settles\?\)/);
    const busy = await failureOf(
      "for (let i = 0; i < 100; i++) { await new Promise((r) => setTimeout(r, 0)); const end = Date.now() + 20; while (Date.now() < end); }",
      {
        cpuMs: 100,
        wallMs: 10_000,
      },
    );
    assert.equal(busy.stage, "unfinished");
    assert.match(busy.message, /used more than 100 ms of CPU time/);
    const loop = await failureOf("await new Promise((r) => setTimeout(r, 0)); for (;;);", { cpuMs: 100, wallMs: 10_000 });
    assert.equal(loop.stage, "unfinished");
  });

  it("leaves module code nothing to find, and reports parse errors and imports as the artifact's own", async () => {
    const code = `
      await new Promise((r) => setTimeout(r, 1));
      export const globals = Object.getOwnPropertyNames(globalThis).filter((n) => /lively/i.test(n));`;
    assert.deepEqual(await exportsOf(code), { globals: [] });
    const parse = await failureOf("export default 1 +");
    assert.deepEqual([parse.stage, parse.message], ["parse", "Unexpected end of input [module.js:1:19]"]);
    const imports = await failureOf('import x from "node:fs"; export default x;');
    assert.deepEqual([imports.stage, imports.message], ["imports", "the module imports 'node:fs' at run time"]);
    assert.deepEqual(await exportsOf("export const f = 1; //# sourceMappingURL=x.map"), { f: 1 }, "a last line comment ends");
  });
});

describe("validateArtifact: top-level await", () => {
  const check = async (source: string) => {
    const { artifact, sourceMap } = await compileSource(source);
    return validateArtifact(artifact, { timeoutMs: 500, wallTimeoutMs: 300 }, sourceMap);
  };

  it("accepts a module whose exports are set after host awaits", async () => {
    const source = `const key = await crypto.subtle.importKey("raw", new TextEncoder().encode("k"), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
export default { fetch: () => new Response(key.type) };`;
    assert.deepEqual(await check(source), { exports: ["default"], defaultKind: "handler" });
  });

  it("refuses a rejecting one with the source's file, line and column, and a never-settling one with the wall message", async () => {
    await assert.rejects(
      check(`export default { fetch: () => new Response("x") };\nawait new Promise((r) => setTimeout(r, 1));\nthrow new Error("no key");`),
      (error: LivelyError) => {
        assert.equal(error.code, "invalid_code");
        assert.match(error.message, /^the module's top-level code throws: index\.ts:3:7: no key$/);
        assert.deepEqual(error.details, { file: "index.ts", line: 3, column: 7 });
        return true;
      },
    );
    await assert.rejects(check("await new Promise(() => {});\nexport const f = () => 1;"), (error: LivelyError) => {
      assert.equal(error.code, "invalid_code");
      assert.match(error.message, /did not finish \(a top-level await that never settles\?\)/);
      return true;
    });
  });
});
