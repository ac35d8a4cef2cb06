/**
 * Conformance cases for Blob and File (the W3C File API: the Blob and File constructors,
 * slice, the read methods) and FormData (the XHR standard: the entry list, "create an entry",
 * the pair iterator), written from the specs. Plain module code: run unchanged in a Lively
 * isolate and in workerd by test/conformance.test.ts. Each case throws when the platform gets
 * it wrong. Bodies made of them are in fetch-bodies.js.
 */
import { equal, ok, utf8 } from "../check.js";

export const area = "Blob/File/FormData";

export const cases = {};
const add = (name, run) => {
  cases[name] = run;
};
const bytesOf = async (blob) => [...new Uint8Array(await blob.arrayBuffer())].join(",");
const throwsType = (f, what) => {
  let name = "no error";
  try {
    f();
  } catch (e) {
    name = e?.name;
  }
  equal(name, "TypeError", what);
};

// ---- Blob: the constructor ----
add("new Blob() is empty, with type ''", () => {
  const b = new Blob();
  equal(b.size, 0, "size");
  equal(b.type, "", "type");
});
add("string parts are UTF-8 encoded", async () => {
  const b = new Blob(["a", "\u20ac"]);
  equal(b.size, 4, "size");
  equal(await bytesOf(b), "97,226,130,172", "bytes");
});
add("a lone surrogate in a string part becomes U+FFFD", async () => {
  equal(await bytesOf(new Blob(["\ud800"])), "239,191,189", "bytes");
});
add("ArrayBuffer, views (only their range) and Blob parts", async () => {
  const buffer = new Uint8Array([1, 2, 3, 4, 5]).buffer;
  const b = new Blob([buffer, new Uint8Array(buffer, 1, 2), new DataView(buffer, 4, 1), new Blob([new Uint8Array([9])])]);
  equal(await bytesOf(b), "1,2,3,4,5,2,3,5,9", "bytes");
});
add("parts are copied when the Blob is made", async () => {
  const u8 = new Uint8Array([1, 2]);
  const b = new Blob([u8]);
  u8[0] = 9;
  equal(await bytesOf(b), "1,2", "bytes");
});
add("parts may be any iterable", async () => {
  function* parts() {
    yield "a";
    yield "b";
  }
  equal(await new Blob(parts()).text(), "ab", "from a generator");
  equal(await new Blob(new Set(["c"])).text(), "c", "from a Set");
});
add("parts that are not a sequence are a TypeError", () => {
  throwsType(() => new Blob("abc"), "a string");
  throwsType(() => new Blob(7), "a number");
  throwsType(() => new Blob({}), "a plain object");
});
add("type is lower-cased", () => {
  equal(new Blob([], { type: "Text/HTML" }).type, "text/html", "type");
});
add("a type with a character outside U+0020-U+007E is ''", () => {
  equal(new Blob([], { type: "text/pl\u00e4in" }).type, "", "non-ASCII");
  equal(new Blob([], { type: "text/plain\n" }).type, "", "a control character");
});

