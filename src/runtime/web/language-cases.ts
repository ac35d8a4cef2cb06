/**
 * What the spec says of each built-in web/language.ts provides where the host V8 lacks it, as
 * cases run inside a real isolate by language.test.ts and, deployed with `lively deploy DIR`,
 * over HTTP by test/language.test.ts. Each case is the body of an async function with nothing
 * from the host: it returns `true` when it passes, or a string saying what it saw. Plain
 * JavaScript on purpose: the same cases pass natively on Node 24 (V8 13.6), which is how the
 * expectations were checked against V8's own implementations (Node 22's V8 12.4 predates the
 * 2024 spec change that closes an iterator whose helper is given a bad argument).
 *
 * `expect(actual, expected)` (prepended to every case) compares as JSON.
 */

export interface LanguageCase {
  /** The built-in the case is about ("Set.prototype.union"). */
  builtin: string;
  name: string;
  code: string;
}

export const LANGUAGE_HELPERS = `
const expect = (actual, expected) => { const a = JSON.stringify(actual), e = JSON.stringify(expected); return a === e ? true : "got " + a + ", expected " + e; };
const errorOf = (fn) => { try { fn(); return "no error"; } catch (e) { return e.constructor.name; } };
const closable = (values, log) => ({ i: 0, __proto__: Iterator.prototype,
  next() { log.push("next"); return this.i < values.length ? { value: values[this.i++], done: false } : { value: undefined, done: true }; },
  return() { log.push("return"); return {}; } });
`;

