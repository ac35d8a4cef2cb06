/**
 * What a node needs of each live module's settings to run and serve it: vars (secret values
 * included, since the module reads them), limit overrides, the fetch allowlist, KV bindings, and who may
 * pin or use private channels. ChannelIndex loads these with the channels, so both come from
 * the same read and the same seq.
 */
import { type ConfigRecord, getModuleConfig, listAllLiveConfigs, listAllLiveVars, listModuleVars } from "../store/queries/settings.ts";
import type { Db } from "../store/store.ts";
import type { LimitOverrides } from "./config.ts";

export interface ModuleSettings {
  /** Every var by name, secrets included: what the module sees as `env.vars`. */
  vars: Record<string, string>;
  /** Only the limits the module overrides; the rest are the node's defaults. */
  limits: LimitOverrides;
  /** Canonical fetch patterns (fetch-allow.ts); empty: the module may fetch nothing. */
  fetchAllow: string[];
  /** Anyone may pin a version; false: the gateway asks a pin for a `read` token. */
  publicPins: boolean;
  /** Channels the gateway asks a `read` token for. */
  privateChannels: readonly string[];
  /** KV bindings: env.NAME -> bucket (kv-bindings.ts). Absent in a local copy an older build wrote. */
  kvBindings?: Readonly<Record<string, string>>;
  /** The seq of the last change to this module's settings: changes whenever they do. */
  seq: number;
}

/** The settings of every live module that has any, by module name. */
export async function loadModuleSettings(db: Db): Promise<Map<string, ModuleSettings>> {
  const vars = new Map<string, [string, string][]>();
  for (const row of await listAllLiveVars(db)) {
    const list = vars.get(row.module) ?? [];
    list.push([row.name, row.value]);
    vars.set(row.module, list);
  }
  const settings = new Map<string, ModuleSettings>();
  // Every settings change writes the module's config row, so it exists for any module with vars.
  for (const config of await listAllLiveConfigs(db)) settings.set(config.module, toModuleSettings(config, vars.get(config.module) ?? []));
  return settings;
}

/** One module's settings (the caller knows it is live); undefined when it has none. */
export async function loadSettingsOf(db: Db, module: string): Promise<ModuleSettings | undefined> {
  const config = await getModuleConfig(db, module);
  if (!config) return undefined;
  const vars = (await listModuleVars(db, module)).map((v): [string, string] => [v.name, v.value]);
  return toModuleSettings(config, vars);
}

function toModuleSettings(config: ConfigRecord, vars: [string, string][]): ModuleSettings {
  const limits: LimitOverrides = {};
  if (config.cpuMs !== null) limits.cpuMs = config.cpuMs;
  if (config.wallMs !== null) limits.wallMs = config.wallMs;
  if (config.memoryMb !== null) limits.memoryMb = config.memoryMb;
  if (config.bodyMb !== null) limits.bodyMb = config.bodyMb;
  // Frozen: every consumer on the node shares these objects until the next change.
  return Object.freeze({
    // fromEntries defines own properties, so no var name can reach a prototype.
    vars: Object.freeze(Object.fromEntries(vars)),
    limits: Object.freeze(limits),
    fetchAllow: Object.freeze([...config.fetchAllow]) as string[],
    publicPins: config.publicPins,
    privateChannels: Object.freeze([...config.privateChannels]),
    kvBindings: Object.freeze({ ...config.kvBindings }),
    seq: config.updatedSeq,
  });
}
