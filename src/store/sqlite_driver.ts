/**
 * The minimal SQLite driver interface `SqliteStore` needs. Deno's and Node's `node:sqlite`
 * `DatabaseSync`, Bun's `bun:sqlite` `Database` and `@db/sqlite`'s `Database` all satisfy it
 * as they are, so no wrapper object is needed.
 *
 * @module
 */

/** A value bound to a `?` placeholder. Booleans are bound as 0/1 by the store. */
export type SqliteValue = string | number | bigint | Uint8Array | null;

/** A prepared statement. */
export interface SqliteStatement {
  /** Executes the statement. */
  run(...params: SqliteValue[]): unknown;
  /** The first row, or `undefined`/`null` when there is none. */
  get(...params: SqliteValue[]): unknown;
  /** Every row. */
  all(...params: SqliteValue[]): unknown[];
}

/** An open SQLite connection. */
export interface SqliteDatabase {
  /** Executes one or more statements without parameters. */
  exec(sql: string): unknown;
  /** Compiles a statement for repeated use. */
  prepare(sql: string): SqliteStatement;
}
