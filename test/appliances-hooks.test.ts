/**
 * Appliance hooks (src/appliances/hooks.ts): a real shell command, a real HTTP server on loopback,
 * a real module call into a real test node; hanging hooks ended at a small timeout and logged;
 * failures never thrown at the caller; the in-flight limit and drain. An HTTP hook goes through
 * the fetch address guard: loopback is refused (and logged) unless its range is allowed, which is
 * how every webhook test here reaches its loopback server.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { ExitRecord } from "../src/appliances/events.ts";
import { WebhookAddressGuard } from "../src/appliances/hooks/http-hook.ts";
import { type HookLog, type HookPayload, HookRunner, hookPayload, runHook } from "../src/appliances/hooks.ts";
import { listTagged } from "../src/appliances/proc.ts";
import { AddressPolicy, parseRange } from "../src/code/address-ranges.ts";
import { silentLogger } from "../src/log.ts";
import { PATH_ENV } from "./helpers/appliances.ts";
import { BACKENDS } from "./helpers/backends.ts";
import { eventually, settlesWithin } from "./helpers/eventually.ts";
import { startTestNode, type TestNode } from "./helpers/node.ts";
import { tempDir } from "./helpers/temp-dir.ts";

// A pino logger is a HookLog: the node passes its own.
const _pinoFits: HookLog = silentLogger;

class LogSink implements HookLog {
  readonly warnings: { details: Record<string, unknown>; message: string }[] = [];
  warn(details: Record<string, unknown>, message: string): void {
    this.warnings.push({ details, message });
  }
  debug(): void {}
}

/** What an operator's `lively network allow 127.0.0.1/32` gives: the test servers' address. */
const LOOPBACK_ALLOWED = new AddressPolicy([parseRange("127.0.0.1/32")]);
const webhooks = new WebhookAddressGuard(() => LOOPBACK_ALLOWED);

const exit: ExitRecord = {
  runId: "r1",
  why: "crash",
  code: 3,
  signal: null,
  at: Date.parse("2026-12-03T08:00:05.000Z"),
  uptimeMs: 5000,
  forced: false,
  killed: 0,
  escaped: 0,
  dropped: 0,
  tail: [{ at: 1, stream: "err", text: "boom" }],
};

function crashOf(appliance: string): HookPayload {
  return hookPayload("crash", { appliance, at: exit.at, exit }, "test-node");
}

const hookProcessesOf = (appliance: string) => listTagged((tag) => tag.startsWith(`.hook:${appliance}.`));

