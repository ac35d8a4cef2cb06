/**
 * Restart policy with real processes and small settings: permanent, transient and temporary;
 * the backoff's growth and its reset after a stable run; crash-looping caught by a sliding window
 * even when the loop begins long after creation, then retried rather than given up; manual
 * restarts counting for nothing. Order and states are asserted, never timings.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { RestartPolicy } from "../src/appliances/policy.ts";
import { listTagged } from "../src/appliances/proc.ts";
import { resolveSettings } from "../src/appliances/settings.ts";
import { killAllAppliances, shellAppliance } from "./helpers/appliances.ts";
import { eventually } from "./helpers/eventually.ts";
import { tempDir } from "./helpers/temp-dir.ts";

/** A script whose Nth run (counted in a file) does `runs[N - 1]`, or `otherwise` past the list. */
function countedScript(runs: string[], otherwise: string): string {
  const dir = tempDir("lively-app-count-");
  const script = join(dir, "run.sh");
  const cases = runs.map((body, index) => `  ${index + 1}) ${body} ;;`).join("\n");
  writeFileSync(
    script,
    `n=$(cat ${dir}/count 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${dir}/count
case $n in
${cases}
  *) ${otherwise} ;;
esac
`,
  );
  return script;
}

const FAST = { backoffBaseMs: 10, backoffMaxMs: 10, backoffJitter: 0, loopRestarts: 1000 };

