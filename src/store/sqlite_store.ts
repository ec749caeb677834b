/**
 * The SQLite store: plain SQL over the minimal {@linkcode SqliteDatabase} driver interface, as a
 * {@linkcode SessionStoreDriver} behind the checked front.
 *
 * @module
 */

import {
  type Column,
  insertValues,
  REPOSITORY_COLUMNS,
  type Row,
  SECRET_NAMES,
  SESSION_COLUMN_OF,
  SESSION_COLUMNS,
  sessionQueryConditions,
  TOKEN_NAMES,
  toPortLease,
  toRepository,
  toRepositoryFromValues,
  toSecret,
  toSecretFromValues,
  toSession,
  toSessionFromValues,
  toSessionToken,
  toSessionTokenFromValues,
  withoutHash,
} from "./_rows.ts";
import { SessionError } from "../errors.ts";
import type {
  ListPosition,
  PortLease,
  Repository,
  Session,
  SessionPatch,
  SessionToken,
  StoredSessionSecret,
  StoredSessionToken,
} from "../types.ts";
import type { SqliteDatabase, SqliteStatement, SqliteValue } from "./sqlite_driver.ts";
import { prepareDatabase } from "./sqlite_schema.ts";
import type { EventLog, LifecycleEvent } from "../events.ts";
import {
  repositoryCreated,
  repositoryDeleted,
  secretStored,
  sessionArchived,
  sessionCreated,
  sessionDeleted,
  sessionRestored,
  sessionUpdated,
} from "../_event_of.ts";
import { type AppendedEvent, SqliteEventLog, type SqliteEventLogOptions } from "./sqlite_event_log.ts";
import { CheckedSessionStore, storeFailure } from "./checked_store.ts";
import {
  type LoggedEventType,
  type PageQuery,
  type SessionQuery,
  type SessionStoreDriver,
  StoreDriverError,
  type UniqueKey,
} from "./driver.ts";

/** Options of {@linkcode SqliteStore}. */
export interface SqliteStoreOptions {
  /**
   * How long a write waits for another connection's lock before failing (default 5000 ms), with a
   * `Storage` error marked as temporary (`retryAfterSeconds`).
   */
  busyTimeoutMs?: number;
  /**
   * Keep an event log (see {@linkcode SqliteStore.eventLog}): each change an orchestrator makes is
   * written with its event, in one transaction, under an id that is never reused and survives
   * restarts, so a reader can be given what it missed. `true` for the default retention (the
   * newest 10 000 events, and any younger than 10 minutes), or its options. Off by default; the
   * server (`deno task serve`) turns it on.
   */
  eventLog?: boolean | SqliteEventLogOptions;
}

const names = (table: readonly Column[]) => table.map(({ column }) => column).join(", ");
const placeholders = (count: number) => Array.from({ length: count }, () => "?").join(", ");
const SESSION_NAMES = names(SESSION_COLUMNS);
const REPOSITORY_NAMES = names(REPOSITORY_COLUMNS);

