/**
 * Conformance cases for URLPattern, written from the URLPattern spec (urlpattern.spec.whatwg.org)
 * in the shape of WPT's urlpatterntestdata.json: a pattern (a string, or an init dictionary with
 * an optional base URL), inputs, and the expected match per component or null. Plain module
 * code, run unchanged in a Lively isolate and in workerd by test/conformance.test.ts.
 */
import { equal, ok, throws } from "../check.js";

export const area = "URLPattern";

export const cases = {};
const add = (name, run) => {
  cases[name] = run;
};

/** [pattern args, input args, expected: null, or { component: { input, groups } } for the components named]. */
const DATA = [
  [[{ pathname: "/foo/bar" }], [{ pathname: "/foo/bar" }], { pathname: { input: "/foo/bar", groups: {} } }],
  [[{ pathname: "/foo/bar" }], [{ pathname: "/foo/ba" }], null],
  [[{ pathname: "/foo/bar" }], [{ pathname: "/foo/bar/" }], null],
  [[{ pathname: "/foo/:bar" }], [{ pathname: "/foo/bar" }], { pathname: { input: "/foo/bar", groups: { bar: "bar" } } }],
  [
    [{ pathname: "/foo/:bar" }],
    [{ pathname: "/foo/index.html" }],
    { pathname: { input: "/foo/index.html", groups: { bar: "index.html" } } },
  ],
  [[{ pathname: "/foo/:bar" }], [{ pathname: "/foo/bar/baz" }], null],
  [[{ pathname: "/foo/:bar?" }], [{ pathname: "/foo" }], { pathname: { input: "/foo", groups: { bar: undefined } } }],
  [[{ pathname: "/foo/:bar+" }], [{ pathname: "/foo/a/b" }], { pathname: { input: "/foo/a/b", groups: { bar: "a/b" } } }],
  [[{ pathname: "/foo/:bar+" }], [{ pathname: "/foo" }], null],
  [[{ pathname: "/foo/:bar*" }], [{ pathname: "/foo" }], { pathname: { input: "/foo", groups: { bar: undefined } } }],
  [[{ pathname: "/foo/(.*)" }], [{ pathname: "/foo/bar/baz" }], { pathname: { input: "/foo/bar/baz", groups: { 0: "bar/baz" } } }],
  [[{ pathname: "/foo/*" }], [{ pathname: "/foo/" }], { pathname: { input: "/foo/", groups: { 0: "" } } }],
  [[{ pathname: "/foo/:id(\\d+)" }], [{ pathname: "/foo/123" }], { pathname: { input: "/foo/123", groups: { id: "123" } } }],
  [[{ pathname: "/foo/:id(\\d+)" }], [{ pathname: "/foo/abc" }], null],
  [[{ pathname: "/foo{/bar}?" }], [{ pathname: "/foo" }], { pathname: { input: "/foo", groups: {} } }],
  [[{ pathname: "/foo{/bar}?" }], [{ pathname: "/foo/bar" }], { pathname: { input: "/foo/bar", groups: {} } }],
  [[{ protocol: "http{s}?" }], [{ protocol: "https" }], { protocol: { input: "https", groups: {} } }],
  [[{ hostname: "*.example.com" }], [{ hostname: "api.example.com" }], { hostname: { input: "api.example.com", groups: { 0: "api" } } }],
  [[{ hostname: ":sub.example.com" }], [{ hostname: "example.com" }], null],
  [[{ port: "80(80)?" }], [{ port: "8080" }], { port: { input: "8080", groups: { 0: "80" } } }],
  [[{ search: "q=:query" }], [{ search: "q=lively" }], { search: { input: "q=lively", groups: { query: "lively" } } }],
  [[{ hash: "section-:n" }], [{ hash: "section-2" }], { hash: { input: "section-2", groups: { n: "2" } } }],
  [
    ["https://example.com/books/:id"],
    ["https://example.com/books/42?x=1"],
    {
      protocol: { input: "https", groups: {} },
      hostname: { input: "example.com", groups: {} },
      pathname: { input: "/books/42", groups: { id: "42" } },
    },
  ],
  [["https://example.com/books/:id"], ["https://example.org/books/42"], null],
  [["/books/:id", "https://example.com"], ["https://example.com/books/7"], { pathname: { input: "/books/7", groups: { id: "7" } } }],
  [
    [{ pathname: "/books/:id", baseURL: "https://example.com" }],
    ["https://example.com/books/7"],
    { pathname: { input: "/books/7", groups: { id: "7" } } },
  ],
  [[{ pathname: "/books/:id", baseURL: "https://example.com" }], ["https://other.com/books/7"], null],
  [["https://example.com/books/:id"], ["/books/9", "https://example.com"], { pathname: { input: "/books/9", groups: { id: "9" } } }],
  [[{ pathname: "/caf\u00e9" }], [{ pathname: "/caf%C3%A9" }], { pathname: { input: "/caf%C3%A9", groups: {} } }],
  [[{ hostname: "EXAMPLE.com" }], [{ hostname: "example.com" }], { hostname: { input: "example.com", groups: {} } }],
];

