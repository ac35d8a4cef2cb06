/**
 * Inside the isolate (see bindings.ts; language.ts says why this exists): ES2025's iterator
 * helpers where the host V8 has none (V8 12.2, Node 22, has them): the global `Iterator`,
 * Iterator.from, and on Iterator.prototype map, filter, take, drop, flatMap, reduce, toArray,
 * forEach, some, every and find, with the `constructor` and @@toStringTag accessors.
 *
 * The lazy helpers (map…flatMap) are the spec's closures written as generator functions, one
 * `yield` per Yield: a real generator already gives what the spec asks of the helper object
 * (GeneratorValidate's "already running" TypeError, completion after a throw). The object module
 * code sees is not that generator but an %IteratorHelperPrototype% object whose next/return drive
 * it through %GeneratorPrototype% methods captured now, so replacing those later changes nothing
 * here. Each yield sits in a try/finally that closes the underlying iterator when the helper's
 * `return()` resumes it (IfAbruptCloseIterator on the Yield's completion).
 */
import {
  advance,
  append,
  apply,
  close,
  closeWith,
  create,
  DONE,
  defineProperty,
  direct,
  getMethod,
  getOwnPropertyDescriptor,
  type IteratorRecord,
  inherits,
  install,
  installed,
  isObject,
  notANumber,
  show,
  step,
  toIntegerOrInfinity,
} from "./language-util.ts";

type Fn = (...args: unknown[]) => unknown;
const INFINITY = Number.POSITIVE_INFINITY;

