// The positional parameters of `SQL.insertSession` for a plain session, as the raw baselines bind them,
// and list reads done the way the store does them.
import type { SqliteDatabase, SqliteStatement, SqliteValue } from "../mod.ts";
import { SQL } from "../src/store/sqlite_store.ts";

/** Parameters for `SQL.insertSession`: a non-worktree, active session with no optional fields. */
export function plainSessionRow(id: string, repositoryId: string, title: string, now: string): SqliteValue[] {
  const absent = null;
  return [id, repositoryId, title, absent, absent, absent, absent, "active", 0, absent, absent, absent, absent, 0, 0]
    .concat([now, now, now, absent]);
}

/** The column names of `SQL.insertSession`, in the order `plainSessionRow` gives their values. */
export const SESSION_COLUMN_NAMES: readonly string[] = /INSERT INTO sessions \(([^)]*)\)/.exec(SQL.insertSession)![1]
  .split(",").map((name) => name.trim());

/**
 * A list statement read as `SqliteStore` reads its list pages (`#rows` in src/store/sqlite_store.ts):
 * as arrays where the driver has `setReturnArrays` (node:sqlite under Deno), else as the driver's own
 * row objects (bun:sqlite, which builds those faster). `arrays` says which.
 */
export function listReader(database: SqliteDatabase, sql: string): {
  arrays: boolean;
  all(...params: SqliteValue[]): unknown[];
} {
  const statement = database.prepare(sql) as SqliteStatement & { setReturnArrays?: (enabled: boolean) => void };
  if (typeof statement.setReturnArrays !== "function") return { arrays: false, all: (...p) => statement.all(...p) };
  statement.setReturnArrays(true);
  return { arrays: true, all: (...p) => statement.all(...p) };
}

/**
 * A function that makes the row object of `names` from one array row, by column index, as an object
 * literal (generated from `names`, so it follows the SQL). Hand-written code would write that literal;
 * it gives V8 an object of fixed shape, which `JSON.stringify` serializes about five times faster
 * than one built key by key (`row[names[i]] = values[i]`, as `SqliteStore#rows` does before
 * `toSession` turns it into a literal-shaped `Session`).
 */
export function rowBuilder(names: readonly string[]): (values: unknown[]) => Record<string, unknown> {
  const fields = names.map((name, i) => `${JSON.stringify(name)}: values[${i}]`).join(", ");
  return new Function("values", `return { ${fields} };`) as (values: unknown[]) => Record<string, unknown>;
}

/**
 * The rows of a list statement as objects keyed by `names`, read as the store reads them: arrays
 * (where the driver reads arrays) made into objects by `rowBuilder`, else the driver's objects as
 * they come (bun:sqlite's serialize as fast as a literal's).
 */
export function listRows(
  database: SqliteDatabase,
  sql: string,
  names: readonly string[],
): (...params: SqliteValue[]) => Record<string, unknown>[] {
  const reader = listReader(database, sql);
  if (!reader.arrays) return (...params) => reader.all(...params) as Record<string, unknown>[];
  const build = rowBuilder(names);
  return (...params) => (reader.all(...params) as unknown[][]).map(build);
}