/** The SQL statements of the store, exported so the benchmark measures the raw driver on the very same ones. */
export const SQL = {
  getRepository: `SELECT ${REPOSITORY_NAMES} FROM repositories WHERE id = ?`,
  listRepositories: `SELECT ${REPOSITORY_NAMES} FROM repositories ORDER BY created_at, id`,
  insertRepository: `INSERT INTO repositories (${REPOSITORY_NAMES}) VALUES (${
    placeholders(REPOSITORY_COLUMNS.length)
  })`,
  repositoryIdOfPath: "SELECT id FROM repositories WHERE path = ?",
  deleteRepository: `DELETE FROM repositories WHERE id = ? RETURNING ${REPOSITORY_NAMES}`,
  getSession: `SELECT ${SESSION_NAMES} FROM sessions WHERE id = ?`,
  listSessions: `SELECT ${SESSION_NAMES} FROM sessions ORDER BY created_at, id`,
  insertSession: `INSERT INTO sessions (${SESSION_NAMES}) VALUES (${placeholders(SESSION_COLUMNS.length)})`,
  sessionIdOfWorktreePath: "SELECT id FROM sessions WHERE worktree_path = ?",
  // The session's port leases go with it, by the trigger sessions_release_ports.
  deleteSession: `DELETE FROM sessions WHERE id = ? RETURNING ${SESSION_NAMES}`,
  // The rule of `hasWorktreeToClose`, negated: only a session without a worktree to close.
  deletePlainSession: `DELETE FROM sessions WHERE id = ?
    AND NOT (is_worktree = 1 AND worktree_path IS NOT NULL AND branch_name IS NOT NULL) RETURNING ${SESSION_NAMES}`,
  listPortLeases: "SELECT port, session_id, leased_at FROM port_leases ORDER BY port",
  portHolder: "SELECT session_id FROM port_leases WHERE port = ?",
  insertPortLease: "INSERT INTO port_leases (port, session_id, leased_at) VALUES (?, ?, ?)",
  portsOfSession: "SELECT port FROM port_leases WHERE session_id = ?",
  releasePort: "DELETE FROM port_leases WHERE port = ? AND session_id = ?",
  setSessionPorts: `UPDATE sessions SET ports = ?, updated_at = ? WHERE id = ? RETURNING ${SESSION_NAMES}`,
  releaseOrphanedPorts: `DELETE FROM port_leases WHERE NOT EXISTS
    (SELECT 1 FROM sessions WHERE sessions.id = port_leases.session_id) RETURNING port, session_id, leased_at`,
  getSecret: `SELECT ${SECRET_NAMES} FROM session_secrets WHERE session_id = ?`,
  deleteSecret: "DELETE FROM session_secrets WHERE session_id = ? RETURNING session_id",
  upsertSecret: `INSERT INTO session_secrets (session_id, encrypted_secret, nonce, created_at, updated_at)
    VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (session_id) DO UPDATE SET encrypted_secret = excluded.encrypted_secret,
      nonce = excluded.nonce, updated_at = excluded.updated_at`,
  insertToken: "INSERT INTO session_tokens (id, session_id, hash, created_at, revoked_at) VALUES (?, ?, ?, ?, NULL)",
  tokenByHash: `SELECT ${TOKEN_NAMES} FROM session_tokens WHERE hash = ?`,
  tokensOfSession: `SELECT id, session_id, created_at, revoked_at FROM session_tokens WHERE session_id = ?
    ORDER BY created_at, id`,
  revokeToken: `UPDATE session_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ? AND session_id = ?
    RETURNING id, session_id, created_at, revoked_at`,
} as const;

// The UPDATE that sets the columns of a patch's fields (in the patch's order) and `updated_at`.
function updateSessionSql(fields: readonly (keyof SessionPatch)[]): string {
  const sets = fields.map((field) => `${SESSION_COLUMN_OF[field].column} = ?`);
  return `UPDATE sessions SET ${[...sets, "updated_at = ?"].join(", ")} WHERE id = ? RETURNING ${SESSION_NAMES}`;
}

// The event each loggable write makes, from the record it returned.
const EVENT_OF: Record<LoggedEventType, (result: never) => LifecycleEvent> = {
  "repository.created": repositoryCreated,
  "repository.deleted": repositoryDeleted,
  "session.created": sessionCreated,
  "session.updated": sessionUpdated,
  "session.archived": sessionArchived,
  "session.restored": sessionRestored,
  "session.deleted": sessionDeleted,
  "session.secret.stored": secretStored,
};

/**
 * The {@linkcode SessionStoreDriver} of {@linkcode SqliteStore}: prepared statements on one
 * connection, a write of several statements in `BEGIN IMMEDIATE … COMMIT`, and the event log's
 * append in the write's own transaction. Internal; {@linkcode SqliteStore} is the public face.
 */
class SqliteDriver implements SessionStoreDriver {
  readonly #database: SqliteDatabase;
  readonly #statements = new Map<string, SqliteStatement>();
  readonly #arrayReaders = new Map<string, ((params: SqliteValue[]) => unknown[][]) | null>();
  readonly log: SqliteEventLog | null;