const scope = globalThis as { Iterator?: unknown };
if (typeof scope.Iterator !== "function") {
  const IteratorPrototype = Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]())) as object;
  const generator = Object.getPrototypeOf(function* () {}).prototype as Generator;
  const { next: resume, return: finish } = generator;

  // The abstract class: `new Iterator()` throws; `class X extends Iterator` constructs.
  const Iterator = function (this: unknown) {
    if (new.target === undefined || new.target === Iterator) throw new TypeError("Abstract class Iterator not directly constructable");
  };
  defineProperty(Iterator, "name", { value: "Iterator" });
  defineProperty(Iterator, "prototype", { value: IteratorPrototype, writable: false });

  /** SetterThatIgnoresPrototypeProperties: a write through an iterator defines its own property; on the prototype itself it throws. */
  const setOwn = (self: unknown, key: PropertyKey, value: unknown): void => {
    if (!isObject(self)) throw new TypeError("Iterator.prototype setter called on a non-object");
    if (self === IteratorPrototype) throw new TypeError("Cannot assign to read only property of Iterator.prototype");
    if (getOwnPropertyDescriptor(self, key) === undefined) {
      defineProperty(self, key, { value, writable: true, enumerable: true, configurable: true });
    } else (self as Record<PropertyKey, unknown>)[key] = value;
  };
  const accessors = {
    get [Symbol.toStringTag]() {
      return "Iterator";
    },
    set [Symbol.toStringTag](value: unknown) {
      setOwn(this, Symbol.toStringTag, value);
    },
    get constructor() {
      return Iterator;
    },
    set constructor(value: unknown) {
      setOwn(this, "constructor", value);
    },
  };
  for (const key of [Symbol.toStringTag, "constructor"]) {
    const { get, set } = Object.getOwnPropertyDescriptor(accessors, key) as PropertyDescriptor;
    defineProperty(IteratorPrototype, key, { get, set, enumerable: false, configurable: true });
  }

  /** A helper's internal slots: its closure (a generator), its underlying iterator, whether it was ever resumed. */
  interface Helper {
    closure: Generator;
    underlying: IteratorRecord;
    started: boolean;
  }
  const helpers = new WeakMap<object, Helper>();
  const { get: slotOf, set: setSlot } = WeakMap.prototype;
  const helperOf = (self: unknown, name: string): Helper => {
    const slot: Helper | undefined = isObject(self) ? apply(slotOf, helpers, [self]) : undefined;
    if (!slot) throw new TypeError("Method Iterator Helper.prototype." + name + " called on incompatible receiver");
    return slot;
  };
  const HelperPrototype = create(IteratorPrototype) as object;
  install(HelperPrototype, "%IteratorHelperPrototype%", {
    next(this: unknown) {
      const slot = helperOf(this, "next");
      slot.started = true;
      return apply(resume, slot.closure, []);
    },
    return(this: unknown) {
      const slot = helperOf(this, "return");
      if (slot.started) return apply(finish, slot.closure, []);
      // Never resumed: completed without running the closure, and the underlying iterator closed.
      slot.started = true;
      apply(finish, slot.closure, []);
      close(slot.underlying.iterator);
      return { value: undefined, done: true };
    },
  });
  defineProperty(HelperPrototype, Symbol.toStringTag, { value: "Iterator Helper", configurable: true });

  const helper = (underlying: IteratorRecord, closure: Generator): object => {
    const object = create(HelperPrototype) as object;
    apply(setSlot, helpers, [object, { closure, underlying, started: false }]);
    return object;
  };

  /** The checks every helper starts with: `this` is an object, the argument a function (else the iterator is closed). */
  const receiver = (self: unknown, fn: unknown): object => {
    if (!isObject(self)) throw new TypeError("Iterator.prototype method called on a non-object");
    if (typeof fn !== "function") closeWith(self, new TypeError(show(fn) + " is not a function"));
    return self;
  };
  /** take/drop's limit: ToNumber, not NaN, not negative (else the iterator is closed). */
  const limitOf = (self: unknown, limit: unknown): [object, number] => {
    if (!isObject(self)) throw new TypeError("Iterator.prototype method called on a non-object");
    let n: number;
    try {
      n = +(limit as number);
    } catch (error) {
      closeWith(self, error);
    }
    if (notANumber(n)) closeWith(self, new RangeError(show(limit) + " must be a number"));
    n = toIntegerOrInfinity(n);
    if (n < 0) closeWith(self, new RangeError(show(limit) + " must be positive"));
    return [self, n];
  };
  /** Calls `fn` as the spec does (undefined this); an error closes the underlying iterator. */
  const callOrClose = (it: IteratorRecord, fn: unknown, args: unknown[]): unknown => {
    try {
      return apply(fn as Fn, undefined, args);
    } catch (error) {
      closeWith(it.iterator, error);
    }
  };

  /** GetIteratorFlattenable(obj, primitives): strings iterate only where `strings` allows. */
  const flattenable = (obj: unknown, strings: boolean): IteratorRecord => {
    if (!isObject(obj) && !(strings && typeof obj === "string")) throw new TypeError(show(obj) + " is not an object");
    const method = getMethod(obj, Symbol.iterator);
    const iterator: unknown = method === undefined ? obj : apply(method, obj, []);
    if (!isObject(iterator)) throw new TypeError(show(iterator) + " is not an object");
    return direct(iterator);
  };

  // The closures. `resumed` is set once a yield's resumption is a plain next(); a return() leaves
  // it false, and the finally closes the underlying iterator (IfAbruptCloseIterator).
  /**
   * The closure of map, filter, take and drop: `pick(value, counter)` is what to yield for each
   * value (DONE: nothing); once `limit` values were yielded the iterator is closed; the first
   * `drop` steps are skipped unread (IteratorStep, not IteratorStepValue).
   */
  function* passClosure(it: IteratorRecord, pick: (value: unknown, counter: number) => unknown, limit: number, drop: number) {
    for (let skip = drop; skip > 0; skip--) if (advance(it) === DONE) return;
    for (let counter = 0, yielded = 0; ; counter++) {
      if (yielded === limit) return close(it.iterator);
      const value = step(it);
      if (value === DONE) return;
      const out = pick(value, counter);
      if (out === DONE) continue;
      yielded++;
      let resumed = false;
      try {
        yield out;
        resumed = true;
      } finally {
        if (!resumed) close(it.iterator);
      }
    }
  }
  function* flatMapClosure(it: IteratorRecord, fn: unknown) {
    for (let counter = 0; ; counter++) {
      const value = step(it);
      if (value === DONE) return;
      const mapped = callOrClose(it, fn, [value, counter]);
      let inner: IteratorRecord;
      try {
        inner = flattenable(mapped, false);
      } catch (error) {
        closeWith(it.iterator, error);
      }
      for (;;) {
        let innerValue: unknown;
        try {
          innerValue = step(inner);
        } catch (error) {
          closeWith(it.iterator, error);
        }
        if (innerValue === DONE) break;
        let resumed = false;
        try {
          yield innerValue;
          resumed = true;
        } finally {
          if (!resumed) {
            // Returned while inside the inner iterator: close it, then the outer one (which is
            // closed too, with the inner's error, if closing the inner one throws).
            try {
              close(inner.iterator);
            } catch (error) {
              closeWith(it.iterator, error);
            }
            close(it.iterator);
          }
        }
      }
    }
  }

  /** The eager methods' loop: `each(value, counter)` answers a result to stop with (closing the iterator), or undefined to go on. */
  const consume = (it: IteratorRecord, fn: unknown, each: (result: unknown, value: unknown) => { stop: unknown } | undefined) => {
    for (let counter = 0; ; counter++) {
      const value = step(it);
      if (value === DONE) return undefined;
      const found = each(callOrClose(it, fn, [value, counter]), value);
      if (found) {
        close(it.iterator);
        return found;
      }
    }
  };

  install(IteratorPrototype, "Iterator.prototype", {
    map(mapper: unknown) {
      const it = direct(receiver(this, mapper));
      return helper(
        it,
        passClosure(it, (value, counter) => callOrClose(it, mapper, [value, counter]), INFINITY, 0),
      );
    },
    filter(predicate: unknown) {
      const it = direct(receiver(this, predicate));
      return helper(
        it,
        passClosure(it, (value, counter) => (callOrClose(it, predicate, [value, counter]) ? value : DONE), INFINITY, 0),
      );
    },
    take(limit: unknown) {
      const [self, n] = limitOf(this, limit);
      const it = direct(self);
      return helper(
        it,
        passClosure(it, (value) => value, n, 0),
      );
    },
    drop(limit: unknown) {
      const [self, n] = limitOf(this, limit);
      const it = direct(self);
      return helper(
        it,
        passClosure(it, (value) => value, INFINITY, n),
      );
    },
    flatMap(mapper: unknown) {
      const self = receiver(this, mapper);
      const it = direct(self);
      return helper(it, flatMapClosure(it, mapper));
    },
    reduce(reducer: unknown) {
      const it = direct(receiver(this, reducer));
      let counter = 0;
      let accumulator: unknown;
      if (arguments.length < 2) {
        accumulator = step(it);
        if (accumulator === DONE) throw new TypeError("Reduce of empty iterator with no initial value");
        counter = 1;
      } else accumulator = arguments[1];
      for (; ; counter++) {
        const value = step(it);
        if (value === DONE) return accumulator;
        accumulator = callOrClose(it, reducer, [accumulator, value, counter]);
      }
    },
    toArray() {
      if (!isObject(this)) throw new TypeError("Iterator.prototype.toArray called on a non-object");
      const it = direct(this);
      const items: unknown[] = [];
      for (let value = step(it); value !== DONE; value = step(it)) append(items, value);
      return items;
    },
    forEach(fn: unknown) {
      consume(direct(receiver(this, fn)), fn, () => undefined);
    },
    some(predicate: unknown) {
      return !!consume(direct(receiver(this, predicate)), predicate, (result) => (result ? { stop: true } : undefined));
    },
    every(predicate: unknown) {
      return !consume(direct(receiver(this, predicate)), predicate, (result) => (result ? undefined : { stop: false }));
    },
    find(predicate: unknown) {
      return consume(direct(receiver(this, predicate)), predicate, (result, value) => (result ? { stop: value } : undefined))?.stop;
    },
  });

  /** %WrapForValidIteratorPrototype%: what Iterator.from gives for an iterator that does not inherit from Iterator.prototype. */
  const wrapped = new WeakMap<object, IteratorRecord>();
  const wrappedOf = (self: unknown): IteratorRecord => {
    const record: IteratorRecord | undefined = isObject(self) ? apply(slotOf, wrapped, [self]) : undefined;
    if (!record) throw new TypeError("Method called on incompatible receiver");
    return record;
  };
  const WrapPrototype = create(IteratorPrototype) as object;
  install(WrapPrototype, "%WrapForValidIteratorPrototype%", {
    next(this: unknown) {
      const record = wrappedOf(this);
      return apply(record.next as Fn, record.iterator, []);
    },
    return(this: unknown) {
      const { iterator } = wrappedOf(this);
      const method = getMethod(iterator, "return");
      return method === undefined ? { value: undefined, done: true } : apply(method, iterator, []);
    },
  });

  install(Iterator, "Iterator", {
    from(o: unknown) {
      const record = flattenable(o, true);
      if (inherits(record.iterator, IteratorPrototype)) return record.iterator;
      const wrapper = create(WrapPrototype) as object;
      apply(setSlot, wrapped, [wrapper, record]);
      return wrapper;
    },
  });
  defineProperty(globalThis, "Iterator", { value: Iterator, writable: true, enumerable: false, configurable: true });
  installed.push("Iterator");
}
