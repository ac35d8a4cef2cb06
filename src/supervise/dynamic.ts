/**
 * A dynamic supervisor (OTP's DynamicSupervisor, the guide's Task.Supervisor): children are
 * started one by one while it runs, e.g. one per accepted connection, and are all temporary:
 * a child that ends, normally or by a crash, is never restarted (a connection cannot be), and
 * its end never touches its siblings. A crash is logged and counted; that is all.
 *
 * - `maxChildren` bounds how many run at once: `startChild` past it throws `overloaded`, so
 *   the caller can refuse the work clearly instead of queueing it.
 * - `stop()` stops every child at once, each given `shutdownMs`, then `kill()`; a supervisor
 *   that is stopping refuses new children (`unavailable`).
 * - It is itself a ChildHandle: put it under a supervisor (its `done` resolves after stop()).
 *
 * ```ts
 * const handlers = startDynamicSupervisor({ name: "kv-tcp", maxChildren: 1024, log });
 * handlers.startChild(`conn-${n}`, () => handleConnection(socket)); // throws `overloaded` at 1024
 * handlers.count;                                                   // running now
 * await handlers.stop();
 * ```
 *
 * Imports nothing from other Lively layers but errors.ts and log.ts (as supervisor.ts).
 */
import { LivelyError, toError } from "../errors.ts";
import { type Logger, silentLogger } from "../log.ts";
import { shutdown } from "./child.ts";
import type { ChildHandle } from "./supervisor.ts";

export interface DynamicSupervisorOptions {
  name: string;
  /** Most children at once; default unbounded. */
  maxChildren?: number;
  /** How long a child's stop() may take before kill(); default 5000. */
  shutdownMs?: number;
  log?: Logger;
}

export interface DynamicStats {
  running: number;
  started: number;
  crashed: number;
  refused: number;
}

export interface DynamicSupervisor extends ChildHandle {
  /** Start a child now; throws `overloaded` at maxChildren, `unavailable` once stopping. */
  startChild(id: string, start: () => ChildHandle): ChildHandle;
  /** Children running now. */
  readonly count: number;
  stats(): DynamicStats;
  kill(): void;
}

export function startDynamicSupervisor(options: DynamicSupervisorOptions): DynamicSupervisor {
  const log = (options.log ?? silentLogger).child({ layer: "supervise", supervisor: options.name });
  const maxChildren = options.maxChildren ?? Number.POSITIVE_INFINITY;
  const shutdownMs = options.shutdownMs ?? 5000;
  const children = new Map<string, ChildHandle>();
  const counts = { started: 0, crashed: 0, refused: 0 };
  let stopping: Promise<void> | undefined;
  let ended: () => void = () => undefined;
  const done = new Promise<void>((resolve) => {
    ended = resolve;
  });

  const supervisor: DynamicSupervisor = {
    done,
    get count() {
      return children.size;
    },
    stats: () => ({ running: children.size, ...counts }),
    startChild(id, start) {
      if (stopping) throw new LivelyError("unavailable", `${options.name} is stopping`, { supervisor: options.name });
      if (children.size >= maxChildren) {
        counts.refused++;
        throw new LivelyError("overloaded", `${options.name} runs its limit of ${maxChildren} children`, {
          supervisor: options.name,
          limit: maxChildren,
        });
      }
      if (children.has(id)) throw new LivelyError("internal", `${options.name}: two children have the id "${id}"`);
      const handle = start();
      children.set(id, handle);
      counts.started++;
      handle.done.then(
        () => children.delete(id),
        (thrown: unknown) => {
          children.delete(id);
          counts.crashed++;
          log.warn({ child: id, err: toError(thrown) }, "child crashed; its siblings run on");
        },
      );
      return handle;
    },
    stop() {
      stopping ??= Promise.all(
        [...children].map(([id, handle]) =>
          shutdown(handle, shutdownMs, (what, err) => log.warn({ child: id, err }, `child ${what}() threw`)),
        ),
      ).then(() => ended());
      return stopping;
    },
    kill() {
      stopping ??= Promise.resolve();
      for (const [id, handle] of children) {
        try {
          if (handle.kill) handle.kill();
          else void handle.stop().catch((err: unknown) => log.warn({ child: id, err: toError(err) }, "child stop() threw"));
        } catch (err) {
          log.warn({ child: id, err: toError(err) }, "child kill() threw");
        }
      }
      ended();
    },
  };
  return supervisor;
}
