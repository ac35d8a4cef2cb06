/**
 * Appliances as the store keeps them: create, upgrade (a patch of `key=value` settings makes a
 * new version), rollback (moves the pointer back; versions are never deleted), start and stop
 * (the desired state), remove, history, versions and the diff of two versions. Every change is
 * one ordered write with one `app-*` history row, so every node's change feed sees it; the
 * node's ApplianceManager (manager.ts) makes the running processes match.
 *
 * Owns these operations and their checks (config shape, supported runner, the dependency graph).
 * Must not import api/, cli/, gateway/.
 *
 * ```ts
 * await createStoredAppliance(store, { config: { name: "web", cmd: "node server.js" }, actor: "admin" });
 * await upgradeAppliance(store, { name: "web", set: { "env.PORT": "9090" }, unset: ["env.DEBUG"], actor: "admin" });
 * await rollbackAppliance(store, { name: "web", actor: "admin" });        // back to version 1
 * ```
 */
import { LivelyError } from "../errors.ts";
import {
  type ApplianceRecord,
  type DesiredState,
  getAppliance,
  getApplianceVersion,
  insertAppliance,
  insertApplianceVersion,
  listApplianceHeads,
  listApplianceVersions,
  previousApplianceVersion,
  reviveAppliance,
  setApplianceDesired,
  setApplianceRemoved,
  setApplianceVersion,
} from "../store/queries/appliances.ts";
import { type ApplianceAction, appendHistory, type HistoryEntry, listHistory } from "../store/queries/history.ts";
import type { Db, OrderedTx, Store } from "../store/store.ts";
import { type ApplianceConfig, parseApplianceConfig } from "./config.ts";
import { assertRunnerSupported } from "./definition.ts";
import { checkGraph } from "./graph.ts";
import { applyPatch, diffConfigs } from "./patch.ts";

export interface ApplianceChange {
  name: string;
  version: number;
  desired: DesiredState;
  /** The history row written; 0 when nothing changed. */
  seq: number;
  /** True when the request changed nothing (the same config, already in that state). */
  unchanged: boolean;
}

export interface StoredAppliance extends ApplianceRecord {
  config: ApplianceConfig;
}

function notFound(name: string): LivelyError {
  return new LivelyError("not_found", `no appliance ${name} (lively app status lists them)`, { appliance: name });
}

async function live(db: Db, name: string): Promise<ApplianceRecord> {
  const record = await getAppliance(db, name);
  if (!record || record.removed) throw notFound(name);
  return record;
}

function row(
  tx: OrderedTx,
  action: ApplianceAction,
  name: string,
  actor: string,
  from: number | null,
  to: number | null,
  details?: object,
) {
  return appendHistory(tx, {
    actor,
    module: null,
    appliance: name,
    action,
    channel: null,
    from,
    to,
    details: (details as Record<string, unknown>) ?? null,
  });
}

/** Refuse a config whose dependencies are missing or make a cycle with the stored ones. */
async function checkDependencies(db: Db, config: ApplianceConfig): Promise<void> {
  const others = (await listApplianceHeads(db))
    .filter((head) => head.record.name !== config.name)
    .map((head) => ({ name: head.record.name, depends: (JSON.parse(head.config) as ApplianceConfig).depends }));
  checkGraph([...others, { name: config.name, depends: config.depends }]);
}

/** Check a config as create and upgrade store it: its shape, its runner, its dependencies. */
export function checkConfig(input: unknown): ApplianceConfig {
  const config = parseApplianceConfig(input);
  assertRunnerSupported(config);
  return config;
}

