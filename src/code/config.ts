/**
 * A module's config: overrides of the node's sandbox limits, the hosts its outbound `fetch`
 * may reach, its KV bindings (kv-bindings.ts), and who may reach which of its versions. Shared by every version of the module;
 * not part of `restore --at`.
 *
 * Access (DESIGN.md, HTTP): channels are public and a pin (`x-lively-version`) needs a token
 * with `read` scope, unless `publicPins` lets anyone pin; a channel listed in
 * `privateChannels` needs a `read` token too. `reset` leaves these two (and the KV bindings) alone: opening access
 * is never the side effect of clearing limits.
 *
 * Limits left unset take the node's defaults (DESIGN.md: 1 s CPU, 30 s wall, 128 MB, 10 MB
 * of request body). A node's own flags are ceilings: a module may ask for less, and what it
 * asks above them is held to them on that node (runtime/limits.ts). The
 * allowlist starts empty: a module may fetch nothing until its owner names hosts
 * (grammar in fetch-allow.ts). Each change is one `config` history row whose details list
 * what changed and its new value (`null`: back to the node's default); a change that changes
 * nothing writes nothing.
 *
 *   await changeConfig(store, { module: "api", cpuMs: 200, fetchAllow: ["*.stripe.com"], actor });
 *   await changeConfig(store, { module: "api", cpuMs: null, actor });       // default again
 *   await changeConfig(store, { module: "api", reset: true, actor });       // every override dropped
 *   await changeConfig(store, { module: "api", privateChannels: { add: ["beta"] }, actor });
 *   await changeConfig(store, { module: "api", kvBindings: { bind: { SHOP: "shopping" } }, actor });
 */
import { LivelyError } from "../errors.ts";
import { bucketNotFound } from "../kv/errors.ts";
import { appendHistory } from "../store/queries/history.ts";
import { findBucket } from "../store/queries/kv.ts";
import { touchModule } from "../store/queries/modules.ts";
import { type ConfigRecord, getModuleConfig, upsertModuleConfig } from "../store/queries/settings.ts";
import type { Db, Store } from "../store/store.ts";
import { parseFetchPattern } from "./fetch-allow.ts";
import { checkKvBindingsChange, type KvBindingsChange, nextKvBindings } from "./kv-bindings.ts";
import { liveModule } from "./live-module.ts";
import { assertChannelName, assertModuleName } from "./names.ts";

/** What an owner may set each limit to; outside is `bad_request`. */
export const LIMIT_RANGES = {
  cpuMs: { min: 1, max: 60_000, unit: "ms of CPU time per request" },
  wallMs: { min: 1, max: 300_000, unit: "ms of wall time per request" },
  memoryMb: { min: 8, max: 2048, unit: "MB of isolate heap" },
  bodyMb: { min: 1, max: 1024, unit: "MB of request body" },
} as const;

export type LimitName = keyof typeof LIMIT_RANGES;
export const LIMIT_NAMES: readonly LimitName[] = ["cpuMs", "wallMs", "memoryMb", "bodyMb"];
export type LimitOverrides = Partial<Record<LimitName, number>>;

export const MAX_FETCH_PATTERNS = 64;
export const MAX_PRIVATE_CHANNELS = 64;

export interface ModuleConfigView {
  module: string;
  /** Only the limits this module overrides. */
  limits: LimitOverrides;
  /** Canonical patterns; empty: the module may fetch nothing. */
  fetchAllow: string[];
  /** Anyone may pin a version; false (the default): a pin needs a `read` token. */
  publicPins: boolean;
  /** Channels that need a `read` token (sorted); every other channel is public. */
  privateChannels: string[];
  /** KV bindings: env.NAME -> bucket (kv-bindings.ts); the module's own env.KV is not listed. */
  kvBindings: Record<string, string>;
  /** The seq of the last change to any of the module's settings (vars included); 0: never. */
  updatedSeq: number;
}