/** A loopback HTTP server answering with `answer`, recording what it was sent. */
async function server(answer: (request: IncomingMessage, response: ServerResponse) => void) {
  const received: { method?: string; type?: string; body: string }[] = [];
  const http: Server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => {
      body += chunk;
    });
    request.on("end", () => {
      received.push({ method: request.method, type: request.headers["content-type"], body });
      answer(request, response);
    });
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/hook`;
  return {
    url,
    received,
    close: () => {
      http.closeAllConnections();
      return new Promise((resolve) => http.close(resolve));
    },
  };
}

describe("appliance hooks", () => {
  let t: TestNode;
  const callModule = async (module: string, fn: string, args: unknown[]) => {
    const answer = await t.api("POST", `/call/${module}/${fn}`, { body: args });
    if (answer.status !== 200) throw new Error(`${module}.${fn}: ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body;
  };

  before(async () => {
    t = await startTestNode(BACKENDS[0]);
    await t.deploy(
      "ops",
      `export function onCrash(event) {
         if (event.appliance !== "mod" || event.event !== "crash" || event.exit.code !== 3) throw new Error("wrong event " + JSON.stringify(event));
         return "noted";
       }
       export function fails() { throw new Error("the hook module failed"); }`,
    );
  });
  after(() => t.close());

  it("builds the payload from the appliance's event: name, kind, time, node, and the exit", () => {
    assert.deepEqual(crashOf("web"), {
      appliance: "web",
      event: "crash",
      at: "2026-12-03T08:00:05.000Z",
      node: "test-node",
      exit: { why: "crash", code: 3, signal: null, runId: "r1", uptimeMs: 5000, forced: false, killed: 0, escaped: 0, tail: ["boom"] },
    });
    const restart = hookPayload(
      "restart",
      { appliance: "web", at: 0, manual: false, delayMs: 1000, attempt: 2, crashLooping: false, exit },
      "n",
    );
    assert.deepEqual(restart.restart, { manual: false, delayMs: 1000, attempt: 2, crashLooping: false });
    assert.equal(restart.exit?.code, 3);
    assert.deepEqual(hookPayload("ready", { appliance: "web", at: 0, runId: "r1" }, "n"), {
      appliance: "web",
      event: "ready",
      at: "1970-01-01T00:00:00.000Z",
      node: "n",
    });
  });

  it("runs a shell hook with the event as JSON on stdin and LIVELY_EVENT, LIVELY_APPLIANCE in its environment", async () => {
    const out = join(tempDir("lively-hook-"), "event");
    const payload = crashOf("sh");
    const outcome = await runHook({ shell: `cat > "$OUT" && echo "$LIVELY_EVENT $LIVELY_APPLIANCE" > "$OUT.env"` }, payload, {
      env: { ...PATH_ENV, OUT: out },
    });
    assert.deepEqual({ ok: outcome.ok, kind: outcome.kind, error: outcome.error }, { ok: true, kind: "shell", error: undefined });
    assert.deepEqual(JSON.parse(readFileSync(out, "utf8")), payload);
    assert.equal(readFileSync(`${out}.env`, "utf8"), "crash sh\n");
  });

  it("sweeps what a shell hook leaves running when it exits, and reports a non-zero exit with its output", async () => {
    const outcome = await runHook({ shell: "sleep 1000 & setsid sleep 1000 & echo started" }, crashOf("leaver"), { env: PATH_ENV });
    assert.equal(outcome.ok, true, outcome.error);
    assert.deepEqual(hookProcessesOf("leaver"), []);
    const failed = await runHook({ shell: "echo 'disk full' >&2; exit 7" }, crashOf("sh"), { env: PATH_ENV });
    assert.deepEqual([failed.ok, failed.timedOut, failed.error], [false, false, "exited with code 7: disk full"]);
  });

  it("POSTs the event as JSON to an HTTP hook; a non-2xx answer is a failure", async () => {
    const ok = await server((_, response) => response.writeHead(204).end());
    const failing = await server((_, response) => response.writeHead(500).end("no"));
    try {
      const payload = crashOf("web");
      const outcome = await runHook({ http: ok.url }, payload, { webhooks });
      assert.equal(outcome.ok, true, outcome.error);
      assert.equal(ok.received.length, 1);
      assert.equal(ok.received[0].method, "POST");
      assert.equal(ok.received[0].type, "application/json");
      assert.deepEqual(JSON.parse(ok.received[0].body), payload);
      const refused = await runHook({ http: failing.url }, payload, { webhooks });
      assert.deepEqual([refused.ok, refused.timedOut], [false, false]);
      assert.match(refused.error ?? "", /answered 500/);
    } finally {
      await ok.close();
      await failing.close();
    }
  });

  it("refuses an HTTP hook to loopback unless the operator allowed its range, and logs why", async () => {
    const target = await server((_, response) => response.writeHead(204).end());
    try {
      const log = new LogSink();
      const strict = new HookRunner({ log });
      const [refused] = await strict.fire([{ http: target.url }], crashOf("web"));
      assert.deepEqual([refused.ok, refused.timedOut], [false, false]);
      assert.match(
        refused.error ?? "",
        /^POST http:\/\/127\.0\.0\.1:\d+\/hook refused: 127\.0\.0\.1 is a loopback address \(127\.0\.0\.0\/8\); an operator can allow an address range with `lively network allow RANGE`$/,
      );
      assert.equal(target.received.length, 0, "nothing reached the server");
      assert.deepEqual(
        log.warnings.map((w) => [w.message, w.details.appliance, w.details.error]),
        [["appliance hook failed", "web", refused.error]],
      );
      // A name that resolves to loopback is refused after DNS, at connect time, the same way.
      const named = await runHook({ http: target.url.replace("127.0.0.1", "localhost") }, crashOf("web"));
      assert.match(named.error ?? "", /refused: localhost resolves only to addresses fetch may not reach: .*loopback/);
      assert.equal(target.received.length, 0);

      // The operator's ranges are read per hook: allowed now, delivered.
      let policy = AddressPolicy.STRICT;
      const runner = new HookRunner({ log, addresses: () => policy });
      assert.equal((await runner.fire([{ http: target.url }], crashOf("web")))[0].ok, false);
      policy = LOOPBACK_ALLOWED;
      const [delivered] = await runner.fire([{ http: target.url }], crashOf("web"));
      assert.equal(delivered.ok, true, delivered.error);
      assert.equal(target.received.length, 1);
    } finally {
      await target.close();
    }
  });

  it("calls a stored module's function with the event through the node's call path", async () => {
    const outcome = await runHook({ module: "ops", fn: "onCrash" }, crashOf("mod"), { callModule });
    assert.equal(outcome.ok, true, outcome.error);
    assert.equal(outcome.target, "ops.onCrash");
    const wrong = await runHook({ module: "ops", fn: "onCrash" }, crashOf("other"), { callModule });
    assert.match(wrong.error ?? "", /wrong event/);
    const none = await runHook({ module: "ops", fn: "onCrash" }, crashOf("mod"));
    assert.match(none.error ?? "", /does not run modules/);
  });

  it("ends a hanging shell hook at its timeout, group and escapees, and logs it", async () => {
    const log = new LogSink();
    const runner = new HookRunner({ log, timeoutMs: 300 });
    const [outcome] = await settlesWithin(
      "the hanging hook",
      runner.fire([{ shell: "setsid sleep 1000 & sleep 1000" }], crashOf("hang"), { env: PATH_ENV }),
    );
    assert.deepEqual([outcome.ok, outcome.timedOut], [false, true]);
    assert.match(outcome.error ?? "", /killed at its timeout \(\d+ process/);
    assert.deepEqual(hookProcessesOf("hang"), []);
    assert.equal(log.warnings.length, 1);
    assert.equal(log.warnings[0].message, "appliance hook ended at its timeout");
    assert.equal(log.warnings[0].details.appliance, "hang");
    assert.equal(log.warnings[0].details.target, "setsid sleep 1000 & sleep 1000");
  });

  it("ends a hanging HTTP hook (a server that never answers) at its timeout, and logs it", async () => {
    const silent = await server(() => undefined);
    try {
      const log = new LogSink();
      const runner = new HookRunner({ log, timeoutMs: 300, addresses: () => LOOPBACK_ALLOWED });
      const [outcome] = await settlesWithin("the hanging webhook", runner.fire([{ http: silent.url }], crashOf("web")));
      assert.deepEqual([outcome.ok, outcome.timedOut], [false, true]);
      assert.equal(silent.received.length, 1, "the request reached the server");
      assert.deepEqual(
        log.warnings.map((w) => w.message),
        ["appliance hook ended at its timeout"],
      );
    } finally {
      await silent.close();
    }
  });

  it("never throws at the caller: failing hooks of every kind are logged, fire returns before they end", async () => {
    const log = new LogSink();
    const runner = new HookRunner({ log, callModule, timeoutMs: 10_000 });
    const hooks = [
      { shell: "exit 3" },
      { http: "http://127.0.0.1:1/nothing-listens" },
      { module: "ops", fn: "fails" },
      { module: "ops", fn: "missing" },
    ];
    const fired = runner.fire(hooks, crashOf("web"), { env: PATH_ENV });
    assert.equal(runner.stats("web").inFlight, 4, "fire returned while its hooks were still running");
    const outcomes = await fired;
    assert.deepEqual(
      outcomes.map((o) => [o.kind, o.ok]),
      [
        ["shell", false],
        ["http", false],
        ["module", false],
        ["module", false],
      ],
    );
    assert.match(outcomes[2].error ?? "", /the hook module failed/);
    assert.equal(log.warnings.filter((w) => w.message === "appliance hook failed").length, 4);
    assert.deepEqual(runner.stats("web"), { inFlight: 0, dropped: 0 });
    const throwing: HookLog = {
      warn() {
        throw new Error("the log is broken");
      },
      debug() {},
    };
    const [broken] = await new HookRunner({ log: throwing, maxInFlight: 1 }).fire(
      [{ shell: "exit 1" }, { shell: "exit 1" }],
      crashOf("web"),
      {
        env: PATH_ENV,
      },
    );
    assert.equal(broken.ok, false, "a logger that throws changes nothing for the caller");
  });

  it("runs at most hookMaxInFlight hooks per appliance, drops and counts the rest; drain ends them for shutdown", async () => {
    const log = new LogSink();
    const runner = new HookRunner({ log, timeoutMs: 60_000, maxInFlight: 2 });
    const hang = { shell: "sleep 1000" };
    const first = runner.fire([hang, hang, hang], crashOf("busy"), { env: PATH_ENV });
    const other = runner.fire([hang], crashOf("calm"), { env: PATH_ENV });
    assert.deepEqual(runner.stats("busy"), { inFlight: 2, dropped: 1 });
    assert.deepEqual(runner.stats("calm"), { inFlight: 1, dropped: 0 }, "the limit is per appliance");
    assert.match(log.warnings[0].message, /dropped: 2 hooks of this appliance are still running/);
    await eventually("both hooks' processes started", () => new Set(hookProcessesOf("busy").map((proc) => proc.tag)).size === 2);
    await settlesWithin("drain", runner.drain({ cancel: true }));
    const outcomes = [...(await first), ...(await other)];
    assert.deepEqual(
      outcomes.map((o) => [o.dropped, o.timedOut]),
      [
        [false, true],
        [false, true],
        [true, false],
        [false, true],
      ],
    );
    assert.deepEqual(hookProcessesOf("busy"), []);
    const late = await runner.fire([{ shell: "true" }], crashOf("busy"), { env: PATH_ENV });
    assert.deepEqual([late[0].dropped, late[0].error], [true, "the node is shutting down"]);
    assert.deepEqual(runner.stats(), { inFlight: 0, dropped: 2 });
  });

  it("refuses bad runner settings, and falls back (logging) on a bad per-fire value", async () => {
    assert.throws(() => new HookRunner({ log: new LogSink(), timeoutMs: 0 }), /hookTimeoutMs/);
    assert.throws(() => new HookRunner({ log: new LogSink(), maxInFlight: 1.5 }), /hookMaxInFlight/);
    const log = new LogSink();
    const [outcome] = await new HookRunner({ log }).fire([{ shell: "true" }], crashOf("web"), { timeoutMs: -1, env: PATH_ENV });
    assert.equal(outcome.ok, true, outcome.error);
    assert.match(log.warnings[0].message, /hookTimeoutMs must be .*; using 30000/);
  });
});
