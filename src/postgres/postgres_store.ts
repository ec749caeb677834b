/**
 * The Postgres store: the same SQL as the SQLite store, over postgres.js.
 *
 * @module
 */

import {
  bytes,
  type Column,
  type ColumnKind,
  insertValues,
  REPOSITORY_COLUMNS as REPOSITORY_TABLE,
  type Row,
  SESSION_COLUMN_OF,
  SESSION_COLUMNS as SESSION_TABLE,
  sessionQueryConditions,
  toPortLease,
  toRepository,
  toSecret,
  toSession,
  toSessionToken,
  withoutHash,
} from "../store/_rows.ts";
import postgres, { type Sql } from "postgres";
import { SessionError, toStorageError } from "../errors.ts";
import type { DatabaseKeyCheck, SealedSecretProbe, SealedSecretSample } from "../platform/database_key.ts";
import type { BackupCapableStore, StoreBackup } from "../store/store.ts";
import type { EventLog } from "../events.ts";
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
import { invalid } from "../_field_checks.ts";
import { CheckedSessionStore, storeFailure } from "../store/checked_store.ts";
import {
  type LoggedEventType,
  type PageQuery,
  type SessionQuery,
  type SessionStoreDriver,
  StoreDriverError,
  type UniqueKey,
} from "../store/driver.ts";
import { checkSchemaName, isoColumn, migrate } from "./schema.ts";
import { type ListenerFactory, PostgresEventLog, type PostgresEventLogOptions } from "./event_log.ts";
import { ConnectionGate } from "./_connection_gate.ts";

/** Options of {@linkcode openPostgresStore}. */
export interface PostgresStoreOptions {
  /**
   * The Postgres schema (namespace) that holds the store's tables, created when missing: lower-case
   * letters, digits and `_`. `public` by default. Stores in different schemas of one database are
   * independent.
   */
  schema?: string;
  /** Most connections the store's pool opens at once (default 10). */
  maxConnections?: number;
  /** Seconds to wait for a new connection before failing (default 30). */
  connectTimeoutSeconds?: number;
  /**
   * Milliseconds a statement waits for a lock (a table another client locked, a row another
   * transaction holds) before it fails with a retryable `Storage` error (default 2000): Postgres's
   * `lock_timeout` on every connection of the store.
   */
  lockTimeoutMs?: number;
  /**
   * Milliseconds a statement may run, its lock waits included, before it fails with a retryable
   * `Storage` error (default 5000): Postgres's `statement_timeout`. A transaction left idle on a
   * connection is ended after as long (`idle_in_transaction_session_timeout`). Migrations at open
   * have a bound of their own (60 s), since servers starting at once wait for each other there.
   */
  statementTimeoutMs?: number;
  /**
   * Milliseconds a call waits for one of the pool's connections before it fails with a retryable
   * `Storage` error (default 5000). Keep it above `lockTimeoutMs`: a call that waits behind statements
   * waiting for a lock gets a connection once they time out.
   */
  acquireTimeoutMs?: number;
  /**
   * Keep an event log (see {@linkcode PostgresStore.eventLog}): each change an orchestrator makes
   * is written with its event, in one transaction, and every process following the log sees every
   * process's changes, in commit order. `true` for the default retention, or its options. Off by
   * default; turn it on in every process that writes to a database that several servers share.
   */
  eventLog?: boolean | PostgresEventLogOptions;
}

// A table's columns as a select list: timestamps as the ISO strings the core wrote.
const selectList = (table: readonly Column[]) =>
  table.map(({ column, kind }) => kind === "time" ? isoColumn(column) : column).join(", ");

const REPOSITORY_COLUMNS = selectList(REPOSITORY_TABLE);

/** The columns a session is read back with (timestamps as the ISO strings the core wrote). */
export const SESSION_COLUMNS: string = selectList(SESSION_TABLE);

const SECRET_COLUMNS = ["session_id", "encrypted_secret", "nonce", isoColumn("created_at"), isoColumn("updated_at")]
  .join(", ");

// How a parameter of a column's kind is typed in a statement: the core's values go as text.
function castOf(kind: ColumnKind): string {
  return kind === "time" ? "::timestamptz" : kind === "json" ? "::jsonb" : kind === "uuid" ? "::uuid" : "";
}

// The CTE `changed` that inserts one record of `table` from the parameters $1… in the table's order.
function insertCte(name: string, table: readonly Column[]): string {
  const values = table.map(({ kind }, position) => `$${position + 1}${castOf(kind)}`);
  return `changed AS (INSERT INTO ${name} (${table.map(({ column }) => column).join(", ")})
    VALUES (${values.join(", ")}) RETURNING *)`;
}

