/**
 * The client (`lively/client`, imported as a user does: the package's own exports, so the built
 * dist/client.js) against a real node on each backend: buckets, define-and-call, errors. The
 * get-or-compute loop is in client-compute.test.ts; two definers at once in client-define.test.ts.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, it } from "node:test";
import { fileURLToPath } from "node:url";
import { createClient, type LivelyClient, LivelyClientError } from "lively/client";
import { describeEachBackend } from "./helpers/backends.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";

async function refusal(promise: Promise<unknown>): Promise<LivelyClientError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof LivelyClientError, `not a LivelyClientError: ${String(error)}`);
    return error;
  }
  assert.fail("expected a refusal");
}

it("lively/client resolves to the one built file, which imports nothing (fetch only)", () => {
  const path = fileURLToPath(import.meta.resolve("lively/client"));
  assert.match(path, /\/dist\/client\.js$/);
  const code = readFileSync(path, "utf8");
  assert.doesNotMatch(code, /^\s*import\s|\bimport\(|\brequire\(/m, "no imports of node code, packages or Node modules");
});

describeEachBackend("lively/client", (backend) => {
  let t: TestNode;
  let lively: LivelyClient;

  before(async () => {
    t = await startTestNode(backend);
    lively = createClient({ url: t.url, token: t.adminToken });
  });
  after(() => t.close());

  it("the issue's example: put with a TTL, get, delete, list by prefix", async () => {
    const b = lively.bucket("shopping");
    assert.equal((await b.create()).created, true);
    const put = await b.put("eggs", 3, { ttl: 60 });
    assert.equal(put.key, "eggs");
    assert.ok(put.version > 0);
    assert.ok(put.expiresAt !== null && Date.parse(put.expiresAt) > Date.now());
    assert.equal(await b.get("eggs"), 3);
    await b.put("eggplant", { colour: "purple" });
    await b.put("milk", [1, 2]);
    const page = await b.list({ prefix: "e" });
    assert.deepEqual(
      page.keys.map((k) => k.key),
      ["eggplant", "eggs"],
    );
    assert.equal(page.cursor, null);
    assert.equal(await b.delete("eggs"), true);
    assert.equal(await b.delete("eggs"), false);
    assert.equal(await b.get("eggs"), undefined);
    assert.deepEqual(
      (await lively.buckets()).map((x) => x.name),
      ["shopping"],
    );
  });

  it("bytes round-trip; keys with '/' and spaces; entries carry versions for compare-and-set", async () => {
    const b = lively.bucket("files");
    await b.create({ existsOk: true });
    const bytes = new Uint8Array([0, 1, 2, 250, 255]);
    await b.put("a/b c", bytes);
    const back = await b.get("a/b c");
    assert.ok(back instanceof Uint8Array);
    assert.deepEqual([...back], [...bytes]);
    const entry = await b.getEntry<Uint8Array>("a/b c", { consistency: "strong" });
    assert.equal(entry?.kind, "bytes");
    const next = await b.put("a/b c", "text", { expect: entry?.version });
    const stale = await refusal(b.put("a/b c", "lost", { expect: entry?.version }));
    assert.equal(stale.code, "conflict");
    assert.equal(stale.status, 409);
    assert.equal(stale.details?.current, next.version);
    assert.equal(await b.get("a/b c"), "text");
    assert.equal(await b.put("fresh", 1, { expect: 0 }).then((r) => r.key), "fresh");
  });

  it("listing follows cursors page by page", async () => {
    const b = lively.bucket("many");
    await b.create();
    for (let i = 0; i < 7; i++) await b.put(`k${i}`, i);
    const first = await b.list({ limit: 3 });
    assert.equal(first.keys.length, 3);
    assert.ok(first.cursor);
    const all: string[] = [];
    for await (const key of b.keys({ limit: 3 })) all.push(key.key);
    assert.deepEqual(all, ["k0", "k1", "k2", "k3", "k4", "k5", "k6"]);
  });

  it("refusals carry the node's code and status; a missing bucket is not a missing key", async () => {
    const missing = await refusal(lively.bucket("nope").get("x"));
    assert.equal(missing.code, "not_found");
    assert.equal(missing.details?.next, "create-bucket");
    const exists = await refusal(lively.bucket("shopping").create());
    assert.equal(exists.code, "conflict");
    const big = await refusal(lively.bucket("shopping").put("k".repeat(600), 1));
    assert.equal(big.code, "too_large");
    const ttl = await refusal(lively.bucket("shopping").put("k", 1, { ttl: 0 }));
    assert.equal(ttl.code, "bad_request");
    const undef = await refusal(lively.bucket("shopping").put("k", undefined as never));
    assert.equal(undef.code, "bad_request");
  });

  it("a wrong token is unauthorized and never printed; no node is unavailable", async () => {
    const secret = "lively_not-a-real-token-0123456789";
    const wrong = await refusal(createClient({ url: t.url, token: secret }).buckets());
    assert.equal(wrong.code, "unauthorized");
    assert.ok(!wrong.message.includes(secret) && !JSON.stringify(wrong.details ?? {}).includes(secret));
    const client = createClient({ url: t.url, token: secret });
    assert.ok(!JSON.stringify(client).includes(secret));
    assert.ok(!(await import("node:util")).inspect(client, { depth: 5 }).includes(secret));
    const down = await refusal(createClient({ url: "http://127.0.0.1:9", token: secret }).buckets());
    assert.equal(down.code, "unavailable");
    assert.ok(!down.message.includes(secret));
    assert.throws(
      () => createClient({ url: "not a url" }),
      (e: unknown) => e instanceof LivelyClientError && e.code === "bad_request",
    );
  });

  it("call defines a missing module once, calls it, and never overwrites an existing one", async () => {
    let defines = 0;
    const define = () => {
      defines++;
      return "export default (a, b) => a + b";
    };
    const first = await lively.callDetailed<number>("sum", [1, 4], define);
    assert.deepEqual(first, { module: "sum", version: 1, result: 5, defined: true });
    assert.equal(await lively.call("sum", [2, 3], define), 5);
    assert.equal(defines, 1, "define() runs only while the module is missing");
    // Another definition of an existing module changes nothing.
    assert.equal(await lively.call("sum", [2, 3], () => "export default (a, b) => a * b"), 5);
    const versions = await t.api("GET", "/modules/sum/versions");
    assert.equal(versions.body.length, 1);
    // Without define, a missing module is not_found.
    const missing = await refusal(lively.call("nothing-here", []));
    assert.equal(missing.code, "not_found");
  });

  it("define is validated like a deploy: bad code writes nothing; a fetch handler is not callable", async () => {
    const broken = await refusal(lively.call("broken", [], () => "export default (a, b) => a +"));
    assert.equal(broken.code, "invalid_code");
    const noDefault = await refusal(lively.call("named-only", [], () => "export function f() { return 1 }"));
    assert.equal(noDefault.code, "invalid_code");
    assert.equal((await t.api("GET", "/modules/broken/versions")).status, 404);
    assert.equal((await t.api("GET", "/modules/named-only/versions")).status, 404);
    // A fetch handler passes a deploy's check but could never be called: define refuses it, writing nothing.
    const handlerDefined = await refusal(lively.call("handler-def", [], () => "export default { fetch() { return new Response('x') } }"));
    assert.equal(handlerDefined.code, "invalid_code");
    assert.match(handlerDefined.message, /default export that is a function/);
    assert.equal((await t.api("GET", "/modules/handler-def/versions")).status, 404);
    const number = await refusal(lively.call("number-def", [], () => "export default 5"));
    assert.match(number.message, /or a function, to be called/);
    await t.deploy("web", "export default { fetch() { return new Response('x') } }");
    const handler = await refusal(lively.call("web", [], () => "export default () => 1"));
    assert.equal(handler.code, "module_error");
    assert.match(handler.message, /default export is not a function/);
    const thrown = await refusal(lively.call("thrower", [], () => "export default () => { throw new Error('boom') }"));
    assert.equal(thrown.code, "module_error");
    assert.match(thrown.message, /boom/);
    assert.equal((await t.api("GET", "/modules/thrower/versions")).body.length, 1, "the module was defined; its function threw");
  });

  it("POST /define refuses bad input and writes nothing", async () => {
    const cases: [string, unknown, number][] = [
      ["/define/Bad_Name", { code: "export default () => 1" }, 400],
      ["/define/args-not-array", { code: "export default () => 1", args: { a: 1 } }, 400],
      ["/define/no-code", { args: [] }, 400],
      ["/define/empty-code", { code: "  " }, 400],
      ["/define/extra-field", { code: "export default () => 1", channel: "beta" }, 400],
      ["/define/too-big", { code: `export default () => 1; // ${"x".repeat(6 * 1024 * 1024)}` }, 413],
    ];
    for (const [path, body, status] of cases) {
      const answer = await t.api("POST", path, { body });
      assert.equal(answer.status, status, `${path}: ${JSON.stringify(answer.body).slice(0, 200)}`);
    }
    const modules = (await t.api("GET", "/modules")).body as { name: string }[];
    for (const name of ["args-not-array", "no-code", "empty-code", "extra-field", "too-big"]) {
      assert.ok(!modules.some((m) => m.name === name), `${name} was not written`);
    }
    const reader = (await t.api("POST", "/tokens", { body: { name: "client-reader", scope: "read" } })).body.token as string;
    const forbidden = await refusal(createClient({ url: t.url, token: reader }).call("by-reader", [], () => "export default () => 1"));
    assert.equal(forbidden.code, "forbidden");
  });

  it("POST /call/:module without a function calls the default export", async () => {
    await t.deploy("twice", "export default (n) => n * 2");
    const answer = await t.api("POST", "/call/twice", { body: [21] });
    assert.equal(answer.status, 200);
    assert.equal(answer.body, 42);
  });
});