  constructor(database: SqliteDatabase, log: SqliteEventLogOptions | null) {
    this.#database = database;
    this.log = log === null ? null : new SqliteEventLog({
      query: (sql, params) => this.#statement(sql).all(...params) as Row[],
      insert: (sql, params) => {
        const result = this.#statement(sql).run(...params) as { lastInsertRowid?: number | bigint } | null;
        // node:sqlite, bun:sqlite and better-sqlite3 say it; a driver that does not is asked.
        if (result?.lastInsertRowid !== undefined) return Number(result.lastInsertRowid);
        return Number((this.#statement("SELECT last_insert_rowid() AS id").get() as Row).id);
      },
    }, log);
  }

  #statement(sql: string): SqliteStatement {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#database.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  // The records of a statement's rows (a list page, a read by id, a write's RETURNING row), as
  // `fromRow` or `fromValues` makes them. Read as arrays where the driver can (node:sqlite's
  // `setReturnArrays`): node:sqlite builds each row object from native code, which is most of a
  // read's cost, and the records built from arrays cost far less (a page of 100: 0.47 → 0.83 of the
  // raw query in bench/; a read by id 5.7 → 2.1 µs). bun:sqlite builds its objects faster than this
  // would, so it keeps its own.
  #records<T>(sql: string, params: SqliteValue[], fromRow: (row: Row) => T, fromValues: (values: unknown[]) => T): T[] {
    let reader = this.#arrayReaders.get(sql);
    if (reader === undefined) {
      const statement = this.#database.prepare(sql) as SqliteStatement & {
        setReturnArrays?: (enabled: boolean) => void;
      };
      if (typeof statement.setReturnArrays === "function") {
        statement.setReturnArrays(true);
        reader = (values) => statement.all(...values) as unknown[][];
      } else {
        reader = null;
      }
      this.#arrayReaders.set(sql, reader);
    }
    if (reader === null) return (this.#statement(sql).all(...params) as Row[]).map(fromRow);
    return reader(params).map(fromValues);
  }

  #sessions(sql: string, params: SqliteValue[]): Session[] {
    return this.#records(sql, params, toSession, toSessionFromValues);
  }

  #first(sql: string, params: SqliteValue[]): Row | null {
    return (this.#statement(sql).get(...params) as Row | null | undefined) ?? null;
  }

  // The row of a `… RETURNING` write. `all()` runs the statement to its end, so every driver throws
  // what the statement met; Deno's node:sqlite `get()` stops after the first row and drops any error
  // of finishing the statement (in autocommit mode, its commit).
  #returned(sql: string, params: SqliteValue[]): Row | null {
    return (this.#statement(sql).all(...params) as Row[])[0] ?? null;
  }

  getRepository(id: string): Promise<Repository | null> {
    return this.#run(() => this.#records(SQL.getRepository, [id], toRepository, toRepositoryFromValues)[0] ?? null);
  }

