/**
 * Conformance cases for HTMLRewriter, written from workerd's documentation
 * (developers.cloudflare.com/workers/runtime-apis/html-rewriter/): element, text, comment and
 * document handlers over a Response, async handlers, and the errors. Plain module code, run
 * unchanged in a Lively isolate and in workerd by test/conformance.test.ts.
 */
import { equal, ok, throws } from "../check.js";

export const area = "HTMLRewriter";

export const cases = {};
const add = (name, run) => {
  cases[name] = run;
};

/** The text of `html` rewritten by the rewriter `setup` returns, fed in `pieces` chunks. */
const rewrite = async (html, setup, pieces = 1) => {
  const bytes = new TextEncoder().encode(html);
  const size = Math.ceil(bytes.length / pieces);
  let at = 0;
  const body = new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) controller.close();
      else {
        controller.enqueue(bytes.slice(at, at + size));
        at += size;
      }
    },
  });
  return await setup(new HTMLRewriter())
    .transform(new Response(body, { headers: { "content-type": "text/html" } }))
    .text();
};

add("setAttribute, getAttribute, hasAttribute, removeAttribute and the attributes iterator", async () => {
  let seen;
  const out = await rewrite(`<a href="/x" class="k" id="i">a</a>`, (rw) =>
    rw.on("a", {
      element(e) {
        seen = [e.tagName, e.getAttribute("href"), e.hasAttribute("class"), e.getAttribute("missing"), [...e.attributes].length];
        e.setAttribute("href", "/y").removeAttribute("class");
      },
    }),
  );
  equal(out, `<a href="/y" id="i">a</a>`, "output");
  equal(JSON.stringify(seen), JSON.stringify(["a", "/x", true, null, 3]), "what the handler saw");
});

add("before, after, prepend, append as text are escaped, with { html: true } are not", async () => {
  const out = await rewrite(`<p>x</p>`, (rw) =>
    rw.on("p", {
      element(e) {
        e.before("<b>").after("<i>", { html: true }).prepend("<u>", { html: true }).append("&");
      },
    }),
  );
  equal(out, `&lt;b&gt;<p><u>x&amp;</p><i>`, "output");
});

add("setInnerContent, replace, remove and removeAndKeepContent", async () => {
  const out = await rewrite(`<div><h1>t</h1><span>s</span><em>e</em><b>k<i>j</i></b></div>`, (rw) =>
    rw
      .on("h1", { element: (e) => e.setInnerContent("<new>") })
      .on("span", { element: (e) => e.replace("<hr>", { html: true }) })
      .on("em", { element: (e) => e.remove() })
      .on("b", { element: (e) => e.removeAndKeepContent() }),
  );
  equal(out, `<div><h1>&lt;new&gt;</h1><hr>k<i>j</i></div>`, "output");
});

add("onEndTag inserts before the end tag (a script before </body>)", async () => {
  const out = await rewrite(`<body><p>x</p></body>`, (rw) =>
    rw.on("body", { element: (e) => e.onEndTag((end) => end.before(`<script>1</script>`, { html: true })) }),
  );
  equal(out, `<body><p>x</p><script>1</script></body>`, "output");
});

add("selectors: descendant, child, attribute operators, :nth-child and :not", async () => {
  const hits = [];
  await rewrite(`<ul id="l"><li class="a b">1</li><li data-x="yes">2</li><li>3</li></ul><p><li>4</li></p>`, (rw) =>
    rw
      .on("ul > li.b", { element: () => hits.push("child.class") })
      .on(`li[data-x^="y"]`, { element: () => hits.push("attr^=") })
      .on("li:nth-child(3)", { element: () => hits.push("nth") })
      .on("#l li:not(.a)", { element: () => hits.push("not") }),
  );
  equal(hits.join(","), "child.class,attr^=,not,nth,not", "matches in document order");
});

