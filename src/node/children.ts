/**
 * Small pieces the node's supervision tree is built from.
 *
 * Owns: nothing stateful. Must not import cli/.
 */
import { hostname } from "node:os";
import type { ChildHandle } from "../supervise/supervisor.ts";

/** A resource as a child: it runs until stopped, and stopping releases it. */
export function resourceChild(release: () => Promise<void> | void): ChildHandle {
  let ended: () => void = () => undefined;
  const done = new Promise<void>((resolveDone) => {
    ended = resolveDone;
  });
  return {
    done,
    async stop() {
      try {
        await release();
      } finally {
        ended();
      }
    },
  };
}

/** A part a child made, for a child started after it. */
export const need = <T>(part: T | undefined, name: string): T => {
  if (part === undefined) throw new Error(`node: ${name} is not running`);
  return part;
};

/** `http://host:port` as others reach it: a wildcard listen address says nothing, so name the machine. */
export function advertisedAddress(host: string, port: number): string {
  const name = host === "0.0.0.0" || host === "::" || host === "" ? hostname() : host;
  return `http://${name.includes(":") ? `[${name}]` : name}:${port}`;
}
