/**
 * From a parsed file (a table of entries) to checked appliance configs: splits each entry's spec,
 * refuses unknown keys and bad values at their own line, resolves `extends` chains and the `_`
 * defaults, and checks every result with config.ts's rules. Owns the file's semantics (see
 * config-file.ts for the contract); must not import api/, cli/, gateway/, store/.
 */
import type { z } from "zod";
import { APPLIANCE_NAME, type ApplianceConfig, applianceConfigSchema, parseApplianceConfig } from "../config.ts";
import { fileError, type LineOf } from "./errors.ts";
import { parseSpec } from "./spec.ts";

type Options = Record<string, unknown>;

/** What `_` may hold: any config key but the name. */
export type ApplianceDefaults = Omit<Partial<ApplianceConfig>, "name">;

export interface LoadedAppliance {
  config: ApplianceConfig;
  /** Where it came from: the file as given and the line of its entry's key. */
  source: { file: string; line: number };
}

export const DEFAULTS_ENTRY = "_";
const EXTENDS = "extends";
/** Options merged key by key (an `_` env var survives an entry's own env); every other key is replaced whole. */
const MERGED_BY_KEY = new Set(["env", "settings", "specOptions", "hooks"]);
const OPTION_KEYS = new Set(Object.keys(applianceConfigSchema.shape).filter((key) => key !== "name"));
const partialSchema = applianceConfigSchema.omit({ name: true }).partial();

interface Entry {
  key: string;
  name: string;
  template: boolean;
  base?: string;
  options: Options;
}

export function resolveEntries(
  data: unknown,
  file: string,
  lineOf: LineOf,
): { appliances: LoadedAppliance[]; defaults: ApplianceDefaults } {
  if (data === null || data === undefined) return { appliances: [], defaults: {} };
  if (!isTable(data)) throw fileError(file, 1, undefined, "the file must be a table of appliances (name = options)");
  let defaults: Options = {};
  const entries = new Map<string, Entry>();
  for (const [key, value] of Object.entries(data)) {
    const line = lineOf([key]);
    if (!isTable(value)) {
      throw fileError(
        file,
        line,
        key,
        `"${key}" must be a table of options, not ${describeValue(value)} (top-level keys name appliances; defaults go under "_")`,
      );
    }
    const options = checkOwnOptions(key, value, file, lineOf);
    if (key === DEFAULTS_ENTRY) {
      defaults = options;
      continue;
    }
    const entry = splitSpec(key, options, file, line);
    const earlier = entries.get(entry.name);
    if (earlier) {
      throw fileError(
        file,
        line,
        key,
        `[${key}] names "${entry.name}" again: [${earlier.key}] at line ${lineOf([earlier.key])} already does`,
      );
    }
    entries.set(entry.name, entry);
  }

  const resolved = new Map<string, { options: Options; origin: Record<string, string> }>();
  const resolve = (entry: Entry, chain: string[]): { options: Options; origin: Record<string, string> } => {
    const done = resolved.get(entry.name);
    if (done) return done;
    let under = { options: {} as Options, origin: {} as Record<string, string> };
    if (entry.base !== undefined) {
      const line = lineOf([entry.key, EXTENDS]);
      const base = entries.get(entry.base);
      if (!base) throw fileError(file, line, EXTENDS, `[${entry.key}] extends "${entry.base}", which this file does not define`);
      if (chain.includes(base.name)) {
        const cycle = [...chain.slice(chain.indexOf(base.name)), base.name].join(" → ");
        throw fileError(
          file,
          line,
          EXTENDS,
          `[${entry.key}] extends "${base.name}", which leads back to "${entry.name}": a cycle (${cycle})`,
        );
      }
      under = resolve(base, [...chain, base.name]);
    }
    const own = Object.fromEntries(Object.entries(entry.options).filter(([key]) => key !== EXTENDS));
    const result = merge(under, own, originOf(own, entry.key));
    resolved.set(entry.name, result);
    return result;
  };

  const appliances: LoadedAppliance[] = [];
  for (const entry of entries.values()) {
    const own = resolve(entry, [entry.name]);
    if (entry.template) continue;
    const { options, origin } = merge({ options: defaults, origin: originOf(defaults, DEFAULTS_ENTRY) }, own.options, own.origin);
    const line = lineOf([entry.key]);
    appliances.push({ config: checkWhole(entry, options, origin, file, line, lineOf), source: { file, line } });
  }
  return { appliances, defaults: defaults as ApplianceDefaults };
}