add("text handlers get every chunk, the last one of each node marked lastInTextNode", async () => {
  let text = "";
  let last = 0;
  const out = await rewrite(
    `<p>hello world, a longer text node split over chunks</p>`,
    (rw) =>
      rw.on("p", {
        text(t) {
          text += t.text;
          if (t.lastInTextNode) last++;
        },
      }),
    5,
  );
  equal(text, "hello world, a longer text node split over chunks", "the text");
  equal(last, 1, "chunks marked last");
  equal(out, `<p>hello world, a longer text node split over chunks</p>`, "output unchanged");
});

add("comments handlers read and change the text, and replace and remove comments", async () => {
  const texts = [];
  const out = await rewrite(`<!--a--><p><!--b--><!--c--></p>`, (rw) =>
    rw
      .on("p", {
        comments(c) {
          texts.push(c.text);
          if (c.text === "b") c.text = "B";
          else c.remove();
        },
      })
      .onDocument({ comments: (c) => (c.text === "a" ? c.replace("<i>", { html: true }) : undefined) }),
  );
  equal(out, `<i><p><!--B--></p>`, "output");
  ok(texts.includes("b") && texts.includes("c"), "element comments seen");
});

add("onDocument: doctype fields and end.append", async () => {
  let doctype;
  const out = await rewrite(`<!DOCTYPE html><p>x</p>`, (rw) =>
    rw.onDocument({
      doctype(d) {
        doctype = [d.name, d.publicId, d.systemId];
      },
      end: (end) => end.append("<!--done-->", { html: true }),
    }),
  );
  equal(JSON.stringify(doctype), JSON.stringify(["html", null, null]), "doctype");
  equal(out, `<!DOCTYPE html><p>x</p><!--done-->`, "output");
});

add("async handlers are awaited in document order", async () => {
  let n = 0;
  const out = await rewrite(
    `<i>a</i><i>b</i><i>c</i>`,
    (rw) =>
      rw.on("i", {
        async element(e) {
          const i = ++n;
          await new Promise((resolve) => setTimeout(resolve, 3 - i));
          e.setAttribute("n", String(i));
        },
      }),
    2,
  );
  equal(out, `<i n="1">a</i><i n="2">b</i><i n="3">c</i>`, "output");
});

add("handlers are called with the handler object as this", async () => {
  class Counter {
    count = 0;
    element() {
      this.count++;
    }
  }
  const counter = new Counter();
  await rewrite(`<b></b><b></b><b></b>`, (rw) => rw.on("b", counter));
  equal(counter.count, 3, "calls counted on the instance");
});

add("transform keeps status and headers", async () => {
  const response = new HTMLRewriter().transform(new Response("<p></p>", { status: 201, headers: { "x-a": "b" } }));
  equal(response.status, 201, "status");
  equal(response.headers.get("x-a"), "b", "header");
  equal(await response.text(), "<p></p>", "body");
});

add("a handler that throws errors the transformed body", async () => {
  let error;
  try {
    await rewrite(`<p>x</p>`, (rw) =>
      rw.on("p", {
        element() {
          throw new Error("boom");
        },
      }),
    );
  } catch (e) {
    error = e;
  }
  ok(error !== undefined && String(error.message).includes("boom"), "the error from the handler");
});

add("a handler that rejects errors the transformed body", async () => {
  let error;
  try {
    await rewrite(`<p>x</p>`, (rw) =>
      rw.on("p", {
        async element() {
          await null;
          throw new Error("late boom");
        },
      }),
    );
  } catch (e) {
    error = e;
  }
  ok(error !== undefined && String(error.message).includes("late boom"), "the rejection from the handler");
});

add("an invalid selector throws a TypeError from on()", async () => {
  throws(() => new HTMLRewriter().on("p[", {}), "TypeError", "on('p[')");
});

add("transform of something that is not a Response throws a TypeError", async () => {
  throws(() => new HTMLRewriter().transform("<p>"), "TypeError", "transform(string)");
});

add("multi-byte UTF-8 split across chunks comes out whole", async () => {
  const out = await rewrite(`<p>héllo — ✓ 日本</p>`, (rw) => rw.on("p", { element: (e) => e.setAttribute("lang", "ja") }), 9);
  equal(out, `<p lang="ja">héllo — ✓ 日本</p>`, "output");
});