// `to_char` of a timestamptz expression: the ISO-8601 string the core wrote.
const isoText = (expression: string) => `to_char(${expression} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

// A row of `alias` as the JSON of the record the API returns: the same keys, in the same order, with
// the same values as toRepository and toSession make, for the events built in the change's statement.
function recordJson(table: readonly Column[], alias: string): string {
  const pairs = table.map(({ field, column, kind }) =>
    `'${field}', ${
      kind === "time"
        ? isoText(`${alias}.${column}`)
        : kind === "ports"
        ? `(${alias}.${column})::json`
        : `${alias}.${column}`
    }`
  );
  return `json_build_object(${pairs.join(", ")})`;
}

/**
 * Each change's event as Postgres builds it from the changed row (the CTE `changed`), so that the
 * event is written by the change's own statement: exactly the event the orchestrator emits.
 */
export const EVENT_JSON = {
  repositoryCreated: `json_build_object('type', 'repository.created', 'repository', ${
    recordJson(REPOSITORY_TABLE, "changed")
  })`,
  repositoryDeleted: `json_build_object('type', 'repository.deleted', 'repository', ${
    recordJson(REPOSITORY_TABLE, "changed")
  })`,
  sessionCreated: `json_build_object('type', 'session.created', 'session', ${recordJson(SESSION_TABLE, "changed")})`,
  sessionUpdated: `json_build_object('type', 'session.updated', 'session', ${recordJson(SESSION_TABLE, "changed")})`,
  sessionArchived: `json_build_object('type', 'session.archived', 'session', ${recordJson(SESSION_TABLE, "changed")})`,
  sessionRestored: `json_build_object('type', 'session.restored', 'session', ${recordJson(SESSION_TABLE, "changed")})`,
  sessionDeleted: `json_build_object('type', 'session.deleted', 'session', ${recordJson(SESSION_TABLE, "changed")})`,
  secretStored: `json_build_object('type', 'session.secret.stored', 'sessionId', changed.session_id)`,
} as const;

/**
 * One change as one statement (its own transaction, so a lost connection never leaves one half
 * done): `ctes` define `changed`, the changed row (none when nothing changed); the final select
 * reads `columns` back from it (or, with `null`, answers one row). With `logged` (see the event
 * log's `change`), the same statement logs the change's event.
 */
export function changeStatement(
  ctes: string,
  columns: string | null,
  logged: { ctes: string; select: string } | null,
): string {
  const select = [columns, logged?.select].filter((part) => part !== null && part !== undefined).join(", ");
  return `WITH ${ctes}${logged?.ctes ?? ""} SELECT ${select === "" ? "1" : select}${
    columns === null ? "" : " FROM changed"
  }`;
}

/** The SQL statements of the store (`$n` parameters); the pages of lists are built by {@linkcode pageQuery}. */
export const SQL = {
  getRepository: `SELECT ${REPOSITORY_COLUMNS} FROM repositories WHERE id = $1`,
  repositoryIdOfPath: "SELECT id FROM repositories WHERE path = $1",
  getSession: `SELECT ${SESSION_COLUMNS} FROM sessions WHERE id = $1`,
  getSecret: `SELECT ${SECRET_COLUMNS} FROM session_secrets WHERE session_id = $1`,
  deleteSecret: "DELETE FROM session_secrets WHERE session_id = $1 RETURNING session_id",
  anySecret: "SELECT session_id, encrypted_secret, nonce FROM session_secrets LIMIT 1",
  // The writes, as the CTEs of a change statement (see changeStatement): each names its row `changed`.
  insertRepositoryCte: insertCte("repositories", REPOSITORY_TABLE),
  deleteRepositoryCte: "changed AS (DELETE FROM repositories WHERE id = $1 RETURNING *)",
  insertSessionCte: insertCte("sessions", SESSION_TABLE),
  sessionIdOfWorktreePath: "SELECT id FROM sessions WHERE worktree_path = $1",
  // With the session, in the same statement: its port leases (from its row's list), together or not at all.
  insertLeasesOfSessionCte: `, leased AS (INSERT INTO port_leases (port, session_id, leased_at)
    SELECT port.value::integer, changed.id, changed.created_at FROM changed,
      json_array_elements_text(changed.ports::json) AS port)`,
  // With the session, in the same statement: its sealed secret (the two parameters after the session's
  // columns), together or not at all.
  insertSecretOfSessionCte: `, sealed AS (INSERT INTO session_secrets (session_id, encrypted_secret, nonce, created_at,
    updated_at) SELECT changed.id, $${SESSION_TABLE.length + 1}, $${SESSION_TABLE.length + 2}, changed.created_at,
    changed.created_at FROM changed)`,
  // The session's port leases go in the same statement.
  deleteSessionCte: `changed AS (DELETE FROM sessions WHERE id = $1 RETURNING *),
    freed AS (DELETE FROM port_leases WHERE session_id IN (SELECT id FROM changed))`,
  // The rule of `hasWorktreeToClose`, negated: only a session without a worktree to close.
  deletePlainSessionCte: `changed AS (DELETE FROM sessions WHERE id = $1
      AND NOT (is_worktree AND worktree_path IS NOT NULL AND branch_name IS NOT NULL) RETURNING *),
    freed AS (DELETE FROM port_leases WHERE session_id IN (SELECT id FROM changed))`,
  // $1 the session, $2 its new list (JSON text), $3 now. The leases depend on the updated row, so
  // they are written only once the row is locked and found (a session deleted meanwhile gets none).
  setSessionPortsCte: `changed AS (UPDATE sessions SET ports = $2, updated_at = $3::timestamptz WHERE id = $1
      RETURNING *),
    wanted AS (SELECT value::integer AS port FROM json_array_elements_text($2::json)),
    freed AS (DELETE FROM port_leases WHERE session_id IN (SELECT id FROM changed)
      AND port NOT IN (SELECT port FROM wanted)),
    leased AS (INSERT INTO port_leases (port, session_id, leased_at)
      SELECT wanted.port, changed.id, changed.updated_at FROM wanted, changed
      WHERE wanted.port NOT IN (SELECT port FROM port_leases WHERE session_id = $1))`,
  listPortLeases: `SELECT port, session_id, ${isoColumn("leased_at")} FROM port_leases ORDER BY port`,
  portHolder: "SELECT session_id FROM port_leases WHERE port = $1",
  releaseOrphanedPorts: `DELETE FROM port_leases WHERE NOT EXISTS
    (SELECT 1 FROM sessions WHERE sessions.id = port_leases.session_id)
    RETURNING port, session_id, ${isoColumn("leased_at")}`,
  upsertSecretCte:
    `changed AS (INSERT INTO session_secrets (session_id, encrypted_secret, nonce, created_at, updated_at)
    VALUES ($1, $2, $3, $4::timestamptz, $5::timestamptz)
    ON CONFLICT (session_id) DO UPDATE SET encrypted_secret = excluded.encrypted_secret,
      nonce = excluded.nonce, updated_at = excluded.updated_at RETURNING session_id)`,
  insertToken: `INSERT INTO session_tokens (id, session_id, hash, created_at) VALUES ($1, $2, $3, $4::timestamptz)`,
  tokenByHash: `SELECT id, session_id, hash, ${isoColumn("created_at")}, ${isoColumn("revoked_at")}
    FROM session_tokens WHERE hash = $1`,
  tokensOfSession: `SELECT id, session_id, ${isoColumn("created_at")}, ${isoColumn("revoked_at")}
    FROM session_tokens WHERE session_id = $1 ORDER BY created_at, id`,
  revokeToken: `UPDATE session_tokens SET revoked_at = coalesce(revoked_at, $1::timestamptz)
    WHERE id = $2 AND session_id = $3 RETURNING id, session_id, ${isoColumn("created_at")}, ${isoColumn("revoked_at")}`,
  readKeyCheck: "SELECT value FROM database_key_check WHERE id",
  claimKeyCheck: `INSERT INTO database_key_check (id, value) VALUES (true, $1)
    ON CONFLICT (id) DO NOTHING RETURNING value`,
} as const;

type Param = string | number | boolean | Uint8Array | null;

// SQLSTATE codes the store turns into its own error kinds.
const UNIQUE_VIOLATION = "23505";
const FOREIGN_KEY_VIOLATION = "23503";
// Class 22, "data exception": a value the checks accepted but Postgres cannot hold (a timestamp past
// its range, such as a patch's lastAccessedAt in year 300000).
const DATA_EXCEPTION_CLASS = "22";

/**
 * How long a connection waits before it connects again after a failed connection, in seconds: 10 ms
 * doubling to at most 250 ms (with jitter). postgres.js's own default grows to 20 s, and a call waits
 * for that delay: with the database down, calls would hang for up to 20 s instead of failing fast,
 * and go on hanging for as long after it is back.
 */
function reconnectDelaySeconds(retries: number): number {
  return Math.min(0.01 * 2 ** retries, 0.25) * (0.5 + Math.random() / 2);
}

/** The default of `PostgresStoreOptions.lockTimeoutMs`. */
export const DEFAULT_LOCK_TIMEOUT_MS = 2000;
/** The default of `PostgresStoreOptions.statementTimeoutMs`. */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 5000;
/** The default of `PostgresStoreOptions.acquireTimeoutMs`. */
export const DEFAULT_ACQUIRE_TIMEOUT_MS = 5000;

// A time bound option: a whole number of milliseconds from 1 (0 would mean no bound to Postgres).
function timeoutOption(value: number | undefined, fallback: number, field: string): number {
  const result = value ?? fallback;
  if (!Number.isSafeInteger(result) || result < 1 || result > 2_147_483_647) {
    invalid(`${field} must be a whole number of milliseconds from 1`);
  }
  return result;
}

/**
 * Opens a {@linkcode PostgresStore} on the database at `url` (`postgres://user:password@host:port/database`,
 * the query string may carry `sslmode` and the other options postgres.js reads) and brings its
 * schema up to date. Several processes may open one database at once: the migrations run under an
 * advisory lock, each exactly once. A database that cannot be reached (or a schema newer than this
 * code) rejects with kind `Storage`, the driver's error as `cause`, and the password never appears in
 * a message. Close the store with `close()`.
 *
 * @example
 * ```ts ignore
 * import { openPostgresStore } from "./mod.ts";
 *
 * const store = await openPostgresStore("postgres://sessions@db.internal:5432/sessions");
 * const repository = await store.createRepository({ path: "/src/app", name: "app" });
 * console.log(await store.listRepositories({ limit: 10 }));
 * await store.close();
 * ```
 */
