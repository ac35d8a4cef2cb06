/**
 * Inside the isolate (see bindings.ts): WebSocketPair and WebSocket as workerd has them for an
 * inbound upgrade. The module makes a pair, calls `server.accept()`, returns
 * `new Response(null, { status: 101, webSocket: client })`, and talks on `server`. The messages
 * are host work "ws" (protocol.ts, WsPayload; the host half is ../ivm/ws-handler.ts):
 *
 * - From the client: one long poll per socket (`r`), started once the socket is both accepted
 *   and handed to the host in the response; each answer is dispatched as a "message" or "close"
 *   event. A poll rather than a call into the isolate per message: it needs no new dispatcher
 *   entry, the host answers only when the isolate asked (so one socket never has more than one
 *   event queued in the isolate), and a disposed isolate simply stops asking.
 * - To the client: send() queues (bounded: MAX_QUEUED_*) and one message at a time goes to the
 *   host, which answers once the socket took it. close() goes behind the queued messages.
 *
 * `new WebSocket(url, protocols)` opens one outbound: the host connects under the module's fetch
 * allowlist and address policy (host work "wsConnect", ../host-ws-connect.ts); once it is open
 * the same poll and sends carry its messages.
 *
 * Not here: the client end of a pair used inside the module (it only goes into a Response), and
 * the hibernation API.
 */
import { def } from "./bindings.ts";
import { DOMException, Event, EventTarget, MessageEvent } from "./events.ts";
import { hostAsync } from "./host-async.ts";
import type { WsEvent, WsPayload } from "./protocol.ts";
import { URL } from "./url.ts";
import { kInspect } from "./util.ts";

/** The largest message either way (the host checks it again, and its socket refuses larger with 1009). */
export const MAX_MESSAGE_BYTES = 1024 * 1024;
const MAX_QUEUED_MESSAGES = 1024;
const MAX_QUEUED_BYTES = 16 * 1024 * 1024;

const apply = Reflect.apply;
const arrayPush = Array.prototype.push;
const arrayShift = Array.prototype.shift;
const promiseThen = Promise.prototype.then;
const charCodeAt = String.prototype.charCodeAt;
const u8Slice = Uint8Array.prototype.slice;
const isArrayBuffer = (v: unknown): v is ArrayBuffer => {
  try {
    apply(Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, "byteLength")!.get!, v, []);
    return true;
  } catch {
    return false;
  }
};
const isView = ArrayBuffer.isView;

/** UTF-8 length without a host call (lone surrogates count as the 3 bytes of U+FFFD). */
function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = apply(charCodeAt, text, [i]) as number;
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = apply(charCodeAt, text, [i + 1]) as number;
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

class CloseEvent extends Event {
  #code: number;
  #reason: string;
  #clean: boolean;
  constructor(type: string, init: { code?: number; reason?: string; wasClean?: boolean } | undefined = undefined) {
    super(type);
    this.#code = Number(init?.code ?? 0);
    this.#reason = String(init?.reason ?? "");
    this.#clean = !!init?.wasClean;
  }
  get code() {
    return this.#code;
  }
  get reason() {
    return this.#reason;
  }
  get wasClean() {
    return this.#clean;
  }
}
class ErrorEvent extends Event {
  #message: string;
  #error: unknown;
  constructor(type: string, init: { message?: string; error?: unknown } | undefined = undefined) {
    super(type);
    this.#message = String(init?.message ?? "");
    this.#error = init?.error;
  }
  get message() {
    return this.#message;
  }
  get error() {
    return this.#error;
  }
}

const CLOSE = Symbol("close");
type Outgoing = string | Uint8Array | { [CLOSE]: true; code: number; reason: string };

let nextId = 0;
export let wsInternals: {
  is(value: unknown): value is WebSocket;
  /** The socket's id, as the Response hands `client` to the host: once, and only once its server end was accepted. */
  take(client: WebSocket): number;
  /** Makes `a` and `b` the two ends of pair `id` (b the server end). */
  pair(id: number, a: WebSocket, b: WebSocket): void;
};

export class WebSocket extends EventTarget {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  #id = 0;
  #server = false;
  #peer: WebSocket | null = null;
  #state = 0;
  #accepted = false;
  #handed = false;
  #queue: Outgoing[] = [];
  #queuedBytes = 0;
  #pumping = false;
  /** Opened by the module (`new WebSocket(url)`), not an end of a pair. */
  #outbound = false;
  #url: string | null = null;
  #protocol = "";

