/**
 * Module appliances on a node (docs/appliances.md, the module runner): a stored module's
 * `run(ctx)` export runs as an appliance in an isolate of its own, past the module's wall limit;
 * stop aborts `ctx.signal` (the run resolving is exit code 0) and disposes a run that ignores it
 * at the grace period; a throw, a rejection or a CPU limit is a crash the restart policy answers
 * with its message in the appliance's log; console lines and `ctx.env` are the appliance's; a
 * missing module or a module without `run` is a clear error in the log.
 */
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { FAST_APPLIANCES } from "./helpers/appliances.ts";
import { describeEachBackend } from "./helpers/backends.ts";
import { eventually } from "./helpers/eventually.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";
import { appCli } from "./helpers/node-apps.ts";

// CPU well above what the memory runaway burns before V8 stops it (its GC near the heap limit
// is CPU too, and isolated-vm's CPU clock runs on while a busy machine preempts the thread): at
// 1000 ms, a loaded CI machine sometimes saw the CPU budget end it first.
/** The node's ceilings. The CPU runaway's module lowers its own CPU limit to RUNAWAY_CPU_MS (`lively config`). */
const LIMITS = { memoryMb: 32, cpuMs: 10_000, wallMs: 200 };
const RUNAWAY_CPU_MS = 2500;

/** A run that says how long it has been running, until it is asked to stop. */
const PATIENT = `export default { fetch() { return new Response('patient') } };
export async function run(ctx) {
  const started = Date.now();
  ctx.signal.addEventListener('abort', () => console.log('abort heard'));
  while (!ctx.signal.aborted) {
    console.log('alive ' + (Date.now() - started));
    await new Promise((r) => setTimeout(r, 25));
  }
  console.error('stopping cleanly');
}`;

