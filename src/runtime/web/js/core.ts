/**
 * In-isolate JavaScript (a fragment of the prelude's body, see prelude.ts): helpers shared by the
 * other fragments, DOMException, Event/EventTarget, AbortController/AbortSignal, console,
 * structuredClone, performance, navigator, self. Timers and host work: tasks.ts.
 *
 * The fragments run inside one strict-mode function; `host` (the captured `__livelyHost`) and
 * `def` (defines a writable, configurable, non-enumerable global) are in scope. Plain JS:
 * no backticks and no dollar-brace in these strings.
 */
export const CORE_JS = String.raw`
const objToString = Object.prototype.toString;
const fnToString = Function.prototype.toString;
const kInspect = Symbol("lively.inspect");
const kInternal = Symbol("lively.internal");
const tagOf = (v) => objToString.call(v).slice(8, -1);
const ctorName = (v) => {
  try {
    const c = Object.getPrototypeOf(v)?.constructor;
    return typeof c === "function" && typeof c.name === "string" ? c.name : "";
  } catch {
    return "";
  }
};
const run = (fn) => new Promise((resolve) => resolve(fn()));
const exact = (u8) => (u8.byteOffset === 0 && u8.byteLength === u8.buffer.byteLength ? u8 : u8.slice());
const need = (n, count, what) => {
  if (n < count) throw new TypeError("Failed to execute '" + what + "': " + count + " argument(s) required, but only " + n + " present.");
};

const DOM_CODES = {
  IndexSizeError: 1, HierarchyRequestError: 3, WrongDocumentError: 4, InvalidCharacterError: 5, NoModificationAllowedError: 7,
  NotFoundError: 8, NotSupportedError: 9, InvalidStateError: 11, SyntaxError: 12, InvalidModificationError: 13, NamespaceError: 14,
  InvalidAccessError: 15, TypeMismatchError: 17, SecurityError: 18, NetworkError: 19, AbortError: 20, URLMismatchError: 21,
  QuotaExceededError: 22, TimeoutError: 23, InvalidNodeTypeError: 24, DataCloneError: 25,
};
class DOMException extends Error {
  constructor(message = "", name = "Error") {
    super(String(message));
    Object.defineProperty(this, "name", { value: String(name), writable: true, configurable: true });
  }
  get code() {
    return DOM_CODES[this.name] || 0;
  }
}
def("DOMException", DOMException);

let eventInternals;
class Event {
  #type; #cancelable; #bubbles; #canceled = false; #stop = false; #target = null; #current = null;
  constructor(type, init = undefined) {
    need(arguments.length, 1, "Event");
    this.#type = String(type);
    this.#cancelable = !!init?.cancelable;
    this.#bubbles = !!init?.bubbles;
    this.timeStamp = Date.now();
  }
  static {
    eventInternals = {
      begin(e, target) { e.#target = target; e.#current = target; e.#stop = false; },
      end(e) { e.#current = null; },
      stopped: (e) => e.#stop,
    };
  }
  get type() { return this.#type; }
  get target() { return this.#target; }
  get srcElement() { return this.#target; }
  get currentTarget() { return this.#current; }
  get cancelable() { return this.#cancelable; }
  get bubbles() { return this.#bubbles; }
  get composed() { return false; }
  get defaultPrevented() { return this.#canceled; }
  get eventPhase() { return this.#current ? 2 : 0; }
  get isTrusted() { return false; }
  composedPath() { return this.#current ? [this.#current] : []; }
  preventDefault() { if (this.#cancelable) this.#canceled = true; }
  stopPropagation() {}
  stopImmediatePropagation() { this.#stop = true; }
  get [Symbol.toStringTag]() { return "Event"; }
}

class EventTarget {
  #listeners = new Map();
  addEventListener(type, callback, options = undefined) {
    if (callback === null || callback === undefined) return;
    const opts = typeof options === "boolean" ? { capture: options } : options || {};
    const capture = !!opts.capture;
    type = String(type);
    let list = this.#listeners.get(type);
    if (!list) this.#listeners.set(type, (list = []));
    if (list.some((l) => l.callback === callback && l.capture === capture)) return;
    const signal = opts.signal;
    if (signal?.aborted) return;
    list.push({ callback, capture, once: !!opts.once, removed: false });
    if (signal) signal.addEventListener("abort", () => this.removeEventListener(type, callback, { capture }));
  }
  removeEventListener(type, callback, options = undefined) {
    const capture = typeof options === "boolean" ? options : !!options?.capture;
    const list = this.#listeners.get(String(type));
    if (!list) return;
    const i = list.findIndex((l) => l.callback === callback && l.capture === capture);
    if (i >= 0) {
      list[i].removed = true;
      list.splice(i, 1);
    }
  }
  dispatchEvent(event) {
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
  get [Symbol.toStringTag]() { return "EventTarget"; }
}
def("Event", Event);
def("EventTarget", EventTarget);

let signalInternals;
class AbortSignal extends EventTarget {
  #aborted = false; #reason = undefined; #onabort = null; #handler = null;
  constructor(token) {
    if (token !== kInternal) throw new TypeError("Illegal constructor");
    super();
  }
  static {
    signalInternals = {
      create: () => new AbortSignal(kInternal),
      abort(s, reason) {
        if (s.#aborted) return;
        s.#aborted = true;
        s.#reason = reason === undefined ? new DOMException("This operation was aborted", "AbortError") : reason;
        s.dispatchEvent(new Event("abort"));
      },
    };
  }
  get aborted() { return this.#aborted; }
  get reason() { return this.#reason; }
  throwIfAborted() { if (this.#aborted) throw this.#reason; }
  get onabort() { return this.#onabort; }
  set onabort(fn) {
    this.#onabort = typeof fn === "function" ? fn : null;
    if (!this.#handler) {
      this.#handler = (e) => this.#onabort?.call(this, e);
      this.addEventListener("abort", this.#handler);
    }
  }
  static abort(reason = undefined) {
    const s = signalInternals.create();
    signalInternals.abort(s, reason);
    return s;
  }
  static timeout(ms) {
    const s = signalInternals.create();
    setTimeout(() => signalInternals.abort(s, new DOMException("The operation timed out.", "TimeoutError")), ms);
    return s;
  }
  static any(signals) {
    const s = signalInternals.create();
    const done = [...signals].find((x) => x.aborted);
    if (done) signalInternals.abort(s, done.reason);
    else for (const x of signals) x.addEventListener("abort", () => signalInternals.abort(s, x.reason), { once: true });
    return s;
  }
  get [Symbol.toStringTag]() { return "AbortSignal"; }
}
class AbortController {
  #signal = signalInternals.create();
  get signal() { return this.#signal; }
  abort(reason = undefined) { signalInternals.abort(this.#signal, reason); }
  get [Symbol.toStringTag]() { return "AbortController"; }
}
def("AbortSignal", AbortSignal);
def("AbortController", AbortController);

// console: formats like Node's util.format (a small subset) and hands one line to host.log.
const quote = (s) => "'" + s.replace(/\\/g, "\\\\").replace(/'/g, "\\'").replace(/\n/g, "\\n") + "'";
const keyText = (k) => (/^[A-Za-z_$][\w$]*$/.test(k) ? k : quote(k));
const list = (prefix, items, total, open, close) => {
  if (total > items.length) items.push("... " + (total - items.length) + " more items");
  return prefix + (items.length ? open + " " + items.join(", ") + " " + close : open + close);
};
function inspect(v, depth, seen) {
  switch (typeof v) {
    case "string": return depth === 0 ? v : quote(v);
    case "number": return Object.is(v, -0) ? "-0" : String(v);
    case "bigint": return v + "n";
    case "symbol": return v.toString();
    case "undefined": return "undefined";
    case "boolean": return String(v);
    case "function": {
      const isClass = /^class[\s{]/.test(fnToString.call(v));
      return (isClass ? "[class " : "[Function: ") + (v.name || "(anonymous)") + "]";
    }
  }
  if (v === null) return "null";
  if (seen.includes(v)) return "[Circular]";
  try {
    if (v instanceof Error) return depth === 0 && v.stack ? String(v.stack) : "[" + String(v) + "]";
    if (v instanceof Date) return Number.isNaN(v.getTime()) ? "Invalid Date" : v.toISOString();
    if (v instanceof RegExp) return String(v);
    if (typeof v[kInspect] === "function") return v[kInspect]();
    if (depth > 2) return Array.isArray(v) ? "[Array]" : "[Object]";
    seen.push(v);
    const inner = (x) => inspect(x, depth + 1, seen);
    const name = ctorName(v);
    if (Array.isArray(v)) return list("", v.slice(0, 100).map(inner), v.length, "[", "]");
    if (v instanceof Map) return list("Map(" + v.size + ") ", [...v].slice(0, 100).map(([k, x]) => inner(k) + " => " + inner(x)), v.size, "{", "}");
    if (v instanceof Set) return list("Set(" + v.size + ") ", [...v].slice(0, 100).map(inner), v.size, "{", "}");
    if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return list(tagOf(v) + "(" + v.length + ") ", Array.from(v.subarray(0, 100), inner), v.length, "[", "]");
    if (v instanceof ArrayBuffer) return "ArrayBuffer { byteLength: " + v.byteLength + " }";
    if (v instanceof Promise) return "Promise { <unknown> }";
    const keys = Object.keys(v);
    const prefix = name === "Object" ? "" : name ? name + " " : "[Object: null prototype] ";
    return list(prefix, keys.slice(0, 100).map((k) => keyText(k) + ": " + inner(v[k])), keys.length, "{", "}");
  } catch {
    return "[object " + tagOf(v) + "]";
  } finally {
    if (seen[seen.length - 1] === v) seen.pop();
  }
}
function format(args) {
  let i = 0;
  let out = "";
  if (typeof args[0] === "string" && args.length > 1 && args[0].includes("%")) {
    i = 1;
    out = args[0].replace(/%[sdifjoOc%]/g, (m) => {
      if (m === "%%") return "%";
      if (i >= args.length) return m;
      const a = args[i++];
      switch (m) {
        case "%s": return typeof a === "string" ? a : inspect(a, 1, []);
        case "%d": return typeof a === "bigint" ? a + "n" : String(Number(a));
        case "%i": return typeof a === "bigint" ? a + "n" : String(Number.parseInt(a));
        case "%f": return String(Number.parseFloat(a));
        case "%j": try { return JSON.stringify(a); } catch { return "[Circular]"; }
        case "%c": return "";
        default: return inspect(a, 1, []);
      }
    });
  }
  for (; i < args.length; i++) out += (out || i > 0 ? " " : "") + inspect(args[i], 0, []);
  return out;
}
let indent = "";
// Every line is one message to Node's main thread: a module that logs in a loop must not flood
// it. Lines are cut at 16 KiB; past 1000 lines in one second the rest of that second is
// dropped, and at the end of the second one line says how many. Plain arithmetic and a
// captured Date.now: nothing here a module can replace.
const MAX_LINE = 16384;
const LINES_PER_SECOND = 1000;
const dateNow = Date.now;
let logWindow = 0;
let logLines = 0;
let logDropped = 0;
const reportDropped = () => {
  if (logDropped === 0) return;
  host.log("warn", logDropped + " console lines were dropped: more than " + LINES_PER_SECOND + " in one second");
  logDropped = 0;
};
const emit = (level, text) => {
  const now = dateNow();
  if (now - logWindow >= 1000) {
    reportDropped();
    logWindow = now;
    logLines = 0;
  }
  if (logLines >= LINES_PER_SECOND) {
    if (logDropped++ === 0) {
      try {
        schedule(reportDropped, 1000 - (now - logWindow), [], false);
      } catch {
        // No timer left (the module holds them all): the next line that gets through reports it.
      }
    }
    return;
  }
  logLines++;
  if (text.length > MAX_LINE) text = text.slice(0, MAX_LINE) + "… (cut at " + MAX_LINE + " characters)";
  host.log(level, indent ? indent + text.replace(/\n/g, "\n" + indent) : text);
};
const counts = new Map();
const started = new Map();
const consoleObject = {
  log: (...a) => emit("log", format(a)),
  info: (...a) => emit("info", format(a)),
  warn: (...a) => emit("warn", format(a)),
  error: (...a) => emit("error", format(a)),
  debug: (...a) => emit("debug", format(a)),
  trace: (...a) => emit("debug", "Trace: " + format(a)),
  dir: (v) => emit("log", inspect(v, 1, [])),
  table: (...a) => emit("log", format(a)),
  assert: (ok, ...a) => { if (!ok) emit("error", "Assertion failed" + (a.length ? ": " + format(a) : "")); },
  count: (label = "default") => { counts.set(label, (counts.get(label) || 0) + 1); emit("info", label + ": " + counts.get(label)); },
  countReset: (label = "default") => { counts.delete(label); },
  time: (label = "default") => { started.set(label, Date.now()); },
  timeLog: (label = "default", ...a) => { if (started.has(label)) emit("info", label + ": " + (Date.now() - started.get(label)) + "ms" + (a.length ? " " + format(a) : "")); },
  timeEnd: (label = "default") => { consoleObject.timeLog(label); started.delete(label); },
  group: (...a) => { if (a.length) emit("log", format(a)); indent += "  "; },
  groupCollapsed: (...a) => consoleObject.group(...a),
  groupEnd: () => { indent = indent.slice(2); },
};
def("console", consoleObject);

// structuredClone: plain data, arrays, Map, Set, Date, RegExp, ArrayBuffer, typed arrays,
// DataView, errors, boxed primitives; cycles kept. Functions, symbols, promises, weak
// collections throw DataCloneError. Other objects clone as plain objects (own enumerable keys).
const ERRORS = { Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError };
function structuredClone(value, options = undefined) {
  need(arguments.length, 1, "structuredClone");
  const memory = new Map();
  const fail = (what) => {
    throw new DOMException(what + " could not be cloned.", "DataCloneError");
  };
  const clone = (v) => {
    const t = typeof v;
    if (t === "function") fail("function " + (v.name || "anonymous"));
    if (t === "symbol") fail(v.toString());
    if (t !== "object" || v === null) return v;
    let out = memory.get(v);
    if (out !== undefined) return out;
    const tag = tagOf(v);
    let keys = false;
    if (Array.isArray(v)) (out = new Array(v.length)), (keys = true);
    else if (v instanceof Date) out = new Date(v.getTime());
    else if (v instanceof RegExp) out = new RegExp(v.source, v.flags);
    else if (v instanceof ArrayBuffer) out = v.slice(0);
    else if (v instanceof DataView) out = new DataView(clone(v.buffer), v.byteOffset, v.byteLength);
    else if (ArrayBuffer.isView(v)) out = new globalThis[tag](clone(v.buffer), v.byteOffset, v.length);
    else if (v instanceof Map) out = new Map();
    else if (v instanceof Set) out = new Set();
    else if (v instanceof Error) {
      out = new (ERRORS[v.name] || Error)(v.message);
      if (v.stack !== undefined) out.stack = v.stack;
    } else if (tag === "Boolean" || tag === "Number" || tag === "String" || tag === "BigInt") out = Object(v.valueOf());
    else if (v instanceof Promise || v instanceof WeakMap || v instanceof WeakSet || tag === "WeakRef") fail(tag);
    else (out = {}), (keys = true);
    memory.set(v, out);
    if (v instanceof Map) for (const [k, x] of v) out.set(clone(k), clone(x));
    else if (v instanceof Set) for (const x of v) out.add(clone(x));
    else if (v instanceof Error && "cause" in v) out.cause = clone(v.cause);
    if (keys) for (const k of Object.keys(v)) out[k] = clone(v[k]);
    return out;
  };
  return clone(value);
}
def("structuredClone", structuredClone);

const timeOrigin = Date.now();
def("performance", { timeOrigin, now: () => Date.now() - timeOrigin, toJSON: () => ({ timeOrigin }) });
def("navigator", { userAgent: "Lively", language: "en-US", languages: ["en-US"], hardwareConcurrency: 1 });
def("self", globalThis);
`;
