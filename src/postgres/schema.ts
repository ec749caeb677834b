/**
 * The Postgres schema as versioned migrations, and the step that applies them. Internal to
 * `./postgres`.
 *
 * @module
 */

import type { Sql } from "postgres";

/**
 * Migration `i` takes a schema from version i to i + 1. Append only: a released migration is never
 * edited, because databases in the field have already run it.
 *
 * Ids are `uuid` (the core hands out lowercase UUIDs, and `uuid` orders as their text does);
 * timestamps are `timestamptz`, read back as the ISO-8601 strings the core wrote (see
 * {@linkcode isoColumn}). Lists page by `(created_at, id)`, and each filter has an index that
 * answers a page without reading the rows before it.
 */
export const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE repositories (
    id uuid NOT NULL,
    path text NOT NULL,
    name text NOT NULL,
    is_git_repository boolean NOT NULL DEFAULT false,
    sessions_path text,
    default_branch text,
    default_remote text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CONSTRAINT repositories_pkey PRIMARY KEY (id),
    CONSTRAINT repositories_path_key UNIQUE (path)
  );
  CREATE INDEX repositories_by_created ON repositories (created_at, id);

  CREATE TABLE sessions (
    id uuid NOT NULL,
    repository_id uuid NOT NULL,
    title text NOT NULL,
    agent_name text,
    issue_id text,
    issue_title text,
    issue_url text,
    status text NOT NULL,
    is_worktree boolean NOT NULL,
    worktree_path text,
    worktree_name text,
    branch_name text,
    base_branch text,
    created_worktree boolean NOT NULL DEFAULT false,
    created_branch boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    last_accessed_at timestamptz NOT NULL,
    CONSTRAINT sessions_pkey PRIMARY KEY (id),
    CONSTRAINT sessions_worktree_path_key UNIQUE (worktree_path),
    CONSTRAINT sessions_repository_fkey FOREIGN KEY (repository_id) REFERENCES repositories (id) ON DELETE RESTRICT,
    CONSTRAINT sessions_status_check CHECK (status IN ('active', 'paused', 'completed', 'archived'))
  );
  CREATE INDEX sessions_by_created ON sessions (created_at, id);
  CREATE INDEX sessions_by_repository_created ON sessions (repository_id, created_at, id);
  CREATE INDEX sessions_by_status_created ON sessions (status, created_at, id);

  CREATE TABLE session_secrets (
    session_id uuid NOT NULL,
    encrypted_secret bytea NOT NULL,
    nonce bytea NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CONSTRAINT session_secrets_pkey PRIMARY KEY (session_id),
    CONSTRAINT session_secrets_session_fkey FOREIGN KEY (session_id) REFERENCES sessions (id) ON DELETE CASCADE
  );

  -- The database key check: a constant sealed under the key the secrets are sealed with, one row at most.
  -- Every server that shares the database is held to it.
  CREATE TABLE database_key_check (
    id boolean NOT NULL DEFAULT true,
    value text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT database_key_check_pkey PRIMARY KEY (id),
    CONSTRAINT database_key_check_one_row CHECK (id)
  );
  `,
  // Who holds a branch of a repository: the ownership check of every worktree open, from an index.
  `
  CREATE INDEX sessions_by_branch ON sessions (repository_id, branch_name, created_at, id);
  `,
  // The machine that holds a worktree session's worktree; null for plain sessions and for sessions
  // made before machines were recorded.
  `
  ALTER TABLE sessions ADD COLUMN host_id text;
  `,
  // The event log: each change's event, written in the change's transaction. Its id comes from the
  // one counter row, which that transaction holds locked until it commits, so ids follow commit
  // order with no gap (a bigserial would not: a later id can commit first), and a reader that has
  // seen id n has seen every id below it. \`origin\` names the store instance that wrote it.
  `
  CREATE TABLE lifecycle_events (
    id bigint NOT NULL,
    origin text NOT NULL,
    event json NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT lifecycle_events_pkey PRIMARY KEY (id)
  );
  CREATE TABLE lifecycle_event_counter (
    id boolean NOT NULL DEFAULT true,
    last_id bigint NOT NULL,
    CONSTRAINT lifecycle_event_counter_pkey PRIMARY KEY (id),
    CONSTRAINT lifecycle_event_counter_one_row CHECK (id)
  );
  INSERT INTO lifecycle_event_counter (id, last_id) VALUES (true, 0);
  `,
  // Port leases: one row per leased port, keyed on the port, so that no two sessions of the database
  // (whichever server made them) ever hold one port. The session's list is kept on its row too, as a
  // JSON array in text, for reads; the store's delete of a session removes its leases in the same statement.
  `
  ALTER TABLE sessions ADD COLUMN ports text NOT NULL DEFAULT '[]';
  CREATE TABLE port_leases (
    port integer NOT NULL,
    session_id uuid NOT NULL,
    leased_at timestamptz NOT NULL,
    CONSTRAINT port_leases_pkey PRIMARY KEY (port),
    CONSTRAINT port_leases_port_check CHECK (port BETWEEN 1 AND 65535)
  );
  CREATE INDEX port_leases_by_session ON port_leases (session_id);
  `,
  // A worktree session's setup (the operator's commands): its state and the end of its output; null
  // when none ran.
  `
  ALTER TABLE sessions ADD COLUMN setup jsonb;
  `,
  // What a worktree session's new worktree got of the checkout's ignored files; null when nothing.
  `
  ALTER TABLE sessions ADD COLUMN included jsonb;
  `,
  // Scoped tokens: the session a scoped token made a session with, and the tokens themselves, kept
  // as their SHA-256 hash only (looked up by it), gone with their session's row.
  `
  ALTER TABLE sessions ADD COLUMN parent_session_id uuid;
  CREATE TABLE session_tokens (
    id uuid NOT NULL,
    session_id uuid NOT NULL,
    hash text NOT NULL,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz,
    CONSTRAINT session_tokens_pkey PRIMARY KEY (id),
    CONSTRAINT session_tokens_hash_key UNIQUE (hash),
    CONSTRAINT session_tokens_session_fkey FOREIGN KEY (session_id) REFERENCES sessions (id) ON DELETE CASCADE
  );
  CREATE INDEX session_tokens_by_session ON session_tokens (session_id, created_at, id);
  `,
  // The event log without a single point that every write waits on. A write inserts its event with
  // \`seq\` from an identity (no lock: writers of every server commit side by side) and no id; the
  // ids are given afterwards, by \`number_lifecycle_events\`, to committed events only, so they still
  // have no gap and follow commit order, and a reader that has seen id n has seen every id below it.
  // The old events keep their ids; \`seq\` becomes the key, \`id\` stays unique (its index, which
  // keeps NULLs too, also finds the events still to number: no index more for every write to fill).
  `
  ALTER TABLE lifecycle_events ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;
  ALTER TABLE lifecycle_events DROP CONSTRAINT lifecycle_events_pkey;
  ALTER TABLE lifecycle_events ALTER COLUMN id DROP NOT NULL;
  ALTER TABLE lifecycle_events ADD CONSTRAINT lifecycle_events_pkey PRIMARY KEY (seq);
  ALTER TABLE lifecycle_events ADD CONSTRAINT lifecycle_events_id_key UNIQUE (id);

  -- Gives the next ids, in seq order, to the events committed without one, and tells the channel
  -- once for them all; returns the last id given (the log's end) and how many it gave. Under the
  -- counter row's lock, so ids never repeat (a writer of the previous version, which takes the
  -- next id from that row as it writes, waits for it too). Numberings first queue on an advisory
  -- lock, which assigns no transaction id: the many that then find their events numbered by the one
  -- before them end without a write, so without a commit to flush. Each statement after a lock sees
  -- what was committed before it was granted (READ COMMITTED: a snapshot per statement). An event
  -- whose transaction is still running is not visible yet, and is numbered by a later call, after
  -- every id this one gives: no id is ever filled in behind a reader. The rows are updated by their
  -- ctid, which stays put meanwhile: writers only insert, and pruning only deletes numbered rows.
  CREATE FUNCTION number_lifecycle_events(channel text, OUT through_id bigint, OUT numbered bigint)
  LANGUAGE plpgsql AS $$
  BEGIN
    -- Nothing to number (the common case of a read or a poll): no lock, no write.
    IF NOT EXISTS (SELECT 1 FROM lifecycle_events WHERE id IS NULL) THEN
      SELECT last_id, 0 INTO through_id, numbered FROM lifecycle_event_counter WHERE id;
      RETURN;
    END IF;
    -- The key: "sloe" in ASCII, and this schema's counter table.
    PERFORM pg_advisory_xact_lock(1936486245, 'lifecycle_event_counter'::regclass::oid::integer);
    IF NOT EXISTS (SELECT 1 FROM lifecycle_events WHERE id IS NULL) THEN
      SELECT last_id, 0 INTO through_id, numbered FROM lifecycle_event_counter WHERE id;
      RETURN;
    END IF;
    SELECT last_id INTO through_id FROM lifecycle_event_counter WHERE id FOR UPDATE;
    WITH given AS (
      UPDATE lifecycle_events SET id = through_id + waiting.position
      FROM (SELECT ctid, row_number() OVER (ORDER BY seq) AS position FROM lifecycle_events WHERE id IS NULL) waiting
      WHERE lifecycle_events.ctid = waiting.ctid
      RETURNING 1
    )
    SELECT count(*) INTO numbered FROM given;
    IF numbered > 0 THEN
      through_id := through_id + numbered;
      UPDATE lifecycle_event_counter SET last_id = through_id WHERE id;
      PERFORM pg_notify(channel, through_id::text);
    END IF;
  END
  $$;
  `,
  // The sessions made under a session (a scoped token's tree, walked by parent), from an index.
  `
  CREATE INDEX sessions_by_parent ON sessions (parent_session_id, created_at, id);
  `,
];

/** The schema version this code writes. */
export const POSTGRES_SCHEMA_VERSION: number = MIGRATIONS.length;

/**
 * The advisory lock key that migrations take (`pg_advisory_xact_lock`): the bytes of "slo-mig" in ASCII, as a number. Held
 * for the migrating transaction only, so it is released however that transaction ends.
 */
export const MIGRATION_LOCK_KEY = "32488847081040231";

/** How long, in milliseconds, a migration's statements may wait for a lock or run. */
export const MIGRATION_TIMEOUT_MS = 60_000;

/** The table that records each applied migration. */
export const MIGRATIONS_TABLE = "schema_migrations";

/** A simple name for a Postgres schema: lower-case letters, digits and `_`, not starting with a digit or `pg_`. */
export function checkSchemaName(name: string): boolean {
  return /^[a-z_][a-z0-9_]{0,62}$/.test(name) && !name.startsWith("pg_");
}

/**
 * `column` as an ISO-8601 UTC string with milliseconds and `Z`, whatever the session's time zone:
 * exactly what `Date.prototype.toISOString()` made when the row was written.
 */
export function isoColumn(column: string): string {
  return `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ${column}`;
}

/**
 * Brings the schema that `sql`'s connections use (their `search_path`, `schema` created when
 * missing) up to {@linkcode POSTGRES_SCHEMA_VERSION}. One transaction holds an advisory lock
 * while it reads the applied versions and applies the missing ones, so servers starting at once
 * apply each migration exactly once; the others wait, then find nothing to do. A schema newer than
 * this code is refused.
 *
 * @returns the versions this call applied
 */
export async function migrate(sql: Sql, schema: string): Promise<number[]> {
  if (!checkSchemaName(schema)) throw new Error(`bad schema name ${JSON.stringify(schema)}`);
  return await sql.begin(async (tx) => {
    // A bound of its own, not the store's per-request ones: servers starting at once queue for the
    // advisory lock, and a migration may take longer than a request should.
    await tx.unsafe(`SET LOCAL lock_timeout = ${MIGRATION_TIMEOUT_MS}`);
    await tx.unsafe(`SET LOCAL statement_timeout = ${MIGRATION_TIMEOUT_MS}`);
    await tx.unsafe(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`);
    // Created only when missing: CREATE … IF NOT EXISTS asks for the privilege to create even when
    // there is nothing to do, and a role that may only read and write the tables must still open a
    // migrated database.
    const [{ schemaExists }] = await tx.unsafe(
      'SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS "schemaExists"',
      [schema],
    );
    if (!schemaExists) await tx.unsafe(`CREATE SCHEMA ${schema}`);
    await tx.unsafe(`SET LOCAL search_path = ${schema}`);
    const [{ tableExists }] = await tx.unsafe(
      `SELECT to_regclass('${schema}.${MIGRATIONS_TABLE}') IS NOT NULL AS "tableExists"`,
    );
    if (!tableExists) {
      await tx.unsafe(
        `CREATE TABLE ${MIGRATIONS_TABLE} (
          version integer NOT NULL PRIMARY KEY,
          applied_at timestamptz NOT NULL DEFAULT now()
        )`,
      );
    }
    const [{ version }] = await tx.unsafe(
      `SELECT coalesce(max(version), 0)::integer AS version FROM ${MIGRATIONS_TABLE}`,
    );
    const current = Number(version);
    if (current > POSTGRES_SCHEMA_VERSION) {
      throw new Error(
        `the database has schema version ${current}, newer than this library's ${POSTGRES_SCHEMA_VERSION}`,
      );
    }
    const applied: number[] = [];
    for (let step = current; step < POSTGRES_SCHEMA_VERSION; step++) {
      await tx.unsafe(MIGRATIONS[step]);
      await tx.unsafe(`INSERT INTO ${MIGRATIONS_TABLE} (version) VALUES ($1)`, [step + 1]);
      applied.push(step + 1);
    }
    return applied;
  });
}
