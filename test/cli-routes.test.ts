/**
 * `lively route add|ls|rm`, run in-process against a real node: human and --json output,
 * exit codes (bad input 2, conflict 3, not found 4), and nothing written on refusal.
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { describeEachBackend } from "./helpers/backends.ts";
import { runCli } from "./helpers/cli.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";

describeEachBackend("lively route", (backend) => {
  let t: TestNode;
  const lively = (argv: string[]) => runCli({ url: t.url, token: t.adminToken, cwd: process.cwd() }, argv);

  before(async () => {
    t = await startTestNode(backend);
    for (const name of ["shop", "blog"]) {
      assert.equal((await lively(["deploy", "--code", "export default { fetch() { return new Response('x') } }", "--name", name])).code, 0);
    }
  });
  after(() => t.close());

  it("route ls on an empty table says how to add one", async () => {
    const empty = await lively(["route", "ls"]);
    assert.equal(empty.code, 0);
    assert.match(empty.stdout, /no routes yet: lively route add/);
    assert.deepEqual((await lively(["route", "ls", "--json"])).json(), []);
  });

  it("route add: added, unchanged, a conflict without --force, moved with it", async () => {
    const added = await lively(["route", "add", "Example.test", "shop"]);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /^route example\.test -> shop \(history seq \d+\)\n$/);
    const same = await lively(["route", "add", "example.test", "shop"]);
    assert.equal(same.stdout, "route example.test already goes to shop; unchanged\n");
    const conflict = await lively(["route", "add", "example.test", "blog"]);
    assert.equal(conflict.code, 3);
    assert.equal(conflict.stdout, "");
    assert.match(conflict.stderr, /^lively: route 'example\.test' already sends traffic to 'shop'; nothing was written \(add --force/);
    const moved = await lively(["route", "add", "example.test", "blog", "--force", "--json"]);
    assert.equal(moved.code, 0);
    assert.deepEqual({ ...moved.json(), seq: 0 }, { route: "example.test", module: "blog", from: "shop", change: "moved", seq: 0 });
    assert.match((await lively(["route", "add", "example.test", "shop", "--force"])).stdout, /^route example\.test: blog -> shop/);
  });

  it("route ls: a table, and --json an array of objects", async () => {
    assert.equal((await lively(["route", "add", "/api", "blog"])).code, 0);
    assert.equal((await lively(["route", "add", "*.example.test", "blog"])).code, 0);
    const ls = await lively(["route", "ls"]);
    const lines = ls.stdout.trimEnd().split("\n");
    assert.match(lines[0] ?? "", /^ROUTE\s+MODULE\s+SEQ$/);
    assert.deepEqual(
      lines.slice(1).map((line) => line.split(/\s+/).slice(0, 2)),
      [
        ["*.example.test", "blog"],
        ["/api", "blog"],
        ["example.test", "shop"],
      ],
    );
    const json = (await lively(["route", "ls", "--json"])).json();
    assert.deepEqual(json[1], { route: "/api", host: null, prefix: "/api", module: "blog", moduleDeleted: false, seq: json[1].seq });
    assert.equal(typeof json[1].seq, "number");
  });

  it("a deleted module shows in route ls", async () => {
    assert.equal((await lively(["rm", "blog"])).code, 0);
    assert.match((await lively(["route", "ls"])).stdout, /\/api\s+blog \(deleted\)/);
    assert.equal((await lively(["route", "add", "/blog", "blog"])).code, 4, "a deleted module takes no new route");
  });

  it("route rm: removed, then not_found; targets are normalized the same way", async () => {
    const removed = await lively(["route", "rm", "/api/"]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /^route \/api removed \(it went to blog; history seq \d+\)\n$/);
    const again = await lively(["route", "rm", "/api", "--json"]);
    assert.equal(again.code, 4);
    assert.equal(JSON.parse(again.stderr).error.code, "not_found");
    const json = await lively(["route", "rm", "*.EXAMPLE.test", "--json"]);
    assert.deepEqual({ ...json.json(), seq: 0 }, { route: "*.example.test", module: "blog", removed: true, seq: 0 });
  });

  it("bad targets are exit 2 with what is accepted, and write nothing", async () => {
    const before = (await lively(["history", "--limit", "1", "--json"])).json()[0].seq;
    for (const target of ["http://example.test", "example.test:80", "/a/../b", "*.x.test/a", "/", "a".repeat(3000)]) {
      const result = await lively(["route", "add", target, "shop"]);
      assert.equal(result.code, 2, target.slice(0, 30));
      assert.match(result.stderr, /^lively: invalid route .*a route is a host \(example\.com\)/);
    }
    const json = await lively(["route", "add", "x.test?y", "shop", "--json"]);
    assert.equal(json.code, 2);
    assert.equal(json.stdout, "");
    assert.equal(JSON.parse(json.stderr).error.code, "bad_request");
    assert.equal((await lively(["route", "add", "/only-target"])).code, 2, "a missing argument is a usage error");
    assert.equal((await lively(["history", "--limit", "1", "--json"])).json()[0].seq, before);
  });

  it("the route commands are in the help", async () => {
    const help = await lively(["route", "--help"]);
    assert.equal(help.code, 0);
    for (const command of ["add", "ls", "rm"]) assert.match(help.stdout, new RegExp(`\\b${command}\\b`));
    assert.match((await lively(["route", "add", "--help"])).stdout, /Examples:[\s\S]*lively route add example\.com shop/);
  });
});