export async function openPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
  const where = describeDatabase(url);
  const schema = options.schema ?? "public";
  if (typeof schema !== "string" || !checkSchemaName(schema)) {
    invalid("schema must be lower-case letters, digits and _, not starting with a digit or pg_");
  }
  const max = options.maxConnections ?? 10;
  if (!Number.isSafeInteger(max) || max < 1) invalid("maxConnections must be a whole number from 1");
  const connectTimeout = options.connectTimeoutSeconds ?? 30;
  if (!(connectTimeout > 0)) invalid("connectTimeoutSeconds must be a positive number");
  const lockTimeoutMs = timeoutOption(options.lockTimeoutMs, DEFAULT_LOCK_TIMEOUT_MS, "lockTimeoutMs");
  const statementTimeoutMs = timeoutOption(
    options.statementTimeoutMs,
    DEFAULT_STATEMENT_TIMEOUT_MS,
    "statementTimeoutMs",
  );
  const acquireTimeoutMs = timeoutOption(options.acquireTimeoutMs, DEFAULT_ACQUIRE_TIMEOUT_MS, "acquireTimeoutMs");
  // Server-side bounds, set as each connection starts: a statement that waits for a lock, or runs,
  // past them fails (55P03, 57014) and frees its connection, instead of holding it as long as the
  // other client holds its lock.
  const bounds = {
    lock_timeout: lockTimeoutMs,
    statement_timeout: statementTimeoutMs,
    idle_in_transaction_session_timeout: statementTimeoutMs,
  };
  const eventLog = options.eventLog ?? false;
  if (typeof eventLog !== "boolean" && (typeof eventLog !== "object" || eventLog === null)) {
    invalid("eventLog must be a boolean or an object of options");
  }
  const clientOptions: postgres.Options<Record<string, never>> = {
    max,
    connect_timeout: connectTimeout,
    backoff: reconnectDelaySeconds,
    // Server notices ("already exists, skipping") are not the application's output.
    onnotice: () => {},
    // No array types are used, so the extra round trip at each connection start is not needed.
    fetch_types: false,
    connection: { application_name: "session-lifecycle-orchestrator", search_path: schema, ...bounds },
  };
  let sql: Sql;
  try {
    sql = postgres(url, clientOptions);
  } catch (error) {
    throw new SessionError("InvalidInput", `the database URL ${where} is not one postgres.js accepts`, {
      cause: error,
    });
  }
  try {
    await migrate(sql, schema);
  } catch (error) {
    await sql.end({ timeout: 0 }).catch(() => {});
    throw toStorageError(error, `opening the Postgres database ${where}`);
  }
  // The event log's listening connection: one more, kept open (no idle or lifetime limit), same database.
  const listener: ListenerFactory = ({ onnotify, onclose }) =>
    postgres(url, {
      max: 1,
      max_lifetime: null,
      connect_timeout: connectTimeout,
      backoff: reconnectDelaySeconds,
      onnotice: () => {},
      // postgres.js calls it for each notification; its types leave it out.
      ...{ onnotify },
      onclose,
      fetch_types: false,
      connection: { application_name: "session-lifecycle-orchestrator events", search_path: schema, ...bounds },
    });
  try {
    return new PostgresStore(sql, where, {
      schema,
      eventLog,
      listener,
      reopen: () => postgres(url, clientOptions),
      maxConnections: max,
      acquireTimeoutMs,
    });
  } catch (error) {
    await sql.end({ timeout: 0 }).catch(() => {});
    throw error;
  }
}

