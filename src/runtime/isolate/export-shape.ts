/**
 * Inside the isolate: the deploy-time check of a module's exports (../ivm/validate-artifact.ts).
 * scripts/isolate-code.mjs bundles it into EXPORT_SHAPE_SOURCE, a closure body evaluated
 * BEFORE the module's top-level code (which may replace Object.keys, JSON or
 * Array.prototype.push for itself); it returns this file's default export, which the host
 * calls with the module's namespace once the module evaluated. The host checks the JSON it
 * answers (protocol.ts, ExportShape): module code ran in this isolate first.
 */
import type { ExportShape } from "./protocol.ts";

const keys = Object.keys;
const stringify = JSON.stringify;

export default function readExportShape(ns: Record<string, unknown>): string {
  const exports: string[] = [];
  const problems: string[] = [];
  let e = 0;
  let p = 0;
  let defaultKind: ExportShape["defaultKind"];
  const names = keys(ns);
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    const value = ns[name];
    const type = value === null ? "null" : typeof value;
    if (name === "default") {
      if (type === "object" && typeof (value as { fetch?: unknown }).fetch === "function") defaultKind = "handler";
      else if (type === "function") defaultKind = "function";
      else
        problems[p++] =
          "the default export must be an object with a fetch(request, env, ctx) method (or a function, to be called), got " + type;
      if (defaultKind !== undefined) exports[e++] = "default";
    } else if (type === "function") exports[e++] = name;
    else problems[p++] = "export '" + name + "' must be a function, got " + type;
  }
  const shape: ExportShape = defaultKind === undefined ? { exports, problems } : { exports, problems, defaultKind };
  return stringify(shape);
}