  listRepositories({ limit, after }: PageQuery): Promise<Repository[]> {
    return this.#run(() => {
      const { sql, params } = pageQuery(`SELECT ${REPOSITORY_NAMES} FROM repositories`, [], limit, after);
      return (this.#statement(sql).all(...params) as Row[]).map(toRepository);
    });
  }

  getSession(id: string): Promise<Session | null> {
    // As a list page is read: under node:sqlite from arrays, 5.7 → 2.1 µs a read in process.
    return this.#run(() => this.#sessions(SQL.getSession, [id])[0] ?? null);
  }

  listSessions(query: SessionQuery): Promise<Session[]> {
    return this.#run(() => {
      const conditions = sessionQueryConditions(query).map(([column, value]): [string, SqliteValue] => [
        `${column} = ?`,
        value,
      ]);
      const { sql, params } = pageQuery(`SELECT ${SESSION_NAMES} FROM sessions`, conditions, query.limit, query.after);
      return this.#sessions(sql, params);
    });
  }

  getSessionSecret(sessionId: string): Promise<StoredSessionSecret | null> {
    return this.#run(() => {
      return this.#records(SQL.getSecret, [sessionId], toSecret, toSecretFromValues)[0] ?? null;
    });
  }

  listPortLeases(): Promise<PortLease[]> {
    return this.#run(() => (this.#statement(SQL.listPortLeases).all() as Row[]).map(toPortLease));
  }

  getSessionTokenByHash(hash: string): Promise<StoredSessionToken | null> {
    return this.#run(() => {
      return this.#records(SQL.tokenByHash, [hash], toSessionToken, toSessionTokenFromValues)[0] ?? null;
    });
  }

  listSessionTokens(sessionId: string): Promise<SessionToken[]> {
    return this.#run(() => {
      const rows = this.#statement(SQL.tokensOfSession).all(sessionId) as Row[];
      return rows.map((row) => withoutHash(toSessionToken({ ...row, hash: "" })));
    });
  }

  insertRepository(repository: Repository, event: LoggedEventType | null): Promise<void> {
    return this.#change(false, event, () => {
      try {
        this.#statement(SQL.insertRepository).run(
          ...insertValues(REPOSITORY_COLUMNS, repository, "number") as SqliteValue[],
        );
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        if (!/repositories\.path/.test(String((error as Error).message))) throw taken(error, "repository.id");
        const holder = this.#first(SQL.repositoryIdOfPath, [repository.path]);
        throw taken(error, "repository.path", holder === null ? null : String(holder.id));
      }
      return repository;
    }).then(() => {});
  }

  deleteRepository(id: string, event: LoggedEventType | null): Promise<Repository | null> {
    return this.#change(false, event, () => {
      try {
        const row = this.#returned(SQL.deleteRepository, [id]);
        return row ? toRepository(row) : null;
      } catch (error) {
        if (isForeignKeyViolation(error)) throw referenced(error);
        throw error;
      }
    });
  }

  insertSession(session: Session, secret: StoredSessionSecret | null, event: LoggedEventType | null): Promise<void> {
    // With a secret or ports, every row commits in the one transaction: together or not at all.
    const several = secret !== null || session.ports.length > 0;
    return this.#change(several, event, () => {
      try {
        this.#statement(SQL.insertSession).run(...insertValues(SESSION_COLUMNS, session, "number") as SqliteValue[]);
        if (secret !== null) {
          this.#statement(SQL.upsertSecret).run(
            session.id,
            secret.encryptedSecret,
            secret.nonce,
            secret.createdAt,
            secret.updatedAt,
          );
        }
        this.#lease(session.id, session.ports, session.createdAt);
      } catch (error) {
        if (error instanceof StoreDriverError) throw error; // a lease's, named by #lease
        if (isForeignKeyViolation(error)) throw referenced(error);
        if (isUniqueViolation(error)) {
          if (!/worktree_path/.test(String((error as Error).message))) throw taken(error, "session.id");
          const holder = this.#first(SQL.sessionIdOfWorktreePath, [session.worktreePath]);
          throw taken(error, "session.worktreePath", holder === null ? null : String(holder.id));
        }
        throw error;
      }
      return session;
    }).then(() => {});
  }

  updateSession(
    id: string,
    changes: SessionPatch,
    updatedAt: string,
    event: LoggedEventType | null,
  ): Promise<Session | null> {
    // One UPDATE of the patched columns only: a concurrent update of other fields is kept.
    const fields = Object.keys(changes) as (keyof SessionPatch)[];
    const values = fields.map((field) => {
      const { kind } = SESSION_COLUMN_OF[field];
      const value = changes[field];
      return (kind === "json"
        ? (value === null || value === undefined ? null : JSON.stringify(value))
        : value) as SqliteValue;
    });
    return this.#change(false, event, () => {
      return this.#sessions(updateSessionSql(fields), [...values, updatedAt, id])[0] ?? null;
    });
  }

  deleteSession(id: string, event: LoggedEventType | null): Promise<Session | null> {
    return this.#change(false, event, () => {
      // One DELETE … RETURNING: no check-then-delete race; the secret goes by ON DELETE CASCADE.
      return this.#sessions(SQL.deleteSession, [id])[0] ?? null;
    });
  }

  deletePlainSession(id: string, event: LoggedEventType | null): Promise<Session | null> {
    return this.#change(false, event, () => {
      return this.#sessions(SQL.deletePlainSession, [id])[0] ?? null;
    });
  }

  setSessionPorts(id: string, ports: number[], now: string, event: LoggedEventType | null): Promise<Session | null> {
    return this.#change(true, event, () => {
      if (this.#first(SQL.getSession, [id]) === null) return null;
      const held = (this.#statement(SQL.portsOfSession).all(id) as Row[]).map((row) => Number(row.port));
      for (const port of held) {
        if (!ports.includes(port)) this.#statement(SQL.releasePort).run(port, id);
      }
      this.#lease(id, ports.filter((port) => !held.includes(port)), now);
      return this.#sessions(SQL.setSessionPorts, [JSON.stringify(ports), now, id])[0] ?? null;
    });
  }

  releaseOrphanedPorts(): Promise<PortLease[]> {
    return this.#change(true, null, () => (this.#statement(SQL.releaseOrphanedPorts).all() as Row[]).map(toPortLease));
  }

  // Inserts the leases of `ports` for the session, inside the caller's transaction: a port another
  // session holds is `unique` naming it (the caller's transaction then rolls back every row).
  #lease(sessionId: string, ports: readonly number[], now: string): void {
    for (const port of ports) {
      try {
        this.#statement(SQL.insertPortLease).run(port, sessionId, now);
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        const holder = this.#first(SQL.portHolder, [port]);
        throw taken(error, "port", holder === null ? null : String(holder.session_id), port);
      }
    }
  }

  putSessionSecret(secret: StoredSessionSecret, event: LoggedEventType | null): Promise<void> {
    return this.#change(false, event, () => {
      try {
        this.#statement(SQL.upsertSecret).run(
          secret.sessionId,
          secret.encryptedSecret,
          secret.nonce,
          secret.createdAt,
          secret.updatedAt,
        );
      } catch (error) {
        if (isForeignKeyViolation(error)) throw referenced(error);
        throw error;
      }
      return secret.sessionId;
    }).then(() => {});
  }

  deleteSessionSecret(sessionId: string): Promise<boolean> {
    return this.#run(() => this.#returned(SQL.deleteSecret, [sessionId]) !== null);
  }

  insertSessionToken(token: StoredSessionToken): Promise<void> {
    return this.#run(() => {
      try {
        this.#statement(SQL.insertToken).run(token.id, token.sessionId, token.hash, token.createdAt);
      } catch (error) {
        if (isForeignKeyViolation(error)) throw referenced(error);
        if (isUniqueViolation(error)) throw taken(error, "token");
        throw error;
      }
    });
  }

  revokeSessionToken(sessionId: string, tokenId: string, now: string): Promise<SessionToken | null> {
    return this.#run(() => {
      const row = this.#returned(SQL.revokeToken, [now, tokenId, sessionId]);
      return row ? withoutHash(toSessionToken({ ...row, hash: "" })) : null;
    });
  }

  // A write: in an explicit transaction when it has several statements (`transaction`, or its event
  // logged with it), else one statement in autocommit mode (`run()` and `all()` step it to its end,
  // commit included, so what it returns is committed: a full-disk test pins this for every driver).
  // With `event` (and a log), its event (of the result; none for `null`, nothing changed) is written
  // in the same transaction, and handed to the log's followers only once the COMMIT succeeded.
  #change<T>(transaction: boolean, event: LoggedEventType | null, work: () => T): Promise<T> {
    const log = event === null ? null : this.log;
    if (log === null) return transaction ? this.#write(work) : this.#run(work);
    const eventOf = EVENT_OF[event!] as (result: NonNullable<T>) => LifecycleEvent;
    let appended: AppendedEvent | null = null;
    return this.#write(() => {
      appended = null;
      const result = work();
      if (result !== null) appended = log.append(eventOf(result as NonNullable<T>));
      return result;
    }).then((result) => {
      if (appended !== null) log.committed(appended);
      return result;
    });
  }

  // Runs one synchronous unit of work and reports it as a promise, SQLite's errors classified.
  #run<T>(work: () => T): Promise<T> {
    try {
      return Promise.resolve(work());
    } catch (error) {
      return Promise.reject(classified(error));
    }
  }

  // Runs the statements of one write in an explicit transaction and answers only once COMMIT has
  // succeeded. In autocommit mode a statement's own commit can fail after its row was already handed
  // out (Deno's node:sqlite `get()` returns the row of a `DELETE … RETURNING` whose commit failed on a
  // full disk, and the row stays), so the commit is a step of its own whose failure is always seen.
  #write<T>(work: () => T): Promise<T> {
    return this.#run(() => {
      this.#statement("BEGIN IMMEDIATE").run();
      let result: T;
      try {
        result = work();
        this.#statement("COMMIT").run();
      } catch (error) {
        this.#rollback();
        throw error;
      }
      return result;
    });
  }

  #rollback(): void {
    try {
      this.#statement("ROLLBACK").run();
    } catch {
      // After some errors (SQLITE_FULL at COMMIT among them) SQLite has already rolled the
      // transaction back, and ROLLBACK then fails with "no transaction is active". Either way the
      // error that ended the write is the one to report, not this one.
    }
  }
}

