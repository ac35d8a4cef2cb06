/**
 * PostgreSQL, for a platform that has outgrown one machine.
 *
 * Writes take the `seq` counter row's lock first (see queries/seq.ts), so every write
 * transaction on the platform is ordered, and commit order equals `seq` order. Migrations
 * run under an advisory lock, so nodes starting together against a fresh database are safe.
 */
import { LivelyError } from "../../errors.ts";
import { loadMigrations, refuseNewerSchema } from "../migrations.ts";
import { backoffMs, errorCodeOf, MAX_WRITE_ATTEMPTS, RETRYABLE_POSTGRES_CODES, UNAVAILABLE_POSTGRES_CODES } from "../retry.ts";
import type { Db, MigrationResult, SqlValue, Store, StoreCapabilities, StoreListener } from "../store.ts";
import { createListenClient, createPool, type PgClient, type PgPool } from "./pg-driver.ts";

/** Any fixed 64-bit number: the key of the migration advisory lock. */
const MIGRATION_LOCK_KEY = 7_406_203_011;

type Queryable = Pick<PgClient, "query">;

class PostgresDb implements Db {
  constructor(private readonly target: Queryable) {}

  async all<Row>(sql: string, params: readonly SqlValue[] = []): Promise<Row[]> {
    return (await this.target.query(sql, [...params])).rows as Row[];
  }

  async get<Row>(sql: string, params: readonly SqlValue[] = []): Promise<Row | undefined> {
    return (await this.target.query(sql, [...params])).rows[0] as Row | undefined;
  }

  async run(sql: string, params: readonly SqlValue[] = []): Promise<{ changes: number }> {
    return { changes: (await this.target.query(sql, [...params])).rowCount ?? 0 };
  }
}

/** Rename a driver error that means "the database is not there" to `unavailable`. */
function classify(error: unknown, description: string): unknown {
  const code = errorCodeOf(error);
  if (code && (code in UNAVAILABLE_POSTGRES_CODES || code.startsWith("08"))) {
    return new LivelyError(
      "unavailable",
      `cannot reach PostgreSQL at ${description}: ${(error as Error).message}`,
      {
        reason: UNAVAILABLE_POSTGRES_CODES[code] ?? code,
      },
      { cause: error },
    );
  }
  if (error instanceof Error && /timeout exceeded when trying to connect|Connection terminated/i.test(error.message)) {
    return new LivelyError("unavailable", `cannot reach PostgreSQL at ${description}: ${error.message}`, undefined, {
      cause: error,
    });
  }
  return error;
}

export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "postgres://(unparseable url)";
  }
}

export class PostgresStore implements Store {
  readonly capabilities: StoreCapabilities = {
    canListen: true,
    concurrentWriters: true,
    advisoryLocks: true,
    pollIntervalMs: 5000,
  };
  readonly description: string;
  private readonly pool: PgPool;
  private closed = false;

  private readonly url: string;

  constructor(url: string, poolSize = 10) {
    this.url = url;
    this.description = redactUrl(url);
    this.pool = createPool(url, poolSize);
    // An idle client losing its connection must not crash the node; the next query reconnects.
    this.pool.on("error", () => undefined);
  }

  private assertOpen(): void {
    if (this.closed) throw new LivelyError("internal", "the store is closed");
  }

  private async connect(): Promise<PgClient> {
    try {
      return await this.pool.connect();
    } catch (error) {
      throw classify(error, this.description);
    }
  }

  async migrate(): Promise<MigrationResult> {
    this.assertOpen();
    const migrations = loadMigrations("postgres");
    const client = await this.connect();
    try {
      await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
      try {
        await client.query(
          "CREATE TABLE IF NOT EXISTS lively_migrations (id integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
        );
        const { rows } = await client.query("SELECT coalesce(max(id), 0)::int AS version FROM lively_migrations");
        const current = (rows[0] as { version: number }).version;
        refuseNewerSchema(current, migrations);
        const applied: number[] = [];
        for (const migration of migrations) {
          if (migration.id <= current) continue;
          await client.query("BEGIN");
          try {
            await client.query(migration.sql);
            await client.query("INSERT INTO lively_migrations (id, name) VALUES ($1, $2)", [migration.id, migration.name]);
            await client.query("COMMIT");
          } catch (error) {
            await client.query("ROLLBACK");
            throw error;
          }
          applied.push(migration.id);
        }
        return { applied, version: Math.max(current, applied.at(-1) ?? 0) };
      } finally {
        await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]);
      }
    } catch (error) {
      throw classify(error, this.description);
    } finally {
      client.release();
    }
  }

  async read<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    this.assertOpen();
    const client = await this.connect();
    try {
      // REPEATABLE READ: one snapshot for the whole callback, like the SQLite reader.
      await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      const result = await fn(new PostgresDb(client));
      await client.query("COMMIT");
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw classify(error, this.description);
    } finally {
      client.release();
    }
  }

  async write<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
    this.assertOpen();
    for (let attempt = 1; ; attempt++) {
      const client = await this.connect();
      let broken = false;
      try {
        await client.query("BEGIN");
        // Lock the seq counter row first: every writer of the platform queues here, so
        // what this transaction reads is current and its seq commits in order.
        await client.query("UPDATE counters SET value = value WHERE name = 'seq'");
        const result = await fn(new PostgresDb(client));
        await client.query("COMMIT");
        return result;
      } catch (error) {
        await client.query("ROLLBACK").catch(() => {
          broken = true;
        });
        const code = errorCodeOf(error);
        if (code && code in RETRYABLE_POSTGRES_CODES && attempt < MAX_WRITE_ATTEMPTS) {
          await new Promise((done) => setTimeout(done, backoffMs(attempt)));
          continue;
        }
        throw classify(error, this.description);
      } finally {
        client.release(broken);
      }
    }
  }

  async listen(channel: string, onNotify: (payload: string) => void): Promise<StoreListener> {
    this.assertOpen();
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(channel)) throw new LivelyError("internal", `not a channel name: ${channel}`);
    const client = createListenClient(this.url);
    let end: (error: Error) => void = () => undefined;
    const ended = new Promise<Error>((resolve) => {
      end = resolve;
    });
    let closing = false;
    client.on("notification", (message) => {
      if (message.channel === channel) onNotify(message.payload ?? "");
    });
    client.on("error", (error) => end(classify(error, this.description) as Error));
    client.on("end", () => end(new LivelyError("unavailable", `the listening connection to ${this.description} ended`)));
    try {
      await client.connect();
      await client.query(`LISTEN ${channel}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw classify(error, this.description);
    }
    return {
      ended,
      close: async () => {
        if (closing) return;
        closing = true;
        await client.end().catch(() => undefined);
      },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}
