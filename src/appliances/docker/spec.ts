/**
 * The docker runner's spec, its validation, and how a run of it becomes a container: the body of
 * the Engine's create call, with the labels a restarted node finds its containers by. Owns
 * nothing else; must not import api/, cli/, gateway/ or other runners.
 *
 * ```ts
 * const web: DockerSpec = {
 *   image: "nginx:1.27",
 *   ports: ["127.0.0.1:8080:80"],          // [HOST_IP:]HOST:CONTAINER[/tcp|udp]
 *   env: { NGINX_PORT: "80" },
 * };
 * const worker: DockerSpec = { image: "busybox", command: "echo start; exec sleep 3600" }; // sh -c
 * ```
 */
import { LivelyError } from "../../errors.ts";
import type { ApplianceConfig } from "../config.ts";
import { type RunContext, runTag } from "../runner.ts";
import { checkArgs, checkEnv } from "../spec-fields.ts";
import type { CreateOptions } from "./engine.ts";

/** `lively.run=<appliance>:<run id>`: the run tag as a label, unique to one run. */
export const RUN_LABEL = "lively.run";
/** `lively.appliance=<name>`: every container of an appliance, whichever run. */
export const APPLIANCE_LABEL = "lively.appliance";

export interface DockerSpec {
  /** The image, as the engine names it (`nginx:1.27`, `localhost/app:3`). Pulled when missing. */
  image: string;
  /**
   * Like the shell runner's: without `args`, a command line run through `sh -c` in the container
   * (the image must have a `sh`); with `args`, the program itself, `[command, ...args]`.
   * Neither: the image's own CMD. Either way the image's ENTRYPOINT, if any, runs it.
   */
  command?: string;
  /** The argv given to the image (Docker's CMD), or the program's arguments after `command`. */
  args?: readonly string[];
  /**
   * The environment the spec adds to the image's own ENV, rebuilt at every start: nothing comes
   * from the node, and a variable removed from the spec is gone at the next run.
   */
  env?: Readonly<Record<string, string>>;
  /** Published ports, `[HOST_IP:]HOST:CONTAINER[/tcp|udp]`; without HOST_IP on every interface, as Docker does. */
  ports?: readonly string[];
  /** Containers are named `<namePrefix>-<appliance>-<run id>`. Default "lively". */
  namePrefix?: string;
  /**
   * Default true, like the shell runner: the container's stdin stays open, held by the node (what
   * `lively app attach` writes to). False gives it no stdin (Docker's default): a read sees the end.
   */
  stdin?: boolean;
}

export interface PortBinding {
  hostIp: string;
  hostPort: number;
  containerPort: number;
  protocol: "tcp" | "udp";
}

const PORT = /^(?:(\d{1,3}(?:\.\d{1,3}){3}):)?(\d{1,5}):(\d{1,5})(?:\/(tcp|udp))?$/;
const NAME_PREFIX = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

const bad = (field: string, what: string) => new LivelyError("bad_request", `docker runner: ${field} ${what}`, { field });

/** `"127.0.0.1:8080:80/tcp"` → its parts; throws LivelyError "bad_request" naming `field`. */
export function parsePort(text: string, field = "ports"): PortBinding {
  const match = typeof text === "string" ? PORT.exec(text) : null;
  if (!match)
    throw bad(field, `must look like HOST:CONTAINER, HOST_IP:HOST:CONTAINER, with /tcp or /udp at will, not ${JSON.stringify(text)}`);
  const [, hostIp = "", host, container, protocol = "tcp"] = match;
  if (hostIp.split(".").some((octet) => Number(octet) > 255))
    throw bad(field, `has a host IP that is not an IPv4 address: ${JSON.stringify(hostIp)}`);
  const hostPort = Number(host);
  const containerPort = Number(container);
  for (const [which, port] of [
    ["host", hostPort],
    ["container", containerPort],
  ] as const) {
    if (port < 1 || port > 65535) throw bad(field, `has ${which} port ${port}, outside 1-65535`);
  }
  return { hostIp, hostPort, containerPort, protocol: protocol as "tcp" | "udp" };
}