/**
 * `url` without its password (in the authority or the query string), for messages: enough to tell
 * which database is meant, nothing to log in with. Refuses what is not a `postgres://` or
 * `postgresql://` URL with `InvalidInput`.
 */
export function describeDatabase(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    invalid("the database URL must be a postgres:// URL");
  }
  if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") {
    invalid(`the database URL must be a postgres:// URL, not ${parsed.protocol}//…`);
  }
  if (parsed.password !== "") parsed.password = "***";
  parsed.searchParams.delete("password");
  return parsed.toString();
}

// The event each loggable write builds in its statement.
const EVENT_OF: Record<LoggedEventType, string> = {
  "repository.created": EVENT_JSON.repositoryCreated,
  "repository.deleted": EVENT_JSON.repositoryDeleted,
  "session.created": EVENT_JSON.sessionCreated,
  "session.updated": EVENT_JSON.sessionUpdated,
  "session.archived": EVENT_JSON.sessionArchived,
  "session.restored": EVENT_JSON.sessionRestored,
  "session.deleted": EVENT_JSON.sessionDeleted,
  "session.secret.stored": EVENT_JSON.secretStored,
};

/** What {@linkcode PostgresStore}'s constructor takes besides the client. */
interface PostgresDriverOptions {
  schema?: string;
  eventLog?: boolean | PostgresEventLogOptions;
  listener?: ListenerFactory;
  reopen?: () => Sql;
  maxConnections?: number;
  acquireTimeoutMs?: number;
}

/**
 * The {@linkcode SessionStoreDriver} of {@linkcode PostgresStore}: each write one statement (CTEs
 * that change every row it touches and log its event), on a pool whose waits are bounded by the
 * connection gate, with a client replaced when its connections stop connecting. Internal.
 */
class PostgresDriver implements SessionStoreDriver {
  #sql: Sql;
  readonly where: string;
  readonly log: PostgresEventLog | null;
  #closing: Promise<void> | null = null;
  readonly #inFlight = new Set<Promise<unknown>>();
  readonly #reopen: (() => Sql) | null;
  readonly #retired = new Set<Promise<void>>();
  readonly #gate: ConnectionGate;

