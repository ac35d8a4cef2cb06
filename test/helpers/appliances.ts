/**
 * Shared pieces of the appliance tests: a shell appliance in a temp log folder with small
 * settings, and a journal of its events in the order they happened.
 */

import { createServer } from "node:net";
import { APPLIANCE_EVENT_NAMES, type ApplianceEvents } from "../../src/appliances/events.ts";
import { type Appliance, type ApplianceDefinition, type ApplianceOptions, createAppliance } from "../../src/appliances/instance.ts";
import { shellRunner } from "../../src/appliances/shell/shell-runner.ts";
import type { ShellSpec } from "../../src/appliances/shell/spec.ts";
import { tempDir } from "./temp-dir.ts";

/** The test process's PATH, so `node`, `npm` and `setsid` are found; nothing else is inherited. */
export const PATH_ENV = { PATH: process.env.PATH ?? "/usr/bin:/bin" };

export function shellAppliance(
  name: string,
  spec: ShellSpec,
  definition: Partial<Omit<ApplianceDefinition<ShellSpec>, "name" | "runner" | "spec">> = {},
  options: Omit<ApplianceOptions, "logDir"> = {},
): { app: Appliance; journal: Journal; logDir: string } {
  const logDir = tempDir("lively-app-");
  const app = createAppliance(
    { name, runner: shellRunner, spec: { ...spec, env: { ...PATH_ENV, ...spec.env } }, ...definition },
    { logDir, ...options },
  );
  made.add(app);
  return { app, journal: new Journal(app), logDir };
}

const made = new Set<Appliance>();

/** For `after()`: kill every appliance a test made, so a failed test leaves no process behind. */
export async function killAllAppliances(): Promise<void> {
  await Promise.all([...made].map((app) => app.stop({ kill: true })));
  made.clear();
}

type Entry = { [E in keyof ApplianceEvents]: { event: E; payload: ApplianceEvents[E] } }[keyof ApplianceEvents];

/** Every event of one appliance, in order. */
export class Journal {
  readonly entries: Entry[] = [];

  constructor(app: Appliance) {
    for (const event of APPLIANCE_EVENT_NAMES) app.on(event, (payload) => this.entries.push({ event, payload } as Entry));
  }

  of<E extends keyof ApplianceEvents>(event: E): ApplianceEvents[E][] {
    return this.entries.filter((entry) => entry.event === event).map((entry) => entry.payload as ApplianceEvents[E]);
  }

  /** The states entered, in order. */
  states(): string[] {
    return this.of("appliance:state").map((change) => change.to);
  }

  /** Event names without `appliance:`, state changes left out. */
  names(): string[] {
    return this.entries.filter((entry) => entry.event !== "appliance:state").map((entry) => entry.event.slice("appliance:".length));
  }
}

/** A loopback port free right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Small settings for appliances on test nodes: no test waits out production's seconds. */
export const FAST_APPLIANCES = { graceMs: 2_000, backoffBaseMs: 20, backoffMaxMs: 200, readinessIntervalMs: 20 };
