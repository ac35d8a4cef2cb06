/**
 * Inside the isolate (see bindings.ts): DOMException, Event, EventTarget, AbortController and
 * AbortSignal, as module code expects them from the Web platform.
 */
import { def } from "./bindings.ts";
import { reportError } from "./console.ts";
import { setTimeout } from "./timers.ts";
import { kInternal, need } from "./util.ts";

const DOM_CODES: Record<string, number> = {
  IndexSizeError: 1,
  HierarchyRequestError: 3,
  WrongDocumentError: 4,
  InvalidCharacterError: 5,
  NoModificationAllowedError: 7,
  NotFoundError: 8,
  NotSupportedError: 9,
  InvalidStateError: 11,
  SyntaxError: 12,
  InvalidModificationError: 13,
  NamespaceError: 14,
  InvalidAccessError: 15,
  TypeMismatchError: 17,
  SecurityError: 18,
  NetworkError: 19,
  AbortError: 20,
  URLMismatchError: 21,
  QuotaExceededError: 22,
  TimeoutError: 23,
  InvalidNodeTypeError: 24,
  DataCloneError: 25,
};
export class DOMException extends Error {
  constructor(message: unknown = "", name: unknown = "Error") {
    super(String(message));
    Object.defineProperty(this, "name", { value: String(name), writable: true, configurable: true });
  }
  get code(): number {
    return DOM_CODES[this.name] || 0;
  }
}
def("DOMException", DOMException);

