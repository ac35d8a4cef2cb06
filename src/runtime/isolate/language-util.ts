/**
 * Inside the isolate (see bindings.ts): what the language polyfills share (language.ts says
 * why they exist). The spec's abstract operations they need, written against intrinsics
 * captured when the language script runs (before the prelude and any module code): module code
 * may replace Reflect.apply, Function.prototype.call or Object.defineProperty for itself
 * afterwards, and a built-in must not start calling its replacements.
 */

export const { apply } = Reflect;
export const { defineProperty, getOwnPropertyDescriptor, create } = Object;
const hasInChain = Object.prototype.isPrototypeOf;
/** Number.isNaN, as the script found it. */
export const notANumber = Number.isNaN;
const { trunc } = Math;
const NativeProxy = Proxy;

/** A value for an error message, without calling module code (String() would run an object's toString). */
export const show = (v: unknown): string =>
  typeof v === "function" ? "function" : typeof v === "object" && v !== null ? "object" : String(v);

/** The spec's "is an Object" (functions included). */
export const isObject = (v: unknown): v is object => (typeof v === "object" && v !== null) || typeof v === "function";

/** What the language script installed, as "Set.prototype.union"…: its completion value, for the host's tests. */
export const installed: string[] = [];

/**
 * Defines each of `methods` on `target` (called `label`) as the realm's built-ins are (writable,
 * configurable, not enumerable), and only where `target` has no such property: a native
 * implementation always wins. Object-literal methods are what built-in methods are: not
 * constructors, no `prototype`.
 */
export function install(target: object, label: string, methods: object): void {
  for (const key of Reflect.ownKeys(methods)) {
    if (key in target) continue;
    const { value } = Object.getOwnPropertyDescriptor(methods, key) as PropertyDescriptor;
    defineProperty(target, key, { value, writable: true, enumerable: false, configurable: true });
    installed.push(label + "." + String(key));
  }
}

/** `o` is `proto` or has it on its prototype chain (OrdinaryHasInstance's walk). */
export const inherits = (o: object, proto: object): boolean => apply(hasInChain, proto, [o]) as boolean;

/** CreateDataPropertyOrThrow: an own data property, never a setter module code put on a prototype. */
export const createData = (o: object, key: PropertyKey, value: unknown): void => {
  defineProperty(o, key, { value, writable: true, enumerable: true, configurable: true });
};

/** Appends to a list the polyfills build (CreateArrayFromList's effect, one element at a time). */
export const append = (list: unknown[], value: unknown): void => createData(list, list.length, value);

/** ToIntegerOrInfinity after ToNumber (unary plus: throws on a Symbol or BigInt, as ToNumber does). */
export const toIntegerOrInfinity = (v: unknown): number => {
  const n = +(v as number);
  return notANumber(n) || n === 0 ? 0 : trunc(n);
};

const constructProbe: ProxyHandler<object> = Object.freeze(Object.assign(create(null), { construct: () => constructProbe }));

/** IsConstructor, without running the function or reading its `prototype` (a Proxy's construct trap answers). */
export const isConstructor = (c: unknown): boolean => {
  if (typeof c !== "function") return false;
  try {
    new (new NativeProxy(c, constructProbe) as new () => object)();
    return true;
  } catch {
    return false;
  }
};

/** GetMethod: undefined for a missing (undefined or null) method; a TypeError for one that is not callable. */
export function getMethod(v: unknown, key: PropertyKey): ((...args: unknown[]) => unknown) | undefined {
  const method = (v as Record<PropertyKey, unknown>)[key];
  if (method === undefined || method === null) return undefined;
  if (typeof method !== "function") throw new TypeError(String(key) + " is not a function");
  return method as (...args: unknown[]) => unknown;
}

/** An Iterator Record: the iterator and the `next` read from it once. */
export interface IteratorRecord {
  iterator: object;
  next: unknown;
}

/** GetIteratorDirect: `next` is read once, here, and called as it was read. */
export const direct = (iterator: object): IteratorRecord => ({ iterator, next: (iterator as { next?: unknown }).next });

/** The value IteratorStepValue reports for a finished iterator. */
export const DONE: unique symbol = Symbol("done");

/** IteratorStep: the result object of the next step, or DONE. An error from `next` or `done` is not followed by closing. */
export function advance(record: IteratorRecord): IteratorResult<unknown> | typeof DONE {
  if (typeof record.next !== "function") throw new TypeError(show(record.next) + " is not a function");
  const result: unknown = apply(record.next, record.iterator, []);
  if (!isObject(result)) throw new TypeError("Iterator result " + show(result) + " is not an object");
  return (result as IteratorResult<unknown>).done ? DONE : (result as IteratorResult<unknown>);
}

/** IteratorStepValue: the next value, or DONE. */
export function step(record: IteratorRecord): unknown {
  const result = advance(record);
  return result === DONE ? DONE : result.value;
}

/** IteratorClose with a normal completion: `return` is called if there is one, and its errors and a non-object result throw. */
export function close(iterator: object): void {
  const method = getMethod(iterator, "return");
  if (method === undefined) return;
  if (!isObject(apply(method, iterator, []))) throw new TypeError("iterator.return() did not return an object");
}

/** IteratorClose with a throw completion: `return` is called, whatever it does is ignored, and `error` is thrown. */
export function closeWith(iterator: object, error: unknown): never {
  try {
    const method = getMethod(iterator, "return");
    if (method !== undefined) apply(method, iterator, []);
  } catch {
    // The first error wins (the spec's IteratorClose returns the throw completion it was given).
  }
  throw error;
}

/** AsyncIteratorClose with a throw completion: as closeWith, awaiting what `return` gives. */
export async function asyncCloseWith(iterator: object, error: unknown): Promise<never> {
  try {
    const method = getMethod(iterator, "return");
    if (method !== undefined) await apply(method, iterator, []);
  } catch {
    // As closeWith: the first error wins.
  }
  throw error;
}
