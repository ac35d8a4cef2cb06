/**
 * A module's vars: named strings its code reads as `env.vars`, shared by every version of the
 * module. `lively vars set` and `lively vars rm` each write one `vars` history row whose
 * details name the vars changed, never a value.
 *
 * A secret var is write-only: its value reaches the module (the node loads it) but no answer,
 * history row, log line or error message ever carries it. Errors here name vars, never values.
 *
 * Limits: names match VAR_NAME; a value is at most 64 KB; a module has at most 256 vars and
 * 1 MB of names and values together.
 */
import { LivelyError } from "../errors.ts";
import { appendHistory } from "../store/queries/history.ts";
import { touchModule } from "../store/queries/modules.ts";
import { deleteModuleVar, listModuleVars, touchModuleSettings, upsertModuleVar, type VarRecord } from "../store/queries/settings.ts";
import type { OrderedTx, Store } from "../store/store.ts";
import { varsNotFound } from "./errors.ts";
import { liveModule } from "./live-module.ts";
import { assertModuleName } from "./names.ts";

export const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
export const VAR_LIMITS = { maxValueBytes: 64 * 1024, maxVars: 256, maxTotalBytes: 1024 * 1024 } as const;

/** A var as the API and the CLI show it: a secret has no `value`. */
export interface VarView {
  name: string;
  value?: string;
  secret: boolean;
  updatedAt: string;
  updatedSeq: number;
}

/** What `vars set` did: the names set (sorted), whether as secrets, and the history row. */
export interface VarsSet {
  module: string;
  set: string[];
  secret: boolean;
  seq: number;
}

/** What `vars rm` did: the names removed (sorted) and the history row. */
export interface VarsRemoved {
  module: string;
  removed: string[];
  seq: number;
}

export function assertVarName(name: unknown): asserts name is string {
  // `__proto__` passes the pattern but cannot be a plain object's key, so env.vars could not carry it.
  if (typeof name !== "string" || !VAR_NAME.test(name) || name === "__proto__") {
    throw new LivelyError(
      "bad_request",
      `invalid var name ${JSON.stringify(typeof name === "string" ? name.slice(0, 140) : name)}: use 1-128 letters, digits and '_', not starting with a digit`,
      { field: "name", pattern: VAR_NAME.source },
    );
  }
}

/** Checks a value without ever quoting it: it may be a secret. */
function assertVarValue(name: string, value: unknown): asserts value is string {
  if (typeof value !== "string") throw new LivelyError("bad_request", `the value of var '${name}' must be a string`, { name });
  const bytes = Buffer.byteLength(value);
  if (bytes > VAR_LIMITS.maxValueBytes) {
    throw new LivelyError("too_large", `the value of var '${name}' is ${bytes} bytes, over the ${VAR_LIMITS.maxValueBytes}-byte limit`, {
      name,
      bytes,
      limit: VAR_LIMITS.maxValueBytes,
    });
  }
  // PostgreSQL text cannot hold NUL, and a lone surrogate would not survive UTF-8 the same on both backends.
  if (/\0|\p{Surrogate}/u.test(value)) {
    throw new LivelyError("bad_request", `the value of var '${name}' contains a NUL character or broken UTF-16; send text`, { name });
  }
}

function view(record: VarRecord): VarView {
  return {
    name: record.name,
    ...(record.secret ? {} : { value: record.value }),
    secret: record.secret,
    updatedAt: new Date(record.updatedAt).toISOString(),
    updatedSeq: record.updatedSeq,
  };
}

/** The `vars` history row of a change: which names were set or removed, never a value. */
function varsRow(tx: OrderedTx, input: { module: string; actor: string }, details: { set: string[] } | { removed: string[] }) {
  return appendHistory(tx, { actor: input.actor, module: input.module, action: "vars", channel: null, from: null, to: null, details });
}

/** A module's vars, oldest name first; secret values left out. */
export async function listVars(store: Store, module: string): Promise<VarView[]> {
  assertModuleName(module);
  return store.read(async (db) => {
    await liveModule(db, module);
    return (await listModuleVars(db, module)).map(view);
  });
}

function assertWithinTotals(module: string, vars: Map<string, string>): void {
  if (vars.size > VAR_LIMITS.maxVars) {
    throw new LivelyError("too_large", `module '${module}' would have ${vars.size} vars, over the limit of ${VAR_LIMITS.maxVars}`, {
      module,
      count: vars.size,
      limit: VAR_LIMITS.maxVars,
    });
  }
  let bytes = 0;
  for (const [name, value] of vars) bytes += Buffer.byteLength(name) + Buffer.byteLength(value);
  if (bytes > VAR_LIMITS.maxTotalBytes) {
    throw new LivelyError(
      "too_large",
      `module '${module}' would have ${bytes} bytes of vars, over the ${VAR_LIMITS.maxTotalBytes}-byte limit`,
      { module, bytes, limit: VAR_LIMITS.maxTotalBytes },
    );
  }
}

/** Set one or more vars in one history row; `secret` applies to every var given. */
export async function setVars(
  store: Store,
  input: { module: string; vars: Record<string, string>; secret?: boolean; actor: string },
): Promise<VarsSet> {
  assertModuleName(input.module);
  const entries = Object.entries(input.vars);
  if (entries.length === 0) throw new LivelyError("bad_request", "give at least one var to set, as NAME=VALUE");
  for (const [name, value] of entries) {
    assertVarName(name);
    assertVarValue(name, value);
  }
  const secret = input.secret === true;
  const names = entries.map(([name]) => name).sort();
  return store.write(async (tx) => {
    await liveModule(tx, input.module);
    const next = new Map((await listModuleVars(tx, input.module)).map((v) => [v.name, v.value]));
    for (const [name, value] of entries) next.set(name, value);
    assertWithinTotals(input.module, next);
    const row = await varsRow(tx, input, { set: names });
    for (const [name, value] of entries) await upsertModuleVar(tx, { module: input.module, name, value, secret, seq: row.seq });
    await touchModuleSettings(tx, input.module, row.seq);
    await touchModule(tx, input.module, row.seq);
    return { module: input.module, set: names, secret, seq: row.seq };
  });
}

/** Remove vars in one history row; an unknown name is `not_found` and nothing is written. */
export async function removeVars(store: Store, input: { module: string; names: string[]; actor: string }): Promise<VarsRemoved> {
  assertModuleName(input.module);
  if (input.names.length === 0) throw new LivelyError("bad_request", "name at least one var to remove");
  for (const name of input.names) assertVarName(name);
  const names = [...new Set(input.names)].sort();
  return store.write(async (tx) => {
    await liveModule(tx, input.module);
    const existing = new Set((await listModuleVars(tx, input.module)).map((v) => v.name));
    const missing = names.filter((name) => !existing.has(name));
    if (missing.length > 0) {
      throw varsNotFound(input.module, missing);
    }
    const row = await varsRow(tx, input, { removed: names });
    for (const name of names) await deleteModuleVar(tx, input.module, name);
    await touchModuleSettings(tx, input.module, row.seq);
    await touchModule(tx, input.module, row.seq);
    return { module: input.module, removed: names, seq: row.seq };
  });
}
