/**
 * A Lively node: open the store, migrate, make sure an admin token exists, read the channel
 * index, and serve HTTP (the admin API under /_lively/; public module traffic arrives with
 * the runtime). Everything acquired is released in reverse order by `close()`.
 *
 * Owns: wiring the layers together for one process. Must not import cli/.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { hostname } from "node:os";
import { resolve } from "node:path";
import { getRequestListener } from "@hono/node-server";
import { createAdminApi } from "../api/app.ts";
import { bootstrapAdminToken } from "../auth/tokens.ts";
import { ChannelIndex } from "../code/channel-index.ts";
import { type CodeLimits, DEFAULT_CODE_LIMITS } from "../code/limits.ts";
import { LivelyError, toError } from "../errors.ts";
import { createGateway } from "../gateway/gateway.ts";
import { createLogger, type Logger } from "../log.ts";
import { IvmSandbox } from "../runtime/ivm/ivm-sandbox.ts";
import { validateArtifact } from "../runtime/ivm/validate-artifact.ts";
import { ModuleLogs, toModuleLogLevel } from "../runtime/module-logs.ts";
import { DEFAULT_SANDBOX_LIMITS, type SandboxLimits } from "../runtime/sandbox.ts";
import { VersionCache } from "../runtime/version-cache.ts";
import { openStore } from "../store/open.ts";
import { currentSeq } from "../store/queries/seq.ts";
import { getVersion } from "../store/queries/versions.ts";
import type { Store } from "../store/store.ts";
import { Releasers } from "./lifecycle.ts";

export interface NodeOptions {
  /** SQLite path or postgres:// URL; default `<dataDir>/lively.db`. */
  db?: string;
  dataDir?: string;
  port?: number;
  host?: string;
  nodeId?: string;
  limits?: CodeLimits;
  sandboxLimits?: SandboxLimits;
  /** Dispose a loaded version after this long without a request (default 1 h). */
  idleTtlMs?: number;
  /** At most this many versions loaded at once; least recently used go first. */
  maxLoaded?: number;
  maxBodyBytes?: number;
  log?: Logger;
}

export interface RunningNode {
  url: string;
  nodeId: string;
  store: Store;
  /** What modules wrote with console.* on this node (`lively logs`). */
  logs: ModuleLogs;
  /** Where the bootstrap wrote a new admin token, when this start created one. */
  adminTokenPath: string | undefined;
  /** How long the start took, in ms, and how many channels the index holds. */
  startup: { ms: number; channels: number; seq: number };
  close(): Promise<void>;
}

