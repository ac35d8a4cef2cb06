/**
 * A Lively node: a supervision tree (rest_for_one, so a child's restart also restarts the
 * children that depend on it) of
 *
 *   store    open, migrate, make sure an admin token exists (boot.ts: without the database,
 *            a node with a local copy starts anyway and does this when the database returns)
 *   feed     the channel index, kept fresh from the history, and the local copy kept with it
 *   loader   the version cache and its sandboxes, and the preloading of moved channels
 *   http     the gateway and the admin API on one port
 *   membership  this node's row in the cluster's `nodes` table (heartbeat, applied seq)
 *   kv-sweep    deletes expired bucket entries and old KV change rows (kv/sweep.ts)
 *   kv-feed     keeps the node's KV read cache true to the store (cluster/kv-feed.ts); until
 *               it has caught up, and whenever it loses the database, the cache is bypassed
 *   events      reads the cluster's events (history, KV changes, node up/down) as they commit and
 *               publishes them to the node's event manager (cluster/event-feed.ts), which feeds
 *               `GET /events` streams and modules exporting onEvent (module-events.ts)
 *   kv-tcp      with `kvPort` only: the KV line protocol (api/kv-tcp/, docs/kv-protocol.md),
 *               reading through the same read cache; each client is its own supervised handler
 *
 * A node keeps a verified local copy of every channel head and of its channel index in
 * `<data-dir>/cache/` (cluster/local-copy/): loads read it first, so a database outage, or a
 * start during one, changes nothing for traffic; only writes fail.
 *
 * Stopping is the reverse order: the node marks itself left, HTTP drains (requests in flight
 * finish), then the isolates are disposed, the feed stops and the store closes.
 *
 * The option and handle types are in node-options.ts, the KV and events children in
 * kv-children.ts, health and `lively status` in node-status.ts.
 *
 * Owns: wiring the layers together for one process. Must not import cli/.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { hostname } from "node:os";
import { resolve } from "node:path";
import { getRequestListener } from "@hono/node-server";
import { createAdminApi } from "../api/app.ts";
import { assertKvHostAllowed } from "../api/kv-tcp/server.ts";
import { VerifiedTokens } from "../auth/token-cache.ts";
import { currentCursor, type LivelyEvent } from "../cluster/event-log.ts";
import { EventManager } from "../cluster/events.ts";
import { fanOutDelayMs } from "../cluster/fan-out.ts";
import { startFeed } from "../cluster/feed.ts";
import { followIndex } from "../cluster/local-copy/follow.ts";
import { LocalCopy } from "../cluster/local-copy/local-copy.ts";
import { ChannelIndex } from "../code/channel-index.ts";
import { DEFAULT_CODE_LIMITS } from "../code/limits.ts";
import { DEFAULT_CHANNEL } from "../code/names.ts";
import { LivelyError } from "../errors.ts";
import { createGateway } from "../gateway/gateway.ts";
import { BodyBudget } from "../gateway/request-body.ts";
import { KV_CACHE_DEFAULT_MAX_BYTES, KvReadCache } from "../kv/cache.ts";
import { NodeKv } from "../kv/node-kv.ts";
import { createLogger } from "../log.ts";
import { ResponseCache } from "../runtime/cache/response-cache.ts";
import { IvmSandbox } from "../runtime/ivm/ivm-sandbox.ts";
import { validateArtifact } from "../runtime/ivm/validate-artifact.ts";
import { DEFAULT_BODY_BYTES, effectiveBodyBytes, effectiveSandboxLimits, type NodeLimits } from "../runtime/limits.ts";
import { LOAD_BUDGET_DEFAULTS, LoadBudget } from "../runtime/load-budget.ts";
import { ModuleKv } from "../runtime/module-kv.ts";
import { ModuleLogs, toModuleLogLevel } from "../runtime/module-logs.ts";
import { startPreloading } from "../runtime/preload.ts";
import { DEFAULT_SANDBOX_LIMITS } from "../runtime/sandbox.ts";
import { VersionCache } from "../runtime/version-cache.ts";
import { openStore } from "../store/open.ts";
import type { Store } from "../store/store.ts";
import { type ChildHandle, type Supervisor, startSupervisor } from "../supervise/supervisor.ts";
import { applianceChild } from "./appliance-child.ts";
import { cannotReach, nothingToServe, offlineMap, prepareStore, refusesSchema } from "./boot.ts";
import { callExport, nodeCaller, nodeRunStarter } from "./calls.ts";
import { need, resourceChild } from "./children.ts";
import { secureDataDir } from "./data-dir.ts";
import { startHttpChild } from "./http-child.ts";
import { kvChildren } from "./kv-children.ts";
import { membershipChild } from "./membership-child.ts";
import { deliverEventsToModules, EVENT_EXPORT, productionHeads } from "./module-events.ts";
import { moduleFetch, moduleWebSocketConnect } from "./module-fetch.ts";
import type { NodeOptions, RunningNode } from "./node-options.ts";
import type { Parts } from "./node-parts.ts";
import { nodeHealth, nodeStatus } from "./node-status.ts";
import { runningNode } from "./running-node.ts";

export type { NodeOptions, RunningNode } from "./node-options.ts";

export async function startNode(options: NodeOptions = {}): Promise<RunningNode> {
  const started = performance.now();
  const dataDir = resolve(options.dataDir ?? ".lively");
  const host = options.host ?? "127.0.0.1";
  if (options.kvPort !== undefined) assertKvHostAllowed(host, options.kvAllowRemote ?? false);
  const log = options.log ?? createLogger();
  const nodeLog = log.child({ layer: "node" });
  const parts: Parts = {};
  // The node's own, not a child's: a loader or HTTP restart keeps the lines and `logs -f` reconnects.
  const logs = new ModuleLogs();
  const moduleLog = log.child({ layer: "module" });
  let nodeId = options.nodeId ?? `${hostname()}:${options.port ?? 8080}`;
  const nodeLimits: NodeLimits = {
    ...(options.sandboxLimits ?? DEFAULT_SANDBOX_LIMITS),
    bodyBytes: options.maxBodyBytes ?? DEFAULT_BODY_BYTES,
  };
  // The node's, not the http child's: bodies held across a restart of it are still counted.
  const bodyBudget = new BodyBudget(options.maxInflightBodyBytes ?? 256 * 1024 * 1024);
  // The node's, shared by everything on it; bypassed until the kv-feed child vouches for it.
  const kvCache = new KvReadCache({ maxBytes: options.kvCacheMaxBytes ?? KV_CACHE_DEFAULT_MAX_BYTES });
  // The Cache API's store: per node, in memory; it outlives loader restarts (a supervisor restart is not a node restart).
  const responseCache = new ResponseCache({ maxBytes: options.cacheApiMaxBytes });
  // For the feed: make freshly applied history visible in the membership row right away.
  const beatSoon = () => parts.membership?.beatSoon();
  // The node's, like the KV cache: streams and modules' onEvent hear the cluster's events from it.
  const events = new EventManager<LivelyEvent>({ log });
  let stopping = false;
  const db = options.db ?? resolve(dataDir, "lively.db");
  // Before anything writes in the data folder (the local copy is its first writer).
  secureDataDir({ dataDir, db, log: nodeLog });
  const localCopy = await LocalCopy.open({ dir: resolve(dataDir, "cache"), maxBytes: options.cacheMaxBytes, log });
  // Set when the database refused this build after a start without it; the node stops with it.
  let refused: LivelyError | undefined;
  let stopForRefusal: () => void = () => undefined;

  // Hooks, module appliances and onEvent reach stored modules on a channel of their own, never falling back.
  const callOnChannel = nodeCaller(() => ({ index: need(parts.index, "the feed"), cache: need(parts.cache, "the loader") }));
  const callProduction = (module: string, fn: string, args: unknown[]) => callOnChannel(module, DEFAULT_CHANNEL, fn, args);
  const startRun = nodeRunStarter(() => ({ index: need(parts.index, "the feed"), cache: need(parts.cache, "the loader") }));
  const storeChild = async (): Promise<ChildHandle> => {
    const store = openStore({
      ...options.storeTimeouts,
      poolSize: options.dbPool,
      db,
      pooler: options.pooler,
      listenDb: options.listenDb,
      log,
    });
    try {
      parts.adminTokenPath = await prepareStore(store, dataDir, log);
      parts.offline = undefined;
    } catch (error) {
      const usable = cannotReach(error) && offlineMap(parts.index?.exportState(), localCopy.snapshotOf(store)?.index) !== undefined;
      if (!usable) {
        await store.close();
        throw cannotReach(error) ? nothingToServe(error, localCopy.dir, localCopy.snapshotStore) : error;
      }
      parts.offline = { reason: error.message, since: new Date().toISOString() };
      nodeLog.warn({ err: error, localCopy: localCopy.dir }, "the database cannot be reached; starting from the local copy");
    }
    parts.store = store;
    return resourceChild(() => store.close());
  };

  /** What the feed runs first when the node started without the database: the start's own preparation. */
  const prepareOnReturn = (store: Store) => async () => {
    try {
      const written = await prepareStore(store, dataDir, log);
      parts.adminTokenPath ??= written;
    } catch (error) {
      if (refusesSchema(error)) {
        refused ??= error;
        stopForRefusal();
      }
      throw error;
    }
    parts.offline = undefined;
    nodeLog.info("the database answers again: schema checked; catching up");
  };

  // Background fetches after an apply wait a random delay that grows with the cluster (cluster/fan-out.ts).
  const fanOutDelay = () => fanOutDelayMs(parts.eventFeed?.liveNodes ?? 1);

  const feedChild = async (): Promise<ChildHandle> => {
    const store = need(parts.store, "the store");
    const previous = parts.index?.exportState();
    const index = new ChannelIndex(store, { log });
    let degraded = parts.offline;
    try {
      if (!degraded) {
        await index.catchUp(); // the whole map, before anything serves
        // Where the event feed starts, taken before any stream can subscribe: nothing falls in between.
        parts.eventStart ??= await store.read((db) => currentCursor(db)).catch(() => undefined);
      }
    } catch (error) {
      if (!cannotReach(error) || !offlineMap(previous, localCopy.snapshotOf(store)?.index)) throw error;
      degraded = { reason: error.message, since: new Date().toISOString() };
    }
    if (degraded) {
      const map = offlineMap(previous, localCopy.snapshotOf(store)?.index) as NonNullable<ReturnType<typeof offlineMap>>;
      index.restore(map);
    }
    parts.index = index;
    // Every apply (the feed's, or an admin write's on this node) has new history for the event feed.
    index.onApplied(() => parts.eventFeed?.wake());
    parts.mapFrom = degraded ? "local copy" : "database";
    const following = followIndex(localCopy, index, store, { delayMs: fanOutDelay });
    // After each apply, heartbeat soon: `lively nodes` sees this node converge within milliseconds.
    const feed = startFeed({
      store,
      index,
      log,
      pollIntervalMs: options.pollIntervalMs,
      onApplied: () => beatSoon(),
      prepare: parts.offline ? prepareOnReturn(store) : undefined,
      degraded,
    });
    parts.feed = feed;
    return {
      done: feed.done,
      async stop() {
        await feed.stop();
        await following.stop();
      },
    };
  };

  const loaderChild = async (): Promise<ChildHandle> => {
    const store = need(parts.store, "the store");
    const index = need(parts.index, "the feed");
    const budget = new LoadBudget({
      perSecond: options.maxColdLoadsPerSec ?? LOAD_BUDGET_DEFAULTS.perSecond,
      burst: options.coldLoadBurst ?? LOAD_BUDGET_DEFAULTS.burst,
    });
    parts.loadBudget = budget;
    const moduleKv = new NodeKv(store, kvCache);
    const cache: VersionCache = new VersionCache({
      sandbox: new IvmSandbox(),
      // The verified local file first, the store after: a cold load works during an outage.
      source: { artifact: (module, version) => localCopy.artifact(store, module, version) },
      limits: nodeLimits,
      maxPendingHostOps: options.maxPendingHostOps,
      idleTtlMs: options.idleTtlMs ?? 3_600_000,
      unreferencedTtlMs: options.unreferencedTtlMs,
      maxLoaded: options.maxLoaded ?? 1000,
      maxHeapBytes: options.maxHeapBytes ?? 4 * 1024 ** 3,
      isReferenced: (module, version) => index.isReferenced(module, version),
      // vars, limit overrides; a change of them reloads the module's versions on their next request
      settings: (module) => index.settings(module),
      makeFetch: (module, fetchAllow) => moduleFetch(index, module, fetchAllow),
      makeWebSocketConnect: (module, fetchAllow) => moduleWebSocketConnect(index, module, fetchAllow),
      // One NodeKv for every isolate on the node: they share its read cache.
      makeKv: (module, bindings) => new ModuleKv({ kv: moduleKv, module, bindings }),
      responseCache,
      callModule: async (caller, module, fn, args) =>
        (await callExport(index, cache, module, fn, args, caller, { fallbackToProduction: true })).result,
      admitLoad: (module, version) => budget.admit(module, version, index.isReferenced(module, version)),
      onLog: (module, version, level, text) => {
        logs.append(module, version, toModuleLogLevel(level), text);
        moduleLog.debug({ module, version, level }, text);
      },
    });
    parts.cache = cache;
    const preloading = startPreloading({ index, cache, log, delayMs: fanOutDelay });
    parts.preloading = preloading;
    return resourceChild(async () => {
      await preloading.stop();
      cache.close();
    });
  };

  const httpChild = async (): Promise<ChildHandle> => {
    const store = need(parts.store, "the store");
    const index = need(parts.index, "the feed");
    const cache = need(parts.cache, "the loader");
    const tokens = new VerifiedTokens({ store, ttlMs: options.tokenCacheTtlMs });
    const health = nodeHealth(parts, () => stopping);
    const gateway = createGateway({
      index,
      cache,
      log,
      maxBodyBytes: (module) => effectiveBodyBytes(nodeLimits.bodyBytes, index.settings(module)?.limits),
      bodyBudget,
      onModuleError: (module, version, text) => logs.append(module, version, "error", text),
      tokens,
      indexPage: { listModules: options.listModules ?? true, health },
    });
    const kv = new NodeKv(store, kvCache);
    const api = createAdminApi({
      store,
      kv,
      tokens,
      health,
      // Under the limits the module will be served with: code that only fits the node's defaults must not deploy.
      // Its fetch too, under its allowlist: a top-level `await fetch(...)` runs here as it will when served.
      validate: (artifact, sourceMap, module) => {
        const settings = index.settings(module);
        const limits = effectiveSandboxLimits(nodeLimits, settings?.limits);
        return validateArtifact(
          artifact,
          {
            memoryLimitMb: limits.memoryMb,
            timeoutMs: limits.cpuMs,
            wallTimeoutMs: limits.wallMs,
            fetch: moduleFetch(index, module, settings?.fetchAllow ?? []),
          },
          sourceMap,
        );
      },
      limits: options.limits ?? DEFAULT_CODE_LIMITS,
      nodeLimits,
      log,
      nodeId: () => nodeId,
      logs,
      events,
      appliances: () => parts.appliances,
      eventHeartbeatMs: options.eventHeartbeatMs,
      eventQueue: options.eventQueue,
      downAfterMs: options.downAfterMs,
      // The write has committed; answer once this node serves it. A failed read is the feed's to retry.
      onChange: () =>
        index.catchUp().then(
          () => beatSoon(),
          () => undefined,
        ),
      call: (module, fn, args, channel) =>
        callExport(index, cache, module, fn, args, { channel: channel ?? DEFAULT_CHANNEL, depth: 0 }, { fallbackToProduction: false }),
      status: nodeStatus({ parts, index, cache, kv, kvCache, events, localCopy, children: () => supervisor?.which() ?? [] }),
    });
    const adminListener = getRequestListener(api.fetch);
    const child = await startHttpChild({
      port: parts.port ?? options.port ?? 8080,
      host,
      gateway,
      upgrade: gateway.upgrade,
      admin: (request: IncomingMessage, response: ServerResponse) => void adminListener(request, response),
      inFlight: () => cache.inFlight,
      // Open `logs -f` streams and WebSockets would hold server.close() forever.
      beforeClose: () => {
        gateway.closeSockets();
        logs.endSubscriptions();
        events.endMonitored("the node is closing its HTTP server");
      },
    });
    parts.port = child.port;
    nodeId = options.nodeId ?? `${hostname()}:${child.port}`;
    return child;
  };

  let supervisor: Supervisor | undefined;
  try {
    supervisor = await startSupervisor({ name: "node", strategy: "rest_for_one", log, intensity: 5, periodMs: 10_000 }, [
      { id: "store", restart: "permanent", start: storeChild },
      { id: "feed", restart: "permanent", start: feedChild },
      { id: "loader", restart: "permanent", start: loaderChild, shutdownMs: 2_000 },
      { id: "http", restart: "permanent", start: httpChild, shutdownMs: options.drainMs ?? 10_000 },
      {
        id: "membership",
        restart: "permanent",
        start: membershipChild({ parts, host, nodeId: () => nodeId, heartbeatMs: options.heartbeatMs, log }),
        shutdownMs: 3_000,
      },
      ...kvChildren({ options, parts, host, kvCache, events, log, nodeId: () => nodeId, stopping: () => stopping }),
      applianceChild({
        parts,
        dataDir,
        log,
        nodeId: () => nodeId,
        defaults: options.applianceDefaults,
        leaseMs: options.appLeaseMs,
        downAfterMs: options.downAfterMs,
        callModule: callProduction,
        startRun,
      }),
    ]);
  } catch (error) {
    // The child's own error says what to do (`unavailable`: exit 6); the supervisor's wrapper only says which child.
    throw error instanceof LivelyError && error.cause instanceof LivelyError ? error.cause : error;
  }
  const tree = supervisor;
  const done = new Promise<void>((resolveDone, rejectDone) => {
    tree.done.then(() => (refused ? rejectDone(refused) : resolveDone()), rejectDone);
  });
  done.catch((error: unknown) =>
    nodeLog.error({ err: error }, refused ? "stopping: the database refuses this build" : "the node's supervisor gave up"),
  );
  stopForRefusal = () => void tree.stop();
  // Modules exporting onEvent on production hear every event this node reads (module-events.ts: per node).
  const moduleEvents = deliverEventsToModules({
    events,
    store: () => parts.store,
    appliedSeq: () => parts.index?.appliedSeq ?? -1,
    heads: () => productionHeads(parts.index),
    bindings: (module) => parts.index?.settings(module)?.kvBindings ?? {},
    call: (module, args) => callProduction(module, EVENT_EXPORT, args),
    moduleLog: (module, text) => logs.append(module, parts.index?.version(module, DEFAULT_CHANNEL) ?? 0, "error", text),
    nodeId: () => nodeId,
    log,
  });
  if (refused) stopForRefusal(); // refused while the tree was still starting
  const store = need(parts.store, "the store");
  const index = need(parts.index, "the feed");
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${parts.port}`;
  const startup = {
    ms: performance.now() - started,
    channels: index.size,
    seq: index.appliedSeq,
    from: parts.mapFrom ?? "database",
  };
  log.info({ url, node: nodeId, store: store.description, ...startup }, "node ready");
  const fixed = { url, nodeId, store, adminTokenPath: parts.adminTokenPath, startup, localCopy, done, supervisor: tree, logs };
  return runningNode(fixed, {
    parts,
    kvCache,
    events,
    close: async () => {
      stopping = true;
      moduleEvents.stop();
      await tree.stop();
      events.close();
      logs.close();
    },
  });
}