export interface ConfigChange {
  /** A number sets the override; null goes back to the node's default; absent leaves it. */
  cpuMs?: number | null;
  wallMs?: number | null;
  memoryMb?: number | null;
  bodyMb?: number | null;
  /** Replaces the allowlist; [] forbids every fetch. */
  fetchAllow?: string[];
  /** true: anyone may pin a version; false: a pin needs a `read` token. */
  publicPins?: boolean;
  /** Channels that need a `read` token: a list replaces them; `{add, remove}` changes them. */
  privateChannels?: string[] | { add?: string[]; remove?: string[] };
  /** Bind env.NAME to a bucket (which must exist), or unbind names. */
  kvBindings?: KvBindingsChange;
  /** Drop every limit override and the allowlist first (then apply the other fields, if any). */
  reset?: boolean;
}

export interface ConfigChangeResult extends ModuleConfigView {
  /** false when the config already was so: nothing was written. */
  changed: boolean;
  /** The history row written, 0 when nothing changed. */
  seq: number;
}

function assertLimit(name: LimitName, value: unknown): asserts value is number | null {
  if (value === null) return;
  const range = LIMIT_RANGES[name];
  if (typeof value !== "number" || !Number.isInteger(value) || value < range.min || value > range.max) {
    throw new LivelyError(
      "bad_request",
      `${name} must be a whole number from ${range.min} to ${range.max} (${range.unit}), got ${JSON.stringify(value)}`,
      { field: name, min: range.min, max: range.max },
    );
  }
}

/** Canonical, de-duplicated patterns in the order given. */
export function normalizeFetchAllow(patterns: readonly string[]): string[] {
  if (patterns.length > MAX_FETCH_PATTERNS) {
    throw new LivelyError("bad_request", `at most ${MAX_FETCH_PATTERNS} fetch patterns, got ${patterns.length}`, {
      field: "fetchAllow",
      limit: MAX_FETCH_PATTERNS,
    });
  }
  return [...new Set(patterns.map((pattern) => parseFetchPattern(pattern).text))];
}

/** The private channels after a change: checked, de-duplicated, sorted. */
function nextPrivateChannels(current: readonly string[], change: NonNullable<ConfigChange["privateChannels"]>): string[] {
  const lists = Array.isArray(change) ? [change] : [change?.add ?? [], change?.remove ?? []];
  if (typeof change !== "object" || change === null || !lists.every(Array.isArray)) {
    throw new LivelyError("bad_request", "privateChannels is a list of channel names, or {add, remove} lists of them", {
      field: "privateChannels",
    });
  }
  for (const channel of lists.flat()) assertChannelName(channel);
  let next: Set<string>;
  if (Array.isArray(change)) next = new Set(change);
  else {
    next = new Set(current);
    for (const channel of change.add ?? []) next.add(channel);
    for (const channel of change.remove ?? []) next.delete(channel);
  }
  if (next.size > MAX_PRIVATE_CHANNELS) {
    throw new LivelyError("bad_request", `at most ${MAX_PRIVATE_CHANNELS} private channels, got ${next.size}`, {
      field: "privateChannels",
      limit: MAX_PRIVATE_CHANNELS,
    });
  }
  return [...next].sort();
}

function emptyConfig(module: string): ConfigRecord {
  return {
    module,
    cpuMs: null,
    wallMs: null,
    memoryMb: null,
    bodyMb: null,
    fetchAllow: [],
    publicPins: false,
    privateChannels: [],
    kvBindings: {},
    updatedSeq: 0,
  };
}

function view(record: ConfigRecord): ModuleConfigView {
  const limits: LimitOverrides = {};
  for (const name of LIMIT_NAMES) {
    const value = record[name];
    if (value !== null) limits[name] = value;
  }
  return {
    module: record.module,
    limits,
    fetchAllow: record.fetchAllow,
    publicPins: record.publicPins,
    privateChannels: record.privateChannels,
    kvBindings: record.kvBindings,
    updatedSeq: record.updatedSeq,
  };
}

