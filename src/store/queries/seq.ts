/**
 * The global history sequence. Its counter row is the platform's history lock: ordered writes
 * take it first where writers run at once (`Store.write`, shared-store.ts); SQLite's BEGIN
 * IMMEDIATE already serialises. Taking `seq` inside the transaction makes commit order equal
 * `seq` order, so a reader of `seq > applied` can never skip a row that commits late (DESIGN.md).
 */
import type { Db, OrderedTx } from "../store.ts";

/** Lock the counter row for the rest of the transaction: every ordered writer queues here. */
export async function lockHistoryOrder(tx: Db): Promise<void> {
  await tx.run("UPDATE counters SET value = value WHERE name = 'seq'");
}

export async function nextSeq(tx: OrderedTx): Promise<number> {
  const row = await tx.get<{ value: number }>("UPDATE counters SET value = value + 1 WHERE name = 'seq' RETURNING value");
  if (!row) throw new Error("the seq counter row is missing: the schema is damaged");
  return row.value;
}

export async function currentSeq(db: Db): Promise<number> {
  const row = await db.get<{ value: number }>("SELECT value FROM counters WHERE name = 'seq'");
  return row?.value ?? 0;
}

export async function databaseNowMs(db: Db): Promise<number> {
  const row = await db.get<{ now: number }>("SELECT now_ms() AS now");
  return row?.now ?? Date.now();
}
