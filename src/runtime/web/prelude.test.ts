/**
 * The web prelude in a real isolate: the wire contract, the classes module code uses, the host
 * bindings (URL, text, crypto, timers, console) and that the bindings stay hidden. Its cold
 * start is measured by `npm run bench:prelude`, not here.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { loadIsolatedVm } from "../ivm/isolated-vm.ts";
import { isolateLacks, LANGUAGE_SOURCE } from "./language.ts";
import { installHostBindings, PRELUDE_SOURCE, runPrelude } from "./prelude.ts";
import { createWebSandbox, type WebSandbox } from "./test-support.ts";

describe("web prelude", () => {
  let s: WebSandbox;
  before(async () => {
    s = await createWebSandbox();
  });
  after(() => s.close());

  it("Response.json round-trips through __testFromResponse as a plain, copyable object", async () => {
    const out = await s.runAsync(
      `return __testFromResponse(Response.json({ hello: "wörld", n: [1, 2] }, { status: 201, headers: { "X-Trace": "t1" } }));`,
    );
    assert.deepEqual(out, {
      status: 201,
      headers: ["x-trace", "t1", "content-type", "application/json"],
      body: '{"hello":"wörld","n":[1,2]}',
      stream: null,
    });
    const bytes = (await s.runAsync(`return __testFromResponse(new Response(new Uint8Array([104, 105]))).body;`)) as Uint8Array;
    assert.ok(bytes instanceof Uint8Array);
    assert.deepEqual([...bytes], [104, 105]);
    assert.deepEqual(await s.runAsync(`return __testFromResponse(new Response(null, { status: 204 }));`), {
      status: 204,
      headers: [],
      body: null,
      stream: null,
    });
    const cookies = (await s.runAsync(
      `const h = new Headers(); h.append("Set-Cookie", "a=1"); h.append("set-cookie", "b=2");
       return __testFromResponse(new Response("x", { headers: h })).headers;`,
    )) as string[];
    assert.deepEqual(cookies.slice(0, 4), ["set-cookie", "a=1", "set-cookie", "b=2"]);
    const framing = await s.runAsync(
      `return __testFromResponse(new Response("hi", { headers: { "content-length": "99", "transfer-encoding": "chunked", connection: "close", "x-ok": "1" } })).headers;`,
    );
    assert.deepEqual(framing, ["x-ok", "1", "content-type", "text/plain;charset=UTF-8"], "framing headers are the host's to write");
  });

  it("__testFromResponse names what the handler returned instead of a Response", async () => {
    const messages = await s.runAsync(`
      return [{ a: 1 }, "text", undefined, null, 42, Promise.resolve(1), [], () => 1].map((v) => {
        try { __testFromResponse(v); return "no error"; } catch (e) { return e.constructor.name + ": " + e.message; }
      });`);
    assert.deepEqual(messages, [
      "TypeError: the handler returned Object, not a Response",
      "TypeError: the handler returned string, not a Response",
      "TypeError: the handler returned undefined, not a Response",
      "TypeError: the handler returned null, not a Response",
      "TypeError: the handler returned number, not a Response",
      "TypeError: the handler returned Promise, not a Response",
      "TypeError: the handler returned Array, not a Response",
      "TypeError: the handler returned function, not a Response",
    ]);
  });

  it("__testToRequest builds a Request from the host's plain object", async () => {
    const plain = {
      method: "POST",
      url: "http://example.com/api/items?x=1",
      headers: ["Content-Type", "application/json", "x-a", "1", "X-A", "2"],
      body: new TextEncoder().encode('{"name":"ünï"}'),
    };
    const out = await s.call(
      `const r = __testToRequest($0);
       return [r instanceof Request, r.method, r.url, r.headers.get("x-a"), r.headers.get("content-type"), await r.json(), r.bodyUsed];`,
      [plain],
    );
    assert.deepEqual(out, [true, "POST", "http://example.com/api/items?x=1", "1, 2", "application/json", { name: "ünï" }, true]);
    const get = await s.call(`const r = __testToRequest($0); return [r.method, await r.text(), r.signal.aborted];`, [
      { method: "GET", url: "https://a.example/", headers: [], body: null },
    ]);
    assert.deepEqual(get, ["GET", "", false]);
  });

  it("the prelude puts no wire functions on the global: it returns them", async () => {
    const ivm = loadIsolatedVm();
    const isolate = new ivm.Isolate({ memoryLimit: 32 });
    try {
      const context = await isolate.createContext();
      const bindings = await installHostBindings(context, ivm, {});
      const wire = runPrelude(isolate, context);
      const names = context.evalSync(
        "JSON.stringify(Object.getOwnPropertyNames(globalThis).filter((k) => /lively|wire|hostAsync/i.test(k)))",
      );
      assert.equal(names, "[]");
      const kinds = ["toRequest", "fromResponse", "hostAsync", "reportError"].map(
        (name) => (wire.getSync(name, { reference: true }) as { typeof: string }).typeof,
      );
      assert.deepEqual(kinds, ["function", "function", "function", "function"]);
      bindings.dispose();
    } finally {
      isolate.dispose();
    }
  });

  it("Headers are case-insensitive and iterate sorted, lower-cased and combined", async () => {
    const out = await s.runAsync(`
      const h = new Headers({ "Content-Type": "text/plain" });
      h.append("X-Multi", "a"); h.append("x-multi", "b"); h.set("ACCEPT", " */* ");
      h.append("Set-Cookie", "s=1"); h.append("Set-Cookie", "t=2");
      const seen = []; h.forEach((v, k) => seen.push(k + "=" + v));
      const removed = h.has("CONTENT-type"); h.delete("content-TYPE");
      let invalid = ""; try { h.set("bad name", "x"); } catch (e) { invalid = e.constructor.name; }
      return [h.get("x-MULTI"), h.get("accept"), removed, h.has("content-type"), [...h.keys()], seen, h.getSetCookie(),
        Object.fromEntries(new Headers([["A", "1"], ["b", "2"]])), invalid, h.get("missing")];`);
    assert.deepEqual(out, [
      "a, b",
      "*/*",
      true,
      false,
      ["accept", "set-cookie", "set-cookie", "x-multi"],
      ["accept=*/*", "content-type=text/plain", "set-cookie=s=1", "set-cookie=t=2", "x-multi=a, b"],
      ["s=1", "t=2"],
      { a: "1", b: "2" },
      "TypeError",
      null,
    ]);
  });

  it("URL parses through the host and keeps searchParams linked", async () => {
    const out = await s.runAsync(`
      const u = new URL("/a/b?x=1&y=hello+world#frag", "https://user:pw@Example.COM:8443/base");
      const parts = [u.href, u.origin, u.protocol, u.username, u.password, u.host, u.hostname, u.port, u.pathname, u.search, u.hash];
      u.searchParams.append("z", "a&b é");
      u.searchParams.delete("x");
      u.pathname = "/c d";
      u.hash = "";
      const p = new URLSearchParams("?a=1&b=%E2%82%AC&a=2&c=%zz");
      const q = new URLSearchParams({ k: "v w", "é": "!'()~*" });
      let invalid = ""; try { new URL("not a url"); } catch (e) { invalid = e.constructor.name; }
      u.search = "?n=5";
      return [parts, u.href, u.searchParams.get("n"), u.searchParams.get("y"), p.getAll("a"), p.get("b"), p.get("c"), q.toString(),
        invalid, URL.canParse("http://x"), URL.canParse("nope"), JSON.stringify({ u: new URL("http://x/y") }), String(new URL("HTTP://X.org"))];`);
    assert.deepEqual(out, [
      [
        "https://user:pw@example.com:8443/a/b?x=1&y=hello+world#frag",
        "https://example.com:8443",
        "https:",
        "user",
        "pw",
        "example.com:8443",
        "example.com",
        "8443",
        "/a/b",
        "?x=1&y=hello+world",
        "#frag",
      ],
      "https://user:pw@example.com:8443/c%20d?n=5",
      "5",
      null,
      ["1", "2"],
      "€",
      "%zz",
      "k=v+w&%C3%A9=%21%27%28%29%7E*",
      "TypeError",
      true,
      false,
      '{"u":"http://x/y"}',
      "http://x.org/",
    ]);
    const linked = await s.runAsync(
      `const u = new URL("https://e.com/?a=1"); u.searchParams.append("z", "a&b é"); u.searchParams.delete("a"); return u.href;`,
    );
    assert.equal(linked, "https://e.com/?z=a%26b+%C3%A9");
  });

  it("TextEncoder/TextDecoder round-trip UTF-8, short (in-isolate) and long (host)", async () => {
    const out = (await s.runAsync(`
      const short = "héllo wörld – 日本語 🎉";
      const long = short.repeat(200);
      const enc = new TextEncoder(), dec = new TextDecoder();
      const a = enc.encode(short), b = enc.encode(long);
      const into = new Uint8Array(5); const r = enc.encodeInto("a🎉b", into);
      const streamed = new TextDecoder(); const bytes = enc.encode("€€");
      const parts = streamed.decode(bytes.subarray(0, 2), { stream: true }) + streamed.decode(bytes.subarray(2, 4), { stream: true }) + streamed.decode(bytes.subarray(4));
      let fatal = ""; try { new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array([0xff])); } catch (e) { fatal = e.constructor.name; }
      return [dec.decode(a) === short, dec.decode(b) === long, a.length, b.length, [...enc.encode("\\ud800")], r, parts,
        dec.decode(new Uint8Array([0xef, 0xbb, 0xbf, 0x41])), dec.decode(new Uint8Array([0x41, 0xff]).buffer), fatal,
        new TextDecoder("latin1").encoding, new TextDecoder("latin1").decode(new Uint8Array([0xe9]))];`)) as unknown[];
    assert.deepEqual(out, [
      true,
      true,
      Buffer.byteLength("héllo wörld – 日本語 🎉"),
      Buffer.byteLength("héllo wörld – 日本語 🎉") * 200,
      [0xef, 0xbf, 0xbd],
      { read: 3, written: 5 },
      "€€",
      "A",
      "A\ufffd",
      "TypeError",
      "windows-1252",
      "é",
    ]);
  });

  it("atob/btoa follow forgiving base64", async () => {
    const out = await s.runAsync(`
      let bad = ""; try { btoa("€"); } catch (e) { bad = e.name; }
      let bad2 = ""; try { atob("a"); } catch (e) { bad2 = e.name; }
      return [btoa("hello"), atob("aGVsbG8"), atob(" aGVs\\nbG8= "), btoa("\\xff\\x00"), bad, bad2];`);
    assert.deepEqual(out, ["aGVsbG8=", "hello", "hello", "/wA=", "InvalidCharacterError", "InvalidCharacterError"]);
  });

  it("crypto: SHA digests, HMAC, randomUUID, getRandomValues", async () => {
    const out = (await s.runAsync(`
      const hex = (b) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, "0")).join("");
      const data = new TextEncoder().encode("abc");
      const sha256 = hex(await crypto.subtle.digest("SHA-256", data));
      const sha1 = hex(await crypto.subtle.digest({ name: "sha-1" }, data.buffer));
      const key = await crypto.subtle.importKey("raw", new TextEncoder().encode("key"), { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
      const msg = new TextEncoder().encode("The quick brown fox jumps over the lazy dog");
      const sig = await crypto.subtle.sign("HMAC", key, msg);
      const ok = await crypto.subtle.verify("HMAC", key, sig, msg);
      const notOk = await crypto.subtle.verify("HMAC", key, sig, data);
      let unsupported = ""; try { await crypto.subtle.digest("MD4", data); } catch (e) { unsupported = e.name; }
      const arr = crypto.getRandomValues(new Uint32Array(8));
      let quota = ""; try { crypto.getRandomValues(new Uint8Array(65537)); } catch (e) { quota = e.name; }
      return [sha256, sha1, hex(sig), ok, notOk, unsupported, arr.length, arr.some((x) => x !== 0), quota, crypto.randomUUID(), crypto.randomUUID()];`)) as unknown[];
    assert.equal(out[0], "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert.equal(out[1], "a9993e364706816aba3e25717850c26c9cd0d89d");
    assert.equal(out[2], "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
    assert.deepEqual(out.slice(3, 9), [true, false, "NotSupportedError", 8, true, "QuotaExceededError"]);
    assert.match(String(out[9]), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.notEqual(out[9], out[10]);
  });

  it("setTimeout fires through the host, clearTimeout cancels, setInterval repeats", async () => {
    const out = await s.runAsync(`
      const order = [];
      const cancelled = setTimeout(() => order.push("cancelled"), 5);
      clearTimeout(cancelled);
      let ticks = 0;
      await new Promise((resolve) => { const id = setInterval(() => { if (++ticks === 3) { clearInterval(id); resolve(); } }, 2); });
      // The delay reaches the host: a timer set first with the longer delay fires second.
      const late = new Promise((resolve) => setTimeout((a, b) => { order.push(a + b); resolve(); }, 20, "x", "y"));
      setTimeout(() => order.push("sooner"), 1);
      await late;
      queueMicrotask(() => order.push("micro"));
      await null;
      return [order, ticks];`);
    assert.deepEqual(out, [["sooner", "xy", "micro"], 3]);
    assert.equal(s.bindings.pendingTimers, 0);
  });

  it("console lines reach onLog with their level, formatted", async () => {
    s.logs.length = 0;
    await s.runAsync(`
      console.log("hello", { a: [1, "two"], m: new Map([["k", 1]]) }, 3n);
      console.info("%s is %d years", "Bob", 42);
      console.warn(new Headers({ A: "b" }));
      console.error(new TypeError("boom").message);
      console.debug(null, undefined, [1, [2, [3, [4]]]]);
      const o = { name: "loop" }; o.self = o; console.log(o);
      setTimeout(() => { throw new Error("in timer"); }, 0);
      await new Promise((r) => setTimeout(r, 10));`);
    assert.deepEqual(s.logs.slice(0, 6), [
      ["log", "hello { a: [ 1, 'two' ], m: Map(1) { 'k' => 1 } } 3n"],
      ["info", "Bob is 42 years"],
      ["warn", "Headers { 'a' => 'b' }"],
      ["error", "boom"],
      ["debug", "null undefined [ 1, [ 2, [ 3, [Array] ] ] ]"],
      ["log", "{ name: 'loop', self: [Circular] }"],
    ]);
    assert.equal(s.logs[6]?.[0], "error");
    assert.match(s.logs[6]?.[1] ?? "", /^Uncaught Error: in timer/);
  });

  it("structuredClone deep-copies plain data, Map, Set, Date, buffers and cycles", async () => {
    const out = await s.runAsync(`
      const src = { a: [1, { b: "c" }], m: new Map([[1, { x: 1 }]]), s: new Set(["y"]), d: new Date(5), u: new Uint16Array([1, 2]), r: /x/gi };
      src.self = src;
      const c = structuredClone(src);
      src.a[1].b = "changed"; src.u[0] = 9;
      let fn = ""; try { structuredClone({ f() {} }); } catch (e) { fn = e.name; }
      return [c !== src, c.self === c, c.a[1].b, c.m.get(1).x, c.s.has("y"), c.d.getTime(), c.d instanceof Date, [...c.u], c.u instanceof Uint16Array, String(c.r), fn];`);
    assert.deepEqual(out, [true, true, "c", 1, true, 5, true, [1, 2], true, "/x/gi", "DataCloneError"]);
  });

  it("AbortController dispatches abort to listeners and onabort, once", async () => {
    const out = await s.runAsync(`
      const c = new AbortController(); const seen = [];
      c.signal.addEventListener("abort", (e) => seen.push("listener:" + e.type + ":" + (e.target === c.signal)));
      c.signal.onabort = () => seen.push("onabort");
      c.signal.addEventListener("abort", () => seen.push("once"), { once: true });
      c.abort(); c.abort();
      let thrown = ""; try { c.signal.throwIfAborted(); } catch (e) { thrown = e.name; }
      const r = AbortSignal.abort("why");
      const t = AbortSignal.timeout(5);
      await new Promise((res) => t.addEventListener("abort", res));
      let illegal = ""; try { new AbortSignal(); } catch (e) { illegal = e.constructor.name; }
      return [seen, c.signal.aborted, c.signal.reason.name, thrown, r.reason, t.reason.name, illegal];`);
    assert.deepEqual(out, [
      ["listener:abort:true", "onabort", "once"],
      true,
      "AbortError",
      "AbortError",
      "why",
      "TimeoutError",
      "TypeError",
    ]);
  });

  it("Request and Response behave like fetch's for the common cases", async () => {
    const out = await s.runAsync(`
      const res = new Response("hi", { status: 404, statusText: "Nope" });
      const copy = new Response(res.body, res);
      const req = new Request("https://x.dev/p", { method: "post", body: JSON.stringify({ a: 1 }) });
      const clone = req.clone();
      const errors = [];
      for (const f of [() => new Request("/relative"), () => new Request("https://x.dev", { body: "x" }), () => new Response("x", { status: 204 }), () => new Response("", { status: 99 })])
        try { f(); errors.push("none"); } catch (e) { errors.push(e.constructor.name); }
      const redirect = Response.redirect("https://x.dev/next", 301);
      const ab = await new Response(new Uint8Array([1, 2, 3]).subarray(1)).arrayBuffer();
      let used = ""; const r2 = new Response("z"); await r2.text(); try { await r2.text(); } catch (e) { used = e.constructor.name; }
      return [copy.status, copy.statusText, copy.ok, await copy.text(), res.bodyUsed, req.method, await req.json(), await clone.text(),
        req.headers.get("content-type"), errors, redirect.status, redirect.headers.get("location"), [...new Uint8Array(ab)], used,
        Response.error().type, Response.error().status, await new Request("https://x.dev/q", new Request("https://y.dev/", { method: "PUT", body: "b" })).text()];`);
    assert.deepEqual(out, [
      404,
      "Nope",
      false,
      "hi",
      true,
      "POST",
      { a: 1 },
      '{"a":1}',
      "text/plain;charset=UTF-8",
      ["TypeError", "TypeError", "TypeError", "RangeError"],
      301,
      "https://x.dev/next",
      [2, 3],
      "TypeError",
      "error",
      0,
      "b",
    ]);
  });

  it("hides the host bindings and the host's process from user code", async () => {
    const out = await s.run(`(() => {
      let escape;
      try { escape = String(this.constructor.constructor("return process")()); } catch (e) { escape = e.constructor.name; }
      let viaFunction;
      try { viaFunction = Function("return typeof process")(); } catch (e) { viaFunction = e.constructor.name; }
      return JSON.stringify([typeof __livelyHost, "__livelyHost" in globalThis, escape, viaFunction, typeof require, typeof globalThis.process,
        Object.getOwnPropertyNames(globalThis).filter((k) => /lively/i.test(k))]);
    })()`);
    assert.deepEqual(JSON.parse(String(out)), ["undefined", false, "ReferenceError", "undefined", "undefined", "undefined", []]);
  });

  it("names every class and function it defines as the Web does, in .name and in stack frames", async () => {
    // The prelude is bundled by esbuild, which renames a class that names itself in its own body.
    const misnamed = await s.run(`JSON.stringify(Object.getOwnPropertyNames(globalThis).filter((k) =>
      !k.startsWith("__test") && typeof globalThis[k] === "function" && globalThis[k].name !== k))`);
    assert.equal(misnamed, "[]");
    const stack = String(await s.run(`(() => { try { new Headers([["bad name", "x"]]) } catch (e) { return e.stack } })()`));
    assert.match(
      stack,
      /^TypeError: Invalid header name: 'bad name'\n {4}at headerName \(lively:prelude:\d+:\d+\)\n {4}at Headers\.append \(lively:prelude:/,
    );
    assert.match(stack, /at new Headers \(lively:prelude:\d+:\d+\)/);
  });

  it("refuses to run without the host bindings", async () => {
    const ivm = loadIsolatedVm();
    const isolate = new ivm.Isolate({ memoryLimit: 32 });
    try {
      const context = await isolate.createContext();
      assert.throws(() => context.evalSync(PRELUDE_SOURCE), /installHostBindings must run before the Lively prelude/);
    } finally {
      isolate.dispose();
    }
  });

  it("the prelude run from V8's code cache defines what a plain eval of it defines", async () => {
    const ivm = loadIsolatedVm();
    const globals = async (cached: boolean) => {
      const isolate = new ivm.Isolate({ memoryLimit: 64 });
      try {
        const context = await isolate.createContext();
        const bindings = await installHostBindings(context, ivm);
        if (cached) runPrelude(isolate, context);
        else {
          // runPrelude runs the language script first where the host's V8 lacks a built-in (./language.ts).
          if (isolateLacks(context).length > 0) context.evalSync(LANGUAGE_SOURCE);
          context.evalSync(PRELUDE_SOURCE);
        }
        const names = context.evalSync("JSON.stringify(Object.getOwnPropertyNames(globalThis).sort())") as string;
        bindings.dispose();
        return JSON.parse(names) as string[];
      } finally {
        isolate.dispose();
      }
    };
    const plain = await globals(false);
    assert.ok(plain.includes("Response") && plain.includes("fetch") && plain.includes("setTimeout"));
    await globals(true); // the first run fills the code cache
    assert.deepEqual(await globals(true), plain);
  });
});
