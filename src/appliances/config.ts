/**
 * An appliance's configuration as a person writes it and the store keeps it: one JSON object per
 * version (every change is a new version, with diff and rollback, as modules have). Config files
 * (TOML or YAML, `config-file/`), the admin API and `lively app create` all produce this shape
 * and check it with `parseApplianceConfig`, which refuses unknown keys by name; `definition.ts`
 * turns a checked config into what `createAppliance` (instance.ts) runs.
 *
 * Owns the shape and its checks. Must not import api/, cli/, gateway/, store/.
 *
 * ```ts
 * const web = parseApplianceConfig({
 *   name: "web", runner: "shell", cmd: "node server.js", env: { PORT: "8080" },
 *   depends: ["db"], restart: "permanent", grace: 10,
 *   readiness: { kind: "http", url: "http://127.0.0.1:8080/health" },
 *   hooks: { crash: [{ http: "https://alerts.example.com/hook" }] },
 * });
 * ```
 */
import { z } from "zod";
import { LivelyError } from "../errors.ts";
import { APPLIANCE_DEFAULTS, type ApplianceSettings } from "./settings.ts";

/** Letters, digits, `.`, `_`, `-`; at most 63 (instance.ts checks the same when it runs one). */
export const APPLIANCE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export const RUNNER_KINDS = ["shell", "docker", "module", "void"] as const;
export type RunnerKind = (typeof RUNNER_KINDS)[number];

/** The lifecycle moments a hook can follow (issue 11 part 7). */
export const HOOK_EVENTS = ["create", "start", "ready", "stop", "crash", "restart", "remove"] as const;
export type HookEvent = (typeof HOOK_EVENTS)[number];

/** A hook: a shell command, a stored module's exported function, or an HTTP webhook (POSTed the event as JSON). */
export type Hook = { shell: string } | { module: string; fn: string } | { http: string };

const name = z.string().regex(APPLIANCE_NAME, "letters, digits, '.', '_' or '-', at most 63, starting with a letter or digit");
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "a variable name: letters, digits and '_', not starting with a digit");
const text = z
  .string()
  .min(1)
  .max(64 * 1024);

const hook = z.union([
  z.object({ shell: text }).strict(),
  z.object({ module: z.string().min(1).max(63), fn: z.string().min(1).max(128) }).strict(),
  z.object({ http: z.url({ protocol: /^https?$/ }) }).strict(),
]);

const readiness = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("tcp"), port: z.number().int().min(1).max(65535), host: z.string().min(1).optional() }).strict(),
  z.object({ kind: z.literal("http"), url: z.url({ protocol: /^https?$/ }) }).strict(),
  z.object({ kind: z.literal("command"), command: text }).strict(),
  z.object({ kind: z.literal("log"), pattern: z.string().min(1).max(1024) }).strict(),
]);

const settingsShape = Object.fromEntries(Object.keys(APPLIANCE_DEFAULTS).map((key) => [key, z.number().nonnegative().optional()]));

export const applianceConfigSchema = z
  .object({
    name,
    /** Default "shell". */
    runner: z.enum(RUNNER_KINDS).optional(),
    /** Spew's spec suffix, handed to the runner: `web#vsn:~>2.0` gives `{ vsn: "~>2.0" }`. */
    specOptions: z.record(z.string().min(1).max(63), z.string().max(1024)).optional(),
    /** shell: a command line run through `/bin/sh -c`, or with `args` the program itself. */
    cmd: text.optional(),
    args: z
      .array(z.string().max(64 * 1024))
      .max(1000)
      .optional(),
    /** shell, docker and module (`ctx.env`): the whole environment of a run, rebuilt from this version at every start. */
    env: z.record(envName, z.string().max(64 * 1024)).optional(),
    /** shell: an absolute working directory. */
    cwd: z.string().startsWith("/").optional(),
    /** docker: the image, its ports (`"8080:80"`, `"127.0.0.1:8080:80/tcp"`), and its command. */
    image: text.optional(),
    ports: z.array(z.string().regex(/^(\d{1,3}(\.\d{1,3}){3}:)?\d{1,5}:\d{1,5}(\/(tcp|udp))?$/, "HOST:CONTAINER[/tcp|udp]")).optional(),
    /** module: a stored module whose `run(ctx)` export runs, on this channel (default production). */
    module: z.string().min(1).max(63).optional(),
    channel: z.string().min(1).max(63).optional(),
    /** Started after these are ready; stopped before them; restarted after them (rest_for_one). */
    depends: z.array(name).max(100).optional(),
    /** OTP's restart types; default "permanent". */
    restart: z.enum(["permanent", "transient", "temporary"]).optional(),
    /** Seconds from SIGTERM to SIGKILL; default 10. */
    grace: z.number().min(0).max(3600).optional(),
    readiness: readiness.optional(),
    hooks: z.partialRecord(z.enum(HOOK_EVENTS), z.array(hook).max(20)).optional(),
    /** Pin to this node; default: the least loaded live node. */
    on: z.string().min(1).max(255).optional(),
    /** Copies across the cluster; default 1. */
    copies: z.number().int().min(1).max(100).optional(),
    /** Any of settings.ts's numbers, per appliance. */
    settings: z.object(settingsShape).strict().optional(),
  })
  .strict();

export type ApplianceConfig = z.infer<typeof applianceConfigSchema> & { settings?: Partial<ApplianceSettings> };

/** What each runner needs and refuses: a field of another runner is a mistake worth naming. */
const RUNNER_FIELDS: Record<RunnerKind, { needs: readonly string[]; takes: readonly string[] }> = {
  shell: { needs: ["cmd"], takes: ["cmd", "args", "env", "cwd"] },
  docker: { needs: ["image"], takes: ["image", "ports", "env", "cmd", "args"] },
  module: { needs: ["module"], takes: ["module", "channel", "env"] },
  void: { needs: [], takes: [] },
};
const RUNNER_SPECIFIC = ["cmd", "args", "env", "cwd", "image", "ports", "module", "channel"] as const;

/** A config checked in full: unknown keys, types, and the fields its runner needs or does not take. */
export function parseApplianceConfig(input: unknown): ApplianceConfig {
  const parsed = applianceConfigSchema.safeParse(input);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => ({ path: issue.path.map(String), message: describe(issue) }));
    const first = issues[0];
    throw new LivelyError(
      "bad_request",
      `appliance config: ${issues.map((i) => `${i.path.join(".") || "config"}: ${i.message}`).join("; ")}`,
      { issues, field: first?.path.join(".") },
    );
  }
  const config = parsed.data as ApplianceConfig;
  const kind = config.runner ?? "shell";
  const fields = RUNNER_FIELDS[kind];
  for (const field of fields.needs) {
    if (config[field as keyof ApplianceConfig] === undefined) {
      throw new LivelyError("bad_request", `appliance ${config.name}: the ${kind} runner needs "${field}"`, { field });
    }
  }
  for (const field of RUNNER_SPECIFIC) {
    if (config[field] !== undefined && !fields.takes.includes(field)) {
      throw new LivelyError("bad_request", `appliance ${config.name}: the ${kind} runner does not take "${field}"`, { field });
    }
  }
  if (config.depends?.includes(config.name)) {
    throw new LivelyError("bad_request", `appliance ${config.name} depends on itself`, { field: "depends" });
  }
  return config;
}

function describe(issue: z.core.$ZodIssue): string {
  if (issue.code === "unrecognized_keys")
    return `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
  return issue.message;
}
