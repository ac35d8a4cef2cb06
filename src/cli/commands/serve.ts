/**
 * `lively serve`: start a node in this process. The first SIGINT/SIGTERM closes gracefully:
 * HTTP stops accepting, requests in flight finish (up to --drain-ms), then the isolates and
 * the store close. A second signal exits at once. When the node's supervisor gives up (a
 * child kept crashing), the command fails with the reason. A node that cannot reach its
 * database starts from its local copy (`<data-dir>/cache/`) when it has one; with neither it
 * fails with `unavailable` (exit 6), as it does when the database's schema is newer than it knows.
 */
import { basename, resolve } from "node:path";
import { MIN_LEASE_MS as MIN_APP_LEASE_MS } from "../../appliances/placement/plan.ts";
import { DEFAULT_CACHE_MAX_MB } from "../../cluster/local-copy/bounds.ts";
import { requireDurationMs } from "../../code/moments.ts";
import { LivelyError } from "../../errors.ts";
import { DEFAULT_SANDBOX_LIMITS } from "../../runtime/sandbox.ts";
import { checkPoolerOptions, POOLER_POLL_MS, poolerMode } from "../../store/pooler.ts";
import { DEFAULT_STORE_TIMEOUTS, POOL_SIZE, type StoreTimeouts } from "../../store/store.ts";
import { defineCommand } from "../core/define.ts";
import { intOption } from "../core/parse.ts";

const MB = 1024 * 1024;
const MAX_CACHE_MB = 1024 * 1024;
/** --poll-ms: below this a feed is a busy loop on the database; above it a lost doorbell waits too long. */
const MIN_POLL_MS = 10;
const MAX_POLL_MS = 60_000;

