/**
 * Inside the isolate (see bindings.ts): console, which formats like Node's util.format (a small
 * subset) and hands each line to the host's log, under a rate limit; and reportError, which
 * logs "Uncaught …" (timers, event listeners and queueMicrotask report through it).
 */
import { def, host } from "./bindings.ts";
import type { LogLevel } from "./protocol.ts";
import { schedule } from "./timers.ts";
import { ctorName, type Inspectable, kInspect, quote, tagOf } from "./util.ts";

const fnToString = Function.prototype.toString;

const keyText = (k: string) => (/^[A-Za-z_$][\w$]*$/.test(k) ? k : quote(k));
const list = (prefix: string, items: string[], total: number, open: string, close: string) => {
  if (total > items.length) items.push("... " + (total - items.length) + " more items");
  return prefix + (items.length ? open + " " + items.join(", ") + " " + close : open + close);
};
/** A typed array, whichever kind (inspect prints its first 100 elements). */
type TypedArray =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigInt64Array;

/** `v` as console.log prints it; `depth` 0 is an argument itself, strings unquoted. */
export function inspect(v: unknown, depth: number, seen: unknown[]): string {
  switch (typeof v) {
    case "string":
      return depth === 0 ? v : quote(v);
    case "number":
      return Object.is(v, -0) ? "-0" : String(v);
    case "bigint":
      return v + "n";
    case "symbol":
      return v.toString();
    case "undefined":
      return "undefined";
    case "boolean":
      return String(v);
    case "function": {
      const isClass = /^class[\s{]/.test(fnToString.call(v));
      return (isClass ? "[class " : "[Function: ") + (v.name || "(anonymous)") + "]";
    }
  }
  if (v === null) return "null";
  const o = v as object;
  if (seen.includes(o)) return "[Circular]";
  try {
    if (v instanceof Error) return depth === 0 && v.stack ? String(v.stack) : "[" + String(v) + "]";
    if (v instanceof Date) return Number.isNaN(v.getTime()) ? "Invalid Date" : v.toISOString();
    if (v instanceof RegExp) return String(v);
    const printable = v as Inspectable;
    if (typeof printable[kInspect] === "function") return printable[kInspect]();
    if (depth > 2) return Array.isArray(v) ? "[Array]" : "[Object]";
    seen.push(v);
    const inner = (x: unknown) => inspect(x, depth + 1, seen);
    const name = ctorName(o);
    if (Array.isArray(v)) return list("", v.slice(0, 100).map(inner), v.length, "[", "]");
    if (v instanceof Map)
      return list(
        "Map(" + v.size + ") ",
        [...v].slice(0, 100).map(([k, x]) => inner(k) + " => " + inner(x)),
        v.size,
        "{",
        "}",
      );
    if (v instanceof Set) return list("Set(" + v.size + ") ", [...v].slice(0, 100).map(inner), v.size, "{", "}");
    if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
      const a = v as TypedArray;
      return list(tagOf(a) + "(" + a.length + ") ", Array.from(a.subarray(0, 100), inner), a.length, "[", "]");
    }
    if (v instanceof ArrayBuffer) return "ArrayBuffer { byteLength: " + v.byteLength + " }";
    if (v instanceof Promise) return "Promise { <unknown> }";
    const keys = Object.keys(o);
    const prefix = name === "Object" ? "" : name ? name + " " : "[Object: null prototype] ";
    const fields = o as Record<string, unknown>;
    return list(
      prefix,
      keys.slice(0, 100).map((k) => keyText(k) + ": " + inner(fields[k])),
      keys.length,
      "{",
      "}",
    );
  } catch {
    return "[object " + tagOf(v) + "]";
  } finally {
    if (seen[seen.length - 1] === v) seen.pop();
  }
}

/** console.log's arguments as one line: printf-style directives in a first string, then the rest. */
function format(args: unknown[]): string {
  let i = 0;
  let out = "";
  const first = args[0];
  if (typeof first === "string" && args.length > 1 && first.includes("%")) {
    i = 1;
    out = first.replace(/%[sdifjoOc%]/g, (m) => {
      if (m === "%%") return "%";
      if (i >= args.length) return m;
      const a = args[i++];
      switch (m) {
        case "%s":
          return typeof a === "string" ? a : inspect(a, 1, []);
        case "%d":
          return typeof a === "bigint" ? a + "n" : String(Number(a));
        case "%i":
          // biome-ignore lint/correctness/useParseIntRadix: util.format's %i is parseInt without a radix ("0x10" is 16).
          return typeof a === "bigint" ? a + "n" : String(Number.parseInt(a as string));
        case "%f":
          return String(Number.parseFloat(a as string));
        case "%j":
          try {
            return JSON.stringify(a);
          } catch {
            return "[Circular]";
          }
        case "%c":
          return "";
        default:
          return inspect(a, 1, []);
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
const emit = (level: LogLevel, text: string) => {
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
const counts = new Map<unknown, number>();
const started = new Map<unknown, number>();
const consoleObject = {
  log: (...a: unknown[]) => emit("log", format(a)),
  info: (...a: unknown[]) => emit("info", format(a)),
  warn: (...a: unknown[]) => emit("warn", format(a)),
  error: (...a: unknown[]) => emit("error", format(a)),
  debug: (...a: unknown[]) => emit("debug", format(a)),
  trace: (...a: unknown[]) => emit("debug", "Trace: " + format(a)),
  dir: (v: unknown) => emit("log", inspect(v, 1, [])),
  table: (...a: unknown[]) => emit("log", format(a)),
  assert: (ok: unknown, ...a: unknown[]) => {
    if (!ok) emit("error", "Assertion failed" + (a.length ? ": " + format(a) : ""));
  },
  count: (label: string = "default") => {
    counts.set(label, (counts.get(label) || 0) + 1);
    emit("info", label + ": " + counts.get(label));
  },
  countReset: (label: string = "default") => {
    counts.delete(label);
  },
  time: (label: string = "default") => {
    started.set(label, Date.now());
  },
  timeLog: (label: string = "default", ...a: unknown[]) => {
    if (started.has(label)) emit("info", label + ": " + (Date.now() - started.get(label)!) + "ms" + (a.length ? " " + format(a) : ""));
  },
  timeEnd: (label: string = "default") => {
    consoleObject.timeLog(label);
    started.delete(label);
  },
  group: (...a: unknown[]) => {
    if (a.length) emit("log", format(a));
    indent += "  ";
  },
  groupCollapsed: (...a: unknown[]) => consoleObject.group(...a),
  groupEnd: () => {
    indent = indent.slice(2);
  },
};
def("console", consoleObject);

export function reportError(error: unknown): void {
  consoleObject.error("Uncaught", error);
}
def("reportError", reportError);