describe("appliances: restart policy", () => {
  after(killAllAppliances);

  it("permanent: restarts after a normal exit too", async () => {
    const { app, journal } = shellAppliance("perm", { command: "exit 0" }, { restart: "permanent", settings: FAST });
    await app.start();
    await eventually("three runs", () => journal.of("appliance:start").length >= 3);
    await app.stop();
    assert.equal(journal.of("appliance:crash").length, 0);
    assert.ok(journal.of("appliance:stop").filter((stop) => stop.exit.why === "exit").length >= 2);
    assert.ok(journal.of("appliance:restart").every((restart) => !restart.manual && restart.exit?.why === "exit"));
    assert.equal(app.status().state, "stopped");
  });

  it("transient: a normal exit stays stopped, an abnormal one restarts", async () => {
    const clean = shellAppliance("trans-ok", { command: "exit 0" }, { restart: "transient", settings: FAST });
    await clean.app.start();
    await eventually("stopped", () => clean.app.status().state === "stopped");
    assert.deepEqual(clean.journal.names(), ["create", "start", "ready", "stop"]);

    const failing = shellAppliance("trans-bad", { command: "exit 2" }, { restart: "transient", settings: FAST });
    await failing.app.start();
    await eventually("restarted twice", () => failing.journal.of("appliance:restart").length >= 2);
    await failing.app.stop();
    assert.ok(failing.journal.of("appliance:crash").every((crash) => crash.exit.code === 2 && crash.exit.why === "crash"));
  });

  it("temporary: never restarts; an abnormal end leaves it failed", async () => {
    const { app, journal } = shellAppliance("temp", { command: "kill -9 $$" }, { restart: "temporary", settings: FAST });
    await app.start();
    await eventually("failed", () => app.status().state === "failed");
    assert.deepEqual(journal.names(), ["create", "start", "ready", "crash"]);
    assert.equal(app.status().lastExit?.signal, "SIGKILL");
    assert.equal(app.status().restarts, 0);
  });

  it("backs off 1x, 2x, 4x… up to the maximum after an immediate first restart", async () => {
    const { app, journal } = shellAppliance(
      "backoff",
      { command: "exit 1" },
      { settings: { backoffBaseMs: 20, backoffMaxMs: 160, backoffJitter: 0, stableMs: 30_000, loopRestarts: 1000 } },
    );
    await app.start();
    await eventually("seven restarts", () => journal.of("appliance:restart").length >= 7, 20_000);
    await app.stop();
    assert.deepEqual(
      journal
        .of("appliance:restart")
        .slice(0, 7)
        .map((restart) => restart.delayMs),
      [0, 20, 40, 80, 160, 160, 160],
    );
    assert.ok(journal.states().includes("backoff"));
    assert.equal(app.status().restarts >= 7, true);
  });

  it("resets the backoff after a run that lasted stableMs", async () => {
    const script = countedScript(["exit 1", "exit 1", "exit 1", "sleep 2; exit 1"], "exit 1");
    const { app, journal } = shellAppliance(
      "reset",
      { command: "sh", args: [script] },
      { settings: { backoffBaseMs: 20, backoffMaxMs: 1000, backoffJitter: 0, stableMs: 1000, loopRestarts: 1000 } },
    );
    await app.start();
    await eventually("six restarts", () => journal.of("appliance:restart").length >= 6, 20_000);
    await app.stop();
    assert.deepEqual(
      journal
        .of("appliance:restart")
        .slice(0, 6)
        .map((restart) => restart.delayMs),
      [0, 20, 40, 0, 20, 40],
    );
  });

  it("marks crash-looping once when a loop starts long after creation, then keeps retrying", async () => {
    // Run 1 is healthy for longer than stableMs; from run 2 on, every run dies at once.
    const script = countedScript(["sleep 2; exit 1"], 'echo "dying $n"; exit 7');
    const { app, journal } = shellAppliance(
      "looper",
      { command: "sh", args: [script] },
      { settings: { ...FAST, loopRestarts: 3, loopWindowMs: 600_000, loopRetryMs: 200, stableMs: 1000 } },
    );
    await app.start();
    await eventually("crash-looping", () => app.status().state === "crash-looping", 20_000);
    await eventually("two more runs after the mark", () => journal.of("appliance:start").length >= 7, 20_000);
    await app.stop();

    const loops = journal.of("appliance:crash-looping");
    assert.equal(loops.length, 1, "reported once");
    assert.equal(loops[0].exit.code, 7);
    assert.equal(loops[0].exit.signal, null);
    assert.deepEqual(
      loops[0].exit.tail.map((line) => line.text),
      ["dying 4"],
      "run 4 made the 4th restart in the window: its last line is kept",
    );
    const delays = journal.of("appliance:restart").map((restart) => restart.delayMs);
    assert.deepEqual(delays.slice(0, 4), [0, 10, 10, 200], "immediate after the stable run, then backoff, then the retry interval");
    assert.ok(
      delays.slice(4).every((delay) => delay === 200),
      "still retried, every loopRetryMs",
    );
    const names = journal.names();
    assert.ok(names.indexOf("crash-looping") < names.lastIndexOf("start"), "it went on starting after the mark");
  });

  it("counts a sliding window: restarts spread wider than the window never make a loop", () => {
    let now = 0;
    const settings = resolveSettings({ loopRestarts: 3, loopWindowMs: 1000, stableMs: 60_000, backoffJitter: 0 });
    const policy = new RestartPolicy(settings, Math.random, () => now);
    for (let i = 0; i < 20; i++) {
      now += 400; // 2.5 restarts per window: never more than 3
      assert.equal(policy.next(10).enteredLoop, false);
    }
    now += 3_600_000; // an hour later, a burst
    const burst = [policy.next(10), policy.next(10), policy.next(10), policy.next(10), policy.next(10)];
    assert.deepEqual(
      burst.map((decision) => decision.enteredLoop),
      [false, false, false, true, false],
    );
    assert.equal(policy.crashLooping, true);
    assert.equal(policy.next(settings.stableMs).crashLooping, false, "a stable run clears the mark");
  });

  it("moves each backoff delay by at most the jitter", () => {
    const settings = resolveSettings({ backoffBaseMs: 1000, backoffMaxMs: 60_000, backoffJitter: 0.2, loopRestarts: 100 });
    const delays = (random: number) => {
      const policy = new RestartPolicy(settings, () => random);
      return Array.from({ length: 9 }, () => policy.next(0).delayMs);
    };
    assert.deepEqual(delays(0.5), [0, 1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000]);
    assert.deepEqual(delays(0), [0, 800, 1600, 3200, 6400, 12_800, 25_600, 48_000, 48_000]);
    assert.deepEqual(delays(1), [0, 1200, 2400, 4800, 9600, 19_200, 38_400, 72_000, 72_000]);
  });

  it("a manual restart counts for nothing", async () => {
    const { app, journal } = shellAppliance("manual", { command: "sleep 1000" }, { settings: { ...FAST, loopRestarts: 1 } });
    await app.start();
    for (let i = 0; i < 4; i++) await app.restart();
    assert.equal(app.status().restarts, 0);
    assert.equal(app.status().crashLooping, false);
    assert.equal(journal.of("appliance:crash-looping").length, 0);
    assert.deepEqual(
      journal.of("appliance:restart").map((restart) => restart.manual),
      [true, true, true, true],
    );
    assert.equal(journal.of("appliance:start").length, 5);
    assert.equal(app.status().state, "ready");
    await app.stop();
  });

  it("a stop that lands while a restart is being spawned still stops it, every time", async () => {
    const { app } = shellAppliance("churn", { command: "sleep 0.01" }, { settings: FAST });
    for (let round = 0; round < 10; round++) {
      await app.start();
      await eventually("it restarted at least once", () => app.status().restarts > round);
      await app.stop();
      assert.equal(app.status().state, "stopped");
      assert.deepEqual(
        listTagged((tag) => tag.startsWith("churn:")),
        [],
      );
    }
  });

  it("a stop during backoff ends the wait and keeps it stopped", async () => {
    const { app, journal } = shellAppliance(
      "waiting",
      { command: "exit 1" },
      { settings: { backoffBaseMs: 600_000, backoffMaxMs: 600_000 } },
    );
    await app.start();
    await eventually("in backoff", () => app.status().state === "backoff");
    assert.deepEqual(await app.stop(), { forced: false, killed: 0, escaped: 0 });
    assert.equal(app.status().state, "stopped");
    assert.equal(journal.of("appliance:start").length, 2);
  });
});