export default defineCommand({
  name: "serve",
  summary: "start a node: serve every stored module at every version",
  options: (command) =>
    command
      .option("--db <db>", "a SQLite file or a postgres:// URL (default: LIVELY_DB or <data-dir>/lively.db)")
      .option("--port <port>", "HTTP port (default 8080; 0 picks a free one)")
      .option("--host <host>", "address to listen on (default 127.0.0.1)")
      .option("--data-dir <dir>", "where the node keeps its files (default ./.lively)")
      .option("--node-id <id>", "this node's name in the cluster (default host:port)")
      .option("--max-source-bytes <n>", "largest module source accepted (default 5 MB)")
      .option("--drain-ms <ms>", "on SIGTERM, how long requests in flight may finish (default 10000)")
      .option("--idle-ttl <duration>", "unload a version after this long without a request (default 1h; 90s, 15m…)")
      .option("--max-loaded <n>", "most versions loaded at once; least recently used leave first (default 1000)")
      .option("--max-heap-mb <n>", "most isolate heap in all, in MB; least recently used leave first (default 4096)")
      .option("--cpu-ms <ms>", "CPU time a request may use, for modules without their own (default 1000)")
      .option("--wall-ms <ms>", "wall time a request may take, for modules without their own (default 30000)")
      .option("--memory-mb <mb>", "isolate heap, for modules without their own (default 128)")
      .option("--max-body-mb <mb>", "largest request body, for modules without their own (default 10)")
      .option("--max-inflight-body-mb <mb>", "request bodies held at once before new ones get 503 overloaded (default 256)")
      .option("--max-pending-ops <n>", "host operations (env.call, fetch) one isolate may have in flight (default 100)")
      .option(
        "--max-cold-loads-per-sec <n>",
        "loads per second of versions no channel points at (only pins reach them; channel heads always load) (default 10)",
      )
      .option("--cold-load-burst <n>", "how many of those loads may come at once after a quiet spell (default 20)")
      .option("--no-list-modules", "GET / does not list this node's modules (it still shows its status)")
      .option("--heartbeat-ms <ms>", "how often this node writes its membership heartbeat (default 2000)")
      .option("--down-after-ms <ms>", "a node silent this long shows as down in 'lively nodes' (default 10000)")
      .option(
        "--app-lease-ms <ms>",
        "each appliance copy's lease: a dead or paused node's appliances start elsewhere within this plus their start time (default 10000)",
      )
      .option(
        "--cache-max-mb <n>",
        `most MB of artifacts in the local copy (<data-dir>/cache), channel heads first (default ${DEFAULT_CACHE_MAX_MB})`,
      )
      .option("--kv-port <port>", "also serve the KV line protocol (docs/kv-protocol.md) on this port, on --host (0 picks a free one)")
      .option(
        "--kv-allow-remote",
        "let --kv-port listen on a non-loopback --host: the protocol has no authentication, anyone who reaches it reads and writes every bucket",
      )
      .option("--kv-max-connections <n>", "most KV protocol clients at once; one more is refused (default 1024)")
      .option("--cache-api-mb <n>", "most MB of responses modules keep with the Cache API (caches.default), per node (default 64)")
      .option("--kv-cache-mb <n>", "most MB of bucket values in the node's KV read cache (values over 64 KiB are never cached; default 64)")
      .option(
        "--db-pool <n>",
        `PostgreSQL: connections for queries, 1-${POOL_SIZE.max}; the node holds at most this plus one for LISTEN (default ${POOL_SIZE.default})`,
      )
      .option("--db-statement-timeout-ms <ms>", "PostgreSQL: the longest one statement may run (statement_timeout; default 30000)")
      .option(
        "--db-lock-timeout-ms <ms>",
        "how long a write waits for a lock before 'unavailable' (lock_timeout; SQLite: the file's write lock; default 10000)",
      )
      .option(
        "--db-idle-in-transaction-timeout-ms <ms>",
        "PostgreSQL: end a session idle inside a transaction this long (idle_in_transaction_session_timeout; default 15000)",
      )
      .option(
        "--db-pooler <mode>",
        "none, or transaction when --db is a pooler in transaction mode (PgBouncer): no session state, and the feeds poll (default: LIVELY_DB_POOLER or none)",
      )
      .option(
        "--listen-db <url>",
        "with --db-pooler transaction: a postgres:// URL straight to the database, used only for LISTEN (default: LIVELY_LISTEN_DB; without it the feeds poll)",
      )
      .option(
        "--poll-ms <ms>",
        `how often the feeds read the database without a notification (default: 100 SQLite, 5000 PostgreSQL, ${POOLER_POLL_MS} behind a pooler without --listen-db)`,
      ),
  examples: ["lively serve", "lively serve --db postgres://postgres@127.0.0.1/lively --port 8081"],
  async run(_args, options, { io, out }) {
    // The node itself is loaded here, not with this file: every other command and `--help` go without it.
    const [{ DEFAULT_HEARTBEAT_MS, MIN_BEAT_GAP_MS }, { createLogger }, { installLastResort }, { startNode }] = await Promise.all([
      import("../../cluster/membership.ts"),
      import("../../log.ts"),
      import("../../node/last-resort.ts"),
      import("../../node/node.ts"),
    ]);
    const port = intOption(options.port ?? io.env.LIVELY_PORT, "--port");
    if (port !== undefined && port > 65535) throw new LivelyError("bad_request", `--port must be 0-65535, got ${port}`);
    const dataDir = resolve(io.cwd, options.dataDir ?? io.env.LIVELY_DATA_DIR ?? ".lively");
    const maxSourceBytes = intOption(options.maxSourceBytes, "--max-source-bytes", 1);
    const drainMs = intOption(options.drainMs, "--drain-ms", 0);
    const idleTtl = options.idleTtl;
    const idleTtlMs = idleTtl === undefined ? undefined : requireDurationMs(idleTtl, "--idle-ttl");
    const maxLoaded = intOption(options.maxLoaded, "--max-loaded", 1);
    const maxHeapMb = intOption(options.maxHeapMb, "--max-heap-mb", 1);
    const sandboxLimits = {
      cpuMs: intOption(options.cpuMs, "--cpu-ms", 1) ?? DEFAULT_SANDBOX_LIMITS.cpuMs,
      wallMs: intOption(options.wallMs, "--wall-ms", 1) ?? DEFAULT_SANDBOX_LIMITS.wallMs,
      memoryMb: intOption(options.memoryMb, "--memory-mb", 8) ?? DEFAULT_SANDBOX_LIMITS.memoryMb,
    };
    const maxBodyMb = intOption(options.maxBodyMb, "--max-body-mb", 1);
    const maxInflightBodyMb = intOption(options.maxInflightBodyMb, "--max-inflight-body-mb", 1);
    const maxPendingHostOps = intOption(options.maxPendingOps, "--max-pending-ops", 1);
    const maxColdLoadsPerSec = intOption(options.maxColdLoadsPerSec, "--max-cold-loads-per-sec", 1);
    const coldLoadBurst = intOption(options.coldLoadBurst, "--cold-load-burst", 1);
    const heartbeatMs = intOption(options.heartbeatMs, "--heartbeat-ms", MIN_BEAT_GAP_MS);
    const downAfterMs = intOption(options.downAfterMs, "--down-after-ms", 1);
    const appLeaseMs = intOption(options.appLeaseMs ?? io.env.LIVELY_APP_LEASE_MS, "--app-lease-ms", MIN_APP_LEASE_MS);
    const cacheMaxMb = intOption(options.cacheMaxMb, "--cache-max-mb", 1);
    const kvCacheMb = intOption(options.kvCacheMb, "--kv-cache-mb", 0);
    const cacheApiMb = intOption(options.cacheApiMb, "--cache-api-mb", 0);
    const kvPort = intOption(options.kvPort ?? io.env.LIVELY_KV_PORT, "--kv-port");
    if (kvPort !== undefined && kvPort > 65535) throw new LivelyError("bad_request", `--kv-port must be 0-65535, got ${kvPort}`);
    const kvMaxConnections = intOption(options.kvMaxConnections, "--kv-max-connections", 1);
    if (options.kvAllowRemote && kvPort === undefined) {
      throw new LivelyError("bad_request", "--kv-allow-remote only means something with --kv-port");
    }
    if (kvCacheMb !== undefined && kvCacheMb > MAX_CACHE_MB) {
      throw new LivelyError("bad_request", `--kv-cache-mb is at most ${MAX_CACHE_MB} (1 TB), got ${kvCacheMb}`);
    }
    if (cacheApiMb !== undefined && cacheApiMb > MAX_CACHE_MB) {
      throw new LivelyError("bad_request", `--cache-api-mb is at most ${MAX_CACHE_MB} (1 TB), got ${cacheApiMb}`);
    }
    if (cacheMaxMb !== undefined && cacheMaxMb > MAX_CACHE_MB) {
      throw new LivelyError("bad_request", `--cache-max-mb is at most ${MAX_CACHE_MB} (1 TB), got ${cacheMaxMb}`);
    }
    if (downAfterMs !== undefined && downAfterMs <= (heartbeatMs ?? DEFAULT_HEARTBEAT_MS)) {
      // Otherwise every healthy node would flicker to "down" between two heartbeats.
      throw new LivelyError(
        "bad_request",
        `--down-after-ms (${downAfterMs}) must be longer than the heartbeat (${heartbeatMs ?? DEFAULT_HEARTBEAT_MS} ms); a few heartbeats is usual`,
      );
    }
    const storeTimeouts = storeTimeoutOptions(options);
    const db = options.db ?? io.env.LIVELY_DB;
    const pooler = poolerMode(options.dbPooler ?? io.env.LIVELY_DB_POOLER);
    const listenDb = options.listenDb ?? io.env.LIVELY_LISTEN_DB;
    checkPoolerOptions({ db: db ?? "", pooler, listenDb });
    const pollIntervalMs = intOption(options.pollMs, "--poll-ms", MIN_POLL_MS);
    if (pollIntervalMs !== undefined && pollIntervalMs > MAX_POLL_MS) {
      throw new LivelyError("bad_request", `--poll-ms takes at most ${MAX_POLL_MS} ms, got ${pollIntervalMs}`);
    }
    const dbPool = dbPoolOption(options.dbPool);
    // Handlers go in before anything starts: a supervisor may send SIGTERM as soon as it sees
    // the ready line, and a signal without a handler would kill the node without closing it.
    let stopping: string | undefined;
    let wake: () => void = () => undefined;
    const stopped = new Promise<void>((done) => {
      wake = done;
    });
    const onSignal = (signal: string) => {
      if (stopping) {
        out.progress(`${signal} again: exiting now`);
        process.exit(130);
      }
      stopping = signal;
      out.progress(`${signal}: closing (send it again to exit at once)`);
      wake();
    };
    const onInt = () => onSignal("SIGINT");
    const onTerm = () => onSignal("SIGTERM");
    process.on("SIGINT", onInt);
    process.on("SIGTERM", onTerm);
    const log = createLogger();
    const removeLastResort = installLastResort(log);
    try {
      const node = await startNode({
        log,
        db,
        pooler,
        listenDb,
        pollIntervalMs,
        dataDir,
        port,
        host: options.host ?? io.env.LIVELY_HOST,
        nodeId: options.nodeId ?? io.env.LIVELY_NODE_ID,
        limits: maxSourceBytes ? { maxSourceBytes } : undefined,
        drainMs,
        idleTtlMs,
        maxLoaded,
        maxHeapBytes: maxHeapMb === undefined ? undefined : maxHeapMb * 1024 * 1024,
        sandboxLimits,
        maxBodyBytes: maxBodyMb === undefined ? undefined : maxBodyMb * MB,
        maxInflightBodyBytes: maxInflightBodyMb === undefined ? undefined : maxInflightBodyMb * MB,
        maxPendingHostOps,
        heartbeatMs,
        downAfterMs,
        appLeaseMs,
        // commander gives a lone --no-list-modules as `listModules: false` (true when absent).
        listModules: options.listModules !== false,
        maxColdLoadsPerSec,
        coldLoadBurst,
        cacheMaxBytes: cacheMaxMb === undefined ? undefined : cacheMaxMb * 1024 * 1024,
        kvCacheMaxBytes: kvCacheMb === undefined ? undefined : kvCacheMb * 1024 * 1024,
        cacheApiMaxBytes: cacheApiMb === undefined ? undefined : cacheApiMb * 1024 * 1024,
        storeTimeouts,
        dbPool,
        kvPort,
        kvAllowRemote: options.kvAllowRemote === true,
        kvMaxConnections,
      });
      const feed = {
        mode: node.store.capabilities.canListen ? "listen" : "poll",
        pollMs: pollIntervalMs ?? node.store.capabilities.pollIntervalMs,
      };
      const kvAddress = node.kvPort === undefined ? null : `${node.url.replace(/^http:\/\/|:\d+$/g, "")}:${node.kvPort}`;
      out.result(
        {
          url: node.url,
          node: node.nodeId,
          store: node.store.description,
          adminTokenPath: node.adminTokenPath ?? null,
          startup: node.startup,
          kvPort: node.kvPort ?? null,
          kv: kvAddress,
          feed,
        },
        [
          `Lively node ${node.nodeId} ready at ${node.url} (${node.store.description}, ${node.startup.channels} channels, seq ${node.startup.seq}, ${node.startup.ms.toFixed(0)} ms)`,
          pooler === "transaction"
            ? `behind a transaction pooler: ${feed.mode === "listen" ? "the feeds LISTEN on --listen-db" : `no LISTEN (no --listen-db): the feeds poll every ${feed.pollMs} ms`}`
            : "",
          kvAddress ? `KV protocol on ${kvAddress} (no authentication: docs/kv-protocol.md)` : "",
          node.startup.from === "local copy"
            ? `the database cannot be reached: serving from the local copy in ${node.localCopy.dir} until it answers (health: degraded)`
            : "",
          node.adminTokenPath
            ? `admin token written to ${node.adminTokenPath} (the CLI reads it when run in ${resolve(dataDir, "..")}${basename(dataDir) === ".lively" ? "" : ` with LIVELY_DATA_DIR=${dataDir}`})`
            : "",
        ]
          .filter(Boolean)
          .join("\n"),
      );
      const failed = await Promise.race([
        stopped.then(() => undefined),
        node.done.then(
          () => undefined,
          (error: unknown) => error,
        ),
      ]);
      if (failed !== undefined) {
        // A refusal keeps its code (a newer schema is `unavailable`, exit 6); a supervisor giving up is `internal`.
        const known = failed instanceof LivelyError ? failed : undefined;
        throw new LivelyError(known?.code ?? "internal", `the node stopped: ${(failed as Error).message}`, known?.details, {
          cause: failed,
        });
      }
      await node.close();
    } finally {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
      removeLastResort();
    }
  },
});

