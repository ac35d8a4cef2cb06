/**
 * Inside the isolate (see bindings.ts): the built-in library of a newer V8 where the host's V8
 * lacks it. isolated-vm runs the V8 of the Node that hosts it, so on Node 20 (V8 11.3) module
 * code would miss what workerd and Node 22+ have: Promise.withResolvers, Object.groupBy,
 * Map.groupBy, Array.fromAsync, the ES2025 Set methods (language-sets.ts) and iterator helpers
 * (language-iterators.ts), and on Node 20 and 22 Symbol.dispose and Symbol.asyncDispose.
 * docs/runtime.md ("Language level") lists what each Node gives.
 *
 * Why hand-written and not core-js: this code is compiled in every new isolate on such a host,
 * so its size is paid at every cold start; core-js's modules for exactly these built-ins come to
 * 71 KB minified (core-js 3.51 through esbuild, measured), these files to 10 KB. Each is the
 * spec's algorithm step by step (same order of reads, calls and checks, same errors, same
 * iterator closing), installed only where the realm has no such property (a native
 * implementation is never replaced), and defined as built-ins are: writable, configurable, not
 * enumerable. They touch no host binding: they are plain JavaScript over intrinsics captured
 * when the script runs, before any module code (language-util.ts). web/language.ts runs this
 * script, bundled on its own (LANGUAGE_SOURCE), before the prelude, and only where it is needed.
 */
import "./language-sets.ts";
import "./language-iterators.ts";
import {
  advance,
  apply,
  asyncCloseWith,
  closeWith,
  create,
  createData,
  DONE,
  defineProperty,
  direct,
  getMethod,
  install,
  installed,
  isConstructor,
  isObject,
  show,
} from "./language-util.ts";

const NativeMap = Map;
const NativeArray = Array;
const NativeObject = Object;
const { ownKeys } = Reflect;
const { min, trunc } = Math;
const { get: mapGet, set: mapSet, entries: mapEntries } = Map.prototype;
const mapIteratorNext = Object.getPrototypeOf(new Map().entries()).next as () => IteratorResult<[unknown, unknown[]]>;

/** ToPropertyKey: a computed key in an object literal is exactly that conversion (ToPrimitive, then ToString). */
const toPropertyKey = (k: unknown): PropertyKey =>
  typeof k === "string" || typeof k === "symbol"
    ? k
    : typeof k === "number"
      ? `${k}`
      : (ownKeys({ [k as PropertyKey]: 0 })[0] as PropertyKey);

/**
 * GroupBy(items, callback, keyCoercion) into a Map of key -> elements, in first-seen order. The
 * items are iterated with for-of, which is GetIterator plus IteratorClose when the body throws:
 * what the spec's IfAbruptCloseIterator asks.
 */
function groupBy(items: unknown, callback: unknown, property: boolean): Map<unknown, unknown[]> {
  if (items === undefined || items === null) throw new TypeError("Cannot group " + String(items));
  if (typeof callback !== "function") throw new TypeError(show(callback) + " is not a function");
  const groups = new NativeMap<unknown, unknown[]>();
  let k = 0;
  for (const value of items as Iterable<unknown>) {
    const key: unknown = apply(callback, undefined, [value, k]);
    const groupKey = property ? toPropertyKey(key) : key;
    let group: unknown[] | undefined = apply(mapGet, groups, [groupKey]);
    if (group === undefined) {
      group = [];
      apply(mapSet, groups, [groupKey, group]); // Map normalises -0 to +0, as the spec's zero coercion does
    }
    createData(group, group.length, value);
    k++;
  }
  return groups;
}

install(Object, "Object", {
  groupBy(items: unknown, callback: unknown) {
    const groups = groupBy(items, callback, true);
    const result = create(null) as Record<PropertyKey, unknown>;
    const it = apply(mapEntries, groups, []) as Iterator<[unknown, unknown[]]>;
    for (let r = apply(mapIteratorNext, it, []); !r.done; r = apply(mapIteratorNext, it, [])) {
      createData(result, r.value[0] as PropertyKey, r.value[1]);
    }
    return result;
  },
});

install(Map, "Map", {
  groupBy(items: unknown, callback: unknown) {
    return groupBy(items, callback, false);
  },
});

