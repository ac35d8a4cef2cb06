/**
 * A split rollout as `lively ls` and `lively history` show it, in both renderings: a channel
 * mid-rollout shows both versions and the share, and the history rows that start, adjust and
 * end a split say so, instead of reading as full moves.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { BACKENDS } from "./helpers/backends.ts";
import { runCli } from "./helpers/cli.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";

const code = (n: number) => `export default { fetch() { return new Response("v${n}") } };`;

for (const backend of BACKENDS) {
  describe(`ls and history show splits: ${backend.name}`, () => {
    let t: TestNode;
    const lively = async (...argv: string[]) => {
      const ran = await runCli({ url: t.url, token: t.adminToken }, argv);
      assert.equal(ran.code, 0, `${argv.join(" ")}: ${ran.stderr}`);
      return ran;
    };
    /** The newest history row of greet, in both renderings. */
    const lastRow = async () => {
      const human = (await lively("history", "greet", "--limit", "1")).stdout.split("\n")[1] ?? "";
      const [json] = (await lively("history", "greet", "--limit", "1", "--json")).json();
      return { human: human.split(/\s{2,}/).slice(4), json };
    };

    before(async () => {
      t = await startTestNode(backend);
      for (const n of [1, 2, 3]) await t.deploy("greet", code(n), n === 1 ? ["production"] : []);
    });
    after(() => t.close());

    it("a split channel in ls: both versions and the share", async () => {
      await lively("tag", "greet", "2", "production", "--weight", "10");
      await lively("tag", "greet", "3", "beta");
      assert.match((await lively("ls")).stdout, /^greet\s+3\s+beta=3 production=1 \(10% on 2\)$/m);
      const [listed] = (await lively("ls", "--json")).json();
      assert.deepEqual(listed.channels, { beta: 3, production: 1 });
      assert.deepEqual(listed.splits, { production: { version: 2, weight: 10 } });
    });

    it("history: a row that starts or adjusts a split carries its weight; a full move does not", async () => {
      await lively("tag", "greet", "2", "production", "--weight", "25");
      const adjusted = await lastRow();
      assert.deepEqual(adjusted.human, ["tag", "production", "1", "2 (25%)"]);
      assert.equal(adjusted.json.weight, 25);
      assert.deepEqual([adjusted.json.from, adjusted.json.to, adjusted.json.details], [1, 2, { weight: 25, base: 1 }]);

      await lively("tag", "greet", "1", "beta");
      const full = await lastRow();
      assert.deepEqual(full.human, ["tag", "beta", "3", "1"]);
      assert.equal("weight" in full.json, false, "a full move has no weight");
    });

    it("history: the rows that end a split (promote, rollback, deploy --force, --weight 100) name the split they ended", async () => {
      await lively("tag", "greet", "3", "beta");
      await lively("promote", "greet", "--from", "beta", "--to", "production");
      const promoted = await lastRow();
      assert.deepEqual(promoted.human, ["promote", "production", "1 (25% on 2)", "3"]);
      assert.deepEqual(promoted.json.details, { fromChannel: "beta", endedSplit: { version: 2, weight: 25 } });

      await lively("tag", "greet", "2", "production", "--weight", "50");
      await lively("rollback", "greet");
      const rolledBack = await lastRow();
      assert.deepEqual(rolledBack.human, ["rollback", "production", "2 (50%)", "3"]);
      assert.deepEqual(rolledBack.json.details, { endedSplit: { version: 2, weight: 50 } });

      await lively("tag", "greet", "1", "production", "--weight", "20");
      await lively("deploy", "--code", code(4), "--name", "greet", "--channel", "production", "--force");
      const forced = await lastRow();
      assert.deepEqual(forced.human, ["tag", "production", "3 (20% on 1)", "4"]);
      assert.deepEqual(forced.json.details, { endedSplit: { version: 1, weight: 20 } });

      await lively("tag", "greet", "2", "production", "--weight", "60");
      await lively("tag", "greet", "2", "production", "--weight", "100");
      const completed = await lastRow();
      assert.deepEqual(completed.human, ["tag", "production", "4 (60% on 2)", "2"]);
      assert.equal("weight" in completed.json, false);
      assert.match((await lively("ls")).stdout, /^greet\s+4\s+beta=3 production=2$/m);
    });
  });
}