  constructor(url: unknown = undefined, protocols: unknown = undefined) {
    super();
    if (url === PAIR) return;
    if (arguments.length === 0) throw new TypeError("Failed to construct 'WebSocket': 1 argument required, but only 0 present.");
    const target = socketUrl(url);
    const names = protocolList(protocols);
    this.#outbound = this.#server = true;
    this.#id = ++nextId;
    this.#url = target;
    // Opened by the node under the module's fetch allowlist and address policy (host work "wsConnect").
    apply(promiseThen, hostAsync("wsConnect", { i: this.#id, u: target, p: names }), [
      (answer: { u: string; p: string }) => {
        this.#protocol = String(answer.p);
        this.#accepted = this.#handed = true;
        if (this.#state === 0) {
          this.#state = 1;
          this.dispatchEvent(new Event("open"));
        }
        this.#listen();
      },
      (error: unknown) => {
        this.#queue = [];
        this.#state = 3;
        this.dispatchEvent(new ErrorEvent("error", { message: String((error as Error)?.message ?? error), error }));
        this.dispatchEvent(new CloseEvent("close", { code: 1006, reason: "", wasClean: false }));
      },
    ]);
  }
  static {
    wsInternals = {
      is: (value): value is WebSocket => value !== null && typeof value === "object" && #id in value,
      take(client) {
        if (client.#outbound) throw new TypeError("a WebSocket the module opened (new WebSocket(url)) cannot be returned in a Response");
        if (client.#server) throw new TypeError("a Response's webSocket is the client end of the pair (pair[0]), not the server end");
        if (client.#handed) throw new TypeError("this WebSocket was already returned in a Response");
        const server = client.#peer!;
        if (!server.#accepted) throw new TypeError("call server.accept() before returning the client end of a WebSocketPair");
        client.#handed = server.#handed = true;
        server.#listen();
        return client.#id;
      },
      pair(id, a, b) {
        a.#id = b.#id = id;
        b.#server = true;
        a.#peer = b;
        b.#peer = a;
      },
    };
  }
  get readyState() {
    return this.#state;
  }
  get url() {
    return this.#url;
  }
  get protocol() {
    return this.#protocol;
  }
  get extensions() {
    return "";
  }
  accept() {
    if (this.#outbound)
      throw new TypeError("accept() is for the server end of a WebSocketPair; a WebSocket the module opened is open at its 'open' event");
    if (!this.#server) throw new TypeError("accept() is called on the server end of a WebSocketPair (pair[1])");
    if (this.#accepted) throw new TypeError("this WebSocket was already accepted");
    this.#accepted = true;
    this.#state = 1;
  }
  send(message: unknown) {
    if (this.#outbound && this.#state === 0)
      throw new DOMException("Failed to execute 'send' on 'WebSocket': Still in CONNECTING state.", "InvalidStateError");
    if (!this.#accepted) throw new TypeError("accept() the WebSocket before sending on it");
    if (this.#state !== 1) throw new TypeError("Can't call WebSocket send() after close().");
    let out: string | Uint8Array;
    if (typeof message === "string") out = message;
    else if (isArrayBuffer(message)) out = apply(u8Slice, new Uint8Array(message), []) as Uint8Array;
    else if (isView(message)) {
      const view = message as ArrayBufferView;
      out = apply(u8Slice, new Uint8Array(view.buffer, view.byteOffset, view.byteLength), []) as Uint8Array;
    } else out = String(message);
    const size = typeof out === "string" ? utf8Length(out) : out.byteLength;
    if (size > MAX_MESSAGE_BYTES)
      throw new RangeError("a WebSocket message may be at most " + MAX_MESSAGE_BYTES + " bytes; this one is " + size);
    if (this.#queue.length >= MAX_QUEUED_MESSAGES || this.#queuedBytes + size > MAX_QUEUED_BYTES) {
      throw new TypeError(
        "this WebSocket has too much queued to send (" + this.#queue.length + " messages); the client reads slower than the module sends",
      );
    }
    this.#queuedBytes += size;
    apply(arrayPush, this.#queue, [out]);
    this.#pump();
  }
  close(code: unknown = undefined, reason: unknown = undefined) {
    if (!this.#server) throw new TypeError("close() is called on the server end of a WebSocketPair (pair[1])");
    const c = code === undefined ? 1000 : Number(code);
    if (c !== 1000 && !(Number.isInteger(c) && c >= 3000 && c <= 4999)) {
      throw new DOMException("The close code must be either 1000, or between 3000 and 4999. " + c + " is neither.", "InvalidAccessError");
    }
    const r = reason === undefined ? "" : String(reason);
    if (utf8Length(r) > 123) throw new DOMException("The close reason must not be greater than 123 UTF-8 bytes.", "SyntaxError");
    if (this.#state >= 2) return;
    this.#state = 2;
    apply(arrayPush, this.#queue, [{ [CLOSE]: true, code: c, reason: r }]);
    this.#pump();
  }
  #listen() {
    // Set while a handler runs. A handler past the CPU limit is cut where it stands (its task is
    // terminated, no finally runs): the flag stays set, and the socket's next event closes it
    // with 1011. The next poll starts before the handler, so the cut one cannot stall the loop.
    let inHandler = false;
    const poll = (): void => {
      apply(promiseThen, hostAsync("ws", { i: this.#id, r: 1 }), [
        (event: WsEvent | boolean) => {
          if (event !== null && typeof event === "object" && "c" in event) {
            this.#closed(Number(event.c), String(event.m), event.c !== 1006);
            return;
          }
          if (inHandler) {
            this.#cut();
            return;
          }
          poll();
          if (event !== null && typeof event === "object") {
            const data = "t" in event ? String(event.t) : "b" in event ? (event.b as Uint8Array).buffer : null;
            inHandler = true;
            this.dispatchEvent(new MessageEvent("message", { data }));
            inHandler = false;
          }
        },
        (error: unknown) => {
          this.dispatchEvent(new ErrorEvent("error", { message: String((error as Error)?.message ?? error), error }));
          this.#closed(1006, "", false);
        },
      ]);
    };
    poll();
    this.#pump();
  }
  /** A message handler ran past the CPU limit: the socket closes with 1011, ahead of anything queued. */
  #cut() {
    this.#state = 2;
    this.#queue = [{ [CLOSE]: true, code: 1011, reason: "a message handler ran past the CPU limit" }];
    this.#queuedBytes = 0;
    this.#pumping = false;
    this.#pump();
  }
  #closed(code: number, reason: string, clean: boolean) {
    if (this.#state === 3) return;
    this.#state = 3;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.dispatchEvent(new CloseEvent("close", { code, reason, wasClean: clean }));
  }
  /** Sends what is queued, one message at a time, once the socket is with the host. */
  #pump() {
    if (this.#pumping || !this.#handed || this.#queue.length === 0) return;
    this.#pumping = true;
    const next = apply(arrayShift, this.#queue, []) as Outgoing;
    // Our own queue: its items are strings, bytes we copied, or a close mark (no instanceof: a
    // module may redefine Symbol.hasInstance).
    let payload: WsPayload;
    let size = 0;
    if (typeof next === "string") {
      payload = { i: this.#id, t: next };
      size = utf8Length(next);
    } else if (CLOSE in next) payload = { i: this.#id, c: next.code, m: next.reason };
    else {
      payload = { i: this.#id, b: next };
      size = next.byteLength;
    }
    apply(promiseThen, hostAsync("ws", payload), [
      (more: unknown) => {
        this.#queuedBytes -= size;
        this.#pumping = false;
        if (more === true) this.#pump();
        else this.#queue = [];
      },
      (error: unknown) => {
        this.#pumping = false;
        this.#queue = [];
        this.#queuedBytes = 0;
        this.dispatchEvent(new ErrorEvent("error", { message: String((error as Error)?.message ?? error), error }));
      },
    ]);
  }
  override get [Symbol.toStringTag]() {
    return "WebSocket";
  }
  [kInspect]() {
    return "WebSocket { readyState: " + this.#state + " }";
  }
}
const PAIR = Symbol("pair");
const SCHEMES: readonly string[] = ["ws:", "wss:", "http:", "https:"];

/** The URL `new WebSocket(url)` connects to, as the spec parses it (http(s) becomes ws(s)); a SyntaxError DOMException otherwise. */
function socketUrl(url: unknown): string {
  // Its fields are defined on the prototype at run time (url.ts), which TypeScript does not see.
  let parsed: URL & { protocol: string; hash: string };
  try {
    parsed = new URL(String(url)) as URL & { protocol: string; hash: string };
  } catch {
    throw new DOMException("Failed to construct 'WebSocket': The URL '" + String(url) + "' is invalid.", "SyntaxError");
  }
  if (!SCHEMES.includes(parsed.protocol)) {
    throw new DOMException(
      "Failed to construct 'WebSocket': The URL's scheme must be either 'ws', 'wss', 'http' or 'https'.",
      "SyntaxError",
    );
  }
  if (parsed.hash !== "") throw new DOMException("Failed to construct 'WebSocket': The URL contains a fragment identifier.", "SyntaxError");
  if (parsed.protocol === "http:") parsed.protocol = "ws:";
  else if (parsed.protocol === "https:") parsed.protocol = "wss:";
  return parsed.href;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** The subprotocols asked for: a string or a list of them, each a token, none twice. */
function protocolList(protocols: unknown): string[] {
  if (protocols === undefined) return [];
  const list: string[] = typeof protocols === "string" ? [protocols] : Array.from(protocols as Iterable<unknown>, (p) => String(p));
  const seen = new Set<string>();
  for (const name of list) {
    if (!TOKEN.test(name) || seen.has(name)) {
      throw new DOMException("Failed to construct 'WebSocket': The subprotocol '" + name + "' is invalid or given twice.", "SyntaxError");
    }
    seen.add(name);
  }
  return list;
}
// Outside the class body: a class that names itself is renamed by the bundler (util.ts).
const newEnd = () => new WebSocket(PAIR);

/** `new WebSocketPair()`: `{ 0: client, 1: server }`, so `Object.values(pair)` is [client, server]. */
class WebSocketPair {
  declare 0: WebSocket;
  declare 1: WebSocket;
  constructor() {
    const client = newEnd();
    const server = newEnd();
    wsInternals.pair(++nextId, client, server);
    this[0] = client;
    this[1] = server;
  }
}

def("WebSocket", WebSocket);
def("WebSocketPair", WebSocketPair);
def("CloseEvent", CloseEvent);
def("ErrorEvent", ErrorEvent);