// ---- Blob: slice and the read methods ----
const digits = () => new Blob(["0123456789"], { type: "text/plain" });
add("slice() copies the whole Blob, typed ''", async () => {
  const s = digits().slice();
  equal(await s.text(), "0123456789", "text");
  equal(s.type, "", "type");
});
add("slice(start, end) with positive bounds", async () => {
  equal(await digits().slice(2, 5).text(), "234", "text");
});
add("slice counts a negative start from the end", async () => {
  equal(await digits().slice(-3).text(), "789", "text");
});
add("slice counts a negative end from the end", async () => {
  equal(await digits().slice(1, -7).text(), "12", "text");
});
add("slice with start past end is empty", () => {
  equal(digits().slice(6, 2).size, 0, "size");
});
add("slice clamps bounds past the ends", async () => {
  equal(await digits().slice(-100, 100).text(), "0123456789", "text");
  equal(digits().slice(20).size, 0, "start past the end");
});
add("slice's contentType is lower-cased", () => {
  equal(digits().slice(0, 1, "Text/CSV").type, "text/csv", "type");
});
add("a slice of a slice", async () => {
  equal(await digits().slice(2, 8).slice(1, -1).text(), "3456", "text");
});
add("text() decodes UTF-8, invalid bytes as U+FFFD", async () => {
  equal(await new Blob([new Uint8Array([0x68, 0xff, 0x69])]).text(), "h\ufffdi", "text");
});
add("arrayBuffer() answers an ArrayBuffer of the bytes", async () => {
  const buffer = await new Blob(["ab"]).arrayBuffer();
  ok(buffer instanceof ArrayBuffer, "an ArrayBuffer");
  equal([...new Uint8Array(buffer)].join(","), "97,98", "bytes");
});
add("bytes() answers a Uint8Array of the bytes", async () => {
  const bytes = await new Blob(["ab"]).bytes();
  ok(bytes instanceof Uint8Array, "a Uint8Array");
  equal(bytes.join(","), "97,98", "bytes");
});
add("stream() is a ReadableStream of the bytes", async () => {
  const stream = new Blob(["stream me"]).stream();
  ok(stream instanceof ReadableStream, "a ReadableStream");
  let text = "";
  for await (const chunk of stream) {
    ok(chunk instanceof Uint8Array, "Uint8Array chunks");
    text += new TextDecoder().decode(chunk);
  }
  equal(text, "stream me", "text");
});
add("what a read method gives is a copy", async () => {
  const b = new Blob(["ab"]);
  (await b.bytes())[0] = 0;
  equal(await b.text(), "ab", "text");
});
add("Blob's toStringTag, and size and type as prototype getters", () => {
  equal(Object.prototype.toString.call(new Blob()), "[object Blob]", "tag");
  ok(typeof Object.getOwnPropertyDescriptor(Blob.prototype, "size")?.get === "function", "size getter");
  ok(typeof Object.getOwnPropertyDescriptor(Blob.prototype, "type")?.get === "function", "type getter");
});

// ---- File ----
add("File has a name, a type and lastModified as given", async () => {
  const f = new File(["abc"], "a.txt", { type: "Text/Plain", lastModified: 42 });
  equal(f.name, "a.txt", "name");
  equal(f.type, "text/plain", "type");
  equal(f.lastModified, 42, "lastModified");
  equal(f.size, 3, "size");
  equal(await f.text(), "abc", "text");
});
add("File's lastModified defaults to a time, in ms", () => {
  const f = new File([], "n");
  ok(typeof f.lastModified === "number" && Number.isInteger(f.lastModified), "an integer");
  ok(f.lastModified > Date.UTC(2020, 0, 1), "after 2020");
});
add("File is a Blob", () => {
  const f = new File([], "n");
  ok(f instanceof Blob, "instanceof Blob");
  equal(Object.getPrototypeOf(File.prototype), Blob.prototype, "prototype chain");
  equal(Object.prototype.toString.call(f), "[object File]", "tag");
});
add("File needs two arguments", () => {
  throwsType(() => new File(["x"]), "one argument");
});
add("File's name is a USVString: a lone surrogate becomes U+FFFD", () => {
  equal(new File([], "a\ud800").name, "a\ufffd", "name");
});

