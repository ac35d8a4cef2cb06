/**
 * Inside the isolate (see bindings.ts): structuredClone for plain data, arrays, Map, Set, Date,
 * RegExp, ArrayBuffer, typed arrays, DataView, errors, boxed primitives, CryptoKey (a key
 * is serializable in WebCrypto: the clone shares the original's sealed material), and Blob and
 * File (the clone shares the bytes, which never change), cycles kept. Functions, symbols,
 * promises, weak collections and FormData throw DataCloneError; other objects clone as plain
 * objects (own enumerable keys).
 */
import { def } from "./bindings.ts";
import { blobInternals } from "./blob.ts";
import { DOMException } from "./events.ts";
import { formInternals } from "./form-data.ts";
import { cloneKey } from "./subtle.ts";
import { need, tagOf } from "./util.ts";

const ERRORS: Record<string, ErrorConstructor> = { Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError };
type TypedArrayConstructor = new (buffer: ArrayBufferLike, byteOffset: number, length: number) => ArrayBufferView;

function structuredClone(value: unknown, _options: unknown = undefined): unknown {
  need(arguments.length, 1, "structuredClone");
  const memory = new Map<object, unknown>();
  const fail = (what: string): never => {
    throw new DOMException(what + " could not be cloned.", "DataCloneError");
  };
  const clone = (v: unknown): unknown => {
    if (typeof v === "function") fail("function " + (v.name || "anonymous"));
    if (typeof v === "symbol") fail(v.toString());
    if (typeof v !== "object" || v === null) return v;
    let out = memory.get(v);
    if (out !== undefined) return out;
    const tag = tagOf(v);
    let keys = false;
    if (Array.isArray(v)) {
      out = new Array(v.length);
      keys = true;
    } else if (v instanceof Date) out = new Date(v.getTime());
    else if (v instanceof RegExp) out = new RegExp(v.source, v.flags);
    else if (v instanceof ArrayBuffer) out = v.slice(0);
    else if (v instanceof DataView) out = new DataView(clone(v.buffer) as ArrayBuffer, v.byteOffset, v.byteLength);
    else if (ArrayBuffer.isView(v)) {
      const TypedArray = (globalThis as unknown as Record<string, TypedArrayConstructor>)[tag];
      out = new TypedArray(clone(v.buffer) as ArrayBuffer, v.byteOffset, (v as Uint8Array).length);
    } else if (v instanceof Map) out = new Map();
    else if (v instanceof Set) out = new Set();
    else if (v instanceof Error) {
      const error = new (ERRORS[v.name] || Error)(v.message);
      if (v.stack !== undefined) error.stack = v.stack;
      out = error;
    } else if (tag === "Boolean" || tag === "Number" || tag === "String" || tag === "BigInt")
      out = Object((v as { valueOf(): unknown }).valueOf());
    else if (tag === "CryptoKey" && cloneKey(v)) out = cloneKey(v);
    else if (blobInternals.isFile(v))
      out = blobInternals.makeFile(blobInternals.bytes(v), blobInternals.name(v), blobInternals.type(v), blobInternals.lastModified(v));
    else if (blobInternals.is(v)) out = blobInternals.make(blobInternals.bytes(v), blobInternals.type(v));
    else if (v instanceof Promise || v instanceof WeakMap || v instanceof WeakSet || tag === "WeakRef" || formInternals.is(v)) fail(tag);
    else {
      out = {};
      keys = true;
    }
    memory.set(v, out);
    if (v instanceof Map) for (const [k, x] of v) (out as Map<unknown, unknown>).set(clone(k), clone(x));
    else if (v instanceof Set) for (const x of v) (out as Set<unknown>).add(clone(x));
    else if (v instanceof Error && "cause" in v) (out as Error).cause = clone(v.cause);
    if (keys) for (const k of Object.keys(v)) (out as Record<string, unknown>)[k] = clone((v as Record<string, unknown>)[k]);
    return out;
  };
  return clone(value);
}
def("structuredClone", structuredClone);
