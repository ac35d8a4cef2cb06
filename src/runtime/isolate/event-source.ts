/**
 * Inside the isolate (see bindings.ts): EventSource, as the HTML spec defines it
 * (html.spec.whatwg.org/multipage/server-sent-events.html) and workerd has it, built on this
 * isolate's own fetch, imported here (a module that replaces globalThis.fetch changes nothing)
 * and so under the module's fetch allowlist like any fetch. The body is read as it arrives
 * (fetch.ts), decoded as UTF-8 and parsed line by line.
 *
 * Choices the spec leaves open, and where this differs from a browser:
 * - The reconnection delay starts at 2 s, workerd's default; a `retry:` field sets it (any
 *   number of milliseconds, as the spec says; workerd keeps it within 1-10 s).
 * - A fetch the host refuses by policy (allowlist, address, scheme) fails the connection
 *   (error event, CLOSED) instead of reconnecting: the spec lets a user agent do so when a
 *   reconnection is futile. Any other network error, the end of the body, and the host's fetch
 *   deadline (30 s for the whole exchange) reconnect.
 * - withCredentials is kept and shown as the spec says, and changes nothing: an isolate has no
 *   cookies (workerd throws for a true one).
 * - Every error event carries the cause as `event.error`, as workerd's do.
 */
import { def } from "./bindings.ts";
import { Body } from "./body.ts";
import { TextDecoder } from "./encoding.ts";
import { AbortController, DOMException, Event, EventTarget, MessageEvent } from "./events.ts";
import { fetch } from "./fetch.ts";
import { headerList } from "./headers.ts";
import { Response, responseInternals } from "./response.ts";
import { type ByteReader, byteReader, type ReadableStream } from "./streams.ts";
import { cancelTimer, schedule } from "./timers.ts";
import { URL, urlInternals } from "./url.ts";

// Captured now: module code may replace the prototypes' methods later.
const getter = (proto: object, name: string) => Object.getOwnPropertyDescriptor(proto, name)?.get as (this: unknown) => unknown;
const bodyOf = getter(Body.prototype, "body") as (this: unknown) => ReadableStream | null;
const urlOf = getter(Response.prototype, "url") as (this: unknown) => string;
const decode = TextDecoder.prototype.decode;
const listen = EventTarget.prototype.addEventListener;
const dispatch = EventTarget.prototype.dispatchEvent;
const apply = Reflect.apply;

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 2;
const DEFAULT_RETRY_MS = 2000;
/** How the host words a refusal by policy (host-fetch.ts, FetchRefused): reconnecting cannot help. */
const REFUSED = / is not allowed| is refused|only http: and https: URLs/;
const EVENT_STREAM = /^\s*text\/event-stream\s*(;|$)/i;

type Handler = ((this: EventSource, event: Event) => unknown) | null;

export class EventSource extends EventTarget {
  #url: string;
  #withCredentials: boolean;
  #state = CONNECTING;
  #handlers = new Map<string, Handler>();
  #abort: AbortController | null = null;
  #reader: ByteReader | null = null;
  #timer = 0;
  #retryMs = DEFAULT_RETRY_MS;
  /** The id the next reconnection sends as Last-Event-ID, and the last event ID buffer it comes from. */
  #lastEventId = "";
  #idBuffer = "";
  #origin: string;

