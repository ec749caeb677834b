// The positional parameters of `SQL.insertSession` for a plain session, as the raw baselines bind them,
// and list reads done the way the store does them.
import type { SqliteDatabase, SqliteStatement, SqliteValue } from "../mod.ts";
import { SQL } from "../src/store/sqlite_store.ts";
import { insertValues, SESSION_COLUMNS } from "../src/store/_rows.ts";
import type { Session } from "../src/types.ts";

// Every column of a plain session as the store writes it, made once from the store's own column
// table, so the baselines bind what the store binds whatever the column order; the per-call work
// is then a copy and the five values that differ.
const SAMPLE_TIME = "2000-01-01T00:00:00.000Z";
const SAMPLE: Session = {
  id: "00000000-0000-4000-8000-000000000000",
  repositoryId: "00000000-0000-4000-8000-000000000000",
  title: "",
  agentName: null,
  issueId: null,
  issueTitle: null,
  issueUrl: null,
  status: "active",
  isWorktree: false,
  worktreePath: null,
  worktreeName: null,
  branchName: null,
  baseBranch: null,
  createdWorktree: false,
  createdBranch: false,
  hostId: null,
  ports: [],
  setup: null,
  included: null,
  parentSessionId: null,
  createdAt: SAMPLE_TIME,
  updatedAt: SAMPLE_TIME,
  lastAccessedAt: SAMPLE_TIME,
};
const COLUMN = (field: keyof Session) => SESSION_COLUMNS.findIndex((column) => column.field === field);
const [ID, REPOSITORY_ID, TITLE, CREATED_AT, UPDATED_AT, LAST_ACCESSED_AT] = (
  ["id", "repositoryId", "title", "createdAt", "updatedAt", "lastAccessedAt"] as const
).map(COLUMN);

/**
 * The values of a plain session's insert (non-worktree, active, no optional field) in the column
 * order of `SQL.insertSession`; flags as numbers (SQLite) or booleans (Postgres).
 */
export function plainSessionValues(
  id: string,
  repositoryId: string,
  title: string,
  now: string,
  flags: "number" | "boolean",
): unknown[] {
  const row = (flags === "number" ? NUMBER_TEMPLATE : BOOLEAN_TEMPLATE).slice();
  row[ID] = id;
  row[REPOSITORY_ID] = repositoryId;
  row[TITLE] = title;
  row[CREATED_AT] = row[UPDATED_AT] = row[LAST_ACCESSED_AT] = now;
  return row;
}
const NUMBER_TEMPLATE = insertValues(SESSION_COLUMNS, SAMPLE, "number");
const BOOLEAN_TEMPLATE = insertValues(SESSION_COLUMNS, SAMPLE, "boolean");

/** Parameters for `SQL.insertSession`: a non-worktree, active session with no optional fields. */
export function plainSessionRow(id: string, repositoryId: string, title: string, now: string): SqliteValue[] {
  return plainSessionValues(id, repositoryId, title, now, "number") as SqliteValue[];
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
