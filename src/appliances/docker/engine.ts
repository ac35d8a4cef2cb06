/**
 * The docker runner's only door to a container engine (Docker, or Podman's Docker-compatible
 * API): where the engine is (DOCKER_HOST), and the dozen Engine API calls the runner makes, as
 * plain functions with Lively's errors. This is the only file that imports dockerode, and it
 * describes the part of dockerode it calls (`DockerClient`) instead of importing its types
 * (STYLE pattern 4), so swapping the client touches this file alone. Must not import api/, cli/,
 * gateway/ or other runners.
 *
 * Two calls are not dockerode's. Attach: dockerode sends its options as a JSON body (or an empty
 * chunked body) on the hijacked connection, and the engine hands those bytes to the container's
 * stdin (Podman does; a program reading stdin would see `{"stream":true,…}` or `0\r\n`), so
 * `attach` sends its own upgrade request with `Content-Length: 0`. Wait: dockerode's never
 * settles when the engine dies mid-wait (it listens for no error on the response), which would
 * leave a run "running" for ever.
 *
 * ```ts
 * const engine = connectEngine(engineAddress(process.env.DOCKER_HOST));
 * await engine.ping();                       // LivelyError "unavailable" when nothing answers
 * const id = await engine.create({ Image: "nginx:1", Labels: { "lively.run": "web:m3x1-1" } });
 * ```
 */
import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { join } from "node:path";
import { type Duplex, PassThrough, type Readable, type Writable } from "node:stream";
import Dockerode from "dockerode";
import { LivelyError, toError } from "../../errors.ts";

/** Where an engine listens, as DOCKER_HOST spells it, and how to reach it. */
export interface EngineAddress {
  /** For messages: `unix:///run/docker.sock`, `tcp://10.0.0.5:2375`. */
  readonly url: string;
  readonly socketPath?: string;
  readonly host?: string;
  readonly port?: number;
  readonly protocol?: "http" | "https";
  readonly tls?: { ca: Buffer; cert: Buffer; key: Buffer };
}

/** Docker's own default when DOCKER_HOST is not set. */
export const DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock";

/**
 * The engine DOCKER_HOST names: `unix:///path/to.sock` or `tcp://host:port` (HTTPS with the
 * client certificates in DOCKER_CERT_PATH when DOCKER_TLS_VERIFY is set, as the docker CLI does).
 */
export function engineAddress(
  dockerHost: string | undefined = process.env.DOCKER_HOST,
  env: NodeJS.ProcessEnv = process.env,
): EngineAddress {
  const url = dockerHost === undefined || dockerHost === "" ? DEFAULT_DOCKER_HOST : dockerHost;
  const bad = (why: string) =>
    new LivelyError("bad_request", `DOCKER_HOST ${JSON.stringify(url)} ${why}: use unix:///path/to/docker.sock or tcp://host:port`, {
      field: "DOCKER_HOST",
    });
  if (url.startsWith("unix://")) {
    const socketPath = url.slice("unix://".length);
    if (!socketPath.startsWith("/")) throw bad("does not name an absolute socket path");
    return { url, socketPath };
  }
  if (!url.startsWith("tcp://")) throw bad("is not supported");
  let parsed: URL;
  try {
    parsed = new URL(`http://${url.slice("tcp://".length)}`);
  } catch {
    throw bad("is not a valid address");
  }
  if (parsed.hostname === "" || (parsed.pathname !== "/" && parsed.pathname !== "")) throw bad("is not host:port");
  const verify = env.DOCKER_TLS_VERIFY !== undefined && env.DOCKER_TLS_VERIFY !== "" && env.DOCKER_TLS_VERIFY !== "0";
  const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1");
  if (!verify) return { url, host, port: Number(parsed.port || 2375), protocol: "http" };
  const certs = env.DOCKER_CERT_PATH || join(env.HOME ?? "/root", ".docker");
  const read = (file: string) => {
    try {
      return readFileSync(join(certs, file));
    } catch (error) {
      throw new LivelyError(
        "bad_request",
        `DOCKER_TLS_VERIFY is set but ${join(certs, file)} cannot be read`,
        { field: "DOCKER_CERT_PATH" },
        { cause: error },
      );
    }
  };
  return {
    url,
    host,
    port: Number(parsed.port || 2376),
    protocol: "https",
    tls: { ca: read("ca.pem"), cert: read("cert.pem"), key: read("key.pem") },
  };
}

