/**
 * What a Dispatcher (dispatcher.ts) is built with, what it is handed and answers, and its record
 * of one request in flight. Types only.
 */
import type { LivelyError } from "../../errors.ts";
import type { CallItem, CallValueResult, FetchItem, ResponseResult, SlotTag, Untrusted } from "../isolate/protocol.ts";
import type { ArrivingBody, CallerContext, SandboxLimits } from "../sandbox.ts";
import type { HostStreamedBody, kStreamed } from "../streamed-body.ts";
import type { Watchdog } from "../watchdog.ts";
import type { IvmIsolate, IvmReference } from "./isolated-vm.ts";

/** A request or call as the sandbox hands it over; submit() adds the slot tag. */
export type UntaggedItem = Omit<FetchItem, keyof SlotTag> | Omit<CallItem, keyof SlotTag>;

/**
 * What the isolate answered for a request or call: known to be an object, not a failure; its
 * fields unchecked. A streamed response's head carries its body under kStreamed (set by the host).
 */
export type WireResult = Untrusted<ResponseResult | CallValueResult> & { [kStreamed]?: HostStreamedBody };

export interface Pending {
  resolve(result: WireResult): void;
  reject(error: LivelyError): void;
  deadline: number;
  /** The response went out; only waitUntil work or a body still streaming keeps the slot. */
  answered: boolean;
  /** Its waitUntil promises have not all settled. */
  waiting: boolean;
  /** The request's body, when it is still arriving: the module reads it chunk by chunk. */
  requestBody?: ArrivingBody;
  /** Set while a read of requestBody waits for the client: the wall deadline waits too (slot-bodies.ts). */
  clientWaitSince?: number;
  /** Its body, while the module is still sending it (a ReadableStream it answered with). */
  stream?: HostStreamedBody;
  /** Its wall time passed and it was answered 504; the slot waits for the isolate's late answer. */
  abandoned: boolean;
  caller: CallerContext;
  /** Names this occupant of the slot in env.call, so an env kept past its request is recognised. */
  gen: number;
}

export interface DispatcherOptions {
  module: string;
  version: number;
  isolate: IvmIsolate;
  dispatch: IvmReference;
  collect: IvmReference;
  /** The isolate's cancelBody(slot, gen) (dispatch.ts): a streamed body's client went away. */
  cancelBody?: IvmReference;
  limits: SandboxLimits;
  watchdog: Watchdog;
  /** Time charged for the isolate's synchronous host calls, in ns (HostBindings.hostTimeNs). */
  hostTimeNs(): number;
  /** Host timers and work the isolate has pending: while any is, its background CPU is watched. */
  backgroundPending(): boolean;
  /** The isolate was killed (a limit) or died; the cache replaces it. */
  onKilled(error: LivelyError): void;
  /** The last request in flight finished (a retired version may be disposed now). */
  onIdle(): void;
  /** The isolate runs a module appliance's run(ctx), not requests: limit messages say so. */
  forRun?: boolean;
  /** A line for the module's log: its failures (with an error id), unhandled rejections, kills. */
  onModuleError(text: string): void;
}
