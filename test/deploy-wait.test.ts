/**
 * `lively deploy --wait` when not every node applies the deploy in time: the failure (exit 6,
 * `unavailable`) says that the deploy committed, which version and channels it wrote and at
 * which seq, and which nodes are behind, in both renderings. The node behind is a membership
 * row written directly (a real multi-process cluster is the cluster tests' job); its heartbeat
 * stays "up" because this node counts a node down only after 10 minutes of silence.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { BACKENDS } from "./helpers/backends.ts";
import { runCli } from "./helpers/cli.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";

const code = (text: string) => `export default { fetch() { return new Response(${JSON.stringify(text)}) } }`;

for (const backend of BACKENDS) {
  describe(`deploy --wait: ${backend.name}`, () => {
    let t: TestNode;
    const lively = (argv: string[]) => runCli({ url: t.url, token: t.adminToken }, argv);
    const staleRow = (id: string) =>
      t.node.store.write((tx) =>
        tx.run(
          `INSERT INTO nodes (id, address, lively_version, started_at, heartbeat_at, applied_seq, state, loaded)
           VALUES ($1, $2, '0.0.9', now_ms(), now_ms(), 0, 'up', '[]')`,
          [id, `http://${id}:8080`],
        ),
      );
    const removeRow = (id: string) => t.node.store.write((tx) => tx.run("DELETE FROM nodes WHERE id = $1", [id]));

    before(async () => {
      t = await startTestNode(backend, { node: { downAfterMs: 600_000 } });
    });
    after(() => t.close());

    it("converged: the answer says on how many nodes it applied, and --json has the nodes", async () => {
      const human = await lively(["deploy", "--code", code("one"), "--name", "hello", "--wait"]);
      assert.equal(human.code, 0, human.stderr);
      assert.match(human.stdout, /^hello@1 deployed \(production\) {2}sha256 [0-9a-f]{12}; applied on 1 nodes$/m);
      const json = await lively(["deploy", "--code", code("two"), "--name", "hello", "--channel", "production", "--wait", "--json"]);
      assert.equal(json.code, 0, json.stderr);
      assert.deepEqual(
        json.json().nodes.map((n: { id: string }) => n.id),
        ["test-node"],
      );
    });

    it("a timeout says what committed, and which node is behind (exit 6)", async () => {
      await staleRow("stale-node");
      try {
        const human = await lively([
          "deploy",
          "--code",
          code("three"),
          "--name",
          "hello",
          "--channel",
          "production",
          "--wait",
          "--timeout",
          "0",
        ]);
        assert.equal(human.code, 6, human.stderr);
        assert.equal(human.stdout, "");
        const seq = Number(/committed at seq (\d+)/.exec(human.stderr)?.[1]);
        assert.ok(seq > 0, human.stderr);
        // This node's own row may still be a heartbeat behind too at a 0 s timeout: only the stale one is certain.
        assert.match(
          human.stderr,
          new RegExp(
            `^lively: hello@3 deployed \\(production\\), committed at seq ${seq}, but not every node has applied it yet: ` +
              `not converged on seq ${seq} after 0 s: .*node stale-node is ${seq} behind \\(at seq 0\\)`,
            "m",
          ),
        );
        const versions = (await lively(["versions", "hello", "--json"])).json();
        assert.deepEqual(versions.at(-1).channels, ["production"], "the deploy stays committed");

        const json = await lively([
          "deploy",
          "--code",
          code("four"),
          "--name",
          "hello",
          "--channel",
          "beta",
          "--wait",
          "--timeout",
          "0",
          "--json",
        ]);
        assert.equal(json.code, 6);
        assert.equal(json.stdout, "", "nothing on stdout: the result is the error");
        const { error } = JSON.parse(json.stderr);
        assert.equal(error.code, "unavailable");
        assert.match(error.message, /^hello@4 deployed \(beta\), committed at seq \d+, but not every node has applied it yet/);
        assert.deepEqual(error.details.committed, {
          module: "hello",
          version: 4,
          channels: ["beta"],
          moved: ["beta"],
          seq: error.details.seq,
        });
        assert.deepEqual(
          error.details.behind.find((node: { id: string }) => node.id === "stale-node"),
          { id: "stale-node", appliedSeq: 0, lag: error.details.seq },
        );
      } finally {
        await removeRow("stale-node");
      }
    });
  });
}