export const LANGUAGE_CASES: LanguageCase[] = [
  {
    builtin: "Promise.withResolvers",
    name: "resolves the promise it returns, and works on a subclass",
    code: `
      const { promise, resolve, reject } = Promise.withResolvers();
      resolve(42);
      class Sub extends Promise {}
      const sub = Sub.withResolvers();
      sub.reject(new Error("no"));
      const why = await sub.promise.catch((e) => e.message);
      return expect([await promise, typeof reject, sub.promise instanceof Sub, why, Object.keys(Promise.withResolvers()), errorOf(() => Promise.withResolvers.call(1))],
        [42, "function", true, "no", ["promise", "resolve", "reject"], "TypeError"]);`,
  },
  {
    builtin: "Object.groupBy",
    name: "groups into a null-prototype object by property key, in first-seen order",
    code: `
      const g = Object.groupBy([1, 2, 3, 4, 5, 6], (n, i) => (n % 3 === 0 ? "fizz" : i < 2 ? "early" : "late"));
      const keyed = Object.groupBy("abc", (c) => ({ toString: () => c.toUpperCase() }));
      return expect([Object.getPrototypeOf(g), Object.entries(g), Object.keys(keyed), errorOf(() => Object.groupBy([1], 1)), errorOf(() => Object.groupBy(null, () => 1))],
        [null, [["early", [1, 2]], ["fizz", [3, 6]], ["late", [4, 5]]], ["A", "B", "C"], "TypeError", "TypeError"]);`,
  },
  {
    builtin: "Map.groupBy",
    name: "groups into a Map by SameValueZero, -0 as +0, and closes the iterator when the callback throws",
    code: `
      const a = { id: 1 };
      const m = Map.groupBy([a, -0, 0, a, NaN, NaN], (x) => x);
      const log = [];
      const thrown = errorOf(() => Map.groupBy({ [Symbol.iterator]: () => closable([1, 2], log) }, () => { throw new RangeError("x"); }));
      return expect([m instanceof Map, [...m.values()].map((v) => v.length), Object.is([...m.keys()][1], 0), thrown, log],
        [true, [2, 2, 2], true, "RangeError", ["next", "return"]]);`,
  },
  {
    builtin: "Array.fromAsync",
    name: "reads async iterables, sync iterables of promises and array-likes, mapping and awaiting",
    code: `
      // An async iterator's values are stored as they are: a promise stays a promise (an async generator would await it).
      const source = { [Symbol.asyncIterator]() { let i = 0; return { next: async () => (i < 2 ? { value: i++ ? Promise.resolve(2) : 1, done: false } : { done: true }) }; } };
      const fromGen = await Array.fromAsync(source);
      const fromSync = await Array.fromAsync([Promise.resolve(1), 2], (x, i) => x * 10 + i);
      const fromLike = await Array.fromAsync({ length: 2, 0: "a", 1: Promise.resolve("b") });
      class Box { constructor(n) { this.made = n ?? "none"; } }
      const boxed = await Array.fromAsync.call(Box, [7]);
      const notFn = await Array.fromAsync([1], 5).then(() => "resolved", (e) => e.constructor.name);
      return expect([fromGen.length, fromGen[1] instanceof Promise, fromSync, fromLike, boxed.made, boxed.length, boxed[0], notFn, Array.fromAsync.length],
        [2, true, [10, 21], ["a", "b"], "none", 1, 7, "TypeError", 1]);`,
  },
  {
    builtin: "Array.fromAsync",
    name: "closes a sync iterator whose promise rejects, and an async one whose mapper throws",
    code: `
      const log = [];
      const it = closable([Promise.reject(new Error("bad")), 2], log);
      const r1 = await Array.fromAsync({ [Symbol.iterator]: () => it }).catch((e) => e.message);
      const alog = [];
      const ait = { [Symbol.asyncIterator]() { return { next: async () => (alog.push("next"), { value: 1, done: false }), return: async () => (alog.push("return"), {}) }; } };
      const r2 = await Array.fromAsync(ait, () => { throw new TypeError("map"); }).catch((e) => e.message);
      // The sync iterator is closed by CreateAsyncFromSyncIterator (V8 13.6 closes it a second time): asked is that it is closed.
      return expect([r1, log.slice(0, 2), r2, alog], ["bad", ["next", "return"], "map", ["next", "return"]]);`,
  },
  {
    builtin: "Set.prototype.union",
    name: "union, intersection, difference and symmetricDifference keep the spec's order",
    code: `
      const a = new Set([1, 2, 3, 4]);
      const b = new Set([5, 4, 3]);
      const big = new Set([3, 9, 8, 1, 7]);
      return expect([[...a.union(b)], [...a.intersection(b)], [...a.intersection(big)], [...a.difference(b)], [...a.difference(big)], [...a.symmetricDifference(b)], [...a]],
        [[1, 2, 3, 4, 5], [4, 3], [1, 3], [1, 2], [2, 4], [1, 2, 5], [1, 2, 3, 4]]);`,
  },
  {
    builtin: "Set.prototype.intersection",
    name: "takes any set-like (size, has, keys) and checks it as GetSetRecord does",
    code: `
      const like = { size: 2, has: (x) => x === 2 || x === 5, keys: () => [5, 2][Symbol.iterator]() };
      const s = new Set([1, 2, 3]);
      const map = new Map([[2, "b"], [4, "d"]]);
      return expect([[...s.intersection(like)], [...s.union(map)], errorOf(() => s.union([1])), errorOf(() => s.union({ size: -1, has() {}, keys() {} })),
          errorOf(() => s.union({ size: 1, has: 1, keys() {} })), errorOf(() => Set.prototype.union.call({}, s))],
        [[2], [1, 2, 3, 4], "TypeError", "RangeError", "TypeError", "TypeError"]);`,
  },
  {
    builtin: "Set.prototype.isSubsetOf",
    name: "isSubsetOf, isSupersetOf and isDisjointFrom; the keys iterator is closed when the answer is known",
    code: `
      const s = new Set([1, 2]);
      const log = [];
      const like = { size: 3, has: (x) => x < 4, keys: () => closable([1, 9, 2], log) };
      const answers = [s.isSubsetOf(new Set([1, 2, 3])), s.isSubsetOf(new Set([1])), new Set([1, 2, 3]).isSupersetOf(s), s.isDisjointFrom(new Set([3])), s.isDisjointFrom(new Set([2, 3]))];
      const superset = new Set([1, 2, 3, 4]).isSupersetOf(like);
      return expect([answers, superset, log], [[true, false, true, true, false], false, ["next", "next", "return"]]);`,
  },
  {
    builtin: "Set.prototype.difference",
    name: "-0 from the other set is +0; a result is a plain Set even from a subclass",
    code: `
      class MySet extends Set {}
      const r = new MySet([0, 1]).symmetricDifference(new Set([-0, 2]));
      return expect([[...r], Object.is([...new Set().union(new Set([-0]))][0], 0), r.constructor === Set, new Set([1]).difference(new Set([1])).size],
        [[1, 2], true, true, 0]);`,
  },
  {
    builtin: "Iterator",
    name: "the abstract class: not constructible itself, subclassable, Iterator.prototype as the prototype of every iterator",
    code: `
      class Counter extends Iterator { n = 0; next() { return this.n < 3 ? { value: this.n++, done: false } : { value: undefined, done: true }; } }
      const proto = Object.getPrototypeOf(Object.getPrototypeOf([].values()));
      const d = Object.getOwnPropertyDescriptor(globalThis, "Iterator");
      return expect([errorOf(() => new Iterator()), new Counter().toArray(), Iterator.prototype === proto, [].values() instanceof Iterator, Object.prototype.toString.call(new Counter()),
          Iterator.prototype.constructor === Iterator, d.enumerable, d.writable, Iterator.name, Iterator.length],
        ["TypeError", [0, 1, 2], true, true, "[object Iterator]", true, false, true, "Iterator", 0]);`,
  },
  {
    builtin: "Iterator.from",
    name: "returns an iterator that already inherits from Iterator.prototype, wraps one that does not, iterates strings",
    code: `
      const arrayIt = [1, 2].values();
      const plain = { i: 0, next() { return { value: this.i, done: this.i++ > 1 }; } };
      const wrapped = Iterator.from(plain);
      return expect([Iterator.from(arrayIt) === arrayIt, wrapped === plain, wrapped.map((x) => x * 2).toArray(), Iterator.from("ab").toArray(), errorOf(() => Iterator.from(5)),
          typeof wrapped.return(), Object.getOwnPropertyNames(Object.getPrototypeOf(wrapped))],
        [true, false, [0, 2], ["a", "b"], "TypeError", "object", ["next", "return"]]);`,
  },
  {
    builtin: "Iterator.prototype.map",
    name: "map, filter, take, drop and flatMap are lazy and pass the counter",
    code: `
      const seen = [];
      const naturals = function* () { for (let n = 0; ; n++) { seen.push(n); yield n; } };
      const out = naturals().filter((n) => n % 2).map((n, i) => n * 10 + i).drop(1).take(3).toArray();
      const flat = [1, 2].values().flatMap((n) => [n, n]).toArray();
      const h = [1].values().map((x) => x);
      return expect([out, seen.length, flat, Object.prototype.toString.call(h), Object.getOwnPropertyNames(Object.getPrototypeOf(h)), errorOf(() => [1].values().flatMap(() => "ab").next())],
        [[31, 52, 73], 8, [1, 1, 2, 2], "[object Iterator Helper]", ["next", "return"], "TypeError"]);`,
  },
  {
    builtin: "Iterator.prototype.take",
    name: "argument checks close the iterator; return() before or during iteration closes it once",
    code: `
      const log = [];
      const errors = [errorOf(() => closable([1], log).map(1)), errorOf(() => closable([1], log).take(NaN)), errorOf(() => closable([1], log).drop(-1))];
      const early = [];
      const notStarted = closable([1, 2], early).map((x) => x);
      const first = notStarted.return();
      const after = notStarted.next();
      const mid = [];
      const started = closable([1, 2], mid).filter(() => true);
      started.next();
      started.return();
      const limit = [];
      closable([1, 2, 3], limit).take(1).toArray();
      return expect([errors, log, first, after, early, mid, limit],
        [["TypeError", "RangeError", "RangeError"], ["return", "return", "return"], { done: true }, { done: true }, ["return"], ["next", "return"], ["next", "return"]]);`,
  },
  {
    builtin: "Iterator.prototype.reduce",
    name: "reduce, toArray, forEach, some, every and find; the eager ones close what they stop early",
    code: `
      const log = [];
      const found = closable([1, 2, 3], log).find((x) => x === 2);
      const sum = [1, 2, 3].values().reduce((a, b) => a + b);
      const withInit = [1, 2].values().reduce((a, b, i) => a + b * i, 10);
      const each = [];
      [5, 6].values().forEach((v, i) => each.push([v, i]));
      return expect([found, log, sum, withInit, each, [1, 2].values().some((x) => x > 1), [1, 2].values().every((x) => x > 1),
          errorOf(() => [].values().reduce((a) => a)), Iterator.prototype.reduce.length, errorOf(() => Iterator.prototype.toArray.call(1))],
        [2, ["next", "next", "return"], 6, 12, [[5, 0], [6, 1]], true, false, "TypeError", 1, "TypeError"]);`,
  },
  {
    builtin: "Iterator.prototype.flatMap",
    name: "a helper re-entered from its own callback throws a TypeError; a finished helper stays done",
    code: `
      let helper;
      helper = [1, 2].values().map(() => helper.next());
      const reentry = errorOf(() => helper.next());
      const thrown = [1].values().map(() => { throw new Error("x"); });
      const first = errorOf(() => thrown.next());
      return expect([reentry, first, thrown.next()], ["TypeError", "Error", { done: true }]);`,
  },
];