// ---- FormData ----
add("new FormData() is empty: get is null, getAll is [], has is false", () => {
  const fd = new FormData();
  equal(fd.get("a"), null, "get");
  equal(fd.getAll("a").length, 0, "getAll");
  equal(fd.has("a"), false, "has");
});
add("append keeps every value in order; get answers the first", () => {
  const fd = new FormData();
  fd.append("a", "1");
  fd.append("b", "2");
  fd.append("a", "3");
  equal(fd.get("a"), "1", "get");
  equal(fd.getAll("a").join(","), "1,3", "getAll");
  equal([...fd.keys()].join(","), "a,b,a", "keys");
});
add("values are converted to strings", () => {
  const fd = new FormData();
  fd.append("n", 1);
  fd.append("o", { toString: () => "obj" });
  equal(fd.get("n"), "1", "a number");
  equal(fd.get("o"), "obj", "an object");
});
add("set replaces the first entry of its name in place and removes the rest", () => {
  const fd = new FormData();
  fd.append("a", "1");
  fd.append("b", "2");
  fd.append("a", "3");
  fd.set("a", "x");
  equal(JSON.stringify([...fd]), '[["a","x"],["b","2"]]', "entries");
  fd.set("c", "y");
  equal(JSON.stringify([...fd]), '[["a","x"],["b","2"],["c","y"]]', "a new name is appended");
});
add("delete removes every entry of the name", () => {
  const fd = new FormData();
  fd.append("a", "1");
  fd.append("b", "2");
  fd.append("a", "3");
  fd.delete("a");
  equal(JSON.stringify([...fd]), '[["b","2"]]', "entries");
});
add("a Blob appended becomes a File named 'blob'", () => {
  const fd = new FormData();
  fd.append("field", new Blob(["x"], { type: "text/plain" }));
  const f = fd.get("field");
  ok(f instanceof File, "a File");
  equal(f.name, "blob", "name");
  equal(f.type, "text/plain", "type");
});
add("a filename names the File", async () => {
  const fd = new FormData();
  fd.append("field", new Blob(["x"], { type: "a/b" }), "given.txt");
  const f = fd.get("field");
  equal(f.name, "given.txt", "name");
  equal(f.type, "a/b", "type");
  equal(await f.text(), "x", "text");
});
add("a File appended without a filename is kept as it is", () => {
  const file = new File(["x"], "orig.txt");
  const fd = new FormData();
  fd.append("f", file);
  equal(fd.get("f"), file, "the same object");
});
add("a File appended with a filename becomes a File of that name, same bytes", async () => {
  const fd = new FormData();
  fd.set("f", new File(["abc"], "orig.txt", { type: "t/x" }), "renamed.txt");
  const f = fd.get("f");
  equal(f.name, "renamed.txt", "name");
  equal(f.type, "t/x", "type");
  equal(await f.text(), "abc", "text");
});
add("append(name, string, filename) is a TypeError: only a Blob takes a filename", () => {
  throwsType(() => new FormData().append("a", "b", "c.txt"), "a string value with a filename");
});
add("names are USVStrings: a lone surrogate becomes U+FFFD", () => {
  const fd = new FormData();
  fd.append("a\ud800", "v\udc00");
  equal(JSON.stringify([...fd][0]), JSON.stringify(["a\ufffd", "v\ufffd"]), "entry");
});
add("entries, keys and values; @@iterator is entries", () => {
  const fd = new FormData();
  fd.append("a", "1");
  fd.append("b", "2");
  equal(JSON.stringify([...fd.entries()]), '[["a","1"],["b","2"]]', "entries");
  equal([...fd.values()].join(","), "1,2", "values");
  ok(FormData.prototype[Symbol.iterator] === FormData.prototype.entries, "@@iterator to be entries itself");
});
add("forEach passes value, name and the FormData, with thisArg", () => {
  const fd = new FormData();
  fd.append("a", "1");
  const seen = [];
  fd.forEach(
    function (value, name, form) {
      seen.push([value, name, form === fd, this.tag]);
    },
    { tag: "t" },
  );
  equal(JSON.stringify(seen), '[["1","a",true,"t"]]', "arguments");
});
add("iteration sees entries appended while iterating", () => {
  const fd = new FormData();
  fd.append("a", "1");
  const seen = [];
  for (const [name] of fd) {
    seen.push(name);
    if (name === "a") fd.append("b", "2");
  }
  equal(seen.join(","), "a,b", "names");
});
add("FormData's toStringTag", () => {
  equal(Object.prototype.toString.call(new FormData()), "[object FormData]", "tag");
});
add("a FormData round-trips through a body, files and all", async () => {
  const fd = new FormData();
  fd.append("text", "value");
  fd.append("file", new File([utf8("file body")], "f.bin", { type: "application/x-thing" }));
  const back = await new Response(fd).formData();
  equal(back.get("text"), "value", "text");
  const f = back.get("file");
  equal(f.name, "f.bin", "name");
  equal(f.type, "application/x-thing", "type");
  equal(await f.text(), "file body", "content");
});

// ---- structuredClone (HTML: Blob and File are serializable, FormData is not) ----
add("structuredClone of a Blob: the same bytes and type", async () => {
  const c = structuredClone(new Blob(["x"], { type: "a/b" }));
  ok(c instanceof Blob, "a Blob");
  equal(c.type, "a/b", "type");
  equal(await c.text(), "x", "text");
});
add("structuredClone of a File keeps its name and lastModified", async () => {
  const c = structuredClone(new File(["ab"], "n.txt", { type: "t/x", lastModified: 3 }));
  ok(c instanceof File, "a File");
  equal(c.name, "n.txt", "name");
  equal(c.lastModified, 3, "lastModified");
  equal(await c.text(), "ab", "text");
});
add("structuredClone of a FormData is a DataCloneError", () => {
  let name = "no error";
  try {
    structuredClone(new FormData());
  } catch (e) {
    name = e?.name;
  }
  equal(name, "DataCloneError", "error");
});
