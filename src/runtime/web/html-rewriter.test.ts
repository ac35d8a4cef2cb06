/**
 * HTMLRewriter in a real isolate: lol-html's WebAssembly compiled by the host and instantiated in
 * the isolate on first read of the global (a lazy part), workerd's API over Response bodies,
 * async handlers, errors, and bad input.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createWebSandbox, type WebSandbox } from "./test-support.ts";

/** Module code that rewrites `html` (streamed in `chunks` pieces) with the handlers set up by `setup` on `rw`, and returns the text. */
const rewrite = (html: string, setup: string, chunks = 1) => `
  const html = ${JSON.stringify(html)};
  const size = Math.ceil(html.length / ${chunks});
  const parts = [];
  for (let i = 0; i < html.length; i += size) parts.push(new TextEncoder().encode(html.slice(i, i + size)));
  const body = new ReadableStream({ pull(c) { if (parts.length) c.enqueue(parts.shift()); else c.close(); } });
  const rw = new HTMLRewriter();
  ${setup}
  const res = rw.transform(new Response(body, { status: 203, headers: { "content-type": "text/html", "content-length": "999", "x-a": "b" } }));
  return await res.text();
`;

describe("HTMLRewriter", () => {
  let s: WebSandbox;
  before(async () => {
    s = await createWebSandbox();
  });
  after(() => s.close());

  it("is a getter until first read, then a plain global", async () => {
    const [before, after, name] = (await s.runAsync(`
      const before = typeof Object.getOwnPropertyDescriptor(globalThis, "HTMLRewriter").get;
      const H = HTMLRewriter;
      const d = Object.getOwnPropertyDescriptor(globalThis, "HTMLRewriter");
      return [before, typeof d.value + (d.enumerable ? " enumerable" : "") + (d.writable ? " writable" : ""), H.name];
    `)) as string[];
    assert.equal(before, "function");
    assert.equal(after, "function writable");
    assert.equal(name, "HTMLRewriter");
  });

  it("rewrites elements: attributes, content, removal, end tags, streamed in small chunks", async () => {
    const html = `<html><head><title>T</title></head><body><a href="/x" class="k">one</a><div id="ad">ad<b>!</b></div><p>keep <i>me</i></p></body></html>`;
    const out = await s.runAsync(
      rewrite(
        html,
        `
        rw.on("a[href]", { element(e) {
          globalThis.seen = [e.tagName, e.getAttribute("href"), e.hasAttribute("class"), e.getAttribute("nope"), [...e.attributes].map(([k, v]) => k + "=" + v).join(",")];
          e.setAttribute("href", "https://example.com" + e.getAttribute("href")).removeAttribute("class");
          e.prepend("<b>", { html: true }); e.append("</b>", { html: true });
          e.before("<!--b-->", { html: true }); e.after("<x>", { html: false });
        } })
        .on("#ad", { element(e) { e.remove(); } })
        .on("i", { element(e) { e.removeAndKeepContent(); } })
        .on("title", { element(e) { e.setInnerContent("New & <title>"); } })
        .on("body", { element(e) { e.onEndTag((end) => { end.before("<script>go()</script>", { html: true }); }); } });
      `,
        7,
      ) + "",
    );
    assert.equal(
      out,
      `<html><head><title>New &amp; &lt;title&gt;</title></head><body><!--b--><a href="https://example.com/x"><b>one</b></a>&lt;x&gt;<p>keep me</p><script>go()</script></body></html>`,
    );
    assert.deepEqual(await s.run(`JSON.stringify(seen)`), JSON.stringify(["a", "/x", true, null, "href=/x,class=k"]));
  });

  it("keeps status and headers, drops content-length, and replaces an element", async () => {
    const out = await s.runAsync(`
      const res = new HTMLRewriter().on("span", { element(e) { e.replace("<em>r</em>", { html: true }); } })
        .transform(new Response("<p><span>s</span></p>", { status: 203, headers: { "content-type": "text/html", "content-length": "21", "x-a": "b" } }));
      return [res.status, res.headers.get("x-a"), res.headers.get("content-length"), await res.text()];
    `);
    assert.deepEqual(out, [203, "b", null, "<p><em>r</em></p>"]);
  });

  it("hands text chunks, comments and the document's doctype and end to handlers", async () => {
    const out = (await s.runAsync(
      rewrite(
        `<!DOCTYPE html><p>hello <!--c1--> world</p>`,
        `
        const log = [];
        rw.on("p", {
          text(t) { log.push("text:" + t.text + ":" + t.lastInTextNode); if (t.text.includes("world")) t.replace("earth"); },
          comments(c) { log.push("comment:" + c.text); c.text = "c2"; },
        }).onDocument({
          doctype(d) { log.push("doctype:" + d.name + ":" + d.publicId); },
          end(end) { end.append("<!--end-->", { html: true }); },
        });
        globalThis.textLog = log;
      `,
      ) + `;`,
    )) as string;
    assert.equal(out, `<!DOCTYPE html><p>hello <!--c2-->earth</p><!--end-->`);
    const log = JSON.parse((await s.run(`JSON.stringify(textLog)`)) as string) as string[];
    assert.equal(log[0], "doctype:html:null");
    assert.ok(log.includes("comment:c1"));
    assert.ok(log.some((line) => line.startsWith("text:hello")));
    assert.ok(log.includes("text::true"), "the last chunk of a text node is empty and says so");
  });

  it("awaits async handlers (timers) and keeps document order", async () => {
    const out = await s.runAsync(
      rewrite(
        `<ul><li>1</li><li>2</li><li>3</li></ul>`,
        `
        let n = 0;
        rw.on("li", { async element(e) {
          const i = ++n;
          await new Promise((r) => setTimeout(r, 3 - i));
          e.setAttribute("data-i", String(i));
        } });
      `,
        3,
      ),
    );
    assert.equal(out, `<ul><li data-i="1">1</li><li data-i="2">2</li><li data-i="3">3</li></ul>`);
  });

  it("runs two transforms at once with async handlers in one isolate", async () => {
    const out = await s.runAsync(`
      const slow = (tag) => new HTMLRewriter().on("p", { async element(e) { await new Promise((r) => setTimeout(r, 2)); e.setAttribute("by", tag); } });
      const a = slow("a").transform(new Response("<p>1</p><p>2</p>"));
      const b = slow("b").transform(new Response("<p>3</p>"));
      return await Promise.all([a.text(), b.text()]);
    `);
    assert.deepEqual(out, [`<p by="a">1</p><p by="a">2</p>`, `<p by="b">3</p>`]);
  });

  it("calls handlers with `this` as the handler object (a class instance works)", async () => {
    const out = await s.runAsync(`
      class Counter { count = 0; element() { this.count++; } }
      const c = new Counter();
      await new HTMLRewriter().on("b", c).transform(new Response("<b></b><b></b>")).text();
      return c.count;
    `);
    assert.equal(out, 2);
  });

  it("errors the transformed stream when a handler throws or rejects", async () => {
    const out = await s.runAsync(`
      const read = async (handlers) => {
        try { await new HTMLRewriter().on("p", handlers).transform(new Response("<p>x</p>")).text(); return "no error"; }
        catch (e) { return e.message; }
      };
      return [
        await read({ element() { throw new Error("sync boom"); } }),
        await read({ async element() { await null; throw new Error("async boom"); } }),
      ];
    `);
    assert.deepEqual(out, ["sync boom", "async boom"]);
  });

  it("refuses bad input: a bad selector at on(), a non-Response, handlers that are not an object, string chunks", async () => {
    const out = await s.runAsync(`
      const name = (f) => { try { f(); return "none"; } catch (e) { return e.name + ": " + e.message; } };
      const chunks = new ReadableStream({ start(c) { c.enqueue("<p>text</p>"); c.close(); } });
      let streamError;
      try { await new HTMLRewriter().transform(new Response(chunks)).text(); } catch (e) { streamError = e.name; }
      return [
        name(() => new HTMLRewriter().on("p[", {})),
        name(() => new HTMLRewriter().transform("<p>")),
        name(() => new HTMLRewriter().transform({ body: null, headers: new Headers() })),
        name(() => new HTMLRewriter().on("p", null)),
        streamError,
      ];
    `);
    const [selector, notResponse, lookalike, handlers, streamError] = out as string[];
    assert.match(selector, /^TypeError: /);
    assert.match(notResponse, /^TypeError: .*not of type 'Response'/);
    assert.match(lookalike, /^TypeError: .*not of type 'Response'/);
    assert.match(handlers, /^TypeError: /);
    assert.equal(streamError, "TypeError");
  });

  it("passes a response without a body through, and an element used after its handler throws a TypeError", async () => {
    const out = await s.runAsync(`
      const empty = new HTMLRewriter().on("p", { element() {} }).transform(new Response(null, { status: 204 }));
      let kept;
      await new HTMLRewriter().on("p", { element(e) { kept = e; } }).transform(new Response("<p>x</p>")).text();
      let late;
      try { kept.setAttribute("a", "b"); late = "none"; } catch (e) { late = e.name; }
      return [empty.status, empty.body, late];
    `);
    assert.deepEqual(out, [204, null, "TypeError"]);
  });
});