/** The body of `POST /containers/create`, the fields the runner sets. */
export interface CreateOptions {
  name: string;
  Image: string;
  Cmd?: string[];
  Env: string[];
  Labels: Record<string, string>;
  OpenStdin: boolean;
  StdinOnce: false;
  AttachStdin: boolean;
  AttachStdout: true;
  AttachStderr: true;
  Tty: false;
  ExposedPorts: Record<string, Record<string, never>>;
  HostConfig: { PortBindings: Record<string, { HostIp: string; HostPort: string }[]> };
}

export interface ContainerSummary {
  id: string;
  /** Without Docker's leading `/`. */
  name: string;
  labels: Record<string, string>;
  /** created, running, exited, … as the engine says. */
  state: string;
}

/** What the runner needs from an engine. */
export interface Engine {
  readonly address: EngineAddress;
  /** Resolves when the engine answers; LivelyError "unavailable" naming the address when not. */
  ping(): Promise<void>;
  /** The new container's id; LivelyError "not_found" naming the image when the engine has no such image. */
  create(options: CreateOptions): Promise<string>;
  /** Fetch an image from its registry; rejects with the engine's reason. */
  pull(image: string): Promise<void>;
  /** stdout and stderr demultiplexed, and stdin when asked; attach before start to miss nothing. */
  attach(id: string, stdin: boolean): Promise<{ stdout: Readable; stderr: Readable; stdin: Writable | null; connection: Duplex }>;
  start(id: string): Promise<void>;
  /** The exit code once the container is not running. */
  wait(id: string): Promise<number>;
  /** SIGTERM, then SIGKILL after `seconds`. False when it was not running (or is gone). */
  stop(id: string, seconds: number): Promise<boolean>;
  /** SIGKILL at once. False when it was not running (or is gone). */
  kill(id: string): Promise<boolean>;
  /** Remove it, running or not; a container already gone is no error. */
  remove(id: string): Promise<void>;
  /** Every container (running or not) carrying `label` (`key=value`). */
  list(label: string): Promise<ContainerSummary[]>;
}

/** The part of dockerode this file calls (STYLE pattern 4). */
interface DockerClient {
  ping(): Promise<unknown>;
  createContainer(options: CreateOptions): Promise<{ id: string }>;
  pull(image: string): Promise<NodeJS.ReadableStream>;
  listContainers(options: {
    all: true;
    filters: { label: string[] };
  }): Promise<{ Id: string; Names?: string[]; Labels?: Record<string, string>; State?: string }[]>;
  getContainer(id: string): {
    start(): Promise<unknown>;
    stop(options: { t: number }): Promise<unknown>;
    kill(options: { signal: "SIGKILL" }): Promise<unknown>;
    remove(options: { force: true; v: true }): Promise<unknown>;
  };
  modem: { demuxStream(stream: Readable, stdout: Writable, stderr: Writable): void };
}

const engines = new Map<string, Engine>();

/** One engine per address for the node's life (dockerode keeps no connection open between calls). */
export function connectEngine(address: EngineAddress = engineAddress()): Engine {
  let engine = engines.get(address.url);
  if (!engine) {
    engine = makeEngine(address);
    engines.set(address.url, engine);
  }
  return engine;
}

