/**
 * The fence keeper (src/appliances/placement/fence-keeper.ts) as a real process killing real
 * processes: past its deadline it kills the runs of its life, and it keeps sweeping until the
 * node speaks again, so a run that appears after the first pass is caught too.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { after, describe, it } from "node:test";
import { FenceKeeper } from "../src/appliances/placement/fence-keeper.ts";
import { RUN_TAG_VARIABLE } from "../src/appliances/runner.ts";
import { silentLogger } from "../src/log.ts";
import { eventually } from "./helpers/eventually.ts";

describe("fence keeper", () => {
  const life = `test${randomBytes(4).toString("hex")}`;
  const keeper = new FenceKeeper(life, silentLogger);
  const started: ChildProcess[] = [];
  after(() => {
    keeper.close();
    for (const child of started) child.kill("SIGKILL");
  });

  /** A process tagged as a leased run of `life`; resolves once it is up (or already killed). */
  const taggedRun = async (): Promise<ChildProcess> => {
    const env = { ...process.env, [RUN_TAG_VARIABLE]: `web:${life}-${randomBytes(3).toString("hex")}` };
    const child = spawn(process.execPath, ["-e", "console.log('up'); setInterval(() => {}, 1e6)"], {
      env,
      stdio: ["ignore", "pipe", "ignore"],
    });
    started.push(child);
    await new Promise((resolve) => {
      child.stdout?.once("data", resolve);
      child.once("exit", resolve);
    });
    return child;
  };
  const ended = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;

  it("kills past its deadline, and keeps killing what appears later until armed again", async () => {
    keeper.start();
    const first = await taggedRun();
    keeper.arm(0);
    await eventually("the first run killed", () => ended(first));
    const late = await taggedRun();
    await eventually("a run that appeared after the first pass killed too", () => ended(late));
    assert.equal(late.signalCode, "SIGKILL");
  });
});
