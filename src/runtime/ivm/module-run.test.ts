/**
 * A module appliance's run at the sandbox level, with real isolates: `ctx` as run(ctx) sees it,
 * the abort reaching `ctx.signal`, a rejection's message and stack, a synchronous loop at start
 * ended by the CPU limit, a run after top-level awaits, dispose ending a run that ignores its signal, and a serving load that
 * refuses to start a run. The node-level behaviour (stop, restart, logs) is in
 * test/appliances-module.test.ts.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { DEFAULT_SANDBOX_LIMITS, type LoadedVersion } from "../sandbox.ts";
import { IvmSandbox } from "./ivm-sandbox.ts";

const INPUT = { name: "tick", runId: "r-1", channel: "production", env: { EVERY: "5" } };

describe("module runs in their own isolate", () => {
  const sandbox = new IvmSandbox();
  const loaded: LoadedVersion[] = [];
  after(() => {
    for (const version of loaded) version.dispose();
    sandbox.close();
  });

  const load = async (run: string, lines: string[] = [], forRun = true) => {
    const version = await sandbox.load({
      module: "m",
      version: 1,
      artifact: `export default { fetch: () => new Response('m') }; ${run}`,
      limits: { ...DEFAULT_SANDBOX_LIMITS, cpuMs: 200 },
      vars: {},
      onLog: (level, text) => lines.push(`${level} ${text}`),
      forRun,
    });
    loaded.push(version);
    return version;
  };

  it("gives run(ctx) the appliance's name, run id, env, log and a signal that the host aborts", async () => {
    const lines: string[] = [];
    const version = await load(
      `export async function run(ctx) {
        ctx.log(ctx.name, ctx.appliance, ctx.runId, JSON.stringify(ctx.env), Object.isFrozen(ctx.env), this.version);
        await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
        console.error('aborted', ctx.signal.aborted);
      }`,
      lines,
    );
    const run = version.startRun(INPUT);
    run.abort();
    assert.deepEqual(await run.ended, { ok: true });
    assert.deepEqual(lines, ['log tick tick r-1 {"EVERY":"5"} true 1', "error aborted true"]);
    assert.equal(version.disposed, true, "the run's end disposes its isolate");
  });

  it("ends with the message and stack of a rejection", async () => {
    const run = (await load("export async function run() { await null; throw new Error('nope') }")).startRun(INPUT);
    const outcome = await run.ended;
    assert.equal(outcome.ok, false);
    assert.ok(
      !outcome.ok && outcome.message === "nope" && /Error: nope\n\s+at Object.run \(module.js:/.test(outcome.stack),
      JSON.stringify(outcome),
    );
  });

  it("ends a run whose start never yields at the CPU limit, logged", async () => {
    const lines: string[] = [];
    const run = (await load("export function run() { for (;;) {} }", lines)).startRun(INPUT);
    const outcome = await run.ended;
    assert.ok(!outcome.ok && outcome.logged === true, JSON.stringify(outcome));
    // Whichever CPU rule saw it first: the start's own limit, or the budget for work outside
    // requests (also 200 ms; on a busy machine its check has come first, once on Node 24).
    const cpuRule = /(exceeded its CPU time limit \(200 ms\)|used more than its CPU budget).*its run\(ctx\) ended/;
    assert.match(outcome.message, cpuRule);
    assert.ok(
      lines.some((line) => cpuRule.test(line)),
      lines.join("\n"),
    );
  });

  it("ends a run that ignores its signal when it is disposed", async () => {
    const version = await load("export async function run(ctx) { for (;;) await new Promise((r) => setTimeout(r, 10)) }");
    const run = version.startRun(INPUT);
    run.abort();
    run.dispose();
    const outcome = await run.ended;
    assert.equal(outcome.ok, false);
    assert.equal(version.disposed, true);
  });

  it("starts a run after the module's top-level awaits of host work, with what they made", async () => {
    const lines: string[] = [];
    const version = await load(
      `const key = await crypto.subtle.importKey("raw", new Uint8Array(8), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
      const ready = await new Promise((resolve) => setTimeout(() => resolve("ready"), 5));
      export async function run(ctx) { ctx.log(ready, key.type) }`,
      lines,
    );
    assert.deepEqual(await version.startRun(INPUT).ended, { ok: true });
    assert.deepEqual(lines, ["log ready secret"]);
  });

  it("starts a run only in an isolate loaded for it, and only once", async () => {
    const serving = await load("export async function run() {}", [], false);
    assert.throws(() => serving.startRun(INPUT), /run\(ctx\) starts once, in an isolate loaded for it/);
    const version = await load("export async function run(ctx) { await new Promise((r) => ctx.signal.onabort = r) }");
    const run = version.startRun(INPUT);
    assert.throws(() => version.startRun(INPUT), /starts once/);
    run.abort();
    assert.deepEqual(await run.ended, { ok: true });
  });
});