function makeEngine(address: EngineAddress): Engine {
  const client = new Dockerode(
    address.socketPath
      ? { socketPath: address.socketPath }
      : { host: address.host, port: address.port, protocol: address.protocol, ...address.tls },
  ) as unknown as DockerClient;
  const statusOf = (error: unknown) => (error as { statusCode?: number }).statusCode;
  /** Errors of the connection itself (no engine there) become "unavailable"; the rest keep the engine's words. */
  const fail = (what: string, error: unknown): LivelyError => {
    const cause = toError(error);
    if (statusOf(error) === undefined) {
      return new LivelyError(
        "unavailable",
        `no Docker engine at ${address.url} (${cause.message}): start one, or set DOCKER_HOST`,
        { engine: address.url },
        { cause },
      );
    }
    return new LivelyError(
      "internal",
      // dockerode's "(HTTP code 409) unexpected - " prefix says nothing the engine's words do not.
      `docker engine at ${address.url}: ${what}: ${cause.message.replace(/^\(HTTP code \d+\) [^-]*- /, "").trim()}`,
      { engine: address.url },
      { cause },
    );
  };
  /** Run an engine call; a status code in `benign` resolves to the value it maps to instead of failing. */
  const call = async <T>(what: string, run: () => Promise<T>, benign: Record<number, T> = {}): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      const status = statusOf(error);
      if (status !== undefined && status in benign) return benign[status];
      throw fail(what, error);
    }
  };
  return {
    address,
    ping: async () => {
      await call("ping", () => client.ping());
    },
    create: async (options) => {
      try {
        return (await client.createContainer(options)).id;
      } catch (error) {
        if (statusOf(error) !== 404) throw fail(`create ${options.name}`, error);
        throw new LivelyError("not_found", `image ${JSON.stringify(options.Image)} is not on the engine at ${address.url}`, {
          image: options.Image,
        });
      }
    },
    pull: async (image) => {
      const progress = await call(`pull ${image}`, () => client.pull(image));
      // A failed pull is an `error` line in a stream that ends normally, not a failed request.
      let failure: string | undefined;
      await new Promise<void>((resolve, reject) => {
        let rest = "";
        progress.on("data", (chunk: Buffer) => {
          const lines = (rest + chunk.toString("utf8")).split("\n");
          rest = lines.pop() ?? "";
          for (const line of lines) failure ??= pullError(line);
        });
        progress.on("end", () => {
          failure ??= pullError(rest);
          resolve();
        });
        progress.on("error", reject);
      });
      if (failure !== undefined) throw new Error(failure);
    },
    attach: (id, stdin) =>
      attachRaw(address, client, id, stdin).catch((error: unknown) =>
        Promise.reject(error instanceof LivelyError ? error : fail("attach", error)),
      ),
    start: async (id) => {
      await call("start", () => client.getContainer(id).start());
    },
    // Not dockerode's: its wait never settles when the engine dies while it waits.
    wait: (id) =>
      call("wait", async () => {
        const body = bodyOf(await engineRequest(address, "POST", `/containers/${encodeURIComponent(id)}/wait`));
        const code = (JSON.parse(body) as { StatusCode?: unknown }).StatusCode;
        if (typeof code !== "number")
          throw Object.assign(new Error(`wait answered without an exit code: ${body.trim()}`), { statusCode: 500 });
        return code;
      }),
    // 304: not running; 404: gone. Either way there was nothing to stop.
    stop: (id, seconds) =>
      call(
        `stop ${id}`,
        () =>
          client
            .getContainer(id)
            .stop({ t: seconds })
            .then(() => true),
        { 304: false, 404: false },
      ),
    kill: (id) =>
      call(
        `kill ${id}`,
        () =>
          client
            .getContainer(id)
            .kill({ signal: "SIGKILL" })
            .then(() => true),
        { 404: false, 409: false },
      ),
    remove: async (id) => {
      await call("remove", () => client.getContainer(id).remove({ force: true, v: true }), { 404: undefined });
    },
    list: async (label) =>
      (await call(`list ${label}`, () => client.listContainers({ all: true, filters: { label: [label] } }))).map((summary) => ({
        id: summary.Id,
        name: (summary.Names?.[0] ?? "").replace(/^\//, ""),
        labels: summary.Labels ?? {},
        state: summary.State ?? "unknown",
      })),
  };
}

