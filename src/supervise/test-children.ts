/**
 * Children for the supervisor tests, used by nothing else. Every start makes a fresh
 * instance a test can crash or end; the journal records starts, stops and kills in order.
 */
import type { ChildHandle, ChildSpec, RestartType, Supervisor, SupervisorEvents } from "./supervisor.ts";

export interface Instance {
  crash(message?: string): void;
  exit(): void;
}

export class Journal {
  readonly lines: string[] = [];
  private readonly instances = new Map<string, Instance[]>();

  /** The newest instance of `id`. */
  current(id: string): Instance {
    const list = this.instances.get(id) ?? [];
    const last = list[list.length - 1];
    if (!last) throw new Error(`no instance of ${id} was started`);
    return last;
  }

  /** Lines written since `mark` (a previous `lines.length`). */
  since(mark: number): string[] {
    return this.lines.slice(mark);
  }

  add(id: string, instance: Instance): void {
    this.instances.set(id, [...(this.instances.get(id) ?? []), instance]);
  }
}

export interface FakeOptions {
  /** Ignore stop(); only kill() ends it. */
  ignoreStop?: boolean;
  /** Throw from start on these start attempts (1-based). */
  failStart?: (attempt: number) => boolean;
  /** Crash right after starting. */
  crashAtOnce?: boolean;
  shutdownMs?: number;
}

export function fake(journal: Journal, id: string, restart: RestartType, options: FakeOptions = {}): ChildSpec {
  let attempts = 0;
  return {
    id,
    restart,
    shutdownMs: options.shutdownMs,
    start: async (): Promise<ChildHandle> => {
      attempts += 1;
      if (options.failStart?.(attempts)) throw new Error(`${id} cannot start`);
      journal.lines.push(`start:${id}`);
      let end!: () => void;
      let fail!: (error: Error) => void;
      const done = new Promise<void>((resolve, reject) => {
        end = resolve;
        fail = reject;
      });
      journal.add(id, { crash: (message = `${id} crashed`) => fail(new Error(message)), exit: () => end() });
      if (options.crashAtOnce) setImmediate(() => fail(new Error(`${id} crashed at once`)));
      return {
        done,
        stop: async () => {
          journal.lines.push(`stop:${id}`);
          if (!options.ignoreStop) setImmediate(end);
        },
        kill: () => {
          journal.lines.push(`kill:${id}`);
          end();
        },
      };
    },
  };
}

/** The next `event` from `supervisor` that `match` accepts. */
export function next<E extends keyof SupervisorEvents>(
  supervisor: Supervisor,
  event: E,
  match: (payload: SupervisorEvents[E]) => boolean = () => true,
): Promise<SupervisorEvents[E]> {
  return new Promise((resolve) => {
    const off = supervisor.on(event, (payload) => {
      if (!match(payload)) return;
      off();
      resolve(payload);
    });
  });
}
