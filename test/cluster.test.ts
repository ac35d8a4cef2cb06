/**
 * Real clusters: three `lively serve` processes on loopback ports against one database, on
 * PostgreSQL and on one SQLite file. A deploy through any node is served by all; a node
 * killed with SIGKILL leaves the others serving; and with PostgreSQL stopped and started
 * again (a server of the test's own), every node serves throughout, reports degraded, refuses
 * deploys with a clear error, and catches up without a restart.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { BACKENDS, skipUnless } from "./helpers/backends.ts";
import { runCli } from "./helpers/cli.ts";
import { type Cluster, eventually, startCluster } from "./helpers/cluster.ts";
import { exited } from "./helpers/serve-process.ts";
import { startThrowawayPostgres, type ThrowawayPostgres } from "./helpers/throwaway-postgres.ts";

const answer = (text: string) => `export default { fetch() { return new Response(${JSON.stringify(text)}) } }`;

for (const backend of BACKENDS) {
  describe(`cluster of three: ${backend.name}`, () => {
    let cluster: Cluster;
    let cleanup: () => Promise<void>;

    before(async () => {
      const created = await backend.createDb();
      cleanup = created.cleanup;
      cluster = await startCluster(created.db, 3, ["--heartbeat-ms", "200", "--down-after-ms", "1500"]);
    });
    after(async () => {
      await cluster?.close();
      await cleanup?.();
    });

    const allServe = (module: string, version: number, nodes = [0, 1, 2]) =>
      eventually(`every node serves ${module}@${version}`, async () => {
        const answers = await Promise.all(nodes.map((i) => cluster.get(i, `/${module}/`)));
        return answers.every((a) => a.status === 200 && a.version === `${module}@${version}`);
      });

    it("a deploy through any node is served by every node", async () => {
      const v1 = await cluster.deploy(0, "shared", answer("one"));
      await allServe("shared", v1);
      const v2 = await cluster.deploy(2, "shared", answer("two"), ["production"]);
      await allServe("shared", v2);
      assert.deepEqual(
        (await Promise.all([0, 1, 2].map((i) => cluster.get(i, "/shared/")))).map((a) => a.text),
        ["two", "two", "two"],
      );
    });

    it("lively nodes --wait-converged returns once all three have applied the newest seq", async () => {
      const v = await cluster.deploy(1, "shared", answer("converge"), ["production"]);
      const target = { url: cluster.nodes[0]?.url ?? "", token: cluster.token };
      const ran = await runCli(target, ["nodes", "--wait-converged", "--timeout", "10", "--json"]);
      assert.equal(ran.code, 0, ran.stderr);
      const nodes = ran.json() as { status: string; lag: number }[];
      assert.deepEqual(
        nodes.map((n) => [n.status, n.lag]),
        [
          ["up", 0],
          ["up", 0],
          ["up", 0],
        ],
      );
      await allServe("shared", v);
    });

    it("deploy --wait returns only when every node serves the new version", async () => {
      const target = { url: cluster.nodes[2]?.url ?? "", token: cluster.token };
      const ran = await runCli(target, [
        "deploy",
        "--code",
        answer("waited"),
        "--name",
        "shared",
        "--channel",
        "production",
        "--wait",
        "--json",
      ]);
      assert.equal(ran.code, 0, ran.stderr);
      const deployed = ran.json() as { version: number; nodes: { status: string; lag: number }[] };
      assert.equal(deployed.nodes.length, 3);
      // No retrying here: "--wait returned" must already mean "served everywhere".
      const answers = await Promise.all([0, 1, 2].map((i) => cluster.get(i, "/shared/")));
      assert.deepEqual(
        answers.map((a) => [a.version, a.text]),
        [0, 1, 2].map(() => [`shared@${deployed.version}`, "waited"]),
      );
    });

    it("a node killed with SIGKILL leaves the others serving and following changes", async () => {
      const victim = cluster.nodes[2];
      assert.ok(victim);
      victim.child.kill("SIGKILL");
      assert.equal(await exited(victim.child), "SIGKILL");
      const answers = await Promise.all([0, 1].map((i) => cluster.get(i, "/shared/")));
      assert.ok(answers.every((a) => a.status === 200));
      const v3 = await cluster.deploy(1, "shared", answer("three"), ["production"]);
      await allServe("shared", v3, [0, 1]);
      const victimId = (await cluster.api(0, "GET", "/nodes")).body.nodes.find((n: { address: string }) => n.address === victim.url)?.id;
      assert.ok(victimId, "the killed node is listed");
      await eventually("the others mark it down", async () => {
        const view = (await cluster.api(1, "GET", "/nodes")).body as { converged: boolean; nodes: { id: string; status: string }[] };
        return view.nodes.find((n) => n.id === victimId)?.status === "down" && view.converged;
      });
    });
  });
}

describe("a PostgreSQL outage", { skip: skipUnless("postgres") }, () => {
  let server: ThrowawayPostgres;
  let cluster: Cluster;

  before(async () => {
    server = await startThrowawayPostgres();
    cluster = await startCluster(server.url, 3);
  });
  after(async () => {
    await cluster?.close();
    await server?.destroy();
  });

  it("every node serves throughout, says degraded, refuses deploys clearly, and catches up after", async () => {
    const v1 = await cluster.deploy(0, "steady", answer("before"));
    await eventually("every node serves steady@1", async () => {
      const answers = await Promise.all([0, 1, 2].map((i) => cluster.get(i, "/steady/")));
      return answers.every((a) => a.version === `steady@${v1}`);
    });

    const health = async (i: number, token?: string) => {
      const response = await fetch(`${cluster.nodes[i]?.url}/_lively/health`, {
        headers: token ? { authorization: `Bearer ${token}` } : {},
      });
      const text = await response.text();
      return { status: response.status, text, body: JSON.parse(text) as { status: string; seq: number; reason?: string } };
    };
    // A monitor with its own token polls node 1 before the outage: node 1 remembers that token,
    // node 0 never saw it (the admin token it has seen would show the details there too).
    const created = await cluster.api(1, "POST", "/tokens", { name: "monitor", scope: "read" });
    assert.equal(created.status, 201);
    const monitor = created.body.token as string;
    assert.equal((await health(1, monitor)).body.status, "ok");

    await server.stop();
    await eventually("every node reports degraded", async () =>
      (await Promise.all([0, 1, 2].map((i) => health(i)))).every((h) => h.status === 503),
    );
    const { hostname, port, username } = new URL(server.url.replace(/^postgres:/, "http:"));
    for (const i of [0, 1, 2]) {
      const open = await health(i);
      assert.deepEqual(Object.keys(open.body).sort(), ["seq", "status"], "the open answer is only status and seq");
      assert.equal(open.body.status, "degraded");
      for (const secret of [hostname, port, username, "database", "PostgreSQL"]) {
        assert.equal(open.text.includes(secret), false, `the open answer names ${secret}: ${open.text}`);
      }
    }
    // With the token node 1 checked before, the reason; node 0 cannot check a token it never saw.
    const degraded = await health(1, monitor);
    assert.equal(degraded.body.status, "degraded");
    assert.match(String(degraded.body.reason), /database cannot be reached .*serving the versions and channels this node has/);
    assert.deepEqual(Object.keys((await health(0, monitor)).body).sort(), ["seq", "status"]);
    // Read-only admin commands keep working for a token the node verified before the outage.
    const status = await cluster.api(0, "GET", "/status");
    assert.equal(status.status, 200);

    // Serving never stops: a second of requests to every node, all answered by the version each had.
    for (let round = 0; round < 10; round++) {
      const answers = await Promise.all([0, 1, 2].map((i) => cluster.get(i, "/steady/")));
      assert.deepEqual(
        answers.map((a) => [a.status, a.text]),
        [
          [200, "before"],
          [200, "before"],
          [200, "before"],
        ],
      );
      await sleep(100);
    }
    const refused = await cluster.api(0, "POST", "/modules/steady/versions", { code: answer("during") });
    assert.equal(refused.status, 503);
    assert.equal(refused.body.error.code, "unavailable");
    assert.match(refused.body.error.message, /cannot reach PostgreSQL/);

    await server.start();
    await eventually("every node is healthy again", async () =>
      (await Promise.all([0, 1, 2].map((i) => health(i)))).every((h) => h.status === 200),
    );
    const v2 = await cluster.deploy(2, "steady", answer("after"), ["production"]);
    await eventually("every node serves the deploy made after the outage", async () => {
      const answers = await Promise.all([0, 1, 2].map((i) => cluster.get(i, "/steady/")));
      return answers.every((a) => a.version === `steady@${v2}` && a.text === "after");
    });
  });
});
