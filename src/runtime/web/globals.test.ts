/**
 * workerd's globals in a real isolate: URLPattern (a lazy part, loaded on first read of the
 * global), scheduler.wait on the isolate's timers, and navigator.userAgent.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createWebSandbox, type WebSandbox } from "./test-support.ts";

describe("URLPattern", () => {
  let s: WebSandbox;
  before(async () => {
    s = await createWebSandbox();
  });
  after(() => s.close());

  it("is a getter until first read, then a plain global holding the polyfill's class", async () => {
    const [before, after, name] = (await s.runAsync(`
      const before = typeof Object.getOwnPropertyDescriptor(globalThis, "URLPattern").get;
      const P = URLPattern;
      const d = Object.getOwnPropertyDescriptor(globalThis, "URLPattern");
      return [before, typeof d.value + (d.enumerable ? " enumerable" : "") + (d.writable ? " writable" : ""), P.name];
    `)) as string[];
    assert.equal(before, "function");
    assert.equal(after, "function writable");
    assert.equal(name, "URLPattern");
  });

  it("matches and captures named groups, wildcards and components", async () => {
    const out = await s.runAsync(`
      const p = new URLPattern({ pathname: "/books/:id(\\\\d+)" });
      const hit = p.exec("https://example.com/books/123?x=1");
      const wild = new URLPattern("https://:sub.example.com/*").exec("https://api.example.com/a/b");
      const base = new URLPattern("/users/:name", "https://example.com");
      return {
        id: hit.pathname.groups.id,
        miss: p.test("https://example.com/books/abc"),
        sub: wild.hostname.groups.sub,
        rest: wild.pathname.groups[0],
        base: base.test("https://example.com/users/ada"),
        otherHost: base.test("https://other.com/users/ada"),
        protocol: base.protocol,
        regexp: new URLPattern({ pathname: "/(a|b)" }).hasRegExpGroups,
      };
    `);
    assert.deepEqual(out, {
      id: "123",
      miss: false,
      sub: "api",
      rest: "a/b",
      base: true,
      otherHost: false,
      protocol: "https",
      regexp: true,
    });
  });

  it("throws a TypeError for a pattern that does not parse", async () => {
    const name = await s.runAsync(`try { new URLPattern({ pathname: "/(" }); return "none"; } catch (e) { return e.name; }`);
    assert.equal(name, "TypeError");
  });

  it("an assignment before first use replaces it without loading the polyfill", async () => {
    const t = await createWebSandbox();
    try {
      const out = await t.runAsync(
        `URLPattern = 42; return [URLPattern, typeof Object.getOwnPropertyDescriptor(globalThis, "URLPattern").get];`,
      );
      assert.deepEqual(out, [42, "undefined"]);
    } finally {
      t.close();
    }
  });
});

describe("scheduler.wait", () => {
  let s: WebSandbox;
  before(async () => {
    s = await createWebSandbox();
  });
  after(() => s.close());

  it("resolves with undefined after the time, through a host timer", async () => {
    const out = await s.runAsync(`
      const order = [];
      // A host timer each; the longer one is started first, so only a main thread stalled for
      // ~95 ms between the two could swap them (a 0 ms against 5 ms pair swapped once on Node 24 in CI).
      const later = new Promise((r) => setTimeout(r, 100)).then(() => order.push("timeout 100"));
      const started = Date.now();
      await scheduler.wait(5).then((v) => order.push("wait:" + v));
      // It waited (a timer never fires early): not a microtask.
      order.push(Date.now() - started >= 4 ? "waited" : "resolved at once");
      await later;
      return order;
    `);
    assert.deepEqual(out, ["wait:undefined", "waited", "timeout 100"]);
  });

  it("rejects with the signal's reason when aborted, and clears its timer", async () => {
    const out = (await s.runAsync(`
      const ac = new AbortController();
      const waiting = scheduler.wait(60000, { signal: ac.signal });
      ac.abort(new Error("stop"));
      let reason;
      try { await waiting; } catch (e) { reason = e.message; }
      return reason;
    `)) as string;
    assert.equal(out, "stop");
    assert.equal(s.bindings.pendingTimers, 0);
  });

  it("rejects at once for a signal already aborted (an AbortError by default)", async () => {
    const out = await s.runAsync(`
      try { await scheduler.wait(60000, { signal: AbortSignal.abort() }); return "resolved"; } catch (e) { return e.name; }
    `);
    assert.equal(out, "AbortError");
    assert.equal(s.bindings.pendingTimers, 0);
  });

  it("refuses a signal that is not an AbortSignal", async () => {
    const out = await s.runAsync(`
      try { await scheduler.wait(1, { signal: { aborted: false, addEventListener() {} } }); return "resolved"; } catch (e) { return e.name; }
    `);
    assert.equal(out, "TypeError");
  });
});

describe("navigator.userAgent", () => {
  it("is the string module code sees", async () => {
    const s = await createWebSandbox();
    try {
      assert.equal(typeof (await s.run("navigator.userAgent")), "string");
    } finally {
      s.close();
    }
  });
});

describe("WebAssembly", () => {
  let s: WebSandbox;
  before(async () => {
    s = await createWebSandbox();
  });
  after(() => s.close());

  it("is not there for module code (its memory would be outside the isolate's limit), and HTMLRewriter still works", async () => {
    const out = (await s.runAsync(`
      const names = Object.getOwnPropertyNames(globalThis).filter((n) => n === "WebAssembly");
      let made = "no error";
      try { new WebAssembly.Memory({ initial: 6400 }); } catch (e) { made = e.name; }
      const html = await new HTMLRewriter()
        .on("b", { element(el) { el.setInnerContent("rewritten"); } })
        .transform(new Response("<p><b>x</b></p>"))
        .text();
      return [typeof WebAssembly, names.length, made, html];
    `)) as [string, number, string, string];
    assert.deepEqual(out, ["undefined", 0, "ReferenceError", "<p><b>rewritten</b></p>"]);
  });
});