DATA.forEach(([patternArgs, inputArgs, expected], i) => {
  add(`urlpatterntestdata-style ${i + 1}: ${JSON.stringify(patternArgs)} against ${JSON.stringify(inputArgs)}`, () => {
    const pattern = new URLPattern(...patternArgs);
    const result = pattern.exec(...inputArgs);
    equal(pattern.test(...inputArgs), expected !== null, "test()");
    if (expected === null) {
      equal(result, null, "exec()");
      return;
    }
    ok(result !== null, "a match");
    for (const [component, want] of Object.entries(expected)) {
      equal(result[component].input, want.input, `${component}.input`);
      equal(JSON.stringify(result[component].groups), JSON.stringify(want.groups), `${component}.groups`);
      ok(Object.keys(result[component].groups).length === Object.keys(want.groups).length, `${component}: the same group names`);
    }
  });
});

add("component getters give the normalized pattern strings", () => {
  const p = new URLPattern({ protocol: "HTTPS", hostname: "example.com", pathname: "/a/:b" });
  equal(p.protocol, "https", "protocol");
  equal(p.hostname, "example.com", "hostname");
  equal(p.pathname, "/a/:b", "pathname");
  equal(p.search, "*", "search (a wildcard when not given)");
  equal(p.port, "*", "port");
});
add("a string pattern without a base is relative only with a base", () => {
  throws(() => new URLPattern("/relative/:x"), "TypeError", "a relative string pattern without baseURL");
});
add("an invalid regular expression group is a TypeError", () => {
  throws(() => new URLPattern({ pathname: "/(" }), "TypeError", "an unclosed group");
});
add("a duplicate group name is a TypeError", () => {
  throws(() => new URLPattern({ pathname: "/:a/:a" }), "TypeError", "two groups named a");
});
add("hasRegExpGroups says whether a custom regular expression is used", () => {
  equal(new URLPattern({ pathname: "/:id(\\d+)" }).hasRegExpGroups, true, "with a regexp group");
  equal(new URLPattern({ pathname: "/:id" }).hasRegExpGroups, false, "without");
});
add("exec() of an input that does not parse as a URL is null, test() false", () => {
  const p = new URLPattern({ pathname: "/*" });
  equal(p.exec("not a url"), null, "exec");
  equal(p.test("not a url"), false, "test");
});
add("the ignoreCase option", () => {
  const p = new URLPattern({ pathname: "/Books/:id" }, { ignoreCase: true });
  ok(p.test({ pathname: "/books/1" }), "a match in another case");
  ok(!new URLPattern({ pathname: "/Books/:id" }).test({ pathname: "/books/1" }), "no match without ignoreCase");
});
add("result.inputs echoes what exec() was given", () => {
  const r = new URLPattern({ pathname: "/x" }).exec("https://a.test/x");
  equal(JSON.stringify(r.inputs), JSON.stringify(["https://a.test/x"]), "inputs");
});
