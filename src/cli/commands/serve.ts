/**
 * `lively serve`: start a node in this process. The first SIGINT/SIGTERM closes gracefully:
 * HTTP stops accepting, requests in flight finish (up to --drain-ms), then the isolates and
 * the store close. A second signal exits at once. When the node's supervisor gives up (a
 * child kept crashing), the command fails with the reason.
 */
import { basename, resolve } from "node:path";
import { DEFAULT_HEARTBEAT_MS, MIN_BEAT_GAP_MS } from "../../cluster/membership.ts";
import { requireDurationMs } from "../../code/moments.ts";
import { LivelyError } from "../../errors.ts";
import { startNode } from "../../node/node.ts";
import { DEFAULT_SANDBOX_LIMITS } from "../../runtime/sandbox.ts";
import { DEFAULT_STORE_TIMEOUTS, type StoreTimeouts } from "../../store/store.ts";
import { defineCommand } from "../core/define.ts";
import { intOption, stringOption } from "../core/parse.ts";

export default defineCommand({
  name: "serve",
  summary: "start a node: serve every stored module at every version",
  options: [
    { flags: "--db <db>", description: "a SQLite file or a postgres:// URL (default: LIVELY_DB or <data-dir>/lively.db)" },
    { flags: "--port <port>", description: "HTTP port (default 8080; 0 picks a free one)" },
    { flags: "--host <host>", description: "address to listen on (default 127.0.0.1)" },
    { flags: "--data-dir <dir>", description: "where the node keeps its files (default ./.lively)" },
    { flags: "--node-id <id>", description: "this node's name in the cluster (default host:port)" },
    { flags: "--max-source-bytes <n>", description: "largest module source accepted (default 5 MB)" },
    { flags: "--drain-ms <ms>", description: "on SIGTERM, how long requests in flight may finish (default 10000)" },
    { flags: "--idle-ttl <duration>", description: "unload a version after this long without a request (default 1h; 90s, 15m…)" },
    { flags: "--max-loaded <n>", description: "most versions loaded at once; least recently used leave first (default 1000)" },
    { flags: "--max-heap-mb <n>", description: "most isolate heap in all, in MB; least recently used leave first (default 4096)" },
    { flags: "--cpu-ms <ms>", description: "CPU time a request may use, for modules without their own (default 1000)" },
    { flags: "--wall-ms <ms>", description: "wall time a request may take, for modules without their own (default 30000)" },
    { flags: "--memory-mb <mb>", description: "isolate heap, for modules without their own (default 128)" },
    { flags: "--heartbeat-ms <ms>", description: "how often this node writes its membership heartbeat (default 2000)" },
    { flags: "--down-after-ms <ms>", description: "a node silent this long shows as down in 'lively nodes' (default 10000)" },
    {
      flags: "--db-statement-timeout-ms <ms>",
      description: "PostgreSQL: the longest one statement may run (statement_timeout; default 30000)",
    },
    {
      flags: "--db-lock-timeout-ms <ms>",
      description: "how long a write waits for a lock before 'unavailable' (lock_timeout; SQLite: the file's write lock; default 10000)",
    },
    {
      flags: "--db-idle-in-transaction-timeout-ms <ms>",
      description: "PostgreSQL: end a session idle inside a transaction this long (idle_in_transaction_session_timeout; default 15000)",
    },
  ],
  examples: ["lively serve", "lively serve --db postgres://postgres@127.0.0.1/lively --port 8081"],
  async run(_args, options, { io, out }) {
    const port = intOption(options.port ?? io.env.LIVELY_PORT, "--port");
    if (port !== undefined && port > 65535) throw new LivelyError("bad_request", `--port must be 0-65535, got ${port}`);
    const dataDir = resolve(io.cwd, stringOption(options.dataDir) ?? io.env.LIVELY_DATA_DIR ?? ".lively");
    const maxSourceBytes = intOption(options.maxSourceBytes, "--max-source-bytes", 1);
    const drainMs = intOption(options.drainMs, "--drain-ms", 0);
    const idleTtl = stringOption(options.idleTtl);
    const idleTtlMs = idleTtl === undefined ? undefined : requireDurationMs(idleTtl, "--idle-ttl");
    const maxLoaded = intOption(options.maxLoaded, "--max-loaded", 1);
    const maxHeapMb = intOption(options.maxHeapMb, "--max-heap-mb", 1);
    const sandboxLimits = {
      cpuMs: intOption(options.cpuMs, "--cpu-ms", 1) ?? DEFAULT_SANDBOX_LIMITS.cpuMs,
      wallMs: intOption(options.wallMs, "--wall-ms", 1) ?? DEFAULT_SANDBOX_LIMITS.wallMs,
      memoryMb: intOption(options.memoryMb, "--memory-mb", 8) ?? DEFAULT_SANDBOX_LIMITS.memoryMb,
    };
    const heartbeatMs = intOption(options.heartbeatMs, "--heartbeat-ms", MIN_BEAT_GAP_MS);
    const downAfterMs = intOption(options.downAfterMs, "--down-after-ms", 1);
    if (downAfterMs !== undefined && downAfterMs <= (heartbeatMs ?? DEFAULT_HEARTBEAT_MS)) {
      // Otherwise every healthy node would flicker to "down" between two heartbeats.
      throw new LivelyError(
        "bad_request",
        `--down-after-ms (${downAfterMs}) must be longer than the heartbeat (${heartbeatMs ?? DEFAULT_HEARTBEAT_MS} ms); a few heartbeats is usual`,
      );
    }
    const storeTimeouts = storeTimeoutOptions(options);
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
    try {
      const node = await startNode({
        db: stringOption(options.db) ?? io.env.LIVELY_DB,
        dataDir,
        port,
        host: stringOption(options.host) ?? io.env.LIVELY_HOST,
        nodeId: stringOption(options.nodeId) ?? io.env.LIVELY_NODE_ID,
        limits: maxSourceBytes ? { maxSourceBytes } : undefined,
        drainMs,
        idleTtlMs,
        maxLoaded,
        maxHeapBytes: maxHeapMb === undefined ? undefined : maxHeapMb * 1024 * 1024,
        sandboxLimits,
        heartbeatMs,
        downAfterMs,
        storeTimeouts,
      });
      out.result(
        {
          url: node.url,
          node: node.nodeId,
          store: node.store.description,
          adminTokenPath: node.adminTokenPath ?? null,
          startup: node.startup,
        },
        [
          `Lively node ${node.nodeId} ready at ${node.url} (${node.store.description}, ${node.startup.channels} channels, seq ${node.startup.seq}, ${node.startup.ms.toFixed(0)} ms)`,
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
        throw new LivelyError("internal", `the node stopped: ${(failed as Error).message}`, undefined, { cause: failed });
      }
      await node.close();
    } finally {
      process.off("SIGINT", onInt);
      process.off("SIGTERM", onTerm);
    }
  },
});

/** PostgreSQL keeps these settings in a 32-bit integer of milliseconds. */
const MAX_DB_TIMEOUT_MS = 2_147_483_647;

/** The --db-*-timeout-ms flags. There is no "off": a wait without an end is what they prevent. */
function storeTimeoutOptions(options: Record<string, unknown>): StoreTimeouts {
  const flag = (value: unknown, name: string) => {
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
