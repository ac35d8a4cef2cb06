/**
 * Store benchmark: publish latency, `history --since` on a large history, and the time from
 * `lively serve` to ready with 10,000 modules stored, on SQLite and on PostgreSQL.
 *
 *   npm run bench:store
 *
 * LIVELY_BENCH_PG=postgres://user@host:5432/postgres picks the PostgreSQL server (default
 * postgres://postgres@127.0.0.1:5432/postgres); a database `lively_bench_<random>` is
 * created there and dropped at the end. LIVELY_BENCH_ONLY=sqlite|postgres runs one backend.
 * See bench/README.md for what each figure means.
 */
import { cpus, freemem, platform, release, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { openStore } from "../src/store/open.ts";
import type { Backend } from "./lib/backends.ts";
import { benchHistory, type HistoryResult } from "./lib/history.ts";
import { benchPublish, type PublishResult } from "./lib/publish.ts";
import { forEachBackend, runBench } from "./lib/run.ts";
import { type SeedResult, seedPostgres, seedSqlite } from "./lib/seed.ts";
import { benchServe, ensureBuild, type ServeRun } from "./lib/serve.ts";
import { median, ms, table } from "./lib/stats.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

const PLAN = {
  seed: { modules: 10_000, versions: 5 },
  publish: { publishes: 300, fullPublishes: 100, modules: 30, warmup: 20 },
  historyRuns: 20,
  serveRuns: 3,
};

const TARGET_PUBLISH_P50_MS = 5;
const TARGET_READY_MS = 1000;

interface BackendReport {
  backend: Backend;
  seed: SeedResult;
  history: HistoryResult;
  serve: ServeRun[] | Error;
  publish: PublishResult;
  totalMs: number;
}

const say = (text: string) => process.stdout.write(`${text}\n`);
const step = (text: string) => process.stdout.write(`  ${text}\n`);

async function runBackend(backend: Backend): Promise<BackendReport> {
  const started = performance.now();
  say(`\n== ${backend.label}: ${backend.info}`);

  // 1. Schema, then the bulk seed straight into the tables.
  const fresh = openStore({ db: backend.db });
  await fresh.migrate();
  await fresh.close();
  const seed = backend.kind === "sqlite" ? seedSqlite(backend.db, PLAN.seed) : await seedPostgres(backend.db, PLAN.seed);
  step(
    `seeded ${seed.modules} modules, ${seed.versions} versions, ${seed.historyRows} history rows (seq ${seed.firstSeq}..${seed.lastSeq}) in ${ms(seed.ms)}`,
  );

  // 2. history --since on the seeded store.
  let store = openStore({ db: backend.db });
  const history = await benchHistory(store, PLAN.historyRuns);
  await store.close();
  for (const c of history.cases) step(`history ${c.label}: p50 ${ms(c.summary.p50)} (${c.rows} rows, ${c.summary.n} runs)`);

  // 3. lively serve → ready, with nothing else holding the store.
  let serve: ServeRun[] | Error;
  try {
    serve = await benchServe(ROOT, backend.db, join(backend.dir, "data"), PLAN.serveRuns);
    for (const [i, run] of serve.entries()) {
      step(
        `serve run ${i + 1}: ready after ${ms(run.wallMs)} wall, startup.ms ${ms(run.startupMs)}, ` +
          `${run.channels} channels, seq ${run.seq}; SIGTERM → ${run.exit} in ${ms(run.stopMs)}`,
      );
    }
  } catch (error) {
    serve = error as Error;
    step(`serve failed: ${serve.message}`);
  }

  // 4. Publishes, into the populated store.
  store = openStore({ db: backend.db });
  const publish = await benchPublish(store, PLAN.publish, "bench-pub");
  await store.close();
  const d = publish.deployOnly;
  const f = publish.full;
  step(
    `publish, compile excluded: p50 ${ms(d.p50)}, p99 ${ms(d.p99)}, max ${ms(d.max)} (${d.n} publishes; precompile took ${ms(publish.precompileMs)})`,
  );
  step(
    `publish, compile+validate included: p50 ${ms(f.total.p50)}, p99 ${ms(f.total.p99)} (${f.total.n} publishes; ` +
      `p50 compile ${ms(f.compile.p50)}, validate ${ms(f.validate.p50)}, store ${ms(f.deploy.p50)})`,
  );

  return { backend, seed, history, serve, publish, totalMs: performance.now() - started };
}

const mark = (ok: boolean) => (ok ? "PASS" : "MISS");

/** "2× code 0, 1× signal SIGTERM": how the serve children ended. */
function exits(runs: ServeRun[]): string {
  const counts = new Map<string, number>();
  for (const run of runs) counts.set(run.exit, (counts.get(run.exit) ?? 0) + 1);
  return [...counts].map(([exit, n]) => `${n}× ${exit}`).join(", ");
}

function summaryTable(report: BackendReport): string {
  const { publish, history, serve } = report;
  const rows: string[][] = [
    [
      "publish p50 (compile excluded)",
      ms(publish.deployOnly.p50),
      `≤ ${TARGET_PUBLISH_P50_MS} ms`,
      mark(publish.deployOnly.p50 <= TARGET_PUBLISH_P50_MS),
    ],
    ["publish p99 (compile excluded)", ms(publish.deployOnly.p99), "", ""],
    ["publish p50 (compile+validate included)", ms(publish.full.total.p50), "", ""],
    ["publish p99 (compile+validate included)", ms(publish.full.total.p99), "", ""],
  ];
  for (const c of history.cases) rows.push([`history ${c.label} p50`, ms(c.summary.p50), "", `${c.rows} rows`]);
  rows.push(["history rows in store", String(history.totalRows), "", ""]);
  if (serve instanceof Error) {
    rows.push(["serve → ready (wall)", "failed", `≤ ${TARGET_READY_MS / 1000} s`, "MISS"]);
  } else {
    const wall = median(serve.map((r) => r.wallMs));
    rows.push(
      [`serve → ready, wall, median of ${serve.length}`, ms(wall), `≤ ${TARGET_READY_MS / 1000} s`, mark(wall <= TARGET_READY_MS)],
      ["serve startup.ms (in-process), median", ms(median(serve.map((r) => r.startupMs))), "", ""],
      ["serve channels in the index", String(serve[0]?.channels ?? 0), "", ""],
      ["serve exit after SIGTERM", exits(serve), "code 0", serve.every((r) => r.exit === "code 0") ? "" : "see README"],
    );
  }
  return table(["figure", "value", "target", "result"], rows);
}

async function main(): Promise<number> {
  const cpu = cpus();
  say("Lively store benchmark");
  say(
    `node ${process.version}, ${platform()} ${release()}, ${cpu.length} CPUs (${cpu[0]?.model.trim() ?? "?"}), ` +
      `${(totalmem() / 2 ** 30).toFixed(1)} GB RAM (${(freemem() / 2 ** 30).toFixed(1)} GB free)`,
  );
  const build = ensureBuild(ROOT);
  say(build.note);

  const { reports, skipped } = await forEachBackend(runBackend);

  say("\n== Summary");
  for (const report of reports) {
    say(`\n${report.backend.label} (${(report.totalMs / 1000).toFixed(1)} s)`);
    say(summaryTable(report));
  }
  for (const line of skipped) say(`\n${line}`);
  return 0;
}

await runBench("bench:store", main);
