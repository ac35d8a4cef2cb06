/**
 * What every benchmark does around its own steps: run the backends it was asked for (SQLite,
 * PostgreSQL, or one with LIVELY_BENCH_ONLY), each on a fresh location that is removed after;
 * stop every child and remove what a run cut short leaves on SIGINT/SIGTERM; print the total
 * time; exit non-zero only when something broke.
 */
import { type Backend, createPostgresBackend, createSqliteBackend, DEFAULT_PG_SERVER } from "./backends.ts";
import { cleanupAll } from "./http-procs.ts";

const say = (text: string) => process.stdout.write(`${text}\n`);

/** The backend in use right now, for the signal handler to remove. */
let current: Backend | undefined;

/**
 * `run` on each backend in turn. A PostgreSQL that cannot be reached is skipped with a line in
 * `skipped`, so the SQLite figures still print.
 */
export async function forEachBackend<T>(run: (backend: Backend) => Promise<T>): Promise<{ reports: T[]; skipped: string[] }> {
  const only = process.env.LIVELY_BENCH_ONLY;
  const makers: (() => Promise<Backend>)[] = [];
  if (only !== "postgres") makers.push(async () => createSqliteBackend());
  if (only !== "sqlite") makers.push(() => createPostgresBackend(process.env.LIVELY_BENCH_PG ?? DEFAULT_PG_SERVER));
  const reports: T[] = [];
  const skipped: string[] = [];
  for (const make of makers) {
    try {
      current = await make();
    } catch (error) {
      skipped.push(`PostgreSQL skipped: cannot create a database (${(error as Error).message})`);
      say(`\n${skipped.at(-1)}`);
      continue;
    }
    const backend = current;
    try {
      reports.push(await run(backend));
    } finally {
      current = undefined;
      await backend.cleanup().catch((error: Error) => say(`cleanup of ${backend.label} failed: ${error.message}`));
    }
  }
  return { reports, skipped };
}

/** Run a benchmark's `main` (its exit code) with cleanup on every way out. */
export async function runBench(name: string, main: () => Promise<number>): Promise<void> {
  let cleaning: Promise<void> | undefined;
  const cleanup = () => {
    cleaning ??= (async () => {
      await cleanupAll();
      await current?.cleanup().catch(() => undefined);
    })();
    return cleaning;
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      process.stderr.write(`${signal}: stopping everything ${name} started\n`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  const started = performance.now();
  let code = 1;
  try {
    code = await main();
  } catch (error) {
    process.stderr.write(`${name} failed: ${(error as Error).stack ?? error}\n`);
  } finally {
    await cleanup();
  }
  if (code === 0) say(`\ntotal ${((performance.now() - started) / 1000).toFixed(0)} s`);
  process.exitCode = code;
}
