/**
 * Inside the isolate (see bindings.ts): small helpers the prelude's modules share. Captured
 * when the prelude runs, before module code could replace them for itself.
 *
 * One rule for every class in this folder: its body never names the class itself. esbuild
 * renames such a class `_Name` when it bundles (to keep the inner binding apart from the
 * outer one), and module code would see that name in `.name`, in console output and in stack
 * frames. So `x instanceof Headers` or `new Response(…)` inside a class's own body go through a
 * small function declared outside it; scripts/isolate-code.mjs fails the build otherwise.
 */

const objToString = Object.prototype.toString;

/** Marks a method that console.log uses to print an instance (URL, Headers, Request…). */
export const kInspect: unique symbol = Symbol("lively.inspect");
/** The token that lets the prelude construct what module code may not (AbortSignal). */
export const kInternal: unique symbol = Symbol("lively.internal");

/** An object that prints itself for console.log. */
export interface Inspectable {
  [kInspect]?: () => string;
}

/** The built-in tag: "Uint8Array", "Map", "Object"… */
export const tagOf = (v: unknown): string => objToString.call(v).slice(8, -1);

/** The name of the value's constructor, or "" (never throws, whatever the value's getters do). */
export const ctorName = (v: object): string => {
  try {
    const c: unknown = Object.getPrototypeOf(v)?.constructor;
    return typeof c === "function" && typeof c.name === "string" ? c.name : "";
  } catch {
    return "";
  }
};

/** Runs fn now; its result or throw as a promise (how the Web's async methods report errors). */
export const run = <T>(fn: () => T | PromiseLike<T>): Promise<T> => new Promise((resolve) => resolve(fn()));

/** The bytes as a Uint8Array over exactly its buffer (a copy only if it views part of a larger one). */
export const exact = (u8: Uint8Array): Uint8Array => (u8.byteOffset === 0 && u8.byteLength === u8.buffer.byteLength ? u8 : u8.slice());

/** The chunks one after another in a new Uint8Array (pure: the lazy parts may import it too). */
export const concatBytes = (chunks: readonly Uint8Array[]): Uint8Array => {
  let total = 0;
  for (const chunk of chunks) total += chunk.byteLength;
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
};

/** Web IDL's arity check: `n` arguments were passed, `count` are required. */
export const need = (n: number, count: number, what: string): void => {
  if (n < count) throw new TypeError("Failed to execute '" + what + "': " + count + " argument(s) required, but only " + n + " present.");
};

/** A string as console.log quotes it. */
export const quote = (s: string): string => "'" + s.replace(/\\/g, "\\\\").replace(/'/g, "\\'").replace(/\n/g, "\\n") + "'";

/** A string as a USVString: lone surrogates become U+FFFD. */
export const usv = (x: unknown): string => String(x).toWellFormed();
