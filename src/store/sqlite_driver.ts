/**
 * The minimal SQLite driver interface `SqliteStore` needs. Deno's and Node's `node:sqlite`
 * `DatabaseSync` and Bun's `bun:sqlite` `Database` satisfy it as they are (both are tested), so no
 * wrapper object is needed; `@db/sqlite`'s `Database` has the same shape.
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