  constructor(sql: Sql, where: string, options: PostgresDriverOptions) {
    this.#sql = sql;
    this.where = where;
    this.#reopen = options.reopen ?? null;
    this.#gate = new ConnectionGate(
      options.maxConnections ?? 10,
      options.acquireTimeoutMs ?? DEFAULT_ACQUIRE_TIMEOUT_MS,
      waitedTooLong,
    );
    const { eventLog = false } = options;
    this.log = eventLog === false ? null : new PostgresEventLog(
      () => this.#sql,
      options.schema ?? "public",
      eventLog === true ? {} : eventLog,
      options.listener,
      (lane, work) => this.#gate.run(lane, work),
    );
  }

  // Runs one statement (`read`: one that changes nothing) on a connection of its own, once the gate
  // gives `lane` (the kind of operation) one. Some failures are run again, when they prove that the
  // statement never ran, or it only reads.
  query(lane: string, text: string, params: Param[] = [], read = false): Promise<Row[]> {
    return this.#gate.run(lane, () => this.#attempt(text, params, read));
  }

  async #attempt(text: string, params: Param[], read: boolean): Promise<Row[]> {
    for (let attempt = 1;; attempt++) {
      const sql = this.#sql;
      try {
        return await (sql.unsafe(text, params as never[], { prepare: true }) as unknown as Promise<Row[]>);
      } catch (error) {
        // A connection that never finished connecting: the statement never reached a backend. In
        // postgres.js 3.4 such a connection can stay unable to connect: a write pending when its
        // socket closed leaves it never sending the next startup message. The client is replaced
        // once, and the statement runs again on the new one.
        if (codeOf(error) === "CONNECT_TIMEOUT" && attempt === 1 && this.#replaceClient(sql)) continue;
        // Refused while the connection started (the server was starting or stopping): the statement
        // never ran, so running it again is safe, writes too. postgres.js 3.4 also fails a
        // connection's first statement after a reconnect with an error its previous connection got
        // while the server shut down (the backend ending, say), which proves nothing about this
        // statement: a read is run again then; a write is not, since it may have committed.
        const retry = refusedAtConnect(error) || (read && serverEnded(error));
        if (attempt >= 3 || !retry) throw error;
      }
    }
  }

  // Puts a new client in place of `broken` (unless another call did already, or the store is
  // closing), and ends the old one once its calls in flight are done. False when there is no way to.
  #replaceClient(broken: Sql): boolean {
    if (this.#reopen === null || this.#closing !== null) return false;
    if (this.#sql === broken) {
      this.#sql = this.#reopen();
      this.#retired.add(broken.end({ timeout: 1 }).catch(() => {}));
    }
    return true;
  }

  // Runs a change as one statement (see changeStatement), logging its event (built from the changed
  // row) when the store keeps an event log and the front asked for it.
  async #change(
    lane: string,
    ctes: string,
    params: Param[],
    columns: string | null,
    event: LoggedEventType | null,
  ): Promise<Row | undefined> {
    const log = event === null ? null : this.log;
    const logged = log?.change("changed", EVENT_OF[event!], params.length) ?? null;
    const [row] = await this.query(
      lane,
      changeStatement(ctes, columns, logged),
      [...params, ...(logged?.params ?? [])],
    );
    log?.logged(row?.logged_events);
    return row;
  }

  getRepository(id: string): Promise<Repository | null> {
    return this.#guard(async () => {
      const [row] = await this.query("getRepository", SQL.getRepository, [id], true);
      return row ? toRepository(row) : null;
    });
  }

  listRepositories({ limit, after }: PageQuery): Promise<Repository[]> {
    return this.#guard(async () => {
      const { text, params } = pageQuery("repositories", [], limit, after);
      return (await this.query("listRepositories", text, params, true)).map(toRepository);
    });
  }

  getSession(id: string): Promise<Session | null> {
    return this.#guard(async () => {
      const [row] = await this.query("getSession", SQL.getSession, [id], true);
      return row ? toSession(row) : null;
    });
  }

  listSessions(query: SessionQuery): Promise<Session[]> {
    return this.#guard(async () => {
      const { text, params } = pageQuery("sessions", sessionQueryConditions(query), query.limit, query.after);
      return (await this.query("listSessions", text, params, true)).map(toSession);
    });
  }

  getSessionSecret(sessionId: string): Promise<StoredSessionSecret | null> {
    return this.#guard(async () => {
      const [row] = await this.query("getSessionSecret", SQL.getSecret, [sessionId], true);
      return row ? toSecret(row) : null;
    });
  }

  listPortLeases(): Promise<PortLease[]> {
    return this.#guard(async () => (await this.query("listPortLeases", SQL.listPortLeases, [], true)).map(toPortLease));
  }

  getSessionTokenByHash(hash: string): Promise<StoredSessionToken | null> {
    return this.#guard(async () => {
      const [row] = await this.query("getSessionToken", SQL.tokenByHash, [hash], true);
      return row ? toSessionToken(row) : null;
    });
  }

  listSessionTokens(sessionId: string): Promise<SessionToken[]> {
    return this.#guard(async () => {
      const rows = await this.query("listSessionTokens", SQL.tokensOfSession, [sessionId], true);
      return rows.map((row) => withoutHash(toSessionToken({ ...row, hash: "" })));
    });
  }

  insertRepository(repository: Repository, event: LoggedEventType | null): Promise<void> {
    return this.#guard(async () => {
      const params = insertValues(REPOSITORY_TABLE, repository, "boolean") as Param[];
      try {
        await this.#change("createRepository", SQL.insertRepositoryCte, params, null, event);
      } catch (error) {
        if (sqlState(error) !== UNIQUE_VIOLATION) throw error;
        if (constraintOf(error) !== "repositories_path_key") throw taken(error, "repository.id");
        // Name the repository that holds the path, so the caller can use it.
        const [holder] = await this.query("getRepository", SQL.repositoryIdOfPath, [repository.path], true);
        throw taken(error, "repository.path", holder === undefined ? null : String(holder.id));
      }
    });
  }

  deleteRepository(id: string, event: LoggedEventType | null): Promise<Repository | null> {
    return this.#guard(async () => {
      try {
        const row = await this.#change("deleteRepository", SQL.deleteRepositoryCte, [id], REPOSITORY_COLUMNS, event);
        return row ? toRepository(row) : null;
      } catch (error) {
        if (sqlState(error) === FOREIGN_KEY_VIOLATION) throw referenced(error);
        throw error;
      }
    });
  }

  insertSession(session: Session, secret: StoredSessionSecret | null, event: LoggedEventType | null): Promise<void> {
    return this.#guard(async () => {
      const row = insertValues(SESSION_TABLE, session, "boolean") as Param[];
      try {
        // With a secret and ports, every row in one statement: together or not at all.
        const leases = session.ports.length === 0 ? "" : SQL.insertLeasesOfSessionCte;
        await this.#change(
          "createSession",
          SQL.insertSessionCte + leases + (secret === null ? "" : SQL.insertSecretOfSessionCte),
          secret === null ? row : [...row, secret.encryptedSecret, secret.nonce],
          null,
          event,
        );
      } catch (error) {
        if (sqlState(error) === FOREIGN_KEY_VIOLATION) throw referenced(error);
        if (sqlState(error) === UNIQUE_VIOLATION && constraintOf(error) === "port_leases_pkey") {
          throw await this.#portTaken(error);
        }
        if (sqlState(error) === UNIQUE_VIOLATION) {
          if (constraintOf(error) !== "sessions_worktree_path_key") throw taken(error, "session.id");
          const [holder] = await this.query("getSession", SQL.sessionIdOfWorktreePath, [session.worktreePath], true)
            .catch(() => []);
          throw taken(error, "session.worktreePath", holder === undefined ? null : String(holder.id));
        }
        throw error;
      }
    });
  }

  updateSession(
    id: string,
    changes: SessionPatch,
    updatedAt: string,
    event: LoggedEventType | null,
  ): Promise<Session | null> {
    // One UPDATE that sets only the patched columns: a concurrent update of other fields is kept.
    return this.#guard(async () => {
      const params: Param[] = [id, updatedAt];
      const sets = ["updated_at = $2::timestamptz"];
      for (const [field, value] of Object.entries(changes) as [keyof SessionPatch, unknown][]) {
        const { column, kind } = SESSION_COLUMN_OF[field];
        // A record goes as JSON text, cast in the statement: one parameter type for every driver.
        params.push(kind === "json" ? (value === null ? null : JSON.stringify(value)) : value as string | null);
        sets.push(`${column} = $${params.length}${castOf(kind)}`);
      }
      const row = await this.#change(
        "updateSession",
        `changed AS (UPDATE sessions SET ${sets.join(", ")} WHERE id = $1 RETURNING *)`,
        params,
        SESSION_COLUMNS,
        event,
      );
      return row ? toSession(row) : null;
    });
  }

  deleteSession(id: string, event: LoggedEventType | null): Promise<Session | null> {
    return this.#guard(async () => {
      // One DELETE … RETURNING: no check-then-delete race; the secret goes by ON DELETE CASCADE.
      const row = await this.#change("deleteSession", SQL.deleteSessionCte, [id], SESSION_COLUMNS, event);
      return row ? toSession(row) : null;
    });
  }

  deletePlainSession(id: string, event: LoggedEventType | null): Promise<Session | null> {
    return this.#guard(async () => {
      const row = await this.#change("deleteSession", SQL.deletePlainSessionCte, [id], SESSION_COLUMNS, event);
      return row ? toSession(row) : null;
    });
  }

  setSessionPorts(id: string, ports: number[], now: string, event: LoggedEventType | null): Promise<Session | null> {
    return this.#guard(async () => {
      try {
        const row = await this.#change(
          "setSessionPorts",
          SQL.setSessionPortsCte,
          [id, JSON.stringify(ports), now],
          SESSION_COLUMNS,
          event,
        );
        return row ? toSession(row) : null;
      } catch (error) {
        if (sqlState(error) === UNIQUE_VIOLATION && constraintOf(error) === "port_leases_pkey") {
          throw await this.#portTaken(error);
        }
        throw error;
      }
    });
  }

  releaseOrphanedPorts(): Promise<PortLease[]> {
    return this.#guard(async () =>
      (await this.query("releaseOrphanedPorts", SQL.releaseOrphanedPorts, [])).map(toPortLease)
    );
  }

  // The refusal of a write that met a leased port (Postgres names the key in the error's detail).
  async #portTaken(error: unknown): Promise<StoreDriverError> {
    const detail = String((error as { detail?: unknown }).detail ?? "");
    const port = /\(port\)=\((\d+)\)/.exec(detail)?.[1];
    if (port === undefined) return taken(error, "port");
    const [holder] = await this.query("listPortLeases", SQL.portHolder, [Number(port)], true).catch(() => []);
    return taken(error, "port", holder === undefined ? null : String(holder.session_id), Number(port));
  }

  putSessionSecret(secret: StoredSessionSecret, event: LoggedEventType | null): Promise<void> {
    return this.#guard(async () => {
      try {
        await this.#change(
          "setSessionSecret",
          SQL.upsertSecretCte,
          [secret.sessionId, secret.encryptedSecret, secret.nonce, secret.createdAt, secret.updatedAt],
          null,
          event,
        );
      } catch (error) {
        if (sqlState(error) === FOREIGN_KEY_VIOLATION) throw referenced(error);
        throw error;
      }
    });
  }

  deleteSessionSecret(sessionId: string): Promise<boolean> {
    return this.#guard(async () => (await this.query("deleteSessionSecret", SQL.deleteSecret, [sessionId])).length > 0);
  }

  insertSessionToken(token: StoredSessionToken): Promise<void> {
    return this.#guard(async () => {
      try {
        await this.query("createSessionToken", SQL.insertToken, [
          token.id,
          token.sessionId,
          token.hash,
          token.createdAt,
        ]);
      } catch (error) {
        if (sqlState(error) === FOREIGN_KEY_VIOLATION) throw referenced(error);
        if (sqlState(error) === UNIQUE_VIOLATION) throw taken(error, "token");
        throw error;
      }
    });
  }

  revokeSessionToken(sessionId: string, tokenId: string, now: string): Promise<SessionToken | null> {
    return this.#guard(async () => {
      const [row] = await this.query("revokeSessionToken", SQL.revokeToken, [now, tokenId, sessionId]);
      return row ? withoutHash(toSessionToken({ ...row, hash: "" })) : null;
    });
  }

  /** Ends the pool once the calls in flight are done or `timeoutSeconds` passed; once. */
  close(timeoutSeconds: number): Promise<void> {
    this.#closing ??= (async () => {
      await this.log?.close();
      // Waits for this store's own calls, not for postgres.js to wind down each connection: one that
      // the database dropped while it shut down can wait for an answer that never comes.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.allSettled([...this.#inFlight]),
        new Promise((resolve) => (timer = setTimeout(resolve, timeoutSeconds * 1000))),
      ]);
      clearTimeout(timer);
      // The last writes' events numbered before the pool goes (else they wait for another store's).
      await this.log?.numbered();
      await Promise.all([this.#sql.end({ timeout: 0 }), ...this.#retired]);
    })();
    return this.#closing;
  }

  /** Runs one unit of work outside the front (a key check, pruning): its failure as the contract's error. */
  async run<T>(action: string, work: () => Promise<T>): Promise<T> {
    try {
      return await this.#guard(work);
    } catch (error) {
      throw storeFailure(error, action);
    }
  }

  // Runs one unit of work, counted in flight for `close`; Postgres's failures in the driver vocabulary.
  async #guard<T>(work: () => Promise<T>): Promise<T> {
    const running = work();
    this.#inFlight.add(running);
    try {
      return await running;
    } catch (error) {
      throw classified(error);
    } finally {
      this.#inFlight.delete(running);
    }
  }
}