install(Promise, "Promise", {
  /** NewPromiseCapability(this): works with a Promise subclass, as the spec's does. */
  withResolvers(this: unknown) {
    if (!isConstructor(this)) throw new TypeError("Promise.withResolvers called on a non-constructor");
    let resolve: unknown;
    let reject: unknown;
    const promise: unknown = new (this as PromiseConstructor)((res, rej) => {
      if (resolve !== undefined || reject !== undefined) throw new TypeError("Promise executor has already been invoked");
      resolve = res;
      reject = rej;
    });
    if (typeof resolve !== "function" || typeof reject !== "function") throw new TypeError("Promise resolve or reject is not callable");
    return { promise, resolve, reject };
  },
});

install(Array, "Array", {
  // A plain method around an async function: the built-in is an ordinary function (its prototype
  // is Function.prototype), and every error is still a rejection (the spec's AsyncFunctionStart).
  fromAsync(this: unknown, items: unknown, ...rest: unknown[]) {
    return fromAsync(this, items, rest.length > 0 ? rest[0] : undefined, rest.length > 1 ? rest[1] : undefined);
  },
});

/**
 * Array.fromAsync(items, mapfn, thisArg) with `C` as this: an async iterable, else a sync
 * iterable (each value awaited, as CreateAsyncFromSyncIterator does, and the iterator closed if
 * one rejects), else an array-like.
 */
async function fromAsync(C: unknown, items: unknown, mapfn: unknown, thisArg: unknown) {
  if (mapfn !== undefined && typeof mapfn !== "function") throw new TypeError(show(mapfn) + " is not a function");
  // Without mapfn an async iterator's values are stored as they are (a promise stays a promise).
  const map = (value: unknown, k: number) => (mapfn === undefined ? value : apply(mapfn as () => unknown, thisArg, [value, k]));
  const asyncMethod = getMethod(items, Symbol.asyncIterator);
  const syncMethod = asyncMethod === undefined ? getMethod(items, Symbol.iterator) : undefined;
  if (asyncMethod !== undefined || syncMethod !== undefined) {
    const iterator: unknown = apply((asyncMethod ?? syncMethod) as () => unknown, items, []);
    if (!isObject(iterator)) throw new TypeError(show(iterator) + " is not an object");
    const record = direct(iterator);
    const out = (isConstructor(C) ? new (C as new () => object)() : []) as { length: number };
    for (let k = 0; ; k++) {
      let value: unknown;
      if (asyncMethod !== undefined) {
        const result: unknown = await apply(record.next as () => unknown, iterator, []);
        if (!isObject(result)) throw new TypeError("Iterator result " + show(result) + " is not an object");
        if ((result as IteratorResult<unknown>).done) return finish(out, k);
        value = (result as IteratorResult<unknown>).value;
      } else {
        const result = advance(record);
        if (result === DONE) return finish(out, k);
        try {
          value = await result.value;
        } catch (error) {
          closeWith(iterator, error);
        }
      }
      try {
        createData(out, k, mapfn === undefined ? value : await map(value, k));
      } catch (error) {
        await asyncCloseWith(iterator, error);
      }
    }
  }
  // Neither async nor sync iterable: an array-like.
  const arrayLike = NativeObject(items) as ArrayLike<unknown>;
  const len = lengthOf(arrayLike);
  const out = (isConstructor(C) ? new (C as new (n: number) => object)(len) : new NativeArray(len)) as { length: number };
  for (let k = 0; k < len; k++) {
    const value = await arrayLike[k];
    createData(out, k, mapfn === undefined ? value : await map(value, k));
  }
  return finish(out, len);
}

/** Set(A, "length", len, true): a strict-mode assignment throws where the spec's Set would. */
const finish = <T extends { length: number }>(out: T, length: number): T => {
  out.length = length;
  return out;
};

/** LengthOfArrayLike: ToLength(Get(obj, "length")). */
const lengthOf = (o: ArrayLike<unknown>): number => {
  const n = +(o.length as number);
  if (!(n > 0)) return 0;
  return min(trunc(n), 2 ** 53 - 1);
};

// Symbol.dispose and Symbol.asyncDispose (V8 13.4): what `using` and `await using`, lowered by
// esbuild for this V8 (code/language-level.ts), look up. Node defines its own in its realm, not
// in isolates. Well-known symbols: unregistered, and fixed on Symbol as the spec's are.
for (const name of ["dispose", "asyncDispose"]) {
  if (name in Symbol) continue;
  defineProperty(Symbol, name, { value: Symbol("Symbol." + name) });
  installed.push("Symbol." + name);
}

/**
 * The script's completion value: what it installed here, in order, as one string
 * ("Promise.withResolvers,Object.groupBy…"): a string crosses to the host without the copy an
 * array needs (measured: the copy was a third of the script's cost).
 */
export default installed.join(",");
