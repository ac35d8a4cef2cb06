/**
 * `lively app upgrade NAME --set KEY=VALUE --unset KEY`: how a patch reads its keys and values,
 * and the key-by-key diff of two configs (what `app history` and the API's diff show).
 *
 * Keys are config.ts's field names; nested ones are dotted: `env.PORT`, `settings.graceMs`,
 * `readiness.port`. Values are text, read by the field's type:
 *   - `grace`, `copies`, `settings.*`, `readiness.port`: numbers;
 *   - `depends`: a comma-separated list (`--set depends=db,cache`; empty: none);
 *   - `args`, `ports`, `readiness`, `hooks`, `specOptions`: JSON (`--set 'args=["-p","80"]'`);
 *   - everything else (`cmd`, `env.X`, `restart`, `cwd`, `image`, `on`…): the text as given.
 * `name` cannot be changed: an appliance keeps its identity across versions.
 * The result is checked in full by parseApplianceConfig afterwards, so a bad value is refused
 * there with the field's name.
 *
 * Owns patching and diffing; must not import api/, cli/, gateway/, store/.
 */
import { LivelyError } from "../errors.ts";
import type { ApplianceConfig } from "./config.ts";

const NUMBERS = new Set(["grace", "copies", "readiness.port"]);
const LISTS = new Set(["depends"]);
const JSON_VALUES = new Set(["args", "ports", "readiness", "hooks", "specOptions", "env", "settings"]);

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

function readValue(key: string, text: string): Json {
  if (NUMBERS.has(key) || key.startsWith("settings.")) {
    const value = Number(text);
    if (text.trim() === "" || !Number.isFinite(value)) {
      throw new LivelyError("bad_request", `--set ${key} takes a number, not ${JSON.stringify(text)}`, { field: key });
    }
    return value;
  }
  if (LISTS.has(key)) return text.trim() === "" ? [] : text.split(",").map((part) => part.trim());
  if (JSON_VALUES.has(key)) {
    try {
      return JSON.parse(text) as Json;
    } catch {
      throw new LivelyError("bad_request", `--set ${key} takes JSON, not ${JSON.stringify(text)}`, { field: key });
    }
  }
  return text;
}

function checkKey(key: string): string[] {
  const path = key.split(".");
  if (key === "" || path.some((part) => part === ""))
    throw new LivelyError("bad_request", `--set: ${JSON.stringify(key)} is not a key`, { field: key });
  if (path[0] === "name")
    throw new LivelyError("bad_request", "an appliance's name cannot be changed (create another one)", { field: "name" });
  if (["__proto__", "constructor", "prototype"].some((bad) => path.includes(bad))) {
    throw new LivelyError("bad_request", `--set: ${JSON.stringify(key)} is not a key`, { field: key });
  }
  return path;
}

/** `current` with each `set` written and each `unset` removed (a copy; `current` is untouched). */
export function applyPatch(current: ApplianceConfig, set: Record<string, string>, unset: readonly string[]): unknown {
  const next = JSON.parse(JSON.stringify(current)) as Record<string, Json>;
  for (const [key, text] of Object.entries(set)) {
    const path = checkKey(key);
    let at: Record<string, Json> = next;
    for (const part of path.slice(0, -1)) {
      const child = at[part];
      if (child === undefined || child === null) at[part] = {};
      else if (typeof child !== "object" || Array.isArray(child)) {
        throw new LivelyError("bad_request", `--set ${key}: ${part} is not an object`, { field: key });
      }
      at = at[part] as Record<string, Json>;
    }
    at[path.at(-1) as string] = readValue(key, text);
  }
  for (const key of unset) {
    const path = checkKey(key);
    let at: Json | undefined = next;
    for (const part of path.slice(0, -1)) at = at && typeof at === "object" && !Array.isArray(at) ? at[part] : undefined;
    const last = path.at(-1) as string;
    if (!at || typeof at !== "object" || Array.isArray(at) || !(last in at)) {
      throw new LivelyError("bad_request", `--unset ${key}: the current version has no ${key}`, { field: key });
    }
    delete at[last];
    // An emptied env or settings object is the same as none.
    if (path.length === 2 && Object.keys(at).length === 0) delete next[path[0] as string];
  }
  return next;
}

export interface ConfigChange {
  key: string;
  /** Absent: the key was added. */
  from?: unknown;
  /** Absent: the key was removed. */
  to?: unknown;
}

function flatten(value: unknown, prefix: string, out: Map<string, unknown>): void {
  if (
    value !== null &&
    typeof value === "object" &&
    !Array.isArray(value) &&
    (prefix === "" || ["env", "settings", "specOptions"].includes(prefix))
  ) {
    for (const [key, child] of Object.entries(value)) flatten(child, prefix === "" ? key : `${prefix}.${key}`, out);
    return;
  }
  out.set(prefix, value);
}

/** The keys that differ between two configs, sorted: `env.*` and `settings.*` key by key. */
export function diffConfigs(a: ApplianceConfig, b: ApplianceConfig): ConfigChange[] {
  const left = new Map<string, unknown>();
  const right = new Map<string, unknown>();
  flatten(a, "", left);
  flatten(b, "", right);
  const keys = [...new Set([...left.keys(), ...right.keys()])].sort();
  const changes: ConfigChange[] = [];
  for (const key of keys) {
    const from = left.get(key);
    const to = right.get(key);
    if (JSON.stringify(from) === JSON.stringify(to)) continue;
    changes.push({ key, ...(from === undefined ? {} : { from }), ...(to === undefined ? {} : { to }) });
  }
  return changes;
}