/**
 * A {@linkcode SessionStore} on SQLite. Give it any connection that satisfies
 * {@linkcode SqliteDatabase}: `node:sqlite`'s `DatabaseSync` (Deno, Node, Bun), `bun:sqlite`'s
 * `Database` or `@db/sqlite`'s `Database`. The constructor sets WAL, a busy timeout and foreign
 * keys, and migrates the schema. A write of several statements runs in its own `BEGIN IMMEDIATE …
 * COMMIT`, so each is atomic, and every write is answered only once committed: a write that cannot
 * be committed (a full disk, an I/O error) rejects with kind `Storage` and changes nothing. Several
 * stores (connections or processes) can share one file. A write that finds the file locked by
 * another connection past the busy timeout ("database is locked") rejects the same way, its error
 * marked temporary (`retryAfterSeconds` 1: the HTTP layer answers 503 with `Retry-After`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DatabaseSync } from "node:sqlite";
 * import { SqliteStore } from "./sqlite_store.ts";
 *
 * const store = new SqliteStore(new DatabaseSync(":memory:"));
 * const repository = await store.createRepository({ path: "/src/app", name: "app" });
 * assert.deepEqual(await store.getRepository(repository.id), repository);
 * ```
 */
export class SqliteStore extends CheckedSessionStore {
  readonly #database: SqliteDatabase;
  readonly #log: SqliteEventLog | null;

