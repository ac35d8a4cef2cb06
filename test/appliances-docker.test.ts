/**
 * The docker runner against a real container engine: Podman's Docker-compatible API, started by
 * `shared/tools/container-engine` (CI runs it and exports DOCKER_HOST). A container serving HTTP
 * on a published port, the environment and stdin reaching it and its output coming back split
 * into stdout and stderr, the restart policy, a stop forced at the grace period, a missing image,
 * a start the engine refuses, a run kept through an engine restart (a private Podman service,
 * killed and started again), the containers of a previous life found by label, and a real
 * `lively serve` killed with SIGKILL and started again: its docker appliance's old container is
 * replaced, exactly one runs. In CI a missing engine fails this file; elsewhere it skips the
 * engine tests and says why. The spec checks that need no engine: appliances-docker-spec.test.ts.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { dockerRunner, dockerRunnerOn } from "../src/appliances/docker/docker-runner.ts";
import { connectEngine, engineAddress } from "../src/appliances/docker/engine.ts";
import { adoptDockerRun, endDockerPreviousLife, findDockerPreviousLife } from "../src/appliances/docker/previous-life.ts";
import type { DockerSpec } from "../src/appliances/docker/spec.ts";
import { type Appliance, createAppliance } from "../src/appliances/instance.ts";
import { readLastLines } from "../src/appliances/logs/reader.ts";
import type { RunHandle } from "../src/appliances/runner.ts";
import { freePort, Journal } from "./helpers/appliances.ts";
import { BACKENDS, type TestBackend } from "./helpers/backends.ts";
import { runCli } from "./helpers/cli.ts";
import { eventually, settlesWithin } from "./helpers/eventually.ts";
import { startTestNode } from "./helpers/node.ts";
import { exited, type ServeProcess, serve } from "./helpers/serve-process.ts";
import { tempDir } from "./helpers/temp-dir.ts";

// The socket container-engine starts, when this shell did not export DOCKER_HOST itself.
const TOOL_SOCKET = "/run/lively-engine/docker.sock";
if (!process.env.DOCKER_HOST && existsSync(TOOL_SOCKET)) process.env.DOCKER_HOST = `unix://${TOOL_SOCKET}`;
const IMAGE = process.env.LIVELY_TEST_IMAGE ?? "localhost/lively-busybox:1";
/** Appliance names of this file's run, so parallel runs never see each other's containers. */
const SUFFIX = randomBytes(3).toString("hex");
const named = (base: string) => `dk-${base}-${SUFFIX}`;

async function engineProblem(): Promise<string | undefined> {
  try {
    await connectEngine(engineAddress()).ping();
    return undefined;
  } catch (error) {
    return `${(error as Error).message} (run: eval "$(../shared/tools/container-engine)")`;
  }
}

const problem = await engineProblem();
if (problem && process.env.CI) {
  describe("appliances: docker runner", () => {
    it("has a container engine to run against (CI never skips the docker runner)", () => assert.fail(problem));
  });
}

const apps = new Set<Appliance>();
const handles = new Set<RunHandle>();
function dockerAppliance(name: string, spec: Omit<DockerSpec, "image">, rest: Partial<Parameters<typeof createAppliance>[0]> = {}) {
  const logDir = tempDir("lively-docker-");
  const app = createAppliance({ name, runner: dockerRunner, spec: { image: IMAGE, ...spec }, ...rest }, { logDir });
  apps.add(app);
  return { app, journal: new Journal(app), logPath: app.logPath };
}

/** `lively app create NAME --runner docker` of the test image running `cmd` (1 s grace), then until it is ready. */
async function createReadyDockerApp(cli: (...argv: string[]) => ReturnType<typeof runCli>, name: string, cmd: string): Promise<void> {
  const created = await cli("app", "create", name, "--runner", "docker", "--image", IMAGE, "--cmd", cmd, "--grace", "1");
  assert.equal(created.code, 0, created.stderr);
  await eventually(
    `${name} runs`,
    async () => ((await cli("app", "status", name, "--json")).json() as { state: string }[])[0]?.state === "ready",
    60_000,
  );
}

/** Lines of a stream, as they come. */
function lines(stream: NodeJS.ReadableStream | null): string[] {
  const seen: string[] = [];
  let rest = "";
  stream?.on("data", (chunk: Buffer) => {
    const parts = (rest + chunk.toString("utf8")).split("\n");
    rest = parts.pop() ?? "";
    seen.push(...parts);
  });
  return seen;
}

