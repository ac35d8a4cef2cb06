/**
 * A module's KV bindings: the names under which it reaches shared buckets from its env
 * (`lively config M --bind-kv SHOP=shopping` makes `env.SHOP` the bucket `shopping`). The
 * module's own bucket, `env.KV`, is named after the module and needs no binding.
 *
 * A binding name is upper case (`^[A-Z][A-Z0-9_]{0,62}$`), the Workers convention: env's own
 * fields (`version`, `vars`, `call`) and every name on Object.prototype are lower case, so no
 * binding can shadow them, now or when env gains a lower-case field. `KV` is the module's own
 * bucket and cannot be bound. A binding names a bucket that exists when it is made (a bucket
 * dropped later answers `not_found` to the module's calls).
 *
 * Owns: the names, the limits, and the change of a module's bindings. Must not import above code/.
 */
import { LivelyError } from "../errors.ts";
import { BUCKET_NAME } from "../kv/limits.ts";

export const KV_BINDING_NAME = /^[A-Z][A-Z0-9_]{0,62}$/;
/** The module's own bucket as its env shows it. */
export const OWN_KV_BINDING = "KV";
export const MAX_KV_BINDINGS = 32;

/** A change of bindings: `bind` adds or replaces NAME -> bucket, `unbind` removes names. */
export interface KvBindingsChange {
  bind?: Record<string, string>;
  unbind?: string[];
}

export function assertKvBindingName(name: unknown): asserts name is string {
  if (typeof name !== "string" || !KV_BINDING_NAME.test(name)) {
    throw new LivelyError(
      "bad_request",
      `invalid KV binding name ${JSON.stringify(typeof name === "string" ? name.slice(0, 80) : typeof name)}: use 1-63 characters A-Z, 0-9 and '_', starting with a letter (env's own fields are lower case)`,
      { field: "kvBindings", pattern: KV_BINDING_NAME.source },
    );
  }
  if (name === OWN_KV_BINDING) {
    throw new LivelyError("bad_request", "KV is the module's own bucket (named after the module) and cannot be bound; pick another name", {
      field: "kvBindings",
    });
  }
}

function assertBindingBucket(name: string, bucket: unknown): asserts bucket is string {
  if (typeof bucket !== "string" || !BUCKET_NAME.test(bucket)) {
    throw new LivelyError(
      "bad_request",
      `KV binding ${name}: invalid bucket name ${JSON.stringify(typeof bucket === "string" ? bucket.slice(0, 80) : typeof bucket)}: use 1-63 characters a-z, 0-9 and '-', starting with a letter`,
      { field: "kvBindings", binding: name },
    );
  }
}

/** Checks a change before anything is read or written: names, buckets' names, shape. */
export function checkKvBindingsChange(change: unknown): KvBindingsChange {
  if (change === null || typeof change !== "object" || Array.isArray(change)) {
    throw new LivelyError("bad_request", "kvBindings is {bind: {NAME: bucket}, unbind: [NAME]}", { field: "kvBindings" });
  }
  const { bind, unbind } = change as { bind?: unknown; unbind?: unknown };
  if (bind !== undefined && (bind === null || typeof bind !== "object" || Array.isArray(bind))) {
    throw new LivelyError("bad_request", "kvBindings.bind is an object {NAME: bucket}", { field: "kvBindings" });
  }
  if (unbind !== undefined && !Array.isArray(unbind)) {
    throw new LivelyError("bad_request", "kvBindings.unbind is a list of binding names", { field: "kvBindings" });
  }
  const binds = Object.entries(bind ?? {});
  for (const [name, bucket] of binds) {
    assertKvBindingName(name);
    assertBindingBucket(name, bucket);
  }
  for (const name of unbind ?? []) assertKvBindingName(name);
  const both = binds.find(([name]) => (unbind as string[] | undefined)?.includes(name));
  if (both) throw new LivelyError("bad_request", `KV binding ${both[0]} cannot be both bound and unbound`, { field: "kvBindings" });
  return { bind: Object.fromEntries(binds) as Record<string, string>, unbind: (unbind as string[] | undefined) ?? [] };
}

/** The bindings after a checked change; unbinding a name that is not bound is no change. */
export function nextKvBindings(current: Readonly<Record<string, string>>, change: KvBindingsChange): Record<string, string> {
  const next = new Map(Object.entries(current));
  for (const name of change.unbind ?? []) next.delete(name);
  for (const [name, bucket] of Object.entries(change.bind ?? {})) next.set(name, bucket);
  if (next.size > MAX_KV_BINDINGS) {
    throw new LivelyError("bad_request", `at most ${MAX_KV_BINDINGS} KV bindings per module, got ${next.size}`, {
      field: "kvBindings",
      limit: MAX_KV_BINDINGS,
    });
  }
  return Object.fromEntries([...next].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