export async function createStoredAppliance(
  store: Store,
  input: { config: unknown; actor: string; message?: string; stopped?: boolean },
): Promise<ApplianceChange> {
  const config = checkConfig(input.config);
  return store.write(async (tx) => {
    const existing = await getAppliance(tx, config.name);
    if (existing && !existing.removed) {
      throw new LivelyError("conflict", `appliance ${config.name} exists already: change it with lively app upgrade ${config.name} --set`, {
        appliance: config.name,
      });
    }
    await checkDependencies(tx, config);
    const node = config.on ?? null;
    const next = (existing?.latestVersion ?? 0) + 1;
    const history = await row(tx, "app-create", config.name, input.actor, existing ? existing.version : null, next);
    if (existing) await reviveAppliance(tx, { name: config.name, node, seq: history.seq });
    else await insertAppliance(tx, { name: config.name, node, seq: history.seq });
    const version = await insertApplianceVersion(tx, {
      appliance: config.name,
      config: JSON.stringify(config),
      actor: input.actor,
      message: input.message ?? "created",
      seq: history.seq,
      node,
    });
    const desired: DesiredState = input.stopped ? "stopped" : "started";
    if (input.stopped) await setApplianceDesired(tx, config.name, "stopped", history.seq);
    return { name: config.name, version, desired, seq: history.seq, unchanged: false };
  });
}

/** A new version from the current one with `set` and `unset` applied (patch.ts says how keys are read). */
export async function upgradeAppliance(
  store: Store,
  input: { name: string; set?: Record<string, string>; unset?: string[]; actor: string; message?: string },
): Promise<ApplianceChange> {
  return store.write(async (tx) => {
    const record = await live(tx, input.name);
    const current = await configOf(tx, record.name, record.version);
    const config = checkConfig(applyPatch(current, input.set ?? {}, input.unset ?? []));
    return versionIfChanged(tx, record, current, config, input);
  });
}

/**
 * A whole config as the current version (what `lively app apply FILE` and `PUT /apps/:name`
 * give): creates the appliance, or adds a version when the config differs from the current one.
 */
export async function putApplianceConfig(
  store: Store,
  input: { config: unknown; actor: string; message?: string },
): Promise<ApplianceChange & { created: boolean }> {
  const config = checkConfig(input.config);
  const existing = await store.read((db) => getAppliance(db, config.name));
  if (!existing || existing.removed) return { ...(await createStoredAppliance(store, input)), created: true };
  return store.write(async (tx) => {
    const record = await live(tx, config.name);
    const current = await configOf(tx, record.name, record.version);
    return { ...(await versionIfChanged(tx, record, current, config, input)), created: false };
  });
}

/**
 * The new version of an upgrade or a put, unless `config` is the current one (nothing written):
 * its dependencies checked, one `app-upgrade` row naming the keys that changed.
 */
async function versionIfChanged(
  tx: OrderedTx,
  record: ApplianceRecord,
  current: ApplianceConfig,
  config: ApplianceConfig,
  input: { actor: string; message?: string },
): Promise<ApplianceChange> {
  if (JSON.stringify(config) === JSON.stringify(current)) {
    return { name: record.name, version: record.version, desired: record.desired, seq: 0, unchanged: true };
  }
  await checkDependencies(tx, config);
  const changed = diffConfigs(current, config).map((d) => d.key);
  const history = await row(tx, "app-upgrade", record.name, input.actor, record.version, record.latestVersion + 1, { changed });
  const version = await insertApplianceVersion(tx, {
    appliance: record.name,
    config: JSON.stringify(config),
    actor: input.actor,
    message: input.message ?? `set ${changed.join(", ")}`,
    seq: history.seq,
    node: config.on ?? null,
  });
  return { name: record.name, version, desired: record.desired, seq: history.seq, unchanged: false };
}

/** Back to where the pointer was before its last move, or to version `to`. */
export async function rollbackAppliance(store: Store, input: { name: string; to?: number; actor: string }): Promise<ApplianceChange> {
  return store.write(async (tx) => {
    const record = await live(tx, input.name);
    const target = input.to ?? (await previousApplianceVersion(tx, record.name));
    if (target === null || target === undefined) {
      throw new LivelyError("conflict", `appliance ${record.name} has no earlier version to roll back to`, { appliance: record.name });
    }
    if (target === record.version) return { name: record.name, version: target, desired: record.desired, seq: 0, unchanged: true };
    const config = await configOf(tx, record.name, target);
    await checkDependencies(tx, config);
    const history = await row(tx, "app-rollback", record.name, input.actor, record.version, target);
    await setApplianceVersion(tx, record.name, target, config.on ?? null, history.seq);
    return { name: record.name, version: target, desired: record.desired, seq: history.seq, unchanged: false };
  });
}