  constructor(url: unknown, init: { withCredentials?: unknown } | undefined = undefined) {
    if (arguments.length < 1) throw new TypeError("Failed to construct 'EventSource': 1 argument required, but only 0 present.");
    super();
    let parsed: ReturnType<typeof urlInternals.fields>;
    try {
      parsed = urlInternals.fields(new URL(String(url)));
    } catch {
      throw new DOMException(`Failed to construct 'EventSource': The URL '${String(url)}' is invalid.`, "SyntaxError");
    }
    this.#url = parsed.href;
    this.#origin = parsed.origin;
    this.#withCredentials = !!init?.withCredentials;
    // Connecting starts after this constructor returns, so close() right away sends nothing.
    void Promise.resolve().then(() => this.#connect());
  }
  get url() {
    return this.#url;
  }
  get withCredentials() {
    return this.#withCredentials;
  }
  get readyState() {
    return this.#state;
  }
  close() {
    this.#state = CLOSED;
    cancelTimer(this.#timer);
    this.#abort?.abort();
    this.#reader?.cancel(undefined).catch(() => undefined);
    this.#abort = this.#reader = null;
  }

  async #connect() {
    if (this.#state === CLOSED) return;
    const abort = new AbortController();
    this.#abort = abort;
    const headers: [string, string][] = [
      ["accept", "text/event-stream"],
      ["cache-control", "no-store"],
    ];
    if (this.#lastEventId !== "") headers.push(["last-event-id", this.#lastEventId]);
    let response: Response;
    try {
      response = await fetch(this.#url, { headers, signal: abort.signal });
    } catch (error) {
      if (abort.signal.aborted) return;
      if (REFUSED.test(String((error as Error)?.message))) this.#fail(error);
      else this.#reconnect(error);
      return;
    }
    const body = apply(bodyOf, response, []);
    const status = responseInternals.status(response);
    const type = headerList(responseInternals.headers(response)).find((p) => p[0] === "content-type")?.[1] ?? "";
    if (abort.signal.aborted || status !== 200 || !EVENT_STREAM.test(type)) {
      if (body)
        byteReader(body)
          .cancel(undefined)
          .catch(() => undefined);
      if (abort.signal.aborted) return;
      const why =
        status !== 200 ? `the response status was ${status}` : `the content type ${JSON.stringify(type)} is not text/event-stream`;
      return this.#fail(new TypeError(`EventSource to ${this.#url} failed: ${why}`));
    }
    this.#origin = urlInternals.fields(new URL(apply(urlOf, response, []))).origin;
    this.#state = OPEN;
    this.#fire(new Event("open"));
    if (!body) return this.#reconnect(new TypeError("EventSource: the response has no body"));
    const reader = byteReader(body);
    this.#reader = reader;
    const decoder = new TextDecoder();
    const parse = this.#parser();
    try {
      for (;;) {
        const chunk = await reader.read();
        if (chunk === null) break;
        parse(apply(decode, decoder, [chunk, { stream: true }]) as string);
      }
      parse(apply(decode, decoder, []) as string);
    } catch (error) {
      if (!abort.signal.aborted) this.#reconnect(error);
      return;
    }
    if (!abort.signal.aborted) this.#reconnect(new TypeError("EventSource: the server ended the stream"));
  }

  /** A line-by-line parser for one connection's decoded text; a line cut between chunks, a CR LF among them, is held. */
  #parser(): (text: string) => void {
    let rest = "";
    let afterCR = false;
    let data = "";
    let type = "";
    return (text) => {
      if (afterCR && text[0] === "\n") text = text.slice(1);
      afterCR = false;
      rest += text;
      let start = 0;
      for (let i = 0; i < rest.length && this.#state !== CLOSED; i++) {
        const c = rest[i];
        if (c !== "\n" && c !== "\r") continue;
        const line = rest.slice(start, i);
        if (c === "\r") {
          if (i + 1 === rest.length) afterCR = true;
          else if (rest[i + 1] === "\n") i++;
        }
        start = i + 1;
        if (line === "") {
          this.#lastEventId = this.#idBuffer;
          const init = { data: data.slice(0, -1), origin: this.#origin, lastEventId: this.#lastEventId };
          if (data !== "") this.#fire(new MessageEvent(type || "message", init));
          data = type = "";
          continue;
        }
        const colon = line.indexOf(":");
        if (colon === 0) continue;
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value[0] === " ") value = value.slice(1);
        if (field === "data") data += value + "\n";
        else if (field === "event") type = value;
        else if (field === "id" && !value.includes("\0")) this.#idBuffer = value;
        else if (field === "retry" && /^[0-9]+$/.test(value)) this.#retryMs = Number(value);
      }
      rest = rest.slice(start);
    };
  }

  #reconnect(error: unknown) {
    if (this.#state === CLOSED) return;
    this.#state = CONNECTING;
    this.#fire(errorEvent(error));
    if (this.#state !== CONNECTING) return;
    this.#timer = schedule(() => this.#connect(), this.#retryMs, [], false);
  }
  #fail(error: unknown) {
    if (this.#state === CLOSED) return;
    this.close();
    this.#fire(errorEvent(error));
  }
  #fire(event: Event) {
    apply(dispatch, this, [event]);
  }

  get onopen() {
    return this.#handlers.get("open") ?? null;
  }
  set onopen(fn: Handler) {
    this.#on("open", fn);
  }
  get onmessage() {
    return this.#handlers.get("message") ?? null;
  }
  set onmessage(fn: Handler) {
    this.#on("message", fn);
  }
  get onerror() {
    return this.#handlers.get("error") ?? null;
  }
  set onerror(fn: Handler) {
    this.#on("error", fn);
  }
  #on(type: string, fn: Handler) {
    const had = this.#handlers.has(type);
    this.#handlers.set(type, typeof fn === "function" ? fn : null);
    // The handler runs among the listeners in the order it was first set, as the spec's event handlers do.
    if (!had) apply(listen, this, [type, (e: Event) => this.#handlers.get(type)?.call(this, e)]);
  }
  override get [Symbol.toStringTag]() {
    return "EventSource";
  }
}

const errorEvent = (error: unknown): Event => {
  const event = new Event("error");
  Object.defineProperty(event, "error", { value: error, enumerable: true });
  return event;
};

for (const target of [EventSource, EventSource.prototype]) {
  Object.defineProperties(target, {
    CONNECTING: { value: CONNECTING, enumerable: true },
    OPEN: { value: OPEN, enumerable: true },
    CLOSED: { value: CLOSED, enumerable: true },
  });
}
def("EventSource", EventSource);
