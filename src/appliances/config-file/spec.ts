/**
 * Spew's spec: an entry's key is an appliance name with an optional `#key:value,…` suffix handed
 * to the runner as `specOptions` (`web#vsn:~>2.0` → `web`, `{ vsn: "~>2.0" }`). A value may hold
 * `:` (only the first one splits); neither keys nor values may hold `,` or `#`. Owns that syntax;
 * must not import api/, cli/, gateway/, store/.
 */

export interface Spec {
  name: string;
  specOptions?: Record<string, string>;
}

/** The spec, or a sentence saying what is wrong with it (the caller adds the file and line). */
export function parseSpec(text: string): Spec | { problem: string } {
  const hash = text.indexOf("#");
  if (hash < 0) return { name: text };
  const name = text.slice(0, hash);
  const suffix = text.slice(hash + 1);
  if (suffix.trim() === "") return { problem: `"${text}" has an empty spec suffix after "#"` };
  const specOptions: Record<string, string> = {};
  for (const part of suffix.split(",")) {
    const colon = part.indexOf(":");
    const key = (colon < 0 ? part : part.slice(0, colon)).trim();
    if (colon < 0 || key === "") return { problem: `"${text}": spec option "${part}" is not key:value` };
    if (part.includes("#")) return { problem: `"${text}": a spec has one "#"` };
    if (Object.hasOwn(specOptions, key)) return { problem: `"${text}": spec option "${key}" is given twice` };
    specOptions[key] = part.slice(colon + 1).trim();
  }
  return { name, specOptions };
}
