/**
 * Inside the isolate (see bindings.ts): host work the isolate awaits (env.call, fetch). Each is
 * started fire-and-forget with host.startAsync and settled when the host calls
 * host.onAsync(id, ok, value) back in here (protocol.ts, HostAsync and FireArgs). The prelude
 * hands hostAsync to the dispatcher (env.call); fetch.ts uses it too.
 */
import { host } from "./bindings.ts";
import { type AbortSignal, DOMException } from "./events.ts";
import type { HostAsync, HostAsyncKind } from "./protocol.ts";

// Captured now, and counted in a plain number, like the timers (timers.ts): every startAsync is
// a message to Node's main thread.
const mapGet = Map.prototype.get;
const mapSet = Map.prototype.set;
const mapDelete = Map.prototype.delete;

interface Pending {
  resolve(value: unknown): void;
  reject(reason: unknown): void;
  counted: boolean;
}
const asyncPending = new Map<number, Pending>();
let asyncCount = 0;
let nextAsync = 0;

export const hostAsync = <K extends HostAsyncKind>(
  kind: K,
  payload: HostAsync[K]["payload"],
  signal: AbortSignal | undefined = undefined,
): Promise<HostAsync[K]["answer"]> =>
  new Promise((resolve, reject) => {
    const abortReason = () => signal!.reason ?? new DOMException("The operation was aborted.", "AbortError");
    if (signal?.aborted) throw abortReason();
    // A streamed response's messages, a request body's reads and a WebSocket's are not counted:
    // each has at most one (a socket: one poll and one send) in flight, the host bounds the
    // sockets, and 100 clients of one event stream are not 100 operations of the module.
    const counted = kind !== "body" && kind !== "requestBody" && kind !== "ws";
    if (counted && asyncCount >= host.maxPendingAsync) {
      throw new TypeError(
        kind +
          ": this isolate already has " +
          host.maxPendingAsync +
          " host operations (env.call, fetch) in flight; await some before starting more",
      );
    }
    const id = ++nextAsync;
    Reflect.apply(mapSet, asyncPending, [id, { resolve, reject, counted }]);
    if (counted) asyncCount++;
    host.startAsync(id, kind, payload);
    if (signal) {
      signal.addEventListener("abort", () => {
        if (!Reflect.apply(mapDelete, asyncPending, [id])) return;
        if (counted) asyncCount--;
        host.cancelAsync(id);
        reject(abortReason());
      });
    }
  });

host.onAsync = (id, ok, value) => {
  const p: Pending | undefined = Reflect.apply(mapGet, asyncPending, [id]);
  if (!p) return;
  Reflect.apply(mapDelete, asyncPending, [id]);
  if (p.counted) asyncCount--;
  if (ok) p.resolve(value);
  else p.reject(new TypeError(String(value)));
};