export function validateDockerSpec(spec: DockerSpec): void {
  if (typeof spec !== "object" || spec === null) throw bad("spec", "must be an object");
  if (typeof spec.image !== "string" || spec.image.trim() === "") throw bad("image", "must be a non-empty string");
  if (/[\s\0]/.test(spec.image) || spec.image.length > 512)
    throw bad("image", `must be an image reference without spaces, not ${JSON.stringify(spec.image)}`);
  if (spec.command !== undefined && (typeof spec.command !== "string" || spec.command.trim() === "" || spec.command.includes("\0"))) {
    throw bad("command", "must be a non-empty string without NUL characters");
  }
  checkArgs(spec.args, bad);
  checkEnv(spec.env, bad);
  if (spec.ports !== undefined) {
    if (!Array.isArray(spec.ports)) throw bad("ports", "must be an array of strings");
    const seen = new Map<string, number>();
    spec.ports.forEach((port, index) => {
      const binding = parsePort(port, `ports[${index}]`);
      const key = `${binding.hostIp || "*"}:${binding.hostPort}/${binding.protocol}`;
      const first = seen.get(key);
      if (first !== undefined)
        throw bad(`ports[${index}]`, `publishes host port ${binding.hostPort}/${binding.protocol} again (ports[${first}] has it)`);
      seen.set(key, index);
    });
  }
  if (spec.namePrefix !== undefined && (typeof spec.namePrefix !== "string" || !NAME_PREFIX.test(spec.namePrefix))) {
    throw bad("namePrefix", "must be letters, digits, '.', '_' or '-' (at most 63, starting with a letter or digit)");
  }
  if (spec.stdin !== undefined && typeof spec.stdin !== "boolean") throw bad("stdin", "must be true or false");
}

/** The container's name for a run: `<prefix>-<appliance>-<run id>`, in the characters engines accept. */
export function containerName(spec: DockerSpec, context: RunContext): string {
  return `${spec.namePrefix ?? "lively"}-${context.appliance}-${context.runId}`.replace(/[^A-Za-z0-9_.-]/g, "-");
}

/** The Engine's create body for one run of `spec`. */
export function containerOptions(spec: DockerSpec, context: RunContext): CreateOptions {
  const exposed: CreateOptions["ExposedPorts"] = {};
  const bindings: CreateOptions["HostConfig"]["PortBindings"] = {};
  for (const port of spec.ports ?? []) {
    const binding = parsePort(port);
    const key = `${binding.containerPort}/${binding.protocol}`;
    exposed[key] = {};
    bindings[key] = [...(bindings[key] ?? []), { HostIp: binding.hostIp, HostPort: String(binding.hostPort) }];
  }
  const cmd = spec.command === undefined ? spec.args : spec.args ? [spec.command, ...spec.args] : ["sh", "-c", spec.command];
  const stdin = spec.stdin ?? true;
  return {
    name: containerName(spec, context),
    Image: spec.image,
    ...(cmd ? { Cmd: [...cmd] } : {}),
    Env: Object.entries(spec.env ?? {}).map(([key, value]) => `${key}=${value}`),
    Labels: { [RUN_LABEL]: runTag(context), [APPLIANCE_LABEL]: context.appliance },
    OpenStdin: stdin,
    StdinOnce: false,
    AttachStdin: stdin,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
    ExposedPorts: exposed,
    HostConfig: { PortBindings: bindings },
  };
}

/** The spec options (`name#key:value`) the docker runner takes, and what they set. */
const SPEC_OPTIONS: Record<string, (spec: DockerSpec, value: string) => void> = {
  prefix: (spec, value) => {
    spec.namePrefix = value;
  },
  stdin: (spec, value) => {
    if (value !== "true" && value !== "false") throw bad("specOptions.stdin", `must be true or false, not ${JSON.stringify(value)}`);
    spec.stdin = value === "true";
  },
};

/**
 * A checked appliance config (config.ts) as this runner's spec: `cmd` is `command`, and the spec
 * suffix may set `#prefix:NAME` (the containers' name prefix) and `#stdin:false`.
 */
export function dockerSpecOf(config: ApplianceConfig): DockerSpec {
  const spec: DockerSpec = { image: config.image ?? "" };
  if (config.cmd !== undefined) spec.command = config.cmd;
  if (config.args !== undefined) spec.args = config.args;
  if (config.env !== undefined) spec.env = config.env;
  if (config.ports !== undefined) spec.ports = config.ports;
  for (const [key, value] of Object.entries(config.specOptions ?? {})) {
    const apply = SPEC_OPTIONS[key];
    if (!apply) throw bad(`specOptions.${key}`, `is not an option of the docker runner (it takes ${Object.keys(SPEC_OPTIONS).join(", ")})`);
    apply(spec, value);
  }
  validateDockerSpec(spec);
  return spec;
}
