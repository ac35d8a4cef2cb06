/**
 * Inside the isolate (see bindings.ts): FormData (XHR's), a list of entries whose values are
 * strings or Files. A Blob given to append or set becomes a File, named "blob" unless a
 * filename is given (the spec's; workerd names it after the entry). Turning a body into
 * FormData and FormData into a body is form-body.ts's.
 */
import { def } from "./bindings.ts";
import { blobInternals, type File } from "./blob.ts";
import { kInspect, need, quote, usv } from "./util.ts";

const dateNow = Date.now;

export type FormValue = string | File;
type Entry = [string, FormValue];

/** The spec's "create an entry": a Blob becomes a File, renamed when a filename is given. */
const entryValue = (value: unknown, filename: unknown, n: number, what: string): FormValue => {
  if (!blobInternals.is(value)) {
    if (n > 2) throw new TypeError("Failed to execute '" + what + "' on 'FormData': parameter 2 is not of type 'Blob'.");
    return usv(value);
  }
  const isFile = blobInternals.isFile(value);
  if (isFile && filename === undefined) return value;
  const name = filename !== undefined ? usv(filename) : "blob";
  const lastModified = isFile ? blobInternals.lastModified(value) : dateNow();
  return blobInternals.makeFile(blobInternals.bytes(value), name, blobInternals.type(value), lastModified);
};

/** What the bodies may do that module code may not. */
export const formInternals = {} as {
  is(x: unknown): x is FormData;
  /** The entries as they are (not a copy). */
  entries(f: FormData): readonly Entry[];
  /** A FormData holding `entries` (adopted). */
  make(entries: Entry[]): FormData;
};

// Outside the class body: see util.ts.
const newFormData = () => new FormData();

export class FormData {
  #list: Entry[] = [];
  constructor(form: unknown = undefined) {
    // There is no HTML form element to read entries from here.
    if (form !== undefined) throw new TypeError("Failed to construct 'FormData': parameter 1 is not of type 'HTMLFormElement'.");
  }
  static {
    formInternals.is = (x): x is FormData => x !== null && typeof x === "object" && #list in x;
    formInternals.entries = (f) => f.#list;
    formInternals.make = (entries) => {
      const f = newFormData();
      f.#list = entries;
      return f;
    };
  }
  append(name: unknown, value: unknown, filename: unknown = undefined) {
    need(arguments.length, 2, "FormData.append");
    this.#list.push([usv(name), entryValue(value, filename, arguments.length, "append")]);
  }
  set(name: unknown, value: unknown, filename: unknown = undefined) {
    need(arguments.length, 2, "FormData.set");
    const n = usv(name);
    const entry: Entry = [n, entryValue(value, filename, arguments.length, "set")];
    const i = this.#list.findIndex((e) => e[0] === n);
    if (i < 0) this.#list.push(entry);
    else {
      this.#list[i] = entry;
      this.#list = this.#list.filter((e, j) => j <= i || e[0] !== n);
    }
  }
  delete(name: unknown) {
    need(arguments.length, 1, "FormData.delete");
    const n = usv(name);
    this.#list = this.#list.filter((e) => e[0] !== n);
  }
  get(name: unknown): FormValue | null {
    need(arguments.length, 1, "FormData.get");
    const n = usv(name);
    const e = this.#list.find((x) => x[0] === n);
    return e ? e[1] : null;
  }
  getAll(name: unknown): FormValue[] {
    need(arguments.length, 1, "FormData.getAll");
    const n = usv(name);
    return this.#list.filter((e) => e[0] === n).map((e) => e[1]);
  }
  has(name: unknown): boolean {
    need(arguments.length, 1, "FormData.has");
    const n = usv(name);
    return this.#list.some((e) => e[0] === n);
  }
  forEach(callback: (this: unknown, value: FormValue, name: string, form: FormData) => unknown, thisArg: unknown = undefined) {
    if (typeof callback !== "function") throw new TypeError("Failed to execute 'forEach' on 'FormData': the callback must be a function");
    for (let i = 0; i < this.#list.length; i++) callback.call(thisArg, this.#list[i][1], this.#list[i][0], this);
  }
  // Index by index over the live list, as the spec's iterators go: entries added while
  // iterating are visited, and deleting one does not skip the rest twice.
  *entries(): Generator<Entry> {
    for (let i = 0; i < this.#list.length; i++) yield [this.#list[i][0], this.#list[i][1]];
  }
  *keys(): Generator<string> {
    for (let i = 0; i < this.#list.length; i++) yield this.#list[i][0];
  }
  *values(): Generator<FormValue> {
    for (let i = 0; i < this.#list.length; i++) yield this.#list[i][1];
  }
  declare [Symbol.iterator]: () => Generator<Entry>;
  get [Symbol.toStringTag]() {
    return "FormData";
  }
  [kInspect]() {
    const show = (v: FormValue) => (typeof v === "string" ? quote(v) : "File { name: " + quote(v.name) + ", size: " + v.size + " }");
    return "FormData { " + this.#list.map((e) => quote(e[0]) + " => " + show(e[1])).join(", ") + " }";
  }
}
// The spec's pair iterable: @@iterator is entries itself.
Object.defineProperty(FormData.prototype, Symbol.iterator, {
  value: FormData.prototype.entries,
  writable: true,
  configurable: true,
  enumerable: false,
});
def("FormData", FormData);