async function liveConfig(db: Db, module: string): Promise<ConfigRecord> {
  await liveModule(db, module);
  return (await getModuleConfig(db, module)) ?? emptyConfig(module);
}

export async function readConfig(store: Store, module: string): Promise<ModuleConfigView> {
  assertModuleName(module);
  return store.read(async (db) => view(await liveConfig(db, module)));
}

export async function changeConfig(store: Store, input: ConfigChange & { module: string; actor: string }): Promise<ConfigChangeResult> {
  assertModuleName(input.module);
  for (const name of LIMIT_NAMES) if (input[name] !== undefined) assertLimit(name, input[name]);
  const fetchAllow = input.fetchAllow === undefined ? undefined : normalizeFetchAllow(input.fetchAllow);
  if (input.publicPins !== undefined && typeof input.publicPins !== "boolean") {
    throw new LivelyError("bad_request", "publicPins must be true or false", { field: "publicPins" });
  }
  const access = input.publicPins !== undefined || input.privateChannels !== undefined;
  const kvBindings = input.kvBindings === undefined ? undefined : checkKvBindingsChange(input.kvBindings);
  if (
    !input.reset &&
    !access &&
    kvBindings === undefined &&
    fetchAllow === undefined &&
    LIMIT_NAMES.every((name) => input[name] === undefined)
  ) {
    throw new LivelyError(
      "bad_request",
      "nothing to change: give cpuMs, wallMs, memoryMb, bodyMb, fetchAllow, publicPins, privateChannels, kvBindings or reset",
    );
  }
  if (input.privateChannels !== undefined) nextPrivateChannels([], input.privateChannels); // bad names refused before the write
  return store.write(async (tx) => {
    const current = await liveConfig(tx, input.module);
    const next: ConfigRecord = input.reset
      ? {
          ...emptyConfig(input.module),
          publicPins: current.publicPins,
          privateChannels: current.privateChannels,
          kvBindings: current.kvBindings,
        }
      : { ...current };
    for (const name of LIMIT_NAMES) {
      const value = input[name];
      if (value !== undefined) next[name] = value;
    }
    if (fetchAllow !== undefined) next.fetchAllow = fetchAllow;
    if (input.publicPins !== undefined) next.publicPins = input.publicPins;
    if (input.privateChannels !== undefined) next.privateChannels = nextPrivateChannels(current.privateChannels, input.privateChannels);
    if (kvBindings !== undefined) {
      // A binding names a bucket that exists now: a typo is caught here, not at the module's first call.
      for (const bucket of new Set(Object.values(kvBindings.bind ?? {}))) {
        if (!(await findBucket(tx, bucket))) throw bucketNotFound(bucket);
      }
      next.kvBindings = nextKvBindings(current.kvBindings, kvBindings);
    }

    const changed: Record<string, unknown> = {};
    for (const name of LIMIT_NAMES) if (next[name] !== current[name]) changed[name] = next[name];
    if (JSON.stringify(next.fetchAllow) !== JSON.stringify(current.fetchAllow)) changed.fetchAllow = next.fetchAllow;
    if (next.publicPins !== current.publicPins) changed.publicPins = next.publicPins;
    if (JSON.stringify(next.privateChannels) !== JSON.stringify(current.privateChannels)) changed.privateChannels = next.privateChannels;
    if (JSON.stringify(next.kvBindings) !== JSON.stringify(current.kvBindings)) changed.kvBindings = next.kvBindings;
    if (Object.keys(changed).length === 0) return { ...view(current), changed: false, seq: 0 };

    const row = await appendHistory(tx, {
      actor: input.actor,
      module: input.module,
      action: "config",
      channel: null,
      from: null,
      to: null,
      details: { changed, ...(input.reset ? { reset: true } : {}) },
    });
    next.updatedSeq = row.seq;
    await upsertModuleConfig(tx, next);
    await touchModule(tx, input.module, row.seq);
    return { ...view(next), changed: true, seq: row.seq };
  });
}
