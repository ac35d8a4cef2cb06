/**
 * The fence keeper: one small helper process per node that kills the node's appliance runs when
 * the node goes silent. Why a separate process: a node paused with SIGSTOP (or frozen by a
 * debugger, a stalled VM, swap) cannot act at all, so it cannot stop its appliances when its
 * leases run out; without help, the copy it runs would still run when another node takes the
 * lease over, and two copies would run at once (Nomad's duplicate-after-partition problem).
 *
 * The node tells the keeper, over a pipe, after every lease renewal: "arm <at>": if you hear
 * nothing new by <at>, kill my runs. <at> is the earliest lease expiry minus a margin, measured
 * from when the renewal was SENT, on the machine's monotonic clock (`process.hrtime`, the same
 * CLOCK_MONOTONIC in both processes, so a message read late is not a deadline moved late); the
 * keeper, on its own timer, kills before the lease can expire in the database and another node
 * can take it. "disarm": this node holds no lease now. "exit": a clean stop (the node has
 * stopped its appliances itself). End of file on the pipe (the node died) kills at once.
 *
 * What "my runs" are: every process whose run tag carries this node process's life (`:<life>-`,
 * run-once.ts's RUN_LIFE; at EOF also the transient appliances' `:<life>t-`), found through /proc
 * as proc.ts does, so also a run the node had no time to mention; the process group of each
 * run's main process (catching a child that cleared its environment); and Docker containers
 * whose `lively.run` label carries it.
 *
 * The keeper is a plain Node script run with `node -e` (nothing to build; started with the
 * appliance child, not at the first lease, since a paused node could not start it then), in its
 * own session (`detached`), so a signal to the node's process group does not reach it.
 *
 * Owns the keeper and its protocol; must not import api/, cli/, gateway/, store/.
 */
import { type ChildProcess, spawn } from "node:child_process";
import type { Logger } from "../../log.ts";
import { RUN_TAG_VARIABLE } from "../runner.ts";

/** The keeper itself: plain JavaScript, argv[1] the life to kill. */
const KEEPER_SCRIPT = String.raw`
"use strict";
const fs = require("node:fs");
const http = require("node:http");
const leased = ":" + process.argv[1] + "-";
const everyRun = ":" + process.argv[1];
const needle = "${RUN_TAG_VARIABLE}=";
let timer;
let buffered = "";
// Every message starts a new generation: a firing keeps sweeping while its generation is current.
let generation = 0;

function stat(pid) {
  try {
    const text = fs.readFileSync("/proc/" + pid + "/stat", "latin1");
    const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { state: f[0], group: Number(f[2]) };
  } catch { return undefined; }
}
function tagged(pid, marker) {
  try {
    const env = fs.readFileSync("/proc/" + pid + "/environ", "latin1").split("\0");
    const line = env.find((v) => v.startsWith(needle));
    return line !== undefined && line.includes(marker);
  } catch { return false; }
}
function sweepOnce(marker) {
  let found = 0;
  for (const name of fs.readdirSync("/proc")) {
    const pid = Number(name);
    if (!(pid > 1) || pid === process.pid || !tagged(pid, marker)) continue;
    const s = stat(pid);
    if (!s || s.state === "Z" || s.state === "X") continue;
    found++;
    // The run's main process leads its own group: the group holds a child that cleared its environment.
    if (s.group === pid) try { process.kill(-pid, "SIGKILL"); } catch {}
    try { process.kill(pid, "SIGKILL"); } catch {}
  }
  return found;
}
function docker(method, path) {
  const host = process.env.DOCKER_HOST || "";
  const socketPath = host.startsWith("unix://") ? host.slice(7) : "/var/run/docker.sock";
  if (host && !host.startsWith("unix://")) return Promise.resolve(undefined);
  return new Promise((done) => {
    const req = http.request({ socketPath, path, method, timeout: 2000 }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => { try { done(JSON.parse(body)); } catch { done(undefined); } });
    });
    req.on("error", () => done(undefined));
    req.on("timeout", () => { req.destroy(); done(undefined); });
    req.end();
  });
}
async function killContainers(marker) {
  if (!fs.existsSync((process.env.DOCKER_HOST || "unix:///var/run/docker.sock").replace("unix://", ""))) return;
  const list = await docker("GET", "/containers/json?filters=" + encodeURIComponent(JSON.stringify({ label: ["lively.run"] })));
  for (const c of Array.isArray(list) ? list : []) {
    const tag = c.Labels && c.Labels["lively.run"];
    if (typeof tag === "string" && tag.includes(marker)) await docker("POST", "/containers/" + c.Id + "/kill");
  }
}
const pause = (ms) => new Promise((r) => setTimeout(r, ms));
async function sweepBurst(marker) {
  const until = Date.now() + 2000;
  // Again and again: a process forked between two scans is found by the next.
  while (sweepOnce(marker) > 0 && Date.now() < until) await pause(5);
}
// One pass: containers first (an engine call is slow), beside the process sweep.
function killPass(marker) {
  return Promise.all([killContainers(marker).catch(() => undefined), sweepBurst(marker)]);
}
// Past the deadline: kill, and keep killing every 100 ms until the node speaks again (a run
// caught between fork and exec, or a container that finished starting after a pass).
async function fire(marker, since) {
  while (since === generation) {
    await killPass(marker);
    await pause(100);
  }
}
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  buffered += chunk;
  let at;
  while ((at = buffered.indexOf("\n")) >= 0) {
    const line = buffered.slice(0, at).trim();
    buffered = buffered.slice(at + 1);
    if (line === "exit") process.exit(0);
    clearTimeout(timer);
    const since = ++generation;
    if (line.startsWith("arm ")) {
      const deadline = Number(line.slice(4)) || 0;
      timer = setTimeout(fire, Math.max(0, deadline - Number(process.hrtime.bigint() / 1000000n)), leased, since);
    }
  }
});
process.stdin.on("end", async () => {
  clearTimeout(timer);
  generation++;
  // Twice: what was between fork and exec, or still starting, at the first pass.
  await killPass(everyRun);
  await pause(100);
  await killPass(everyRun);
  process.exit(0);
});
process.on("SIGTERM", () => undefined);
process.on("SIGINT", () => undefined);
process.on("SIGHUP", () => undefined);
`;