  /**
   * Prepares the connection (pragmas, migrations) and wraps it.
   *
   * @param database an open connection; the store does not close it
   * @param options busy timeout, event log
   */
  constructor(database: SqliteDatabase, options: SqliteStoreOptions = {}) {
    const eventLog = options.eventLog ?? false;
    if (typeof eventLog !== "boolean" && (typeof eventLog !== "object" || eventLog === null)) {
      throw new SessionError("InvalidInput", "eventLog must be a boolean or an object of options");
    }
    const driver = new SqliteDriver(database, eventLog === false ? null : eventLog === true ? {} : eventLog);
    super(driver);
    this.#database = database;
    this.#log = driver.log;
    try {
      prepareDatabase(database, { busyTimeoutMs: options.busyTimeoutMs ?? 5000 });
    } catch (error) {
      throw storageError(error, "opening the SQLite database");
    }
  }

  /**
   * The event log, when the store was opened with `eventLog` (else `null`). A `SessionOrchestrator`
   * over this store then has each change's event written in the change's own transaction
   * (`logEvent`), and emits nothing itself: follow the log into the orchestrator's events (the
   * server does). Its ids follow commit order across every connection to the file.
   *
   * @example A change's event, read back from the log by its id
   * ```ts
   * import assert from "node:assert/strict";
   * import { DatabaseSync } from "node:sqlite";
   * import { SessionOrchestrator } from "../orchestrator.ts";
   * import { SqliteStore } from "./sqlite_store.ts";
   *
   * const store = new SqliteStore(new DatabaseSync(":memory:"), { eventLog: true });
   * const seen: string[] = [];
   * const follower = await store.eventLog!.follow((event, { id }) => seen.push(`${id} ${event.type}`));
   * await new SessionOrchestrator({ store }).createRepository({ path: "/src/app", name: "app" });
   * assert.deepEqual(seen, ["1 repository.created"]);
   * const { events } = await store.eventLog!.readAfter("0", 10);
   * assert.deepEqual(events.map((logged) => logged.event.type), ["repository.created"]);
   * await follower.close();
   * ```
   */
  get eventLog(): EventLog | null {
    return this.#log;
  }

