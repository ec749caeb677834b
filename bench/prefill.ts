// Pre-filling a store's SQLite file with many sessions, fast: raw SQL on the store's own connection in
// one transaction, the rows generated inside SQLite (a recursive CTE) so no value crosses the driver.
// The rows have the store's columns and formats (UUID v4 ids, ISO-8601 UTC timestamps), so the store
// reads them back as its own.
import type { SqliteDatabase } from "../mod.ts";

/** What {@linkcode prefillSessions} made. */
export interface Prefilled {
  /** The repositories the sessions belong to. */
  repositoryIds: string[];
  /** How long the insert took, in ms. */
  ms: number;
}

/** Options of {@linkcode prefillSessions}. */
export interface PrefillOptions {
  /** How many sessions. */
  sessions: number;
  /** How many repositories they are spread over (made here); 100 by default. */
  repositories?: number;
  /** Give every session a worktree, branch and worktree path under this folder (never touched on disk). */
  worktreeRoot?: string;
  /** The first `created_at`, in ms; each next session is 1 ms later. 2020-01-01 by default, before any bench row. */
  startMs?: number;
}

// A random UUID v4 in SQL: 8-4-4-4-12 lowercase hex digits, version 4, variant 10xx.
const UUID = `lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' ||
  substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))`;

/** Inserts `sessions` session rows (and `repositories` repositories) in one transaction on `database`. */
export function prefillSessions(database: SqliteDatabase, options: PrefillOptions): Prefilled {
  const start = performance.now();
  const repositories = options.repositories ?? 100;
  const startSeconds = (options.startMs ?? Date.UTC(2020, 0, 1)) / 1000;
  const stamp = `strftime('%Y-%m-%dT%H:%M:%fZ', ${startSeconds} + i / 1000.0, 'unixepoch')`;
  const worktree = options.worktreeRoot === undefined
    ? "0, NULL, NULL, NULL, NULL, 0, 0"
    : `1, ? || '/' || r.id || '/w' || i, 'w' || i, 'session/w' || i, 'main', 1, 1`;
  // A large page cache for the insert halves its time at 1M rows; the connection's own is restored after.
  const cacheSize = Object.values(database.prepare("PRAGMA cache_size").get() as Record<string, number>)[0];
  database.exec("PRAGMA cache_size = -262144");
  database.exec("BEGIN IMMEDIATE");
  try {
    database.exec("CREATE TEMP TABLE prefill_repositories (k INTEGER PRIMARY KEY, id TEXT NOT NULL)");
    database.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)
       INSERT INTO prefill_repositories SELECT i, ${UUID} FROM n`,
    ).run(repositories);
    database.exec(
      `INSERT INTO repositories (id, path, name, is_git_repository, created_at, updated_at)
       SELECT id, '/bench/prefill/' || id, 'prefill-' || k, 1, '2020-01-01T00:00:00.000Z', '2020-01-01T00:00:00.000Z'
       FROM prefill_repositories`,
    );
    const insert = database.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)
       INSERT INTO sessions (id, repository_id, title, status, is_worktree, worktree_path, worktree_name, branch_name,
         base_branch, created_worktree, created_branch, created_at, updated_at, last_accessed_at)
       SELECT ${UUID}, r.id, 'prefilled session ' || i, CASE WHEN i % 10 = 0 THEN 'archived' ELSE 'active' END,
         ${worktree}, ${stamp}, ${stamp}, ${stamp}
       FROM n JOIN prefill_repositories AS r ON r.k = n.i % ${repositories}`,
    );
    if (options.worktreeRoot === undefined) insert.run(options.sessions);
    else insert.run(options.sessions, options.worktreeRoot);
    const repositoryIds = database.prepare("SELECT id FROM prefill_repositories ORDER BY k").all()
      .map((row) => String((row as { id: string }).id));
    database.exec("DROP TABLE temp.prefill_repositories");
    database.exec("COMMIT");
    return { repositoryIds, ms: performance.now() - start };
  } catch (error) {
    database.exec("ROLLBACK");
    throw error;
  } finally {
    database.exec(`PRAGMA cache_size = ${Number(cacheSize)}`);
  }
}
