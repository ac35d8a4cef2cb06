/**
 * Conformance cases for EventSource, written from the HTML spec's server-sent events section
 * (html.spec.whatwg.org/multipage/server-sent-events.html): only what needs no network (the
 * constants, the constructor's arguments, close() before the connection is made) and
 * MessageEvent. Parsing and reconnection need an upstream: src/runtime/web/event-source.test.ts
 * and test/event-source.test.ts cover them over real HTTP. Plain module code, run unchanged in a
 * Lively isolate and in workerd by test/conformance.test.ts.
 */
import { equal, ok, throws } from "../check.js";

export const area = "EventSource";

export const cases = {};
const add = (name, run) => {
  cases[name] = run;
};

/** Port 1 on loopback: nothing listens there, and close() comes before anything is sent. */
const NOWHERE = "http://127.0.0.1:1/events";

add("CONNECTING, OPEN and CLOSED are 0, 1 and 2 on the interface and its prototype", () => {
  for (const [name, value] of [
    ["CONNECTING", 0],
    ["OPEN", 1],
    ["CLOSED", 2],
  ]) {
    equal(EventSource[name], value, `EventSource.${name}`);
    equal(EventSource.prototype[name], value, `EventSource.prototype.${name}`);
  }
});

add("an EventSource is an EventTarget", () => {
  ok(Object.getPrototypeOf(EventSource.prototype) === EventTarget.prototype, "EventSource.prototype to inherit EventTarget.prototype");
});

add("the constructor needs its URL argument and new", () => {
  throws(() => new EventSource(), "TypeError", "new EventSource()");
  throws(() => EventSource(NOWHERE), "TypeError", "EventSource(url) without new");
});

add("an unparsable URL is a SyntaxError DOMException", () => {
  throws(() => new EventSource("http://a b/"), "SyntaxError", "new EventSource('http://a b/')");
  let error;
  try {
    new EventSource("http://[::1/");
  } catch (e) {
    error = e;
  }
  ok(error instanceof DOMException, "a DOMException");
});

add("a new EventSource is CONNECTING, shows its parsed URL, and withCredentials is false by default", () => {
  const es = new EventSource("http://127.0.0.1:1/a/../events?x=1");
  try {
    equal(es.readyState, EventSource.CONNECTING, "readyState");
    equal(es.url, "http://127.0.0.1:1/events?x=1", "url");
    equal(es.withCredentials, false, "withCredentials");
    equal(es.onopen, null, "onopen");
    equal(es.onmessage, null, "onmessage");
    equal(es.onerror, null, "onerror");
  } finally {
    es.close();
  }
});

add("close() before the connection is made: CLOSED at once, no event after it, and close() again is harmless", async () => {
  const es = new EventSource(NOWHERE);
  const fired = [];
  for (const type of ["open", "message", "error"]) es.addEventListener(type, () => fired.push(type));
  es.onerror = () => fired.push("onerror");
  es.close();
  equal(es.readyState, EventSource.CLOSED, "readyState after close()");
  es.close();
  await new Promise((resolve) => setTimeout(resolve, 50));
  equal(fired.join(","), "", "events after close()");
  equal(es.readyState, EventSource.CLOSED, "readyState later");
});

add("onmessage keeps a function and drops anything else to null", () => {
  const es = new EventSource(NOWHERE);
  es.close();
  const fn = () => {};
  es.onmessage = fn;
  equal(es.onmessage, fn, "onmessage after a function");
  es.onmessage = null;
  equal(es.onmessage, null, "onmessage after null");
});

add("MessageEvent carries data, origin and lastEventId, with null, '' and '' by default", () => {
  const plain = new MessageEvent("message");
  equal(plain.data, null, "default data");
  equal(plain.origin, "", "default origin");
  equal(plain.lastEventId, "", "default lastEventId");
  const data = { n: 1 };
  const m = new MessageEvent("custom", { data, origin: "https://a.example", lastEventId: "7" });
  equal(m.type, "custom", "type");
  ok(m.data === data, "data to be the object passed");
  equal(m.origin, "https://a.example", "origin");
  equal(m.lastEventId, "7", "lastEventId");
  ok(m instanceof Event, "a MessageEvent to be an Event");
  throws(() => new MessageEvent(), "TypeError", "new MessageEvent()");
});