/** The `message` of an engine's JSON error body, else the body itself. */
function engineMessage(body: string, status: number | undefined): string {
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    if (typeof parsed.message === "string") return parsed.message;
  } catch {
    // Not JSON: the text is the message.
  }
  return body.trim() || `HTTP ${status}`;
}

function pullError(line: string): string | undefined {
  if (line.trim() === "") return undefined;
  try {
    const message = JSON.parse(line) as { error?: string; errorDetail?: { message?: string } };
    return message.errorDetail?.message ?? message.error;
  } catch {
    return undefined;
  }
}

/** What the engine answered: an upgraded connection, or a status and a body. */
type Answer = { socket: Duplex } | { status: number; body: string };

/**
 * One request to the engine with an empty body, never left hanging: a connection lost before the
 * answer is complete (the engine died) rejects, where dockerode would wait for ever. Errors
 * carry `statusCode` when the engine answered, none when the connection failed.
 */
function engineRequest(address: EngineAddress, method: "GET" | "POST", path: string, upgrade = false): Promise<Answer> {
  const request = (address.protocol === "https" ? https : http).request({
    method,
    path,
    headers: upgrade ? { Connection: "Upgrade", Upgrade: "tcp", "Content-Length": "0" } : { "Content-Length": "0" },
    ...(address.socketPath ? { socketPath: address.socketPath } : { host: address.host, port: address.port, ...address.tls }),
  });
  return new Promise<Answer>((resolve, reject) => {
    request.once("upgrade", (_response, socket, head) => {
      if (head.length > 0) socket.unshift(head);
      resolve({ socket });
    });
    request.once("response", (response) => {
      let body = "";
      response.on("data", (chunk: Buffer) => {
        body += chunk.toString("utf8");
      });
      response.once("end", () => resolve({ status: response.statusCode ?? 0, body }));
      response.once("error", reject);
      response.once("close", () => {
        if (!response.complete) reject(new Error("the engine closed the connection before answering"));
      });
    });
    request.once("error", reject);
    request.end();
  });
}

/** The body of a 2xx answer; anything else rejects with the engine's message and status. */
function bodyOf(answer: Answer): string {
  if ("socket" in answer) {
    answer.socket.destroy();
    throw Object.assign(new Error("the engine upgraded a connection that asked for no upgrade"), { statusCode: 500 });
  }
  if (answer.status >= 200 && answer.status < 300) return answer.body;
  throw Object.assign(new Error(engineMessage(answer.body, answer.status)), { statusCode: answer.status });
}

/** `POST /containers/{id}/attach` upgraded to a raw stream, with an empty body (see the header). */
async function attachRaw(
  address: EngineAddress,
  client: DockerClient,
  id: string,
  stdin: boolean,
): Promise<{ stdout: Readable; stderr: Readable; stdin: Writable | null; connection: Duplex }> {
  const query = `stream=1&stdout=1&stderr=1&stdin=${stdin ? 1 : 0}`;
  const answer = await engineRequest(address, "POST", `/containers/${encodeURIComponent(id)}/attach?${query}`, true);
  if (!("socket" in answer)) bodyOf(answer);
  const connection = (answer as { socket: Duplex }).socket;
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  client.modem.demuxStream(connection, stdout, stderr);
  const finish = () => {
    stdout.end();
    stderr.end();
  };
  connection.once("end", finish);
  connection.once("close", finish);
  // The engine closing the connection (the container ended) must not become an uncaught error.
  connection.on("error", finish);
  return { stdout, stderr, stdin: stdin ? connection : null, connection };
}
