/**
 * The CLI against a test node, and `lively app status NAME --json`'s one object: what the
 * node-level appliance tests read state, restarts and last exit from.
 */
import assert from "node:assert/strict";
import { runCli } from "./cli.ts";
import type { TestNode } from "./node.ts";

export function appCli(node: () => TestNode) {
  const cli = (...argv: string[]) => runCli({ url: node().url, token: node().adminToken }, argv);
  const status = async (name: string) => {
    const run = await cli("app", "status", name, "--json");
    assert.equal(run.code, 0, run.stderr);
    return run.json()[0];
  };
  return { cli, status };
}
