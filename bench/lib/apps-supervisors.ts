/**
 * The two supervisors bench:apps compares, behind one small interface: a real `lively serve`
 * node (SQLite in a temp folder, appliances through the admin API's /apps) and a PM2 daemon
 * with a private PM2_HOME (through the `pm2` CLI of node_modules/.bin). Each is told the same
 * things: run this program with this environment, stop it, run N `sleep 1000`, and its own pid.
 * Must not import src/ (the node is measured from outside, as a user runs it).
 */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { until } from "./apps-procs.ts";
import { spawnChild, tempDir } from "./http-procs.ts";

export interface AppSpec {
  name: string;
  /** An absolute program path and its arguments (no shell in between). */
  command: string;
  args: string[];
  env: Record<string, string>;
}

export interface Supervisor {
  label: string;
  /** The supervisor's own process (the node; PM2's God daemon). */
  pid(): number;
  start(app: AppSpec): Promise<void>;
  /** Returns once the supervisor says the app is stopped. */
  stop(name: string): Promise<void>;
  remove(name: string): Promise<void>;
  /** `count` appliances each running `sleep 1000`, all up when it returns. */
  startSleepers(count: number): Promise<void>;
  /** A command that does nothing (GET /apps; `pm2 ping`): what any stop's time includes. */
  noop(): Promise<void>;
  close(): Promise<void>;
}

/** Grace (SIGTERM → SIGKILL) given to both, so stop times compare: PM2's default is 1.6 s, Lively's 10 s. */
export const GRACE_MS = 2000;
/** A run this long resets restart backoff: Lively's stableMs and PM2's --min-uptime, both set to it. */
export const STABLE_MS = 500;

/**
 * Both supervisors run with a bare environment. PM2 hands its CLI's (and its daemon's) to every
 * app, where Lively gives an app only its config's `env`; inherited variables can cost a Node
 * start dearly (NODE_EXTRA_CA_CERTS, set on the machine this was written on, adds about 70 ms to
 * each) and would be charged to PM2 alone. The node gets the same, so its RSS carries no more.
 */
const BARE_ENV = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp" };

export async function startLively(root: string): Promise<Supervisor> {
  const dir = tempDir("lively-bench-apps-node-");
  const child = spawnChild(
    "lively serve",
    process.execPath,
    ["--no-node-snapshot", "bin/lively.js", "serve", "--db", join(dir, "store.db"), "--port", "0", "--data-dir", dir, "--json"],
    { cwd: root, env: { ...BARE_ENV, LIVELY_LOG_LEVEL: "warn" } },
  );
  const ready = await child.waitForLine((line) => {
    try {
      return (JSON.parse(line) as { url?: string }).url;
    } catch {
      return undefined;
    }
  }, 30_000);
  const token = readFileSync(join(dir, "admin.token"), "utf8").trim();
  const api = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const response = await fetch(`${ready}/_lively/api/v1/apps${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} /apps${path}: ${response.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
  const settings = { stableMs: STABLE_MS, graceMs: GRACE_MS };
  return {
    label: "Lively",
    pid: () => child.process.pid as number,
    async start(app) {
      await api("POST", "", { config: { name: app.name, cmd: app.command, args: app.args, env: app.env, restart: "permanent", settings } });
    },
    async stop(name) {
      await api("POST", `/${name}/stop`, {});
    },
    async remove(name) {
      await api("DELETE", `/${name}`);
    },
    async startSleepers(count) {
      for (let i = 0; i < count; i += 1) {
        await api("POST", "", { config: { name: `sleep-${i}`, cmd: "/bin/sleep", args: ["1000"], settings } });
      }
      await until(
        `${count} sleepers running under Lively`,
        async () => {
          const all = (await api("GET", "")) as Array<{ name: string; pid: number | null }>;
          return all.filter((a) => a.name.startsWith("sleep-") && a.pid).length >= count;
        },
        60_000,
        200,
      );
    },
    async noop() {
      await api("GET", "");
    },
    async close() {
      await child.stop();
    },
  };
}

export function startPm2(root: string): Supervisor {
  const home = tempDir("lively-bench-apps-pm2-");
  const bin = join(root, "node_modules", ".bin", "pm2");
  const pm2 = (args: string[], env: Record<string, string> = {}) => {
    const run = spawnSync(bin, args, { cwd: home, encoding: "utf8", env: { ...BARE_ENV, PM2_HOME: home, ...env } });
    if (run.status !== 0) throw new Error(`pm2 ${args.join(" ")}: ${run.status} ${run.stderr || run.stdout}`);
    return run.stdout;
  };
  // Start the daemon with a clean environment before any app's marker is about.
  pm2(["ping"]);
  // An ecosystem file per start: min_uptime has no CLI flag in PM2 7.
  const startFile = (file: string, apps: object[]) => {
    writeFileSync(join(home, file), `module.exports = ${JSON.stringify({ apps })};\n`);
    pm2(["start", join(home, file)]);
  };
  return {
    label: "PM2",
    pid: () => Number(readFileSync(join(home, "pm2.pid"), "utf8").trim()),
    async start(app) {
      // A Node program runs in PM2's fork mode (its wrapper requires it); any other program runs itself.
      const node = app.command === process.execPath;
      startFile(`${app.name}.config.js`, [
        {
          name: app.name,
          script: node ? app.args[0] : app.command,
          args: node ? app.args.slice(1) : app.args,
          ...(node ? {} : { interpreter: "none" }),
          env: app.env,
          min_uptime: STABLE_MS,
          kill_timeout: GRACE_MS,
        },
      ]);
    },
    async stop(name) {
      pm2(["stop", name]);
    },
    async remove(name) {
      pm2(["delete", name]);
    },
    async startSleepers(count) {
      const apps = Array.from({ length: count }, (_, i) => ({
        name: `sleep-${i}`,
        script: "/bin/sleep",
        args: "1000",
        interpreter: "none",
      }));
      const file = join(home, "sleepers.config.js");
      writeFileSync(file, `module.exports = ${JSON.stringify({ apps })};\n`);
      pm2(["start", file]);
      await until(
        `${count} sleepers running under PM2`,
        () => {
          const list = JSON.parse(pm2(["jlist"])) as Array<{ name: string; pid: number }>;
          return list.filter((a) => a.name.startsWith("sleep-") && a.pid > 0).length >= count;
        },
        60_000,
        500,
      );
    },
    async noop() {
      pm2(["ping"]);
    },
    async close() {
      spawnSync(bin, ["kill"], { cwd: home, encoding: "utf8", env: { ...BARE_ENV, PM2_HOME: home } });
    },
  };
}