/**
 * A {@linkcode SessionStore} on Postgres, over postgres.js: Deno and Bun alike. Open one with
 * {@linkcode openPostgresStore}. It is the checked front over a Postgres driver, so it keeps the
 * contract the SQLite store keeps, with the same error kinds: a taken id or path is `Conflict`
 * (unique violation), a session of an unknown repository `RepositoryNotFound` and a secret of an
 * unknown session `SessionNotFound` (foreign key violations), deleting a repository that has sessions
 * `Conflict`; a lost connection and any other failure are `Storage` with the driver's error as
 * `cause`. Input is checked by the front before any SQL runs. Each write is one statement (a session
 * created with its sealed secret and leases too), answered after its commit; `deleteSession` is one
 * `DELETE … RETURNING` and the secret goes by `ON DELETE CASCADE`. Timestamps come back as the very
 * ISO-8601 strings the core made (`2026-11-25T09:16:21.851Z`); lists are keyset pages in
 * `(created_at, id)` order, each answered from an index.
 *
 * Several servers may share the database. The store also keeps the database key check
 * ({@linkcode PostgresStore.databaseKeyCheck}), so that each of them is held to the one key.
 */
export class PostgresStore extends CheckedSessionStore implements BackupCapableStore {
  readonly #driver: PostgresDriver;

