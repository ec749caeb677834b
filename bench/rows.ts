// The positional parameters of `SQL.insertSession` for a plain session, as the raw baselines bind them.
import type { SqliteValue } from "../mod.ts";
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
