/**
 * A Lively node: a supervision tree (rest_for_one, so a child's restart also restarts the
 * children that depend on it) of
 *
 *   store    open, migrate, make sure an admin token exists
 *   feed     the channel index, kept fresh from the history
 *   loader   the version cache and its sandboxes
 *   http     the gateway and the admin API on one port
 *   membership  this node's row in the cluster's `nodes` table (heartbeat, applied seq)
 *
 * Stopping is the reverse order: the node marks itself left, HTTP drains (requests in flight
 * finish), then the isolates are disposed, the feed stops and the store closes.
 *
 * Owns: wiring the layers together for one process. Must not import cli/.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { hostname } from "node:os";
import { resolve } from "node:path";
import { getRequestListener } from "@hono/node-server";
import { createAdminApi } from "../api/app.ts";
import { bootstrapAdminToken } from "../auth/tokens.ts";
import { type Feed, startFeed } from "../cluster/feed.ts";
import { type Membership, startMembership } from "../cluster/membership.ts";
import { ChannelIndex } from "../code/channel-index.ts";
import { fetchAllowed } from "../code/fetch-allow.ts";
import { type CodeLimits, DEFAULT_CODE_LIMITS } from "../code/limits.ts";
import { DEFAULT_CHANNEL } from "../code/names.ts";
import { createGateway } from "../gateway/gateway.ts";
import { createLogger, type Logger } from "../log.ts";
import { createHostFetch } from "../runtime/host-fetch.ts";
import { IvmSandbox } from "../runtime/ivm/ivm-sandbox.ts";
import { validateArtifact } from "../runtime/ivm/validate-artifact.ts";
import { ModuleLogs, toModuleLogLevel } from "../runtime/module-logs.ts";
import { DEFAULT_SANDBOX_LIMITS, type SandboxLimits } from "../runtime/sandbox.ts";
import { VersionCache } from "../runtime/version-cache.ts";
import { openStore } from "../store/open.ts";
import { getVersion } from "../store/queries/versions.ts";
import type { Store, StoreTimeouts } from "../store/store.ts";
import { type ChildHandle, type Supervisor, startSupervisor } from "../supervise/supervisor.ts";
import { LIVELY_VERSION } from "../version.ts";
import { callExport } from "./calls.ts";
import { startHttpChild } from "./http-child.ts";

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
  /** The same for a version no channel points at any more (default 60 s). */
  unreferencedTtlMs?: number;
  /** At most this many versions loaded at once; least recently used go first. */
  maxLoaded?: number;
  /** At most this much isolate heap in all (default 4 GB); least recently used go first. */
  maxHeapBytes?: number;
  maxBodyBytes?: number;
  /** How long SIGTERM waits for requests in flight before cutting them (default 10 s). */
  drainMs?: number;
  /** How often the feed reads the seq without a notification (default: 5 s PostgreSQL, 100 ms SQLite). */
  pollIntervalMs?: number;
  /** How often this node writes its membership heartbeat (default 2 s). */
  heartbeatMs?: number;
  /** A node whose heartbeat is older than this shows as down in `lively nodes` (default 10 s). */
  downAfterMs?: number;
  /** How long the database may keep this node waiting (store.ts has the defaults and why). */
  storeTimeouts?: StoreTimeouts;
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
  /** Settles when the node ends: resolves after close(), rejects when its supervisor gave up. */
  done: Promise<void>;
  supervisor: Supervisor;
  /**
   * The membership child, once started (after a restart, the new one). The change feed calls
   * `beatSoon()` on it after applying history, so `lively nodes` sees the new seq at once;
   * inside startNode that is the `beatSoon` closure. A stopped one ignores `beatSoon()`.
   */
  readonly membership: Membership | undefined;
  close(): Promise<void>;
}

/** A resource as a child: it runs until stopped, and stopping releases it. */
function resourceChild(release: () => Promise<void> | void): ChildHandle {
  let ended: () => void = () => undefined;
  const done = new Promise<void>((resolveDone) => {
    ended = resolveDone;
  });
  return {
    done,
    async stop() {
      try {
        await release();
      } finally {
        ended();
      }
    },
  };
}

/** The parts the children make, in start order; a restarted child replaces its part. */
interface Parts {
  store?: Store;
  adminTokenPath?: string;
  index?: ChannelIndex;
  cache?: VersionCache;
  feed?: Feed;
  /** The port once bound, so a restarted HTTP child binds the same one. */
  port?: number;
  membership?: Membership;
}