/** One entry's own keys, before any merging, so a mistake is reported where it was written. */
function checkOwnOptions(key: string, value: Options, file: string, lineOf: LineOf): Options {
  const options: Options = {};
  for (const [option, given] of Object.entries(value)) {
    const line = lineOf([key, option]);
    if (option === "name") throw fileError(file, line, option, `[${key}]: "name" is not an option here, the entry's key is the name`);
    if (option === EXTENDS && key === DEFAULTS_ENTRY)
      throw fileError(file, line, option, `[_] cannot extend: it is already under every entry`);
    if (option === EXTENDS) {
      if (typeof given !== "string" || given === "")
        throw fileError(file, line, option, `[${key}] extends: give the name of another entry of this file`);
    } else if (!OPTION_KEYS.has(option)) {
      throw fileError(file, line, option, `unknown key "${option}" in [${key}]`);
    }
    // YAML and TOML both read `PORT = 8080` as a number; an environment holds text, so say it as text.
    options[option] = option === "env" && isTable(given) ? mapValues(given, envText) : given;
  }
  const { extends: _, ...checked } = options;
  const parsed = partialSchema.safeParse(checked);
  if (!parsed.success) throw issueError(parsed.error.issues[0], key, [key], file, lineOf);
  return options;
}

function splitSpec(key: string, options: Options, file: string, line: number): Entry {
  const spec = parseSpec(key);
  if ("problem" in spec) throw fileError(file, line, key, spec.problem);
  const template = spec.name.startsWith(".");
  if (!APPLIANCE_NAME.test(template ? spec.name.slice(1) : spec.name)) {
    throw fileError(
      file,
      line,
      key,
      `"${spec.name}" is not an appliance name: letters, digits, '.', '_' or '-', at most 63, starting with a letter or digit (or "." for a template)`,
    );
  }
  const specOptions = spec.specOptions
    ? { ...(options.specOptions as Record<string, string> | undefined), ...spec.specOptions }
    : options.specOptions;
  return {
    key,
    name: spec.name,
    template,
    base: options[EXTENDS] as string | undefined,
    options: specOptions === undefined ? options : { ...options, specOptions },
  };
}

/** The merged config against every rule of config.ts; a problem is reported at the line of the entry that gave the key. */
function checkWhole(
  entry: Entry,
  options: Options,
  origin: Record<string, string>,
  file: string,
  line: number,
  lineOf: LineOf,
): ApplianceConfig {
  const input = { name: entry.name, ...options };
  const parsed = applianceConfigSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const from = origin[String(issue.path[0])] ?? entry.key;
    throw issueError(issue, from === entry.key ? entry.key : `${entry.key}, from [${from}]`, [from], file, lineOf);
  }
  try {
    return parseApplianceConfig(input);
  } catch (thrown) {
    const field = thrown instanceof Error && "details" in thrown ? (thrown.details as { field?: string } | undefined)?.field : undefined;
    const from = field === undefined ? undefined : origin[field];
    const at = from === undefined ? line : lineOf([from, field as string]);
    const inherited = from !== undefined && from !== entry.key ? ` (set in [${from}])` : "";
    throw fileError(file, at, field, `${thrown instanceof Error ? thrown.message : String(thrown)}${inherited}`, thrown);
  }
}

function issueError(issue: z.core.$ZodIssue, where: string, prefix: string[], file: string, lineOf: LineOf) {
  const path = issue.path.map((part) => (typeof part === "number" ? part : String(part)));
  if (issue.code === "unrecognized_keys") {
    const key = issue.keys[0];
    const inside = path.length > 0 ? ` ${path.join(".")}` : "";
    return fileError(file, lineOf([...prefix, ...path, key]), key, `unknown key "${key}" in [${where}]${inside}`);
  }
  const key = path.map(String).join(".");
  return fileError(file, lineOf([...prefix, ...path]), key || undefined, `[${where}] ${key}: ${issue.message}`);
}

function merge(
  under: { options: Options; origin: Record<string, string> },
  over: Options,
  overOrigin: Record<string, string>,
): { options: Options; origin: Record<string, string> } {
  const options: Options = { ...under.options };
  const origin = { ...under.origin };
  for (const [key, value] of Object.entries(over)) {
    const below = options[key];
    options[key] = MERGED_BY_KEY.has(key) && isTable(below) && isTable(value) ? { ...below, ...value } : value;
    origin[key] = overOrigin[key];
  }
  return { options, origin };
}

function originOf(options: Options, from: string): Record<string, string> {
  return Object.fromEntries(Object.keys(options).map((key) => [key, from]));
}

function envText(value: unknown): unknown {
  return typeof value === "number" || typeof value === "boolean" || typeof value === "bigint" ? String(value) : value;
}

function mapValues(table: Options, map: (value: unknown) => unknown): Options {
  return Object.fromEntries(Object.entries(table).map(([key, value]) => [key, map(value)]));
}

function isTable(value: unknown): value is Options {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function describeValue(value: unknown): string {
  if (Array.isArray(value)) return "a list";
  if (value === null) return "null";
  return `a ${typeof value}`;
}
