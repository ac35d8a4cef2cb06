/**
 * The Web platform conformance suite (test/conformance/): one module, deployed with
 * `lively deploy DIR` to a real node and served by workerd (the npm devDependency) from the very
 * bundle Lively stored, runs every area's cases in both over real HTTP. Prints
 * `area  lively N/M  workerd N/M`, and fails when Lively misses a case workerd passes, unless
 * DIFFERENCES names it with the reason (docs/runtime.md lists the same).
 *
 *   npm run test:conformance
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { findWorkerd, type PlainServer, startWorkerd } from "../bench/lib/http-servers.ts";
import { BACKENDS } from "./helpers/backends.ts";
import { runCli } from "./helpers/cli.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";

const DIR = join(import.meta.dirname, "conformance");

/** Cases Lively is allowed to fail while workerd passes them, each with why (docs/runtime.md lists the same). */
const DIFFERENCES: Record<string, string> = {
  "streams: a BYOB read transfers the buffer passed in: the caller's view is detached":
    "on Node 20 only: its V8 has no ArrayBuffer.prototype.transfer (and an isolate no structuredClone), the only ways " +
    "JavaScript has to detach a buffer, so the caller's buffer stays usable; on Node 22 and later it is detached as the spec says",
};

interface CaseResult {
  area: string;
  name: string;
  ok: boolean;
  error?: string;
}

const getJson = async <T>(url: string): Promise<T> => {
  const response = await fetch(url);
  const text = await response.text();
  assert.equal(response.status, 200, `${url}: ${text.slice(0, 500)}`);
  return JSON.parse(text) as T;
};
const count = (results: CaseResult[]) => `${results.filter((r) => r.ok).length}/${results.length}`;

describe("Web platform conformance, Lively next to workerd", () => {
  let t: TestNode;
  let workerd: PlainServer;
  let lively: string;

  before(async () => {
    // One backend is enough: the store only holds the module.
    t = await startTestNode(BACKENDS.find((b) => b.name === "sqlite") ?? BACKENDS[0], {
      sandboxLimits: { memoryMb: 128, cpuMs: 10_000, wallMs: 60_000 },
    });
    const deployed = await runCli({ url: t.url, token: t.adminToken, cwd: DIR }, ["deploy", ".", "--name", "conformance", "--json"]);
    assert.equal(deployed.code, 0, deployed.stderr);
    const artifact = await runCli({ url: t.url, token: t.adminToken }, ["cat", "conformance", "--artifact"]);
    assert.equal(artifact.code, 0, artifact.stderr);
    const binary = findWorkerd();
    if (typeof binary === "string") throw new Error(`workerd is needed for the comparison: ${binary}`);
    workerd = await startWorkerd(binary, artifact.stdout);
    lively = `${t.url}/conformance/`;
  });
  after(async () => {
    await workerd?.child.stop();
    await t?.close();
  });

  it("passes every case workerd passes, area by area", async () => {
    const areas = await getJson<string[]>(lively);
    const rows: string[] = [];
    const missing: string[] = [];
    for (const area of areas) {
      const query = `?area=${encodeURIComponent(area)}`;
      const [ours, theirs] = await Promise.all([getJson<CaseResult[]>(lively + query), getJson<CaseResult[]>(workerd.url + query)]);
      rows.push(`${area.padEnd(12)}  lively ${count(ours).padEnd(7)}  workerd ${count(theirs)}`);
      const passed = new Map(ours.map((r) => [r.name, r]));
      for (const theirsCase of theirs) {
        const oursCase = passed.get(theirsCase.name);
        if (theirsCase.ok && !oursCase?.ok && !DIFFERENCES[`${area}: ${theirsCase.name}`])
          missing.push(`${area}: ${theirsCase.name}: ${oursCase?.error ?? "not run"}`);
      }
      for (const r of theirs) if (!r.ok) rows.push(`  workerd fails  ${r.name}: ${r.error}`);
      for (const r of ours) if (!r.ok) rows.push(`  lively fails   ${r.name}: ${r.error}`);
    }
    console.log(rows.join("\n"));
    assert.deepEqual(missing, [], "cases workerd passes and Lively does not");
  });
});
