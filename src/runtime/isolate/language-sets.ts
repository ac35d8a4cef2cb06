/**
 * Inside the isolate (see bindings.ts; language.ts says why these exist): the Set methods of
 * ES2025 (union, intersection, difference, symmetricDifference, isSubsetOf, isSupersetOf,
 * isDisjointFrom), step by step as the spec writes them. `this` is read through the Set's own
 * internal list (its captured `values` iterator, which sees additions and deletions as the
 * spec's index walk does); `other` only through its `size`, `has` and `keys`, as GetSetRecord
 * reads them. Results are new plain Sets (the spec creates them from %Set.prototype%, never
 * through a subclass).
 */
import {
  apply,
  close,
  DONE,
  direct,
  type IteratorRecord,
  install,
  isObject,
  notANumber,
  step,
  toIntegerOrInfinity,
} from "./language-util.ts";

const NativeSet = Set;
const { has, add, delete: remove, values } = Set.prototype;
const sizeOf = Object.getOwnPropertyDescriptor(Set.prototype, "size")?.get as () => number;
const nextOf = Object.getPrototypeOf(new Set().values()).next as () => IteratorResult<unknown>;

type AnySet = Set<unknown>;

interface SetRecord {
  set: object;
  size: number;
  has: unknown;
  keys: unknown;
}

/** RequireInternalSlot(O, [[SetData]]): its size, or the TypeError a built-in throws for a wrong receiver. */
function thisSize(o: unknown, name: string): number {
  try {
    return apply(sizeOf, o, []);
  } catch {
    throw new TypeError("Method Set.prototype." + name + " called on incompatible receiver " + (isObject(o) ? "object" : String(o)));
  }
}

/** GetSetRecord(other), in the spec's order of reads and checks. */
function setRecord(other: unknown): SetRecord {
  if (!isObject(other)) throw new TypeError("The argument must be an object with size, has and keys");
  const raw = (other as { size?: unknown }).size;
  const num = +(raw as number);
  if (notANumber(num)) throw new TypeError("The argument's size is not a number");
  const size = toIntegerOrInfinity(num);
  if (size < 0) throw new RangeError("The argument's size must not be negative");
  const hasMethod = (other as { has?: unknown }).has;
  if (typeof hasMethod !== "function") throw new TypeError("The argument's has is not a function");
  const keys = (other as { keys?: unknown }).keys;
  if (typeof keys !== "function") throw new TypeError("The argument's keys is not a function");
  return { set: other, size, has: hasMethod, keys };
}

/** GetKeysIterator(setRec). */
function keysOf(rec: SetRecord): IteratorRecord {
  const iterator: unknown = apply(rec.keys as () => unknown, rec.set, []);
  if (!isObject(iterator)) throw new TypeError("The argument's keys() did not return an object");
  const record = direct(iterator);
  if (typeof record.next !== "function") throw new TypeError("The argument's keys() iterator has no next method");
  return record;
}

/** The next key of `other` (CanonicalizeKeyedCollectionKey: -0 is +0), or DONE. */
const nextKey = (keys: IteratorRecord): unknown => {
  const v = step(keys);
  return v === 0 ? 0 : v;
};

const otherHas = (rec: SetRecord, e: unknown): boolean => !!apply(rec.has as () => unknown, rec.set, [e]);
const setHas = (s: AnySet, v: unknown): boolean => apply(has, s, [v]);
const setAdd = (s: AnySet, v: unknown): void => void apply(add, s, [v]);

/** Calls `each` with every element of `s`, live as the spec's index walk is; stops early when it answers true. */
function walk(s: AnySet, each: (e: unknown) => boolean | undefined): boolean {
  const it: Iterator<unknown> = apply(values, s, []);
  for (let r = apply(nextOf, it, []); !r.done; r = apply(nextOf, it, [])) if (each(r.value)) return true;
  return false;
}

/** A new Set with a copy of `s`'s elements. */
function copy(s: AnySet): AnySet {
  const out = new NativeSet();
  walk(s, (e) => void setAdd(out, e));
  return out;
}

install(Set.prototype, "Set.prototype", {
  union(this: AnySet, other: unknown): AnySet {
    thisSize(this, "union");
    const keys = keysOf(setRecord(other));
    const result = copy(this);
    for (let v = nextKey(keys); v !== DONE; v = nextKey(keys)) setAdd(result, v);
    return result;
  },
  intersection(this: AnySet, other: unknown): AnySet {
    const size = thisSize(this, "intersection");
    const rec = setRecord(other);
    const result = new NativeSet();
    if (size <= rec.size) {
      // A `has` that adds to or deletes from `this` is seen, as the spec's walk sees it.
      walk(this, (e) => void (otherHas(rec, e) && setAdd(result, e)));
    } else {
      const keys = keysOf(rec);
      for (let v = nextKey(keys); v !== DONE; v = nextKey(keys)) if (setHas(this, v)) setAdd(result, v);
    }
    return result;
  },
  difference(this: AnySet, other: unknown): AnySet {
    const size = thisSize(this, "difference");
    const rec = setRecord(other);
    const result = copy(this);
    if (size <= rec.size) {
      walk(result, (e) => void (otherHas(rec, e) && apply(remove, result, [e])));
    } else {
      const keys = keysOf(rec);
      for (let v = nextKey(keys); v !== DONE; v = nextKey(keys)) apply(remove, result, [v]);
    }
    return result;
  },
  symmetricDifference(this: AnySet, other: unknown): AnySet {
    thisSize(this, "symmetricDifference");
    const keys = keysOf(setRecord(other));
    const result = copy(this);
    for (let v = nextKey(keys); v !== DONE; v = nextKey(keys)) {
      if (setHas(this, v)) apply(remove, result, [v]);
      else setAdd(result, v);
    }
    return result;
  },
  isSubsetOf(this: AnySet, other: unknown): boolean {
    const size = thisSize(this, "isSubsetOf");
    const rec = setRecord(other);
    if (size > rec.size) return false;
    return !walk(this, (e) => !otherHas(rec, e));
  },
  isSupersetOf(this: AnySet, other: unknown): boolean {
    const size = thisSize(this, "isSupersetOf");
    const rec = setRecord(other);
    if (size < rec.size) return false;
    return !someKey(rec, (v) => !setHas(this, v));
  },
  isDisjointFrom(this: AnySet, other: unknown): boolean {
    const size = thisSize(this, "isDisjointFrom");
    const rec = setRecord(other);
    if (size <= rec.size) return !walk(this, (e) => otherHas(rec, e));
    return !someKey(rec, (v) => setHas(this, v));
  },
});

/** Whether a key of `other` passes `test`; the keys iterator is closed (IteratorClose) when one does. */
function someKey(rec: SetRecord, test: (v: unknown) => boolean): boolean {
  const keys = keysOf(rec);
  for (let v = nextKey(keys); v !== DONE; v = nextKey(keys)) {
    if (!test(v)) continue;
    close(keys.iterator);
    return true;
  }
  return false;
}