const need = <T>(part: T | undefined, name: string): T => {
  if (part === undefined) throw new Error(`node: ${name} is not running`);
  return part;
};

export async function startNode(options: NodeOptions = {}): Promise<RunningNode> {
  const started = performance.now();
  const dataDir = resolve(options.dataDir ?? ".lively");
  const host = options.host ?? "127.0.0.1";
  const log = options.log ?? createLogger();
  const nodeLog = log.child({ layer: "node" });
  const parts: Parts = {};
  // The node's own, not a child's: a loader or HTTP restart keeps the lines and `logs -f` reconnects.
  const logs = new ModuleLogs();
  const moduleLog = log.child({ layer: "module" });
  let nodeId = options.nodeId ?? `${hostname()}:${options.port ?? 8080}`;
  // For the feed: make freshly applied history visible in the membership row right away.
  const beatSoon = () => parts.membership?.beatSoon();

  const storeChild = async (): Promise<ChildHandle> => {
    const store = openStore({ ...options.storeTimeouts, db: options.db ?? resolve(dataDir, "lively.db"), log });
    try {
      const migration = await store.migrate();
      if (migration.applied.length > 0) log.info({ applied: migration.applied, store: store.description }, "store migrated");
      parts.adminTokenPath = await bootstrapAdminToken(store, dataDir);
    } catch (error) {
      await store.close();
      throw error;
    }
    parts.store = store;
    return resourceChild(() => store.close());
  };

  const feedChild = async (): Promise<ChildHandle> => {
    const store = need(parts.store, "the store");
    const index = new ChannelIndex(store);
    await index.catchUp(); // the whole map, before anything serves
    parts.index = index;
    // After each apply, heartbeat soon: `lively nodes` sees this node converge within milliseconds.
    const feed = startFeed({ store, index, log, pollIntervalMs: options.pollIntervalMs, onApplied: () => beatSoon() });
    parts.feed = feed;
    return feed;
  };

  const loaderChild = async (): Promise<ChildHandle> => {
    const store = need(parts.store, "the store");
    const index = need(parts.index, "the feed");
    const cache: VersionCache = new VersionCache({
      sandbox: new IvmSandbox(),
      source: { artifact: (module, version) => store.read(async (db) => (await getVersion(db, module, version))?.artifact) },
      limits: options.sandboxLimits ?? DEFAULT_SANDBOX_LIMITS,
      idleTtlMs: options.idleTtlMs ?? 3_600_000,
      unreferencedTtlMs: options.unreferencedTtlMs,
      maxLoaded: options.maxLoaded ?? 1000,
      maxHeapBytes: options.maxHeapBytes ?? 4 * 1024 ** 3,
      isReferenced: (module, version) => index.isReferenced(module, version),
      // vars, limit overrides; a change of them reloads the module's versions on their next request
      settings: (module) => index.settings(module),
      makeFetch: (module, fetchAllow) =>
        createHostFetch({
          isAllowed: (url) => fetchAllowed(fetchAllow, url),
          allowlist: fetchAllow,
          hint: `allow hosts with: lively config ${module} --allow-fetch HOST`,
        }),
      callModule: async (caller, module, fn, args) =>
        (await callExport(index, cache, module, fn, args, caller, { fallbackToProduction: true })).result,
      onLog: (module, version, level, text) => {
        logs.append(module, version, toModuleLogLevel(level), text);
        moduleLog.debug({ module, version, level }, text);
      },
    });
    parts.cache = cache;
    return resourceChild(() => cache.close());
  };

  const httpChild = async (): Promise<ChildHandle> => {
    const store = need(parts.store, "the store");
    const index = need(parts.index, "the feed");
    const cache = need(parts.cache, "the loader");
    const gateway = createGateway({ index, cache, log, maxBodyBytes: options.maxBodyBytes ?? 10 * 1024 * 1024 });
    const api = createAdminApi({
      store,
      validate: (artifact, sourceMap) => validateArtifact(artifact, {}, sourceMap),
      limits: options.limits ?? DEFAULT_CODE_LIMITS,
      sandboxLimits: options.sandboxLimits ?? DEFAULT_SANDBOX_LIMITS,
      log,
      nodeId: () => nodeId,
      logs,
      downAfterMs: options.downAfterMs,
      // The write has committed; answer once this node serves it. A failed read is the feed's to retry.
      onChange: () =>
        index.catchUp().then(
          () => beatSoon(),
          () => undefined,
        ),
      call: (module, fn, args, channel) =>
        callExport(index, cache, module, fn, args, { channel: channel ?? DEFAULT_CHANNEL, depth: 0 }, { fallbackToProduction: false }),
      status: async () => ({
        appliedSeq: index.appliedSeq,
        channels: index.size,
        loaded: await cache.status(),
        loads: cache.loads,
        isolateRestarts: cache.restarts,
        children: supervisor?.which() ?? [],
        membership: parts.membership?.state() ?? { ok: false, reason: "not running" },
        feed: parts.feed?.state(),
      }),
      // From what the feed last saw, never a query: a health check must answer while the database hangs.
      health: async () => {
        const feed = need(parts.feed, "the feed").state();
        // The heartbeat writes every 2 s: on PostgreSQL it notices a lost database before the 5 s fallback poll.
        const beat = parts.membership?.state();
        if (feed.ok && beat?.ok !== false) return { status: "ok", seq: feed.appliedSeq, feed: feed.mode, listening: feed.listening };
        const reason = feed.ok ? beat?.reason : feed.reason;
        return {
          status: "degraded",
          reason: `the database cannot be reached (${reason}); serving the versions and channels this node has, as of seq ${feed.appliedSeq}`,
          since: feed.ok ? beat?.since : feed.since,
          seq: feed.appliedSeq,
        };
      },
    });
    const adminListener = getRequestListener(api.fetch);
    const child = await startHttpChild({
      port: parts.port ?? options.port ?? 8080,
      host,
      gateway,
      admin: (request: IncomingMessage, response: ServerResponse) => void adminListener(request, response),
      inFlight: () => cache.inFlight,
      // Open `logs -f` streams would hold server.close() forever.
      beforeClose: () => logs.endSubscriptions(),
    });
    parts.port = child.port;
    nodeId = options.nodeId ?? `${hostname()}:${child.port}`;
    return child;
  };

  // After http: the row carries the bound address. A failed write does not stop the node.
  const membershipChild = async (): Promise<ChildHandle> => {
    const index = need(parts.index, "the feed");
    const cache = need(parts.cache, "the loader");
    const membership = await startMembership({
      store: need(parts.store, "the store"),
      nodeId,
      address: advertisedAddress(host, need(parts.port, "http")),
      livelyVersion: LIVELY_VERSION,
      appliedSeq: () => index.appliedSeq,
      loaded: () => cache.loadedVersions(),
      heartbeatMs: options.heartbeatMs,
      log,
    });
    parts.membership = membership;
    return membership;
  };

  let supervisor: Supervisor | undefined;
  supervisor = await startSupervisor({ name: "node", strategy: "rest_for_one", log, intensity: 5, periodMs: 10_000 }, [
    { id: "store", restart: "permanent", start: storeChild },
    { id: "feed", restart: "permanent", start: feedChild },
    { id: "loader", restart: "permanent", start: loaderChild, shutdownMs: 2_000 },
    { id: "http", restart: "permanent", start: httpChild, shutdownMs: options.drainMs ?? 10_000 },
    { id: "membership", restart: "permanent", start: membershipChild, shutdownMs: 3_000 },
  ]);
  const tree = supervisor;
  const store = need(parts.store, "the store");
  const index = need(parts.index, "the feed");
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${parts.port}`;
  const startup = { ms: performance.now() - started, channels: index.size, seq: index.appliedSeq };
  log.info({ url, node: nodeId, store: store.description, ...startup }, "node ready");
  tree.done.catch((error: unknown) => nodeLog.error({ err: error }, "the node's supervisor gave up"));
  return {
    url,
    nodeId,
    store,
    adminTokenPath: parts.adminTokenPath,
    startup,
    done: tree.done,
    supervisor: tree,
    logs,
    get membership() {
      return parts.membership;
    },
    close: async () => {
      await tree.stop();
      logs.close();
    },
  };
}

/** `http://host:port` as others reach it: a wildcard listen address says nothing, so name the machine. */
function advertisedAddress(host: string, port: number): string {
  const name = host === "0.0.0.0" || host === "::" || host === "" ? hostname() : host;
  return `http://${name.includes(":") ? `[${name}]` : name}:${port}`;
}