  /**
   * Wraps a postgres.js client whose `search_path` reaches a migrated schema; the store owns it and
   * ends it in `close()`. {@linkcode openPostgresStore} makes both.
   *
   * @param sql the client
   * @param where the database, for messages (without a password)
   * @param options the schema the client uses (`public` by default), whether to keep an event log,
   * the client its followers listen on (without one they only poll), how to make a new client
   * like `sql` (without one a client whose connections stopped connecting is kept), the client's pool
   * size (`max`; 10 by default), and how long a call waits for one of its connections (5000 ms by default)
   */
  constructor(
    sql: Sql,
    where: string,
    options: {
      schema?: string;
      eventLog?: boolean | PostgresEventLogOptions;
      listener?: ListenerFactory;
      reopen?: () => Sql;
      maxConnections?: number;
      acquireTimeoutMs?: number;
    } = {},
  ) {
    const driver = new PostgresDriver(sql, where, options);
    super(driver);
    this.#driver = driver;
  }

  /**
   * The event log, when the store was opened with `eventLog` (else `null`). A `SessionOrchestrator`
   * over this store then has each change's event logged by the change's own statement (`logEvent`),
   * and emits nothing itself: follow the log into the orchestrator's events (the
   * server does), and every process's changes arrive in commit order, each once.
   *
   * @example Two stores on one database, as two servers: a change through one reaches the other's follower
   * ```ts ignore
   * import { LifecycleEvents, SessionOrchestrator } from "../../mod.ts";
   * import { openPostgresStore } from "./mod.ts";
   *
   * const url = "postgres://sessions@db.internal:5432/sessions";
   * const a = await openPostgresStore(url, { eventLog: true });
   * const b = await openPostgresStore(url, { eventLog: true });
   * const events = new LifecycleEvents();
   * events.subscribe((event) => console.log(event.type));
   * const follower = await a.eventLog!.follow((event) => events.emit(event));
   * await new SessionOrchestrator({ store: b }).createRepository({ path: "/src/app", name: "app" });
   * // … "repository.created" is printed once the follower has read it …
   * await follower.close();
   * await Promise.all([a.close(), b.close()]);
   * ```
   */
  get eventLog(): EventLog | null {
    return this.#driver.log;
  }

  /**
   * Removes old events from the log (see `PostgresEventLogOptions`); returns how many. It also runs
   * by itself as events are written. `0` without an event log.
   */
  pruneEvents(): Promise<number> {
    const log = this.#driver.log;
    return log === null ? Promise.resolve(0) : this.#driver.run("pruning the event log", () => log.prune());
  }

  /**
   * Refuses, with `InvalidInput` naming `pg_dump`: a Postgres database lives on its own server, and
   * its tools make a consistent copy of it there (`pg_dump` runs in one snapshot while the servers
   * go on writing). Here so that a backup asked of a server on Postgres says what to use instead.
   */
  backup(): Promise<StoreBackup> {
    return Promise.reject(
      new SessionError(
        "InvalidInput",
        "this server's sessions live in Postgres, which this server does not copy: back the database up with " +
          "pg_dump against the database it was started with (for example pg_dump --format=custom " +
          "--file=sessions.dump <its --database URL>)",
      ),
    );
  }

  /** The database, as messages name it: its URL without the password. */
  get database(): string {
    return this.#driver.where;
  }

  /**
   * The database key check kept in this database (table `database_key_check`), for
   * `resolveDatabaseKey`'s `keyCheck` option: every server that shares the database is then held
   * to the key the first one recorded, and one started with another key is refused.
   *
   * @example
   * ```ts ignore
   * import { resolveDatabaseKey } from "../platform/mod.ts";
   * import { openPostgresStore } from "./mod.ts";
   *
   * const store = await openPostgresStore(process.env.DATABASE_URL!);
   * const { key } = await resolveDatabaseKey({
   *   dataDir: "/var/lib/slo",
   *   keyCheck: store.databaseKeyCheck(),
   *   probe: store.sealedSecretProbe(),
   * });
   * ```
   */
  databaseKeyCheck(): DatabaseKeyCheck {
    const read = async () => {
      const [row] = await this.#driver.query("databaseKeyCheck", SQL.readKeyCheck, [], true);
      return row === undefined ? null : String(row.value);
    };
    return {
      location: `the key check in ${this.#driver.where} (table database_key_check)`,
      read: () => this.#driver.run("reading the database key check", read),
      claim: (value) =>
        this.#driver.run("writing the database key check", async () => {
          // Of servers claiming at once, the first insert wins; the others read what it kept.
          const [row] = await this.#driver.query("databaseKeyCheck", SQL.claimKeyCheck, [value]);
          const kept = row === undefined ? await read() : String(row.value);
          if (kept === null) throw new Error("the key check row vanished while it was claimed");
          return kept;
        }),
    };
  }

  /**
   * One sealed secret of the store (any one), for `resolveDatabaseKey`'s `probe` option: one query,
   * `null` when the store holds no secret.
   */
  sealedSecretProbe(): SealedSecretProbe {
    return () =>
      this.#driver.run("reading a sealed secret", async (): Promise<SealedSecretSample | null> => {
        const [row] = await this.#driver.query("getSessionSecret", SQL.anySecret, [], true);
        return row === undefined ? null : {
          sessionId: String(row.session_id),
          encryptedSecret: bytes(row.encrypted_secret),
          nonce: bytes(row.nonce),
        };
      });
  }

  /**
   * Closes the pool: waits up to `timeoutSeconds` (default 5) for the queries in flight, then ends
   * the connections. The store is unusable afterwards (a call rejects with `Storage`); closing
   * twice is harmless.
   */
  close(options: { timeoutSeconds?: number } = {}): Promise<void> {
    return this.#driver.close(options.timeoutSeconds ?? 5);
  }
}

