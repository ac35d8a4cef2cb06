/**
 * `lively config M [--cpu-ms N] [--wall-ms N] [--memory-mb N] [--body-mb N] [--allow-fetch P]… [--no-fetch]
 * [--public-pins|--private-pins] [--private-channel C]… [--public-channel C]… [--bind-kv NAME=BUCKET]…
 * [--unbind-kv NAME]… [--reset]`:
 * show a module's settings, or change them in one history row. A limit of `default` goes back
 * to the node's default; a node's own limits are ceilings (the effective column says what applies).
 */
import type { ConfigChange, ConfigChangeResult, LimitName, ModuleConfigView } from "../../code/config.ts";
import { LivelyError } from "../../errors.ts";
import { defineCommand, repeatable } from "../core/define.ts";
import { listOption, table } from "../core/parse.ts";

type ConfigShown = ModuleConfigView & { defaults: Record<LimitName, number>; effective: Record<LimitName, number> };

const LIMIT_FLAGS: [LimitName, string][] = [
  ["cpuMs", "--cpu-ms"],
  ["wallMs", "--wall-ms"],
  ["memoryMb", "--memory-mb"],
  ["bodyMb", "--body-mb"],
];

/** A whole number, or `default` (null: back to the node's default). The node checks the range. */
function limitOption(value: unknown, flag: string): number | null | undefined {
  if (value === undefined) return undefined;
  if (value === "default") return null;
  if (typeof value !== "string" || !/^\d+$/.test(value)) {
    throw new LivelyError("bad_request", `${flag} takes a whole number or 'default', got ${JSON.stringify(value)}`);
  }
  return Number(value);
}

/** `NAME=bucket` pairs as an object; the node checks names and that the buckets exist. */
function bindOption(values: string[] | undefined): Record<string, string> | undefined {
  if (!values) return undefined;
  const bind: Record<string, string> = {};
  for (const value of values) {
    const at = value.indexOf("=");
    if (at <= 0 || at === value.length - 1) {
      throw new LivelyError("bad_request", `--bind-kv takes NAME=BUCKET (env.NAME is the bucket), got ${JSON.stringify(value)}`);
    }
    Object.defineProperty(bind, value.slice(0, at), { value: value.slice(at + 1), enumerable: true, writable: true, configurable: true });
  }
  return bind;
}

function describe(config: ConfigShown): string {
  const rows = LIMIT_FLAGS.map(([name, flag]) => {
    const set = config.limits[name];
    return [
      flag.slice(2),
      String(config.effective[name]),
      set === undefined
        ? "(node default)"
        : set > config.defaults[name]
          ? `(asks ${set}; this node's ceiling is ${config.defaults[name]})`
          : `(node default ${config.defaults[name]})`,
    ];
  });
  const fetch = config.fetchAllow.length === 0 ? "(none: the module may fetch nothing)" : config.fetchAllow.join(" ");
  const pins = config.publicPins ? "public (anyone may pin a version)" : "private (a pin needs a read token in x-lively-token)";
  const channels = config.privateChannels.length === 0 ? "(none: every channel is public)" : config.privateChannels.join(" ");
  const bound = Object.entries(config.kvBindings ?? {});
  const kv = bound.length === 0 ? "(none: env.KV only)" : bound.map(([name, bucket]) => `${name}=${bucket}`).join(" ");
  return table([...rows, ["allow-fetch", fetch], ["pins", pins], ["private-channels", channels], ["kv-bindings", kv]]);
}

export default defineCommand({
  name: "config",
  args: "<module>",
  summary: "show a module's limits, fetch allowlist, KV bindings and who may pin or use its channels, or change them (one history row)",
  options: (command) =>
    command
      .option("--cpu-ms <n>", "CPU time per request, 1-60000 ms ('default': the node's)")
      .option("--wall-ms <n>", "wall time per request, 1-300000 ms ('default': the node's)")
      .option("--memory-mb <n>", "isolate heap, 8-2048 MB ('default': the node's)")
      .option("--body-mb <n>", "largest request body, 1-1024 MB ('default': the node's)")
      .option(
        "--allow-fetch <pattern>",
        "replace the fetch allowlist with these hosts (repeatable): host, *.host, [http[s]://]…[:port]",
        repeatable,
      )
      .option("--no-fetch", "empty the fetch allowlist: the module may fetch nothing")
      .option("--public-pins", "let anyone pin a version (x-lively-version) without a token")
      .option("--private-pins", "a pin needs a token with read scope (the default)")
      .option("--private-channel <channel>", "the channel needs a read token, like a pin (repeatable)", repeatable)
      .option("--public-channel <channel>", "the channel is public again (repeatable)", repeatable)
      .option("--bind-kv <name=bucket>", "env.NAME is the bucket (which must exist; repeatable); env.KV is the module's own", repeatable)
      .option("--unbind-kv <name>", "remove a KV binding (repeatable)", repeatable)
      .option("--reset", "drop every limit override and the allowlist first (pins, private channels and KV bindings stay)"),
  examples: [
    "lively config hello",
    "lively config hello --cpu-ms 200 --memory-mb 64",
    "lively config hello --allow-fetch api.example.com --allow-fetch '*.stripe.com'",
    "lively config hello --cpu-ms default --no-fetch",
    "lively config hello --public-pins",
    "lively config hello --private-channel beta",
    "lively config hello --bind-kv SHOP=shopping",
    "lively config hello --unbind-kv SHOP",
    "lively config hello --reset --json",
  ],
  async run([module], options, { out, client }) {
    const path = `/modules/${encodeURIComponent(module)}/config`;
    const allow = listOption(options.allowFetch);
    // commander gives a lone --no-fetch as `fetch: false` (true when absent).
    const noFetch = options.fetch === false;
    if (allow && noFetch) throw new LivelyError("bad_request", "give --allow-fetch or --no-fetch, not both");
    const change: ConfigChange = {};
    for (const [name, flag] of LIMIT_FLAGS) {
      const value = limitOption(options[name], flag);
      if (value !== undefined) change[name] = value;
    }
    if (allow) change.fetchAllow = allow;
    if (noFetch) change.fetchAllow = [];
    if (options.reset === true) change.reset = true;
    if (options.publicPins === true && options.privatePins === true) {
      throw new LivelyError("bad_request", "give --public-pins or --private-pins, not both");
    }
    if (options.publicPins === true) change.publicPins = true;
    if (options.privatePins === true) change.publicPins = false;
    const add = listOption(options.privateChannel);
    const remove = listOption(options.publicChannel);
    const both = add?.find((channel) => remove?.includes(channel));
    if (both) throw new LivelyError("bad_request", `channel '${both}' cannot be both --private-channel and --public-channel`);
    if (add || remove) change.privateChannels = { add, remove };
    const bind = bindOption(listOption(options.bindKv));
    const unbind = listOption(options.unbindKv);
    if (bind || unbind) change.kvBindings = { ...(bind ? { bind } : {}), ...(unbind ? { unbind } : {}) };

    if (Object.keys(change).length === 0) {
      const config = await client().request<ConfigShown>("GET", path);
      out.result(config, () => `${config.module}${config.updatedSeq ? ` (settings seq ${config.updatedSeq})` : ""}\n${describe(config)}`);
      return;
    }
    const result = await client().request<ConfigShown & ConfigChangeResult>("PATCH", path, change);
    const head = result.changed ? `${result.module}: config changed (history seq ${result.seq})` : `${result.module}: nothing changed`;
    out.result(result, () => `${head}\n${describe(result)}`);
  },
});