interface EventInit {
  cancelable?: boolean;
  bubbles?: boolean;
}
let eventInternals: {
  begin(e: Event, target: EventTarget): void;
  end(e: Event): void;
  stopped(e: Event): boolean;
};
export class Event {
  #type: string;
  #cancelable: boolean;
  #bubbles: boolean;
  #canceled = false;
  #stop = false;
  #target: EventTarget | null = null;
  #current: EventTarget | null = null;
  declare timeStamp: number;
  constructor(type: string, init: EventInit | undefined = undefined) {
    need(arguments.length, 1, "Event");
    this.#type = String(type);
    this.#cancelable = !!init?.cancelable;
    this.#bubbles = !!init?.bubbles;
    this.timeStamp = Date.now();
  }
  static {
    eventInternals = {
      begin(e, target) {
        e.#target = target;
        e.#current = target;
        e.#stop = false;
      },
      end(e) {
        e.#current = null;
      },
      stopped: (e) => e.#stop,
    };
  }
  get type() {
    return this.#type;
  }
  get target() {
    return this.#target;
  }
  get srcElement() {
    return this.#target;
  }
  get currentTarget() {
    return this.#current;
  }
  get cancelable() {
    return this.#cancelable;
  }
  get bubbles() {
    return this.#bubbles;
  }
  get composed() {
    return false;
  }
  get defaultPrevented() {
    return this.#canceled;
  }
  get eventPhase() {
    return this.#current ? 2 : 0;
  }
  get isTrusted() {
    return false;
  }
  composedPath() {
    return this.#current ? [this.#current] : [];
  }
  preventDefault() {
    if (this.#cancelable) this.#canceled = true;
  }
  stopPropagation() {}
  stopImmediatePropagation() {
    this.#stop = true;
  }
  get [Symbol.toStringTag]() {
    return "Event";
  }
}

type EventListener = ((this: EventTarget, event: Event) => unknown) | { handleEvent(event: Event): unknown };
interface ListenerOptions {
  capture?: boolean;
  once?: boolean;
  signal?: AbortSignal;
}
interface Listener {
  callback: EventListener;
  capture: boolean;
  once: boolean;
  removed: boolean;
}
export class EventTarget {
  #listeners = new Map<string, Listener[]>();
  addEventListener(type: string, callback: EventListener | null | undefined, options: boolean | ListenerOptions | undefined = undefined) {
    if (callback === null || callback === undefined) return;
    const opts = typeof options === "boolean" ? { capture: options } : options || {};
    const capture = !!opts.capture;
    type = String(type);
    let list = this.#listeners.get(type);
    if (!list) {
      list = [];
      this.#listeners.set(type, list);
    }
    if (list.some((l) => l.callback === callback && l.capture === capture)) return;
    const signal = opts.signal;
    if (signal?.aborted) return;
    list.push({ callback, capture, once: !!opts.once, removed: false });
    if (signal) signal.addEventListener("abort", () => this.removeEventListener(type, callback, { capture }));
  }
  removeEventListener(
    type: string,
    callback: EventListener | null | undefined,
    options: boolean | ListenerOptions | undefined = undefined,
  ) {
    const capture = typeof options === "boolean" ? options : !!options?.capture;
    const list = this.#listeners.get(String(type));
    if (!list) return;
    const i = list.findIndex((l) => l.callback === callback && l.capture === capture);
    if (i >= 0) {
      list[i].removed = true;
      list.splice(i, 1);
    }
  }
  dispatchEvent(event: Event) {
    if (!(event instanceof Event)) throw new TypeError("Failed to execute 'dispatchEvent': parameter 1 is not of type 'Event'.");
    eventInternals.begin(event, this);
    const list = this.#listeners.get(event.type);
    try {
      for (const l of list ? list.slice() : []) {
        if (l.removed) continue;
        if (l.once) this.removeEventListener(event.type, l.callback, l);
        try {
          if (typeof l.callback === "function") l.callback.call(this, event);
          else l.callback.handleEvent(event);
        } catch (error) {
          reportError(error);
        }
        if (eventInternals.stopped(event)) break;
      }
    } finally {
      eventInternals.end(event);
    }
    return !event.defaultPrevented;
  }
  get [Symbol.toStringTag]() {
    return "EventTarget";
  }
}
def("Event", Event);
def("EventTarget", EventTarget);

let signalInternals: {
  abort(s: AbortSignal, reason: unknown): void;
};
/** A new signal: module code cannot make one (kInternal). Outside the class body: see util.ts. */
const newSignal = (): AbortSignal => new AbortSignal(kInternal);
export class AbortSignal extends EventTarget {
  #aborted = false;
  #reason: unknown = undefined;
  #onabort: ((this: AbortSignal, e: Event) => unknown) | null = null;
  #handler: ((e: Event) => void) | null = null;
  constructor(token: symbol) {
    if (token !== kInternal) throw new TypeError("Illegal constructor");
    super();
  }
  static {
    signalInternals = {
      abort(s, reason) {
        if (s.#aborted) return;
        s.#aborted = true;
        s.#reason = reason === undefined ? new DOMException("This operation was aborted", "AbortError") : reason;
        s.dispatchEvent(new Event("abort"));
      },
    };
  }
  get aborted() {
    return this.#aborted;
  }
  get reason() {
    return this.#reason;
  }
  throwIfAborted() {
    if (this.#aborted) throw this.#reason;
  }
  get onabort() {
    return this.#onabort;
  }
  set onabort(fn) {
    this.#onabort = typeof fn === "function" ? fn : null;
    if (!this.#handler) {
      this.#handler = (e) => this.#onabort?.call(this, e);
      this.addEventListener("abort", this.#handler);
    }
  }
  static abort(reason: unknown = undefined) {
    const s = newSignal();
    signalInternals.abort(s, reason);
    return s;
  }
  static timeout(ms: number) {
    const s = newSignal();
    setTimeout(() => signalInternals.abort(s, new DOMException("The operation timed out.", "TimeoutError")), ms);
    return s;
  }
  static any(signals: Iterable<AbortSignal>) {
    const s = newSignal();
    const done = [...signals].find((x) => x.aborted);
    if (done) signalInternals.abort(s, done.reason);
    else for (const x of signals) x.addEventListener("abort", () => signalInternals.abort(s, x.reason), { once: true });
    return s;
  }
  override get [Symbol.toStringTag]() {
    return "AbortSignal";
  }
}
export class AbortController {
  #signal = newSignal();
  get signal() {
    return this.#signal;
  }
  abort(reason: unknown = undefined) {
    signalInternals.abort(this.#signal, reason);
  }
  get [Symbol.toStringTag]() {
    return "AbortController";
  }
}
def("AbortSignal", AbortSignal);
def("AbortController", AbortController);

interface MessageEventInit extends EventInit {
  data?: unknown;
  origin?: unknown;
  lastEventId?: unknown;
}
/** What EventSource dispatches (and WebSocket, where there is one): data, origin, lastEventId; no ports or source here. */
export class MessageEvent extends Event {
  #data: unknown;
  #origin: string;
  #lastEventId: string;
  constructor(type: string, init: MessageEventInit | undefined = undefined) {
    need(arguments.length, 1, "MessageEvent");
    super(type, init);
    this.#data = init?.data === undefined ? null : init.data;
    this.#origin = init?.origin === undefined ? "" : String(init.origin);
    this.#lastEventId = init?.lastEventId === undefined ? "" : String(init.lastEventId);
  }
  get data() {
    return this.#data;
  }
  get origin() {
    return this.#origin;
  }
  get lastEventId() {
    return this.#lastEventId;
  }
  get source() {
    return null;
  }
  get ports() {
    return [];
  }
  override get [Symbol.toStringTag]() {
    return "MessageEvent";
  }
}
def("MessageEvent", MessageEvent);
