/**
 * The subset of better-sqlite3 that the SQLite backend uses, typed by the methods we call
 * (Kysely's sqlite-dialect-config.ts does the same), so swapping the library touches one file.
 */
import Database from "better-sqlite3";

export interface SqliteStatement {
  all(...params: unknown[]): unknown[];
  get(...params: unknown[]): unknown;
  run(...params: unknown[]): { changes: number };
}

export interface SqliteConnection {
  prepare(sql: string): SqliteStatement;
  exec(sql: string): void;
  pragma(source: string): unknown;
  function(name: string, options: { deterministic: boolean }, fn: () => number): void;
  close(): void;
  /** Whether a transaction is open on this connection. */
  readonly inTransaction: boolean;
}

export function openSqlite(path: string, options: { readonly: boolean }): SqliteConnection {
  return new Database(path, { readonly: options.readonly, fileMustExist: options.readonly });
}
