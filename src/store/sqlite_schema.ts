/**
 * The SQLite schema as an ordered list of migrations keyed on `PRAGMA user_version`.
 *
 * @module
 */

import type { SqliteDatabase } from "./sqlite_driver.ts";

/**
 * Migration `i` takes a database from `user_version` i to i + 1. Append only: a released
 * migration is never edited, because databases in the field have already run it.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE repositories (
    id TEXT PRIMARY KEY NOT NULL,
    path TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    is_git_repository INTEGER NOT NULL DEFAULT 0,
    sessions_path TEXT,
    default_branch TEXT,
    default_remote TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  ) STRICT;

  CREATE TABLE sessions (
    id TEXT PRIMARY KEY NOT NULL,
    repository_id TEXT NOT NULL REFERENCES repositories (id) ON DELETE RESTRICT,
    title TEXT NOT NULL,
    agent_name TEXT,
    issue_id TEXT,
    issue_title TEXT,
    issue_url TEXT,
    status TEXT NOT NULL,
    is_worktree INTEGER NOT NULL,
    worktree_path TEXT UNIQUE,
    worktree_name TEXT,
    branch_name TEXT,
    base_branch TEXT,
    created_worktree INTEGER NOT NULL DEFAULT 0,
    created_branch INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    last_accessed_at TEXT NOT NULL
  ) STRICT;

  CREATE INDEX sessions_by_repository ON sessions (repository_id);

  CREATE TABLE session_secrets (
    session_id TEXT PRIMARY KEY NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    encrypted_secret BLOB NOT NULL,
    nonce BLOB NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  ) STRICT;
  `,
  // Lists are pages in (created_at, id) order: each filter has an index that answers a page
  // without reading the rows before it.
  `
  CREATE INDEX sessions_by_created ON sessions (created_at, id);
  CREATE INDEX sessions_by_repository_created ON sessions (repository_id, created_at, id);
  CREATE INDEX sessions_by_status_created ON sessions (status, created_at, id);
  DROP INDEX sessions_by_repository;
  CREATE INDEX repositories_by_created ON repositories (created_at, id);
  `,
  // Who holds a branch of a repository: the ownership check of every worktree open, answered from
  // an index instead of a scan of every session.
  `
  CREATE INDEX sessions_by_branch ON sessions (repository_id, branch_name, created_at, id);
  `,
  // The machine that holds a worktree session's worktree; null for plain sessions and for sessions
  // made before machines were recorded.
  `
  ALTER TABLE sessions ADD COLUMN host_id TEXT;
  `,
  // The event log (a store opened with `eventLog`): each change's event, written in the change's
  // transaction. AUTOINCREMENT, so that an id is never given twice, even after the newest events were
  // pruned; `origin` tells which store instance wrote it.
  `
  CREATE TABLE lifecycle_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    origin INTEGER NOT NULL,
    event TEXT NOT NULL,
    created_at TEXT NOT NULL
  ) STRICT;
  `,
  // Port leases: one row per leased port, keyed on the port, so that no two sessions of the file ever
  // hold one port (a unique key, not a check in memory). The session's list is kept on its row too,
  // for reads; a session's leases go with its row (the trigger), in the DELETE's own step.
  `
  ALTER TABLE sessions ADD COLUMN ports TEXT NOT NULL DEFAULT '[]';
  CREATE TABLE port_leases (
    port INTEGER PRIMARY KEY NOT NULL CHECK (port BETWEEN 1 AND 65535),
    session_id TEXT NOT NULL,
    leased_at TEXT NOT NULL
  ) STRICT;
  CREATE INDEX port_leases_by_session ON port_leases (session_id);
  CREATE TRIGGER sessions_release_ports AFTER DELETE ON sessions BEGIN
    DELETE FROM port_leases WHERE session_id = OLD.id;
  END;
  `,
  // A worktree session's setup (the operator's commands): its state and the end of its output, as
  // JSON; null when none ran.
  `
  ALTER TABLE sessions ADD COLUMN setup TEXT;
  `,
  // What a worktree session's new worktree got of the checkout's ignored files, as JSON; null when nothing.
  `
  ALTER TABLE sessions ADD COLUMN included TEXT;
  `,
  // Scoped tokens: the session a scoped token made a session with, and the tokens themselves, kept
  // as their SHA-256 hash only (looked up by it), gone with their session's row.
  `
  ALTER TABLE sessions ADD COLUMN parent_session_id TEXT;
  CREATE TABLE session_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
  ) STRICT;
  CREATE INDEX session_tokens_by_session ON session_tokens (session_id, created_at, id);
  `,
  // The sessions made under a session (a scoped token's tree, walked by parent), from an index.
  `
  CREATE INDEX sessions_by_parent ON sessions (parent_session_id, created_at, id);
  `,
];

/** The schema version this code writes. */
export const SCHEMA_VERSION: number = MIGRATIONS.length;

/**
 * Sets the connection's pragmas and brings the schema up to date.
 *
 * The busy timeout is set first so that every later step, including the switch to WAL,
 * waits for another connection instead of failing with "database is locked". Migrations run
 * in one `BEGIN IMMEDIATE` transaction and re-read the version inside it, so two processes
 * opening a new file at once apply each migration exactly once.
 */
export function prepareDatabase(
  database: SqliteDatabase,
  options: { busyTimeoutMs: number },
): void {
  database.exec(
    `PRAGMA busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs))}`,
  );
  database.exec("PRAGMA foreign_keys = ON");
  const mode = readPragma(database, "journal_mode");
  // An in-memory database reports "memory" and cannot use WAL; leave it as it is.
  if (mode !== "memory" && mode !== "wal") {
    database.exec("PRAGMA journal_mode = WAL");
  }
  database.exec("PRAGMA synchronous = NORMAL");
  const current = Number(readPragma(database, "user_version"));
  if (current > SCHEMA_VERSION) {
    throw new Error(
      `the database has schema version ${current}, newer than this library's ${SCHEMA_VERSION}`,
    );
  }
  if (current === SCHEMA_VERSION) return;
  database.exec("BEGIN IMMEDIATE");
  try {
    // Another connection may have migrated while this one waited for the write lock.
    const version = Number(readPragma(database, "user_version"));
    for (let step = version; step < SCHEMA_VERSION; step++) {
      database.exec(MIGRATIONS[step]);
    }
    database.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    database.exec("COMMIT");
  } catch (error) {
    try {
      database.exec("ROLLBACK");
    } catch {
      // SQLite has already rolled back after some errors (SQLITE_FULL at COMMIT on a full disk among
      // them), and ROLLBACK then fails with "no transaction is active": the first error is the one
      // that says what went wrong, so it is the one thrown.
    }
    throw error;
  }
}

function readPragma(database: SqliteDatabase, name: string): unknown {
  const row = database.prepare(`PRAGMA ${name}`).get() as
    | Record<string, unknown>
    | undefined
    | null;
  return row ? Object.values(row)[0] : undefined;
}