/** `started` or `stopped`; the same state again writes nothing. */
export async function setDesiredState(
  store: Store,
  input: { name: string; desired: DesiredState; actor: string },
): Promise<ApplianceChange> {
  return store.write(async (tx) => {
    const record = await live(tx, input.name);
    if (record.desired === input.desired)
      return { name: record.name, version: record.version, desired: record.desired, seq: 0, unchanged: true };
    const action = input.desired === "started" ? "app-start" : "app-stop";
    const history = await row(tx, action, record.name, input.actor, record.version, record.version, { desired: input.desired });
    await setApplianceDesired(tx, record.name, input.desired, history.seq);
    return { name: record.name, version: record.version, desired: input.desired, seq: history.seq, unchanged: false };
  });
}

/** Remove an appliance (its versions stay; creating it again goes on numbering). Refused while others depend on it. */
export async function removeStoredAppliance(store: Store, input: { name: string; actor: string }): Promise<ApplianceChange> {
  return store.write(async (tx) => {
    const record = await live(tx, input.name);
    const dependents = (await listApplianceHeads(tx))
      .filter((head) => (JSON.parse(head.config) as ApplianceConfig).depends?.includes(record.name))
      .map((head) => head.record.name);
    if (dependents.length > 0) {
      throw new LivelyError("conflict", `appliance ${record.name} cannot be removed: ${dependents.join(", ")} depend on it`, {
        appliance: record.name,
        dependents,
      });
    }
    const history = await row(tx, "app-remove", record.name, input.actor, record.version, null);
    await setApplianceRemoved(tx, record.name, history.seq);
    return { name: record.name, version: record.version, desired: "stopped", seq: history.seq, unchanged: false };
  });
}

async function configOf(db: Db, name: string, version: number): Promise<ApplianceConfig> {
  const stored = await getApplianceVersion(db, name, version);
  if (!stored) throw new LivelyError("not_found", `appliance ${name} has no version ${version}`, { appliance: name, version });
  return JSON.parse(stored.config) as ApplianceConfig;
}

/** Every live appliance with its current config. */
export async function storedAppliances(store: Store): Promise<StoredAppliance[]> {
  const heads = await store.read((db) => listApplianceHeads(db));
  return heads.map((head) => ({ ...head.record, config: JSON.parse(head.config) as ApplianceConfig }));
}

export async function storedAppliance(store: Store, name: string): Promise<StoredAppliance> {
  return store.read(async (db) => {
    const record = await live(db, name);
    return { ...record, config: await configOf(db, name, record.version) };
  });
}

/** The history rows of one appliance, oldest first (also after it was removed); `at` as ISO time. */
export async function applianceHistory(store: Store, name: string, limit = 1000): Promise<(Omit<HistoryEntry, "at"> & { at: string })[]> {
  return store.read(async (db) => {
    if (!(await getAppliance(db, name))) throw notFound(name);
    return (await listHistory(db, { appliance: name, limit })).map((entry) => ({ ...entry, at: new Date(entry.at).toISOString() }));
  });
}

export async function applianceVersions(store: Store, name: string) {
  return store.read(async (db) => {
    if (!(await getAppliance(db, name))) throw notFound(name);
    return (await listApplianceVersions(db, name)).map((v) => ({ ...v, config: JSON.parse(v.config) as ApplianceConfig }));
  });
}

/** What changed from version `a` to version `b`, key by key (`env.PORT`, `cmd`…). */
export async function diffApplianceVersions(store: Store, name: string, a: number, b: number) {
  return store.read(async (db) => {
    if (!(await getAppliance(db, name))) throw notFound(name);
    return { appliance: name, a, b, changes: diffConfigs(await configOf(db, name, a), await configOf(db, name, b)) };
  });
}