describeEachBackend("module appliances", (backend) => {
  let t: TestNode;
  const { cli, status } = appCli(() => t);
  const logText = async (name: string) => JSON.stringify((await t.api("GET", `/apps/${name}/logs?lines=200`)).body);
  const deploy = async (module: string, code: string) => {
    const deployed = await t.api("POST", `/modules/${module}/versions`, { body: { code } });
    assert.equal(deployed.status, 201, JSON.stringify(deployed.body));
  };

  /** Deploy `code` as `module` and create module appliance `name` on it with `flags`, through the CLI. */
  const createOn = async (name: string, module: string, code: string, ...flags: string[]) => {
    await deploy(module, code);
    const created = await cli("app", "create", name, "--runner", "module", "--module", module, ...flags);
    assert.equal(created.code, 0, created.stderr);
  };
  const logLines = async (name: string): Promise<{ stream: string; text: string }[]> =>
    (await t.api("GET", `/apps/${name}/logs?lines=500`)).body;

  before(async () => {
    // A short wall limit, so a run is seen to outlive it many times over; a small heap, so a run
    // that hoards memory passes it in a few allocations; a large CPU limit, so that run's garbage
    // collection near the heap's limit never spends the CPU first (a busy CI machine inflates
    // isolated-vm's CPU clock: at 2,500 ms the memory runaway was ended by CPU once in three runs).
    t = await startTestNode(backend, { sandboxLimits: LIMITS, node: { applianceDefaults: FAST_APPLIANCES } });
  });
  after(async () => {
    await t.close();
  });

  it("runs a module's run(ctx) with the appliance's name, and stops it", async () => {
    await createOn(
      "w",
      "worker",
      "export default { fetch() { return new Response('w') } };" +
        "export async function run(ctx) { if (ctx.appliance !== 'w') throw new Error('ctx: ' + JSON.stringify(ctx)); await new Promise((r) => setTimeout(r, 20000)) }",
      "--json",
    );
    await eventually("w running", async () => ["ready", "running"].includes((await status("w")).state));
    const stopped = await cli("app", "stop", "w", "--json");
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.equal((await status("w")).state, "stopped");
    assert.doesNotMatch(await logText("w"), /ctx: /);
    assert.equal((await cli("app", "rm", "w")).code, 0);
  });

  it("restarts a run() that throws, with the message in the log", async () => {
    await deploy(
      "thrower",
      "export default { fetch() { return new Response('t') } }; export function run() { throw new Error('boom-in-run') }",
    );
    const created = await t.api("POST", "/apps", { body: { config: { name: "t1", runner: "module", module: "thrower" } } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await eventually("t1 restarted", async () => (await status("t1")).restarts >= 1);
    assert.equal((await status("t1")).lastExit.code, 1);
    await eventually("the throw is in the log", async () => /boom-in-run/.test(await logText("t1")));
    assert.equal((await cli("app", "rm", "t1")).code, 0);
  });

  it("names a missing module and a module without run in the log", async () => {
    await deploy("norun", "export default { fetch() { return new Response('n') } }; export function other() { return 1 }");
    for (const [name, module, message] of [
      ["m1", "nosuchmodule", /module 'nosuchmodule' does not exist/],
      ["m2", "norun", /norun@1 exports no function 'run'/],
    ] as const) {
      const created = await t.api("POST", "/apps", { body: { config: { name, runner: "module", module, restart: "temporary" } } });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      await eventually(`${name} ended`, async () => (await status(name)).lastExit?.code === 1);
      assert.match(await logText(name), message);
      assert.equal((await cli("app", "rm", name)).code, 0);
    }
  });

  it("runs far past the module's wall limit and stops cleanly on ctx.signal with exit code 0", async () => {
    await createOn("p", "patient", PATIENT, "--json");
    // The run reports its own age: gate on it having lived ten wall limits, not on a clock here.
    await eventually("p lived past ten wall limits", async () =>
      (await logLines("p")).some((line) => /^alive (\d+)$/.test(line.text) && Number(line.text.slice(6)) > 10 * LIMITS.wallMs),
    );
    assert.equal((await status("p")).restarts, 0);
    // The module still serves while its run goes on: the run has its own isolate.
    assert.equal(await (await fetch(`${t.url}/patient/`)).text(), "patient");
    const stopped = await cli("app", "stop", "p", "--json");
    assert.equal(stopped.code, 0, stopped.stderr);
    const after = await status("p");
    assert.equal(after.state, "stopped");
    assert.equal(after.lastExit.code, 0);
    assert.equal(after.lastExit.signal, null);
    const lines = await logLines("p");
    assert.ok(lines.some((line) => line.stream === "out" && line.text === "abort heard"));
    assert.ok(lines.some((line) => line.stream === "err" && line.text === "stopping cleanly"));
    assert.equal((await cli("app", "rm", "p")).code, 0);
  });

  it("disposes a run that ignores ctx.signal at the grace period", async () => {
    await createOn(
      "s",
      "stubborn",
      "export default { fetch() { return new Response('s') } };" +
        "export async function run(ctx) { for (;;) { console.log('still here ' + ctx.signal.aborted); await new Promise((r) => setTimeout(r, 20)) } }",
      "--grace",
      "0.3",
      "--json",
    );
    await eventually("s running", async () => /still here false/.test(await logText("s")));
    const stopped = await cli("app", "stop", "s", "--json");
    assert.equal(stopped.code, 0, stopped.stderr);
    const after = await status("s");
    assert.equal(after.state, "stopped");
    assert.equal(after.lastExit.signal, "SIGKILL");
    // It saw the signal and ignored it: the grace period ended it.
    assert.match(await logText("s"), /still here true/);
    assert.equal((await cli("app", "rm", "s")).code, 0);
  });

  it("restarts a run whose promise rejects, by its restart policy", async () => {
    await createOn(
      "r",
      "rejecter",
      "export default { fetch() { return new Response('r') } };" +
        "export async function run(ctx) { console.log('run ' + ctx.runId); await new Promise((r) => setTimeout(r, 10)); throw new Error('async-boom') }",
      "--restart",
      "transient",
      "--json",
    );
    await eventually("r restarted twice", async () => (await status("r")).restarts >= 2);
    assert.equal((await status("r")).lastExit.code, 1);
    const lines = await logLines("r");
    assert.ok(lines.some((line) => line.stream === "err" && /async-boom/.test(line.text)));
    assert.ok(new Set(lines.filter((line) => line.text.startsWith("run ")).map((line) => line.text)).size >= 2, "one line per run");
    assert.equal((await cli("app", "rm", "r")).code, 0);
  });

  const RUNAWAYS = [
    {
      limit: "CPU",
      loop: "for (;;) {}",
      cpuMs: RUNAWAY_CPU_MS,
      // Whichever CPU rule saw it first: the task's own limit, or the budget for work outside requests.
      message: new RegExp(`CPU (time limit \\(${RUNAWAY_CPU_MS} ms\\)|budget)[^"]*its isolate was disposed and its run\\(ctx\\) ended`),
    },
    {
      limit: "memory",
      // Arrays of 800 KB of doubles, each allocated at its size: memory grows fast for little CPU.
      loop: "const keep = []; for (;;) keep.push(new Array(1e5).fill(0.5));",
      cpuMs: undefined,
      message: new RegExp(`exceeded its memory limit \\(${LIMITS.memoryMb} MB\\); its isolate was disposed and its run\\(ctx\\) ended`),
    },
  ];
  for (const { limit, loop, cpuMs, message } of RUNAWAYS) {
    it(`ends a run that passes the ${limit} limit, restarts it, and the module keeps serving`, async () => {
      const name = `runaway-${limit.toLowerCase()}`;
      await deploy(
        name,
        "export default { fetch() { return new Response('still serving') } };" +
          `export async function run() { await new Promise((r) => setTimeout(r, 5)); ${loop} }`,
      );
      if (cpuMs !== undefined) assert.equal((await cli("config", name, "--cpu-ms", String(cpuMs))).code, 0);
      const created = await t.api("POST", "/apps", { body: { config: { name, runner: "module", module: name } } });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      await eventually(`${name} restarted`, async () => (await status(name)).restarts >= 1);
      assert.equal((await status(name)).lastExit.code, 1);
      assert.match(await logText(name), message);
      assert.equal(await (await fetch(`${t.url}/${name}/`)).text(), "still serving");
      assert.equal((await cli("app", "stop", name, "--kill")).code, 0);
      assert.equal((await cli("app", "rm", name)).code, 0);
    });
  }

  it("gives ctx the appliance's name and environment; a variable removed by an upgrade is gone", async () => {
    await createOn(
      "ev",
      "envy",
      "export default { fetch() { return new Response('e') } };" +
        "export async function run(ctx) { console.log('env ' + ctx.runId + ' ' + ctx.name + ' ' + JSON.stringify(Object.fromEntries(Object.entries(ctx.env).sort()))); ctx.log('via ctx.log');" +
        " while (!ctx.signal.aborted) await new Promise((r) => setTimeout(r, 20)) }",
      "--env",
      "GREETING=hi",
      "--env",
      "DEBUG=1",
    );
    const logged = async (env: string) => (await logLines("ev")).some((line) => line.text.endsWith(` ev ${env}`));
    await eventually("ev logged its env", () => logged('{"DEBUG":"1","GREETING":"hi"}'));
    assert.ok((await logLines("ev")).some((line) => line.stream === "out" && line.text === "via ctx.log"));
    const upgraded = await cli("app", "upgrade", "ev", "--unset", "env.DEBUG", "--set", "env.GREETING=hello");
    assert.equal(upgraded.code, 0, upgraded.stderr);
    await eventually("ev restarted onto the new env", () => logged('{"GREETING":"hello"}'));
    // The run before the upgrade was stopped through its signal, not killed.
    assert.equal((await status("ev")).restarts, 0);
    assert.equal((await cli("app", "rm", "ev")).code, 0);
  });

  it("starts each run on the version its channel points at then", async () => {
    const code = (n: number) =>
      `export default { fetch() { return new Response('v${n}') } };` +
      "export async function run(ctx) { console.log('on version ' + this.version); while (!ctx.signal.aborted) await new Promise((r) => setTimeout(r, 20)) }";
    await createOn("vs", "versioned", code(1));
    await eventually("vs runs version 1", async () => /on version 1/.test(await logText("vs")));
    await t.deploy("versioned", code(2), ["production"]);
    const restarted = await cli("app", "restart", "vs");
    assert.equal(restarted.code, 0, restarted.stderr);
    await eventually("vs runs version 2", async () => /on version 2/.test(await logText("vs")));
    assert.equal((await status("vs")).lastExit.code, 0, "the version 1 run ended on its signal");
    assert.equal((await cli("app", "rm", "vs")).code, 0);
  });
});
