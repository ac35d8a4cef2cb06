/**
 * Queries are written once with PostgreSQL's `$1` binds; SQLite numbers its binds `?NNN`
 * too, but better-sqlite3 binds positionally, so `$n` becomes `?` and the values are laid
 * out in the order they appear (a bind used twice is passed twice).
 */
import type { SqlValue } from "../store.ts";

export interface RewrittenSql {
  sql: string;
  /** For each `?` in `sql`, the index of the original parameter. */
  order: number[];
}

export function rewriteBinds(sql: string): RewrittenSql {
  const order: number[] = [];
  const rewritten = sql.replace(/\$(\d+)/g, (_match, n: string) => {
    order.push(Number(n) - 1);
    return "?";
  });
  return { sql: rewritten, order };
}

export function orderParams(order: number[], params: readonly SqlValue[]): SqlValue[] {
  return order.map((index) => {
    if (index >= params.length) throw new RangeError(`missing bind $${index + 1}`);
    return params[index] as SqlValue;
  });
}