export async function startNode(options: NodeOptions = {}): Promise<RunningNode> {
  const started = performance.now();
  const dataDir = resolve(options.dataDir ?? ".lively");
  const port = options.port ?? 8080;
  const host = options.host ?? "127.0.0.1";
  const log = options.log ?? createLogger();
  const releasers = new Releasers();
  try {
    const store = openStore({ db: options.db ?? resolve(dataDir, "lively.db") });
    releasers.add("store", () => store.close());
    const migration = await store.migrate();
    if (migration.applied.length > 0) log.info({ applied: migration.applied, store: store.description }, "store migrated");
    const adminTokenPath = await bootstrapAdminToken(store, dataDir);

    // Only the index is read at start; code is read when a version is first needed.
    const index = new ChannelIndex(store);
    await index.refresh();
    const nodeLog = log.child({ layer: "node" });
    // Until the cluster change feed lands, poll the history's seq (cheap: one indexed row).
    const poller = setInterval(() => {
      index.refresh().catch((error: unknown) => nodeLog.warn({ err: error }, "channel index refresh failed; serving the map it has"));
    }, store.capabilities.pollIntervalMs);
    poller.unref();
    releasers.add("index poll", () => clearInterval(poller));

    const logs = new ModuleLogs();
    const moduleLog = log.child({ layer: "module" });
    const cache = new VersionCache({
      sandbox: new IvmSandbox(),
      source: { artifact: (module, version) => store.read(async (db) => (await getVersion(db, module, version))?.artifact) },
      limits: options.sandboxLimits ?? DEFAULT_SANDBOX_LIMITS,
      idleTtlMs: options.idleTtlMs ?? 3_600_000,
      maxLoaded: options.maxLoaded ?? 1000,
      onLog: (module, version, level, text) => {
        logs.append(module, version, toModuleLogLevel(level), text);
        moduleLog.debug({ module, version, level }, text);
      },
    });
    releasers.add("version cache", () => cache.close());
    const gateway = createGateway({ index, cache, log, maxBodyBytes: options.maxBodyBytes ?? 10 * 1024 * 1024 });

    const server: Server = createServer();
    // Known once listening (port 0 picks one); the API reads it lazily.
    let nodeId = options.nodeId ?? `${hostname()}:${port}`;
    const api = createAdminApi({
      store,
      validate: (artifact, sourceMap) => validateArtifact(artifact, {}, sourceMap),
      limits: options.limits ?? DEFAULT_CODE_LIMITS,
      log,
      nodeId: () => nodeId,
      logs,
      onChange: () => {
        void index.refresh().catch(() => undefined);
      },
      call: async (module, fn, args, channel) => {
        const version = index.version(module, channel ?? "production");
        if (version === undefined)
          throw new LivelyError("not_found", `module '${module}' has no channel '${channel ?? "production"}'`, { module });
        const loaded = await cache.get(module, version);
        if (!loaded) throw new LivelyError("not_found", `module '${module}' has no version ${version}`, { module, version });
        if (!loaded.exports.includes(fn) || fn === "default") {
          throw new LivelyError(
            "not_found",
            `${module}@${version} exports no function '${fn}' (it exports: ${loaded.exports.join(", ")})`,
            {
              module,
              version,
            },
          );
        }
        return { version, result: await loaded.call(fn, args) };
      },
      status: async () => ({
        appliedSeq: index.appliedSeq,
        channels: index.size,
        loaded: await cache.status(),
        isolateRestarts: cache.restarts,
      }),
      health: async () => {
        try {
          return { status: "ok", seq: await store.read((db) => currentSeq(db)) };
        } catch (error) {
          return { status: "degraded", reason: toError(error).message };
        }
      },
    });
    const adminListener = getRequestListener(api.fetch);
    server.on("request", (request: IncomingMessage, response: ServerResponse) => {
      if (request.url?.startsWith("/_lively/")) {
        void adminListener(request, response);
        return;
      }
      void gateway(request, response);
    });
    await new Promise<void>((done, fail) => {
      server.once("error", (error: NodeJS.ErrnoException) =>
        fail(
          error.code === "EADDRINUSE"
            ? new LivelyError("unavailable", `port ${port} on ${host} is in use; pick another with --port`, { port })
            : error,
        ),
      );
      server.listen(port, host, () => done());
    });
    releasers.add(
      "http",
      () =>
        new Promise<void>((done) => {
          server.close(() => done());
          server.closeIdleConnections();
        }),
    );
    // Released before the server closes: open `logs -f` streams end, or server.close would wait for them.
    releasers.add("module log streams", () => logs.close());
    const address = server.address() as AddressInfo;
    nodeId = options.nodeId ?? `${hostname()}:${address.port}`;
    const url = `http://${host.includes(":") ? `[${host}]` : host}:${address.port}`;
    const startup = { ms: performance.now() - started, channels: index.size, seq: index.appliedSeq };
    log.info({ url, node: nodeId, store: store.description, ...startup }, "node ready");
    return {
      url,
      nodeId,
      store,
      logs,
      adminTokenPath,
      startup,
      close: () => releasers.releaseAll((name, error) => log.error({ err: error, resource: name }, "release failed")),
    };
  } catch (error) {
    await releasers.releaseAll();
    throw error;
  }
}
