/**
 * `lively history --since X` as the admin API runs it: readHistory() on an open store,
 * for a few positions in a large history, plus the default view (the newest 100 rows).
 */
import { readHistory } from "../../src/code/read.ts";
import type { Store } from "../../src/store/store.ts";
import { type Summary, summarize } from "./stats.ts";

export interface HistoryCase {
  label: string;
  query: { since?: number; limit: number };
  rows: number;
  summary: Summary;
}

export interface HistoryResult {
  totalRows: number;
  latestSeq: number;
  cases: HistoryCase[];
}

export async function benchHistory(store: Store, runs: number, warmup = 3): Promise<HistoryResult> {
  const { total, latest } = await store.read(async (db) => ({
    total: Number((await db.get<{ n: number | string }>("SELECT count(*) AS n FROM history"))?.n ?? 0),
    latest: Number((await db.get<{ value: number }>("SELECT value FROM counters WHERE name = 'seq'"))?.value ?? 0),
  }));
  const middle = Math.floor(latest / 2);
  const nearEnd = Math.max(0, latest - 500);
  const queries: { label: string; query: { since?: number; limit: number } }[] = [
    { label: "--since 0 --limit 1000", query: { since: 0, limit: 1000 } },
    { label: `--since ${middle} --limit 1000`, query: { since: middle, limit: 1000 } },
    { label: `--since ${nearEnd} --limit 1000`, query: { since: nearEnd, limit: 1000 } },
    { label: "newest (--limit 100)", query: { limit: 100 } },
  ];

  const cases: HistoryCase[] = [];
  for (const { label, query } of queries) {
    const samples: number[] = [];
    let rows = 0;
    for (let i = 0; i < warmup + runs; i++) {
      const start = performance.now();
      const result = await readHistory(store, query);
      const elapsed = performance.now() - start;
      rows = result.entries.length;
      checkPage(
        label,
        query,
        result.entries.map((e) => e.seq),
        latest,
      );
      if (i >= warmup) samples.push(elapsed);
    }
    cases.push({ label, query, rows, summary: summarize(samples) });
  }
  return { totalRows: total, latestSeq: latest, cases };
}

/** A wrong answer makes a fast figure meaningless: check the page is the one asked for. */
function checkPage(label: string, query: { since?: number; limit: number }, seqs: number[], latest: number): void {
  const first = query.since !== undefined ? query.since + 1 : Math.max(1, latest - query.limit + 1);
  const expected = Math.min(query.limit, latest - first + 1);
  const ok = seqs.length === expected && seqs[0] === first && seqs.every((seq, i) => seq === first + i);
  if (!ok) {
    throw new Error(`history ${label}: expected ${expected} rows from seq ${first}, got ${seqs.length} from ${seqs[0]}`);
  }
}
