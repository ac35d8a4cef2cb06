/**
 * Define-and-call from two nodes at once (issue 10 part 5): callers that find the same module
 * missing at the same moment write exactly one version between them, every caller gets the
 * answer, and only one of them reports that it defined it. Real `lively serve` processes sharing
 * one database: two nodes on PostgreSQL, two processes on one SQLite file.
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { createClient } from "lively/client";
import { describeEachBackend } from "./helpers/backends.ts";
import { type Cluster, startCluster } from "./helpers/cluster.ts";

describeEachBackend("define-and-call from two nodes at once", (backend) => {
  let cluster: Cluster;
  let cleanup: () => Promise<void>;

  before(async () => {
    const created = await backend.createDb();
    cleanup = created.cleanup;
    cluster = await startCluster(created.db, 2);
  });
  after(async () => {
    await cluster?.close();
    await cleanup?.();
  });

  it("many callers on both nodes, one version, every answer right", async () => {
    const clients = cluster.nodes.map((node) => createClient({ url: node.url, token: cluster.token }));
    for (const round of [1, 2, 3]) {
      const module = `sum-${round}`;
      let defines = 0;
      // Each caller's source differs (a comment), so a second version could not hide as "unchanged".
      const callers = Array.from({ length: 8 }, (_, i) =>
        (clients[i % clients.length] ?? assert.fail()).callDetailed<number>(module, [i, 100], () => {
          defines++;
          return `// caller ${i}\nexport default (a, b) => a + b`;
        }),
      );
      const answers = await Promise.all(callers);
      assert.deepEqual(
        answers.map((a) => a.result),
        Array.from({ length: 8 }, (_, i) => i + 100),
      );
      assert.equal(answers.filter((a) => a.defined).length, 1, "exactly one caller defined it");
      assert.ok(defines >= 1);
      for (const answer of answers) assert.equal(answer.version, 1);
      const versions = await cluster.api(1, "GET", `/modules/${module}/versions`);
      assert.equal(versions.body.length, 1, `one version of ${module}, not ${versions.body.length}`);
      const history = await cluster.api(0, "GET", `/history?module=${module}`);
      assert.equal(history.body.filter((row: { action: string }) => row.action === "publish").length, 1);
    }
  });
});
