/**
 * `GET /nodes` and `lively nodes` on a real node over HTTP (the CLI in-process): the node's
 * own row, convergence, --wait-converged succeeding and timing out on a stale row, a clean
 * stop marking the node left, and bad flags. Other members are rows written directly: a real
 * multi-process cluster is the cluster tests' job.
 */
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { run } from "../src/cli/main.ts";
import { silentLogger } from "../src/log.ts";
import { startNode } from "../src/node/node.ts";
import { openStore } from "../src/store/open.ts";
import { LIVELY_VERSION } from "../src/version.ts";
import { BACKENDS } from "./helpers/backends.ts";
import { runCli } from "./helpers/cli.ts";
import { eventually } from "./helpers/eventually.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";
import { tempDir } from "./helpers/temp-dir.ts";

const HELLO = "export default { fetch() { return new Response('hi') } }";

for (const backend of BACKENDS) {
  describe(`nodes: ${backend.name}`, () => {
    let t: TestNode;
    const lively = (argv: string[]) => runCli({ url: t.url, token: t.adminToken }, argv);
    const nodes = async () => (await t.api("GET", "/nodes")).body;
    /** Another member, written straight into the table: `ageMs` old, at `appliedSeq`. */
    const addRow = (id: string, ageMs: number, appliedSeq: number) =>
      t.node.store.write((tx) =>
        tx.run(
          `INSERT INTO nodes (id, address, lively_version, started_at, heartbeat_at, applied_seq, state, loaded)
           VALUES ($1, $2, '0.0.9', now_ms() - 60000, now_ms() - $3, $4, 'up', '[]')`,
          [id, `http://${id}:8080`, ageMs, appliedSeq],
        ),
      );
    const removeRow = (id: string) => t.node.store.write((tx) => tx.run("DELETE FROM nodes WHERE id = $1", [id]));

    before(async () => {
      t = await startTestNode(backend, { node: { heartbeatMs: 100, downAfterMs: 5_000 } });
      await t.deploy("hello", HELLO);
    });
    after(() => t.close());

    it("GET /nodes shows this node up, at the newest seq, with its address, build and loaded versions", async () => {
      assert.equal((await fetch(`${t.url}/hello/`)).status, 200);
      await eventually("the heartbeat to carry hello@1", async () =>
        (await nodes()).nodes.some((n: { loaded: unknown[] }) => n.loaded.length > 0),
      );
      const response = await t.api("GET", "/nodes");
      assert.equal(response.status, 200);
      const view = response.body;
      assert.equal(view.converged, true);
      assert.equal(view.nodes.length, 1);
      const [self] = view.nodes;
      assert.deepEqual(
        [self.id, self.address, self.status, self.appliedSeq, self.lag, self.livelyVersion],
        ["test-node", t.url, "up", view.seq, 0, LIVELY_VERSION],
      );
      assert.deepEqual(self.loaded, [{ module: "hello", version: 1 }]);
      assert.ok(Number.isInteger(self.heartbeatAgeMs), "the heartbeat's age is reported, in whole ms (how fresh is `status: up`)");
      assert.ok(Date.parse(self.startedAt) <= Date.parse(self.lastHeartbeat));

      assert.equal((await t.api("GET", "/nodes", { token: null })).status, 401);
      const created = await t.api("POST", "/tokens", { body: { name: `reader-${backend.name}`, scope: "read" } });
      assert.equal((await t.api("GET", "/nodes", { token: created.body.token })).status, 200, "scope read is enough");
    });

    it("a deploy reaches this node's row at once (the write's refresh asks for a heartbeat)", async () => {
      const { seq } = await t.deploy("hello", "export default { fetch() { return new Response('two') } }", ["production"]);
      // Well under the 100 ms heartbeat would be the point, but only convergence is asserted: timing is the bench's.
      await eventually("the row at the deploy's seq", async () => (await nodes()).nodes[0]?.appliedSeq >= seq);
    });

    it("/status shows the membership child and its state", async () => {
      const status = (await t.api("GET", "/status")).body;
      assert.deepEqual(
        status.children.map((c: { id: string }) => c.id),
        ["store", "feed", "loader", "http", "membership", "kv-sweep", "kv-feed", "events", "appliances"],
      );
      assert.equal(status.membership.ok, true);
    });

    it("lively nodes: a table and the convergence line; --json is the nodes array", async () => {
      const human = await lively(["nodes"]);
      assert.equal(human.code, 0, human.stderr);
      const lines = human.stdout.trimEnd().split("\n");
      assert.match(lines[0] ?? "", /^ID\s+ADDRESS\s+STATUS\s+SEQ\s+LAG\s+LAST SEEN\s+VERSION$/);
      assert.match(lines[1] ?? "", new RegExp(`^test-node\\s+${t.url.replace(/[.]/g, "\\.")}\\s+up\\s+\\d+\\s+0\\s+\\d`));
      assert.match(lines.at(-1) ?? "", /^converged at seq \d+ \(1 node up\)$/);

      const json = await lively(["nodes", "--json"]);
      assert.equal(json.code, 0, json.stderr);
      assert.equal(json.stderr, "");
      const list = json.json();
      assert.ok(Array.isArray(list));
      assert.deepEqual(Object.keys(list[0]).slice(0, 5), ["id", "address", "status", "appliedSeq", "lag"]);
      assert.equal(list[0].id, "test-node");
    });

    it("a down member shows as down (this node's --down-after-ms) and does not hold convergence back", async () => {
      await addRow("gone-node", 7_000, 0);
      try {
        const view = await nodes();
        assert.equal(view.nodes.find((n: { id: string }) => n.id === "gone-node")?.status, "down");
        assert.equal(view.converged, true);
        const human = await lively(["nodes"]);
        assert.match(human.stdout, /gone-node\s+http:\/\/gone-node:8080\s+down\s+0\s+\d+\s+7\.\ds ago\s+0\.0\.9/);
        assert.match(human.stdout, /converged at seq \d+ \(1 node up\)/);
      } finally {
        await removeRow("gone-node");
      }
    });

    it("--wait-converged returns once every up node has the seq the command started at", async () => {
      const { seq } = await t.deploy("other", HELLO);
      const human = await lively(["nodes", "--wait-converged"]);
      assert.equal(human.code, 0, human.stderr);
      assert.match(human.stdout, new RegExp(`converged at seq ${seq} \\(1 node up\\)`));
      const json = await lively(["nodes", "--wait-converged", "--json", "--timeout", "5"]);
      assert.equal(json.code, 0, json.stderr);
      assert.equal(json.stderr, "", "no progress lines in --json mode");
      assert.ok(json.json()[0].appliedSeq >= seq);
    });

    it("--wait-converged --timeout 1 fails `unavailable`, naming the up node that is behind", async () => {
      await addRow("stale-node", 0, 0);
      // Keep it "up": its heartbeat must stay younger than the 5 s down interval for the whole test.
      try {
        const seq = (await nodes()).seq;
        assert.ok(seq > 0);
        const plain = await lively(["nodes"]);
        assert.equal(plain.code, 0);
        assert.match(plain.stdout, new RegExp(`not converged: node stale-node is ${seq} behind \\(seq ${seq}\\)`));

        const waited = await lively(["nodes", "--wait-converged", "--timeout", "1"]);
        assert.equal(waited.code, 6, waited.stderr);
        assert.match(waited.stderr, new RegExp(`waiting: 1/2 nodes at seq ${seq}…`));
        assert.match(
          waited.stderr,
          new RegExp(`lively: not converged on seq ${seq} after 1 s: node stale-node is ${seq} behind \\(at seq 0\\)`),
        );
        assert.equal(waited.stdout, "");

        const json = await lively(["nodes", "--wait-converged", "--timeout", "0", "--json"]);
        assert.equal(json.code, 6);
        const error = JSON.parse(json.stderr).error;
        assert.equal(error.code, "unavailable");
        assert.deepEqual(error.details, { seq, behind: [{ id: "stale-node", appliedSeq: 0, lag: seq }] });
      } finally {
        await removeRow("stale-node");
      }
    });

    it("--wait-converged keeps asking until the node behind catches up, then succeeds", async () => {
      await addRow("catching-up", 0, 0);
      try {
        const seq = (await nodes()).seq;
        // The gate: the stale row catches up only once the command has said it is waiting, so
        // success proves it asked again after its first answer (not how long anything took).
        let caughtUp: Promise<unknown> | undefined;
        let stderr = "";
        const code = await run(["nodes", "--wait-converged", "--timeout", "30"], {
          stdout: () => undefined,
          stderr: (text) => {
            stderr += text;
            if (text.includes("waiting: 1/2 nodes") && !caughtUp) {
              caughtUp = t.node.store.writeUnordered((tx) =>
                tx.run("UPDATE nodes SET applied_seq = $1, heartbeat_at = now_ms() WHERE id = 'catching-up'", [seq]),
              );
            }
          },
          env: { LIVELY_URL: t.url, LIVELY_TOKEN: t.adminToken },
          cwd: process.cwd(),
        });
        assert.ok(caughtUp, `it said it was waiting: ${stderr}`);
        await caughtUp;
        assert.equal(code, 0, stderr);
      } finally {
        await removeRow("catching-up");
      }
    });

    it("refuses bad flag values, naming the flag", async () => {
      const dataDir = tempDir("lively-nodes-flags-");
      try {
        for (const [argv, message] of [
          [["nodes", "--wait-converged", "--timeout", "soon"], /--timeout takes a whole number, got "soon"/],
          [["nodes", "--wait-converged", "--timeout", "-1"], /--timeout takes a whole number/],
          [["nodes", "--timeout", "5"], /--timeout only applies with --wait-converged/],
          [["serve", "--data-dir", dataDir, "--heartbeat-ms", "5"], /--heartbeat-ms takes a whole number from 20, got "5"/],
          [["serve", "--data-dir", dataDir, "--down-after-ms", "often"], /--down-after-ms takes a whole number from 1/],
          [["serve", "--data-dir", dataDir, "--app-lease-ms", "100"], /--app-lease-ms takes a whole number from 500, got "100"/],
          [
            ["serve", "--data-dir", dataDir, "--down-after-ms", "1500"],
            /--down-after-ms \(1500\) must be longer than the heartbeat \(2000 ms\)/,
          ],
          [
            ["serve", "--data-dir", dataDir, "--heartbeat-ms", "500", "--down-after-ms", "500"],
            /--down-after-ms \(500\) must be longer than the heartbeat \(500 ms\)/,
          ],
        ] as const) {
          const result = await lively([...argv]);
          assert.equal(result.code, 2, `${argv.join(" ")}: ${result.stderr}`);
          assert.match(result.stderr, message);
        }
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    });

    it("a node that stops cleanly is shown left", async () => {
      const { db, cleanup } = await backend.createDb();
      const dataDir = tempDir("lively-nodes-left-");
      try {
        const node = await startNode({ db, dataDir, port: 0, nodeId: "short-lived", log: silentLogger });
        assert.equal(node.membership?.state().ok, true);
        await node.close();
        const store = openStore({ db });
        try {
          const row = await store.read((d) => d.get<{ state: string }>("SELECT state FROM nodes WHERE id = 'short-lived'"));
          assert.equal(row?.state, "left");
        } finally {
          await store.close();
        }
      } finally {
        await cleanup();
        rmSync(dataDir, { recursive: true, force: true });
      }
    });
  });
}