/** A private Podman API service on `socket` (the containers it starts outlive it, as with Docker's live-restore). */
async function startPodmanService(socket: string, engine: ReturnType<typeof connectEngine>): Promise<ChildProcess> {
  const service = spawn("podman", ["system", "service", "--time=0", `unix://${socket}`], { stdio: "ignore" });
  await eventually(
    "the engine answers",
    () =>
      engine.ping().then(
        () => true,
        () => false,
      ),
    30_000,
  );
  return service;
}

const podmanProblem = spawnSync("podman", ["--version"]).status === 0 ? false : "no podman binary to run a private engine with";

const containersOf = async (name: string) => findDockerPreviousLife(name);

describe("appliances: docker runner", { skip: problem }, () => {
  after(async () => {
    await Promise.all([...apps].map((app) => app.stop({ kill: true }).catch(() => undefined)));
    await Promise.all([...handles].map((handle) => handle.kill()));
    for (const base of ["web", "env", "crash", "stubborn", "polite", "taken", "survivor", "ghost", "reborn"]) {
      await endDockerPreviousLife(await containersOf(named(base)));
    }
  });

  it("serves HTTP from a container on a published loopback port", async () => {
    const port = await freePort();
    const { app, journal } = dockerAppliance(
      named("web"),
      {
        command: "mkdir -p /www && echo hello from the container > /www/index.html && exec httpd -f -p 8080 -h /www",
        ports: [`127.0.0.1:${port}:8080/tcp`],
      },
      { readiness: { kind: "http", url: `http://127.0.0.1:${port}/` }, settings: { graceMs: 1000 } },
    );
    await app.start();
    await eventually("ready", () => app.status().state === "ready", 30_000);
    const response = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal((await response.text()).trim(), "hello from the container");
    const [container] = await containersOf(app.name);
    assert.equal(container.tag, `${app.name}:${app.status().runId}`, "labelled with the run tag");
    assert.equal(container.name, `lively-${app.name}-${app.status().runId}`);
    assert.equal(app.status().pid, null, "a container's processes are not host pids of ours");
    await settlesWithin("stop", app.stop());
    assert.deepEqual(await containersOf(app.name), [], "the container is removed after the stop");
    assert.deepEqual(journal.names(), ["create", "start", "ready", "stop"]);
    await assert.rejects(fetch(`http://127.0.0.1:${port}/`), "nothing answers on the port any more");
  });

  it("gives the container its env and stdin, and splits its output into stdout and stderr", async () => {
    const context = { appliance: named("env"), runId: "r1" };
    const handle = await dockerRunner.start(
      {
        image: IMAGE,
        env: { GREETING: "hello there", EMPTY: "" },
        command: 'echo "greeting=$GREETING empty=[$EMPTY]"; echo to-err >&2; read line; echo "read=$line"; exit 3',
      },
      context,
    );
    handles.add(handle);
    const out = lines(handle.stdout);
    const err = lines(handle.stderr);
    assert.deepEqual(handle.pids, []);
    handle.stdin?.write("typed in\n");
    assert.deepEqual(await settlesWithin("exit", handle.done), { code: 3, signal: null });
    await eventually("output", () => out.length === 2 && err.length === 1);
    assert.deepEqual(out, ["greeting=hello there empty=[]", "read=typed in"]);
    assert.deepEqual(err, ["to-err"]);
    assert.deepEqual(await handle.sweep(), { forced: false, killed: 0, escaped: 0 });
    assert.deepEqual(await containersOf(context.appliance), [], "the sweep removes the container");
  });

  it("restarts a crashing container by the permanent policy", async () => {
    const { app, journal } = dockerAppliance(
      named("crash"),
      { command: "echo run; exit 3", stdin: false },
      { settings: { backoffBaseMs: 50, backoffJitter: 0 } },
    );
    await app.start();
    await eventually("three runs", () => journal.of("appliance:start").length >= 3, 30_000);
    const crash = journal.of("appliance:crash")[0].exit;
    assert.equal(crash.why, "crash");
    assert.equal(crash.code, 3);
    assert.deepEqual(
      crash.tail.map((line) => line.text),
      ["run"],
      "the crashed run's output is kept",
    );
    assert.ok(app.status().restarts >= 2);
    await app.stop({ kill: true });
    await eventually("no container left", async () => (await containersOf(app.name)).length === 0);
  });

  it("stops a container that ignores SIGTERM with SIGKILL at the grace period, and removes it", async () => {
    const { app, logPath } = dockerAppliance(
      named("stubborn"),
      { command: "trap '' TERM; echo up; sleep 1000" },
      { readiness: { kind: "log", pattern: "^up$" }, settings: { graceMs: 1000 } },
    );
    await app.start();
    await eventually("ready", () => app.status().state === "ready", 30_000);
    const report = await settlesWithin("stop", app.stop());
    assert.deepEqual(report, { forced: true, killed: 1, escaped: 0 });
    const exit = app.status().lastExit!;
    assert.equal(exit.why, "stopped");
    assert.equal(exit.signal, "SIGKILL");
    assert.deepEqual(await containersOf(app.name), []);
    assert.deepEqual(
      (await readLastLines(logPath, 5)).map((line) => line.text),
      ["up"],
    );
  });

  it("stops a container that ends on SIGTERM without force", async () => {
    const { app, logPath } = dockerAppliance(
      named("polite"),
      { command: "trap 'echo got TERM; exit 0' TERM; echo up; while true; do sleep 1; done" },
      { readiness: { kind: "log", pattern: "^up$" } },
    );
    await app.start();
    await eventually("ready", () => app.status().state === "ready", 30_000);
    assert.deepEqual(await settlesWithin("stop", app.stop()), { forced: false, killed: 0, escaped: 0 });
    assert.equal(app.status().lastExit?.code, 0);
    assert.deepEqual(
      (await readLastLines(logPath, 5)).map((line) => line.text),
      ["up", "got TERM"],
    );
    assert.deepEqual(await containersOf(app.name), []);
  });

  it("names a missing image that cannot be pulled", async () => {
    const image = "localhost/lively-no-such-image:0";
    await assert.rejects(
      dockerRunner.start({ image }, { appliance: named("missing"), runId: "r1" }),
      (error: Error & { code?: string }) => {
        assert.equal(error.code, "not_found");
        assert.match(error.message, /image "localhost\/lively-no-such-image:0" not found locally, and it could not be pulled/);
        return true;
      },
    );
  });

  it("fails a start the engine refuses with the engine's reason, and leaves no container", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const { port } = taken.address() as AddressInfo;
    const appliance = named("taken");
    try {
      await assert.rejects(
        dockerRunner.start({ image: IMAGE, command: "sleep 1000", ports: [`127.0.0.1:${port}:80`] }, { appliance, runId: "r1" }),
        new RegExp(`^LivelyError: appliance ${appliance}: cannot start a container of "${IMAGE}": .*${port}`),
      );
    } finally {
      taken.close();
    }
    await assert.rejects(
      dockerRunner.start({ image: IMAGE, args: ["/no/such/program"] }, { appliance, runId: "r2" }),
      /cannot start a container of .*no\/such\/program/,
    );
    assert.deepEqual(await containersOf(appliance), []);
  });

  it("keeps a run through an engine restart: its container lives on, so no second copy starts", { skip: podmanProblem }, async () => {
    const socket = join(tempDir("lively-engine-"), "engine.sock");
    const engine = connectEngine(engineAddress(`unix://${socket}`));
    let service = await startPodmanService(socket, engine);
    try {
      const { app, journal } = dockerAppliance(
        named("survivor"),
        { command: "echo up; exec sleep 1000", stdin: false },
        { runner: dockerRunnerOn(() => engine), readiness: { kind: "log", pattern: "^up$" }, settings: { graceMs: 1000 } },
      );
      await app.start();
      await eventually("ready", () => app.status().state === "ready", 30_000);
      const runId = app.status().runId;
      service.kill("SIGKILL");
      await once(service, "exit");
      await assert.rejects(engine.ping(), /no Docker engine at/);
      service = await startPodmanService(socket, engine);
      const [container] = await findDockerPreviousLife(app.name, engine);
      assert.equal(container?.running, true, "the container outlived its engine");
      assert.equal(app.status().runId, runId, "the run was never given up");
      assert.equal(journal.of("appliance:start").length, 1);
      assert.deepEqual(await settlesWithin("stop", app.stop()), { forced: true, killed: 1, escaped: 0 });
      assert.deepEqual(await findDockerPreviousLife(app.name, engine), []);
    } finally {
      service.kill("SIGKILL");
    }
  });

  it("finds a labelled container of a previous life, adopts it, and ends the others", async () => {
    const name = named("ghost");
    const spec = { image: IMAGE, command: "echo alive; sleep 1000", stdin: false };
    // Two runs whose handles are dropped, as a node killed mid-life drops them.
    await dockerRunner.start(spec, { appliance: name, runId: "old-1" });
    await dockerRunner.start(spec, { appliance: name, runId: "old-2" });
    const found = await findDockerPreviousLife(name);
    assert.deepEqual(found.map((run) => [run.tag, run.runId, run.running]).sort(), [
      [`${name}:old-1`, "old-1", true],
      [`${name}:old-2`, "old-2", true],
    ]);
    const [keep, ...rest] = found.sort((a, b) => a.runId.localeCompare(b.runId));
    const adopted = await adoptDockerRun(keep);
    handles.add(adopted);
    assert.equal(await endDockerPreviousLife(rest), 1);
    assert.deepEqual(
      (await findDockerPreviousLife(name)).map((run) => run.runId),
      ["old-1"],
    );
    assert.deepEqual(await settlesWithin("kill", adopted.kill()), { forced: true, killed: 1, escaped: 0 });
    assert.deepEqual(await adopted.done, { code: null, signal: "SIGKILL" });
    assert.deepEqual(await findDockerPreviousLife(name), []);
    await assert.rejects(adoptDockerRun({ ...keep, running: false, state: "exited" }), /not a running run to adopt/);
  });

  it("lively app create --runner docker runs a container on a node; app rm leaves none", async () => {
    const node = await startTestNode(BACKENDS[0] as TestBackend);
    const cli = (...argv: string[]) => runCli({ url: node.url, token: node.adminToken }, argv);
    const name = named("cli");
    try {
      await createReadyDockerApp(cli, name, "echo hello-from-the-container; sleep 1000");
      await eventually(
        "its output is in the appliance's log",
        async () => (await cli("app", "logs", name, "-n", "20")).stdout.includes("hello-from-the-container"),
        30_000,
      );
      assert.equal((await findDockerPreviousLife(name)).length, 1, "one container");
      assert.equal((await cli("app", "rm", name)).code, 0);
      await eventually("no container is left", async () => (await findDockerPreviousLife(name)).length === 0, 30_000);
    } finally {
      await node.close();
    }
  });
  it("a node killed with SIGKILL and started again replaces its docker appliance's container: exactly one runs", async () => {
    const dataDir = tempDir("lively-docker-kill-");
    const name = named("reborn");
    const nodes: ServeProcess[] = [];
    const start = async () => {
      const node = await serve(join(dataDir, "lively.db"), dataDir);
      nodes.push(node);
      return node;
    };
    try {
      const first = await start();
      const token = first.token;
      let cli = (...argv: string[]) => runCli({ url: first.url, token }, argv);
      await createReadyDockerApp(cli, name, "echo up; sleep 1000");
      const [old] = await findDockerPreviousLife(name);
      assert.ok(old?.running);
      // Another node on the same engine runs an appliance of the same name under another tag: never touched.
      const stranger = await dockerRunner.start(
        { image: IMAGE, command: "sleep 1000", stdin: false },
        { appliance: name, runId: "another-node-1" },
      );
      handles.add(stranger);

      first.child.kill("SIGKILL");
      await exited(first.child);
      // The node's own container may outlive it or be stopped by its fence keeper, which kills
      // the dead node's runs at once (placement/fence-keeper.ts): either way the other node's is untouched.
      const left = await findDockerPreviousLife(name);
      assert.ok(
        left.every((run) => run.runId === "another-node-1" || run.id === old.id),
        "no other container appeared",
      );
      assert.ok(
        left.some((run) => run.runId === "another-node-1" && run.running),
        "the other node's container still runs",
      );

      const second = await start();
      cli = (...argv: string[]) => runCli({ url: second.url, token }, argv);
      await eventually("a new run is ready", async () => (await cli("app", "status", name, "--json")).json()[0]?.state === "ready", 60_000);
      const mine = (await findDockerPreviousLife(name)).filter((run) => run.runId !== "another-node-1");
      assert.equal(mine.length, 1, "exactly one container of the appliance");
      assert.notEqual(mine[0]?.id, old.id, "the old one was replaced");
      assert.equal(mine[0]?.running, true);
      assert.ok(
        (await findDockerPreviousLife(name)).some((run) => run.runId === "another-node-1" && run.running),
        "the other node's container runs on",
      );

      second.child.kill("SIGTERM");
      assert.equal(await exited(second.child), 0);
      assert.deepEqual(
        (await findDockerPreviousLife(name)).map((run) => run.runId),
        ["another-node-1"],
        "a clean stop removes its container",
      );
    } finally {
      for (const node of nodes) if (node.child.exitCode === null && node.child.signalCode === null) node.child.kill("SIGKILL");
    }
  });
});