/** A keeper that ended sooner than this after its start is started again only after this long (no tight loop). */
const RESPAWN_PAUSE_MS = 1_000;

export class FenceKeeper {
  private child: ChildProcess | undefined;
  private closed = false;
  /** The last arm or disarm, told again to a keeper started after the previous one died. */
  private last: string | undefined;
  private respawnTimer: NodeJS.Timeout | undefined;

  constructor(
    /** The life whose runs it kills (run-once.ts's RUN_LIFE). */
    private readonly life: string,
    private readonly log: Logger,
  ) {}

  /** Start the keeper now (not at the first arm): a paused node cannot start it later. */
  start(): void {
    if (!this.child && !this.closed) this.spawn();
  }

  /** Kill this node's runs unless told otherwise within `ms` (0: now). */
  arm(ms: number): void {
    const at = Number(process.hrtime.bigint() / 1_000_000n) + Math.max(0, Math.floor(ms));
    this.send(`arm ${at}`);
  }

  /** This node holds no lease: nothing to kill on a timer (EOF still kills). */
  disarm(): void {
    this.send("disarm");
  }

  /** A clean stop: the node stopped its appliances itself; the keeper goes without killing. */
  close(): void {
    this.closed = true;
    clearTimeout(this.respawnTimer);
    if (this.child?.stdin?.writable) this.child.stdin.end("exit\n");
    this.child = undefined;
  }

  private send(line: string): void {
    if (this.closed) return;
    this.last = line;
    const child = this.child ?? this.spawn();
    if (child.stdin?.writable) child.stdin.write(`${line}\n`);
  }

  /** The keeper died (or never started): never run without one; start another, soon if it died young. */
  private respawnAfter(child: ChildProcess, spawnedAt: number, failed: boolean): void {
    if (this.child !== child) return; // heard already (error and exit both come)
    this.child = undefined;
    if (this.closed) return;
    const young = failed || performance.now() - spawnedAt < RESPAWN_PAUSE_MS;
    clearTimeout(this.respawnTimer);
    this.respawnTimer = setTimeout(
      () => {
        this.respawnTimer = undefined;
        if (this.closed || this.child) return;
        const next = this.spawn();
        if (this.last !== undefined && next.stdin?.writable) next.stdin.write(`${this.last}\n`);
      },
      young ? RESPAWN_PAUSE_MS : 0,
    );
    this.respawnTimer.unref();
  }

  private spawn(): ChildProcess {
    const env = { ...process.env };
    // Plain Node: no loader of the node's own (tsx in development) slows its start.
    delete env.NODE_OPTIONS;
    delete env[RUN_TAG_VARIABLE];
    const spawnedAt = performance.now();
    const child = spawn(process.execPath, ["-e", KEEPER_SCRIPT, this.life], { detached: true, stdio: ["pipe", "ignore", "ignore"], env });
    child.on("error", (err) => {
      if (this.child !== child || this.closed) return;
      this.log.error({ err }, "the appliance fence keeper failed: starting another; this node is not fenced until it runs");
      this.respawnAfter(child, spawnedAt, true);
    });
    child.on("exit", (code, signal) => {
      if (this.child !== child || this.closed) return;
      this.log.error({ code, signal }, "the appliance fence keeper ended: starting another");
      this.respawnAfter(child, spawnedAt, false);
    });
    child.stdin?.on("error", () => undefined);
    // Neither the keeper nor its pipe keeps this node's event loop alive.
    child.unref();
    (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    this.child = child;
    return child;
  }
}