// Codes of a database that cannot be reached or is going away: the driver's and the socket's.
const UNAVAILABLE_CODES = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
]);
// SQLSTATEs of a server that is shutting down, starting up, or full: admin_shutdown, crash_shutdown,
// cannot_connect_now, too_many_connections; and class 08, connection exceptions.
const UNAVAILABLE_STATES = new Set(["57P01", "57P02", "57P03", "53300"]);
// SQLSTATEs of a statement that waited too long: lock_not_available (lock_timeout), query_canceled
// (statement_timeout). Either undid the statement, so running it again is safe.
const TIMED_OUT_STATES = new Set(["55P03", "57014"]);
// SQLSTATEs of a transaction Postgres undid to let another through: serialization_failure, deadlock_detected.
const CONTENDED_STATES = new Set(["40001", "40P01"]);

// Whether a statement failed because it waited past the store's lock or statement timeout: what
// marks an operation as slow to the connection gate.
function waitedTooLong(error: unknown): boolean {
  return TIMED_OUT_STATES.has(sqlState(error) ?? "");
}

/**
 * Whether `error` (a store's `Storage` error, or anything along its `cause` chain) says that the
 * database cannot serve the call right now, rather than that it refused the operation: it could not
 * be reached or went away (a lost connection, a refused one, a server shutting down or starting up),
 * or it is busy past the store's bounds (a statement that waited for a lock or ran past its timeout,
 * no free connection in time, a deadlock or serialization failure). Such a failure is worth retrying
 * a moment later; the store marks its `Storage` error with `retryAfterSeconds`, which the HTTP layer
 * answers with 503 and `Retry-After` instead of 500.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SessionError } from "../errors.ts";
 * import { databaseUnavailable } from "./postgres_store.ts";
 *
 * const lost = Object.assign(new Error("write CONNECTION_CLOSED db:5432"), { code: "CONNECTION_CLOSED" });
 * assert.equal(databaseUnavailable(new SessionError("Storage", "reading a session failed", { cause: lost })), true);
 * assert.equal(databaseUnavailable(new SessionError("Conflict", "taken")), false);
 * ```
 */
export function databaseUnavailable(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current !== null && typeof current === "object"; depth++) {
    if (current instanceof SessionError && current.retryAfterSeconds !== null) return true;
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") {
      if (UNAVAILABLE_CODES.has(code)) return true;
      if (
        (current as Error).name === "PostgresError" &&
        (UNAVAILABLE_STATES.has(code) || TIMED_OUT_STATES.has(code) || CONTENDED_STATES.has(code) ||
          code.startsWith("08"))
      ) {
        return true;
      }
    }
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

// Postgres's failure in the driver vocabulary: a value it cannot hold is the caller's input; a
// database away or busy past a bound is temporary (the HTTP layer answers it 503).
function classified(error: unknown): unknown {
  if (error instanceof StoreDriverError || error instanceof SessionError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (sqlState(error)?.startsWith(DATA_EXCEPTION_CLASS)) {
    return new StoreDriverError("badValue", message, { cause: error });
  }
  if (databaseUnavailable(error)) return new StoreDriverError("unavailable", message, { cause: error });
  return error;
}

function taken(error: unknown, key: UniqueKey, holder: string | null = null, port: number | null = null) {
  return new StoreDriverError("unique", String((error as Error).message), { key, holder, port, cause: error });
}

function referenced(error: unknown): StoreDriverError {
  return new StoreDriverError("foreignKey", String((error as Error).message), { cause: error });
}

// The driver's or the socket's error code, if any.
function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

// The server ended the connection (it was shutting down, or the backend was terminated): a server
// error of class 57P or 08.
function serverEnded(error: unknown): boolean {
  if (!(error instanceof Error) || error.name !== "PostgresError") return false;
  const code = codeOf(error) ?? "";
  return code.startsWith("57P") || code.startsWith("08");
}

// A server error raised while a connection started (the postmaster refused it: starting up, shutting
// down), before any statement of ours ran on it.
function refusedAtConnect(error: unknown): boolean {
  if (!(error instanceof Error) || error.name !== "PostgresError") return false;
  const { code, routine } = error as { code?: unknown; routine?: unknown };
  return routine === "ProcessStartupPacket" || code === "57P03";
}

// The SQLSTATE of a server error (postgres.js's PostgresError), or undefined.
function sqlState(error: unknown): string | undefined {
  const value = error instanceof Error && error.name === "PostgresError" ? (error as { code?: unknown }).code : null;
  return typeof value === "string" ? value : undefined;
}

function constraintOf(error: unknown): string | undefined {
  const name = (error as { constraint_name?: unknown } | null)?.constraint_name;
  return typeof name === "string" ? name : undefined;
}

/**
 * A page of `table` in `(created_at, id)` order: equality filters, then the row-value comparison
 * with the position, which Postgres answers by seeking in the matching index. The order names the
 * table's columns, not the ISO-string columns the select gives the same names, so that an index
 * serves it.
 */
export function pageQuery(
  table: "sessions" | "repositories",
  conditions: readonly [string, Param][],
  limit: number | null,
  after: ListPosition | null,
): { text: string; params: Param[] } {
  const params: Param[] = [];
  const where: string[] = [];
  for (const [column, value] of conditions) {
    params.push(value);
    where.push(`${table}.${column} = $${params.length}`);
  }
  if (after !== null) {
    params.push(after.createdAt, after.id);
    where.push(`(${table}.created_at, ${table}.id) > ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
  }
  const columns = table === "sessions" ? SESSION_COLUMNS : REPOSITORY_COLUMNS;
  let text = `SELECT ${columns} FROM ${table}${where.length === 0 ? "" : ` WHERE ${where.join(" AND ")}`}` +
    ` ORDER BY ${table}.created_at, ${table}.id`;
  if (limit !== null) {
    params.push(limit);
    text += ` LIMIT $${params.length}`;
  }
  return { text, params };
}
