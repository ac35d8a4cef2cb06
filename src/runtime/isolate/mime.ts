/**
 * Inside the isolate (see bindings.ts): MIME types as the WHATWG MIME Sniffing standard parses
 * and serializes them, for a body's content-type (blob()'s type, formData()'s kind and boundary).
 */
import { TOKEN } from "./headers.ts";

export interface MimeType {
  /** "type/subtype", lower-cased. */
  essence: string;
  /** Parameter names lower-cased, values as written (the first of a repeated name wins). */
  params: Map<string, string>;
}

const WS = /^[\t\n\r ]+|[\t\n\r ]+$/g;
const TRAILING_WS = /[\t\n\r ]+$/;
/** What a parameter value may hold (the quoted-string token code points). */
const VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** The MIME type `s` names, or null when it names none. */
export function parseMime(s: string): MimeType | null {
  const input = s.replace(WS, "");
  const slash = input.indexOf("/");
  if (slash < 0) return null;
  const type = input.slice(0, slash);
  let end = input.indexOf(";", slash);
  if (end < 0) end = input.length;
  const subtype = input.slice(slash + 1, end).replace(TRAILING_WS, "");
  if (!TOKEN.test(type) || !TOKEN.test(subtype)) return null;
  const params = new Map<string, string>();
  let i = end;
  while (i < input.length) {
    i++; // the ";"
    while (i < input.length && /[\t\n\r ]/.test(input[i])) i++;
    let nameEnd = i;
    while (nameEnd < input.length && input[nameEnd] !== ";" && input[nameEnd] !== "=") nameEnd++;
    const name = input.slice(i, nameEnd).toLowerCase();
    i = nameEnd;
    if (i >= input.length) break;
    if (input[i] === ";") continue;
    i++; // the "="
    let value = "";
    if (input[i] === '"') {
      for (i++; i < input.length && input[i] !== '"'; i++) {
        if (input[i] === "\\" && i + 1 < input.length) i++;
        value += input[i];
      }
      while (i < input.length && input[i] !== ";") i++;
    } else {
      let valueEnd = input.indexOf(";", i);
      if (valueEnd < 0) valueEnd = input.length;
      value = input.slice(i, valueEnd).replace(TRAILING_WS, "");
      i = valueEnd;
      if (value === "") continue;
    }
    if (name !== "" && TOKEN.test(name) && VALUE.test(value) && !params.has(name)) params.set(name, value);
  }
  return { essence: (type + "/" + subtype).toLowerCase(), params };
}

/** The MIME type as the standard writes it: `type/subtype;name=value`, quoting where a value needs it. */
export function serializeMime(m: MimeType): string {
  let out = m.essence;
  for (const [name, value] of m.params)
    out += ";" + name + "=" + (value !== "" && TOKEN.test(value) ? value : '"' + value.replace(/["\\]/g, "\\$&") + '"');
  return out;
}