  /**
   * Removes old events from the log (see `SqliteEventLogOptions`); returns how many. It also runs
   * by itself as events are written. `0` without an event log.
   */
  pruneEvents(): Promise<number> {
    try {
      return Promise.resolve(this.#log === null ? 0 : this.#log.prune());
    } catch (error) {
      return Promise.reject(storageError(error, "pruning the event log"));
    }
  }

  /** Stops the event log's followers and their poll; for when the connection is about to close. */
  closeEventLog(): void {
    this.#log?.close();
  }

  /** The connection this store runs on. */
  get database(): SqliteDatabase {
    return this.#database;
  }
}

// SQLite's extended result code SQLITE_IOERR_SHMSIZE: the `-shm` file beside a WAL database could not
// grow. That is how a full disk shows when a connection first reads, and its message says only
// "disk I/O error", so the Storage error names the likely cause.
const SQLITE_IOERR_SHMSIZE = 4874;
// SQLite's primary result codes SQLITE_BUSY ("database is locked": another connection holds the lock
// a write needs, past the busy timeout) and SQLITE_LOCKED ("database table is locked"). Either undid
// the statement, and only says that the file is busy right now.
const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;

// node:sqlite puts SQLite's extended result code in `errcode`, bun:sqlite in `errno`.
function resultCode(error: unknown): number | null {
  const code = (error as { errcode?: unknown; errno?: unknown } | null)?.errcode ??
    (error as { errno?: unknown } | null)?.errno;
  return typeof code === "number" && code > 0 ? code : null;
}

// SQLite's error in the driver vocabulary: a busy file is temporary (the same call may succeed once
// the lock is let go); a shared-memory file that could not grow names the likely cause.
function classified(error: unknown): unknown {
  if (error instanceof StoreDriverError || error instanceof SessionError) return error;
  const code = resultCode(error);
  const primary = code === null ? null : code & 0xff;
  if (primary === SQLITE_BUSY || primary === SQLITE_LOCKED) {
    return new StoreDriverError("unavailable", String((error as Error).message), {
      cause: error,
      retryAfterSeconds: 1,
    });
  }
  if (code !== SQLITE_IOERR_SHMSIZE || !(error instanceof Error)) return error;
  return new Error(
    `${error.message} (SQLite could not grow the shared-memory file beside the database: is the disk full?)`,
    { cause: error },
  );
}

function storageError(error: unknown, action: string): SessionError {
  return storeFailure(classified(error), action);
}

function taken(error: unknown, key: UniqueKey, holder: string | null = null, port: number | null = null) {
  return new StoreDriverError("unique", String((error as Error).message), { key, holder, port, cause: error });
}

function referenced(error: unknown): StoreDriverError {
  return new StoreDriverError("foreignKey", String((error as Error).message), { cause: error });
}

// Matched on SQLite's own messages, which every driver passes through unchanged.
// A page in (created_at, id) order: the row-value comparison lets SQLite seek in the matching index.
function pageQuery(
  select: string,
  conditions: [string, SqliteValue][],
  limit: number | null,
  after: ListPosition | null,
): { sql: string; params: SqliteValue[] } {
  const all = after === null ? conditions : [...conditions, ["(created_at, id) > (?, ?)", after.createdAt] as [
    string,
    SqliteValue,
  ]];
  const params = all.map(([, value]) => value);
  if (after !== null) params.push(after.id);
  const where = all.length === 0 ? "" : ` WHERE ${all.map(([condition]) => condition).join(" AND ")}`;
  if (limit !== null) params.push(limit);
  return { sql: `${select}${where} ORDER BY created_at, id${limit === null ? "" : " LIMIT ?"}`, params };
}

function isUniqueViolation(error: unknown): boolean {
  return error instanceof Error &&
    /UNIQUE constraint failed|PRIMARY KEY constraint failed/.test(
      error.message,
    );
}

function isForeignKeyViolation(error: unknown): boolean {
  return error instanceof Error &&
    /FOREIGN KEY constraint failed/.test(error.message);
}