/** --db-pool: a node's PostgreSQL connections for queries (store.ts POOL_SIZE says why 1 to 100). */
function dbPoolOption(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const size = Number(value);
  if (!/^\d+$/.test(value) || size < POOL_SIZE.min || size > POOL_SIZE.max) {
    throw new LivelyError(
      "bad_request",
      `--db-pool takes a whole number from ${POOL_SIZE.min} to ${POOL_SIZE.max}, got ${JSON.stringify(value)}`,
    );
  }
  return size;
}

/** PostgreSQL keeps these settings in a 32-bit integer of milliseconds. */
const MAX_DB_TIMEOUT_MS = 2_147_483_647;

/** The --db-*-timeout-ms flags. There is no "off": a wait without an end is what they prevent. */
function storeTimeoutOptions(options: {
  dbStatementTimeoutMs?: string;
  dbLockTimeoutMs?: string;
  dbIdleInTransactionTimeoutMs?: string;
}): StoreTimeouts {
  const flag = (value: string | undefined, name: string) => {
    const ms = intOption(value, name, 1);
    if (ms !== undefined && ms > MAX_DB_TIMEOUT_MS) {
      throw new LivelyError("bad_request", `${name} takes at most ${MAX_DB_TIMEOUT_MS} ms, got ${ms}`);
    }
    return ms;
  };
  const statementTimeoutMs = flag(options.dbStatementTimeoutMs, "--db-statement-timeout-ms");
  const lockTimeoutMs = flag(options.dbLockTimeoutMs, "--db-lock-timeout-ms");
  const idleInTransactionTimeoutMs = flag(options.dbIdleInTransactionTimeoutMs, "--db-idle-in-transaction-timeout-ms");
  const statement = statementTimeoutMs ?? DEFAULT_STORE_TIMEOUTS.statementTimeoutMs;
  const lock = lockTimeoutMs ?? DEFAULT_STORE_TIMEOUTS.lockTimeoutMs;
  if (statement <= lock) {
    // A lock wait is part of a statement: the lock timeout would never be what ends one.
    throw new LivelyError(
      "bad_request",
      `--db-statement-timeout-ms (${statement}) must be longer than the lock timeout (${lock} ms), which counts inside it`,
    );
  }
  return { statementTimeoutMs, lockTimeoutMs, idleInTransactionTimeoutMs };
}
