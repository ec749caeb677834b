/**
 * The SQLite store: plain SQL over the minimal {@linkcode SqliteDatabase} driver interface.
 *
 * @module
 */

import { type Row, toPortLease, toRepository, toSecret, toSession, toSessionToken, withoutHash } from "./_rows.ts";
import type { SealedSecret } from "../crypto.ts";
import { SessionError, toStorageError } from "../errors.ts";
import { parseId } from "../ids.ts";
import type {
  ListPosition,
  NewRepository,
  NewSession,
  NewSessionSecret,
  NewSessionToken,
  PortLease,
  Repository,
  RepositoryFilter,
  Session,
  SessionFilter,
  SessionPatch,
  SessionToken,
  StoredSessionSecret,
  StoredSessionToken,
} from "../types.ts";
import {
  buildRepository,
  buildSession,
  buildSessionToken,
  checkPortList,
  checkRepositoryFilter,
  checkSessionFilter,
  checkSessionPatch,
  checkSessionSecret,
  checkTokenHash,
  nowIso,
} from "../validation.ts";
import type { SqliteDatabase, SqliteStatement, SqliteValue } from "./sqlite_driver.ts";
import { prepareDatabase } from "./sqlite_schema.ts";
import type { SessionStore, WriteOptions } from "./store.ts";
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

const SESSION_COLUMNS = `id, repository_id, title, agent_name, issue_id, issue_title, issue_url, status,
  is_worktree, worktree_path, worktree_name, branch_name, base_branch, created_worktree, created_branch,
  created_at, updated_at, last_accessed_at, host_id, ports, setup, included, parent_session_id`;
const SESSION_COLUMN_NAMES: readonly string[] = SESSION_COLUMNS.split(",").map((name) => name.trim());
const REPOSITORY_COLUMNS =
  "id, path, name, is_git_repository, sessions_path, default_branch, default_remote, created_at, updated_at";

/** The SQL statements of the store, exported so the benchmark measures the raw driver on the very same ones. */
export const SQL = {
  getRepository: `SELECT ${REPOSITORY_COLUMNS} FROM repositories WHERE id = ?`,
  listRepositories: `SELECT ${REPOSITORY_COLUMNS} FROM repositories ORDER BY created_at, id`,
  insertRepository: `INSERT INTO repositories (${REPOSITORY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  repositoryIdOfPath: "SELECT id FROM repositories WHERE path = ?",
  deleteRepository: `DELETE FROM repositories WHERE id = ? RETURNING ${REPOSITORY_COLUMNS}`,
  getSession: `SELECT ${SESSION_COLUMNS} FROM sessions WHERE id = ?`,
  listSessions: `SELECT ${SESSION_COLUMNS} FROM sessions ORDER BY created_at, id`,
  insertSession: `INSERT INTO sessions (${SESSION_COLUMNS})
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  updateSession: `UPDATE sessions SET title = ?, status = ?, agent_name = ?, issue_id = ?, issue_title = ?,
    issue_url = ?, last_accessed_at = ?, setup = ?, updated_at = ? WHERE id = ? RETURNING ${SESSION_COLUMNS}`,
  // The session's port leases go with it, by the trigger sessions_release_ports.
  deleteSession: `DELETE FROM sessions WHERE id = ? RETURNING ${SESSION_COLUMNS}`,
  listPortLeases: "SELECT port, session_id, leased_at FROM port_leases ORDER BY port",
  portHolder: "SELECT session_id FROM port_leases WHERE port = ?",
  insertPortLease: "INSERT INTO port_leases (port, session_id, leased_at) VALUES (?, ?, ?)",
  portsOfSession: "SELECT port FROM port_leases WHERE session_id = ?",
  releasePort: "DELETE FROM port_leases WHERE port = ? AND session_id = ?",
  setSessionPorts: `UPDATE sessions SET ports = ?, updated_at = ? WHERE id = ? RETURNING ${SESSION_COLUMNS}`,
  releaseOrphanedPorts: `DELETE FROM port_leases WHERE NOT EXISTS
    (SELECT 1 FROM sessions WHERE sessions.id = port_leases.session_id) RETURNING port, session_id, leased_at`,
  getSecret:
    "SELECT session_id, encrypted_secret, nonce, created_at, updated_at FROM session_secrets WHERE session_id = ?",
  deleteSecret: "DELETE FROM session_secrets WHERE session_id = ? RETURNING session_id",
  upsertSecret: `INSERT INTO session_secrets (session_id, encrypted_secret, nonce, created_at, updated_at)
    VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (session_id) DO UPDATE SET encrypted_secret = excluded.encrypted_secret,
      nonce = excluded.nonce, updated_at = excluded.updated_at`,
  insertToken: "INSERT INTO session_tokens (id, session_id, hash, created_at, revoked_at) VALUES (?, ?, ?, ?, NULL)",
  tokenByHash: "SELECT id, session_id, hash, created_at, revoked_at FROM session_tokens WHERE hash = ?",
  tokensOfSession: `SELECT id, session_id, created_at, revoked_at FROM session_tokens WHERE session_id = ?
    ORDER BY created_at, id`,
  revokeToken: `UPDATE session_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ? AND session_id = ?
    RETURNING id, session_id, created_at, revoked_at`,
} as const;

/**
 * A {@linkcode SessionStore} on SQLite. Give it any connection that satisfies
 * {@linkcode SqliteDatabase}: `node:sqlite`'s `DatabaseSync` (Deno, Node, Bun), `bun:sqlite`'s
 * `Database` or `@db/sqlite`'s `Database`. The constructor sets WAL, a busy timeout and foreign
 * keys, and migrates the schema. Every write runs in its own `BEGIN IMMEDIATE … COMMIT`, so each
 * is atomic, and is answered only after its `COMMIT` succeeded: a write that cannot be committed (a
 * full disk, an I/O error) rejects with kind `Storage` and changes nothing. Several stores
 * (connections or processes) can share one file. A write that finds the file locked by another
 * connection past the busy timeout ("database is locked") rejects the same way, its error marked
 * temporary (`retryAfterSeconds` 1: the HTTP layer answers 503 with `Retry-After`).
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
export class SqliteStore implements SessionStore {
  readonly #database: SqliteDatabase;
  readonly #statements = new Map<string, SqliteStatement>();
  readonly #arrayReaders = new Map<string, ((params: SqliteValue[]) => unknown[][]) | null>();
  readonly #log: SqliteEventLog | null;

  /**
   * Prepares the connection (pragmas, migrations) and wraps it.
   *
   * @param database an open connection; the store does not close it
   * @param options busy timeout, event log
   */
  constructor(database: SqliteDatabase, options: SqliteStoreOptions = {}) {
    this.#database = database;
    const eventLog = options.eventLog ?? false;
    if (typeof eventLog !== "boolean" && (typeof eventLog !== "object" || eventLog === null)) {
      throw new SessionError("InvalidInput", "eventLog must be a boolean or an object of options");
    }
    this.#log = eventLog === false ? null : new SqliteEventLog(
      (sql, params) => this.#statement(sql).all(...params) as Row[],
      eventLog === true ? {} : eventLog,
    );
    try {
      prepareDatabase(database, {
        busyTimeoutMs: options.busyTimeoutMs ?? 5000,
      });
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
    const log = this.#log;
    return this.#run("pruning the event log", () => log === null ? 0 : log.prune());
  }

  /** Stops the event log's followers and their poll; for when the connection is about to close. */
  closeEventLog(): void {
    this.#log?.close();
  }

  /** The connection this store runs on. */
  get database(): SqliteDatabase {
    return this.#database;
  }

  #statement(sql: string): SqliteStatement {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#database.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  // The rows of a list. Read as arrays where the driver can (node:sqlite's `setReturnArrays`):
  // node:sqlite builds each row object from native code, which is most of a page's cost, and the
  // objects built here cost far less (a page of 100: 0.47 → 0.83 of the raw query in bench/).
  // bun:sqlite builds its objects faster than this would, so it keeps its own.
  #rows(sql: string, params: SqliteValue[], names: readonly string[]): Row[] {
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
    if (reader === null) return this.#statement(sql).all(...params) as Row[];
    return reader(params).map((values) => {
      const row: Row = {};
      for (let i = 0; i < names.length; i++) row[names[i]] = values[i];
      return row;
    });
  }

  #first(sql: string, params: SqliteValue[]): Row | null {
    return (this.#statement(sql).get(...params) as Row | null | undefined) ??
      null;
  }

  // The row of a `… RETURNING` write. `all()` runs the statement to its end, so every driver throws
  // what the statement met; Deno's node:sqlite `get()` stops after the first row and drops any error
  // of finishing the statement (in autocommit mode, its commit).
  #returned(sql: string, params: SqliteValue[]): Row | null {
    return (this.#statement(sql).all(...params) as Row[])[0] ?? null;
  }

  /** {@inheritDoc SessionReader.getRepository} */
  getRepository(id: string): Promise<Repository | null> {
    return this.#run("reading a repository", () => {
      const row = this.#first(SQL.getRepository, [
        parseId(id, "repository id"),
      ]);
      return row ? toRepository(row) : null;
    });
  }

  /** {@inheritDoc SessionReader.listRepositories} */
  listRepositories(filter: RepositoryFilter = {}): Promise<Repository[]> {
    return this.#run("listing repositories", () => {
      const { limit, after } = checkRepositoryFilter(filter);
      const { sql, params } = pageQuery(`SELECT ${REPOSITORY_COLUMNS} FROM repositories`, [], limit, after);
      return (this.#statement(sql).all(...params) as Row[]).map(toRepository);
    });
  }

  /** {@inheritDoc SessionReader.getSession} */
  getSession(id: string): Promise<Session | null> {
    return this.#run("reading a session", () => {
      const row = this.#first(SQL.getSession, [parseId(id, "session id")]);
      return row ? toSession(row) : null;
    });
  }

  /** {@inheritDoc SessionReader.listSessions} */
  listSessions(filter: SessionFilter = {}): Promise<Session[]> {
    return this.#run("listing sessions", () => {
      const { repositoryId, status, worktreePath, branchName, limit, after } = checkSessionFilter(filter);
      const conditions: [string, SqliteValue][] = [];
      if (repositoryId !== null) conditions.push(["repository_id = ?", repositoryId]);
      if (status !== null) conditions.push(["status = ?", status]);
      if (worktreePath !== null) conditions.push(["worktree_path = ?", worktreePath]);
      if (branchName !== null) conditions.push(["branch_name = ?", branchName]);
      const { sql, params } = pageQuery(`SELECT ${SESSION_COLUMNS} FROM sessions`, conditions, limit, after);
      return this.#rows(sql, params, SESSION_COLUMN_NAMES).map(toSession);
    });
  }

  /** {@inheritDoc SessionReader.getSessionSecret} */
  getSessionSecret(sessionId: string): Promise<StoredSessionSecret | null> {
    return this.#run("reading a session secret", () => {
      const row = this.#first(SQL.getSecret, [
        parseId(sessionId, "session id"),
      ]);
      return row ? toSecret(row) : null;
    });
  }

  /** {@inheritDoc SessionReader.listPortLeases} */
  listPortLeases(): Promise<PortLease[]> {
    return this.#run(
      "listing port leases",
      () => (this.#statement(SQL.listPortLeases).all() as Row[]).map(toPortLease),
    );
  }

  /** {@inheritDoc SessionWriter.createRepository} */
  createRepository(input: NewRepository, options?: WriteOptions): Promise<Repository> {
    return this.#change("creating a repository", false, options, repositoryCreated, () => {
      const r = buildRepository(input, nowIso());
      try {
        this.#statement(SQL.insertRepository).run(
          r.id,
          r.path,
          r.name,
          r.isGitRepository ? 1 : 0,
          r.sessionsPath,
          r.defaultBranch,
          r.defaultRemote,
          r.createdAt,
          r.updatedAt,
        );
      } catch (error) {
        if (isUniqueViolation(error)) {
          // Name the repository that holds the path, so the caller can use it; else the id was taken.
          const holder = this.#first(SQL.repositoryIdOfPath, [r.path]);
          throw new SessionError(
            "Conflict",
            holder === null
              ? `a repository with id ${r.id} exists`
              : `the repository ${String(holder.id)} already has the path ${r.path}`,
            { cause: error },
          );
        }
        throw error;
      }
      return r;
    });
  }

  /** {@inheritDoc SessionWriter.deleteRepository} */
  deleteRepository(id: string, options?: WriteOptions): Promise<Repository | null> {
    return this.#change("deleting a repository", false, options, repositoryDeleted, () => {
      const key = parseId(id, "repository id");
      try {
        const row = this.#returned(SQL.deleteRepository, [key]);
        return row ? toRepository(row) : null;
      } catch (error) {
        if (isForeignKeyViolation(error)) {
          throw new SessionError(
            "Conflict",
            `repository ${key} still has sessions; delete them first`,
            {
              cause: error,
            },
          );
        }
        throw error;
      }
    });
  }

  /** {@inheritDoc SessionWriter.createSession} */
  createSession(input: NewSession, secret?: SealedSecret, options?: WriteOptions): Promise<Session> {
    // With a secret or ports, every row commits in the one transaction: together or not at all.
    const several = secret !== undefined || (Array.isArray(input?.ports) && input.ports.length > 0);
    return this.#change<Session>("creating a session", several, options, sessionCreated, () => {
      const s = buildSession(input, nowIso());
      const sealed = secret === undefined ? null : checkSessionSecret({ sessionId: s.id, ...secret });
      try {
        this.#statement(SQL.insertSession).run(
          s.id,
          s.repositoryId,
          s.title,
          s.agentName,
          s.issueId,
          s.issueTitle,
          s.issueUrl,
          s.status,
          s.isWorktree ? 1 : 0,
          s.worktreePath,
          s.worktreeName,
          s.branchName,
          s.baseBranch,
          s.createdWorktree ? 1 : 0,
          s.createdBranch ? 1 : 0,
          s.createdAt,
          s.updatedAt,
          s.lastAccessedAt,
          s.hostId,
          JSON.stringify(s.ports),
          s.setup === null ? null : JSON.stringify(s.setup),
          s.included === null ? null : JSON.stringify(s.included),
          s.parentSessionId,
        );
        if (sealed !== null) {
          this.#statement(SQL.upsertSecret).run(s.id, sealed.encryptedSecret, sealed.nonce, s.createdAt, s.createdAt);
        }
        this.#lease(s.id, s.ports, s.createdAt);
      } catch (error) {
        if (isForeignKeyViolation(error)) {
          throw new SessionError(
            "RepositoryNotFound",
            `no repository with id ${s.repositoryId}`,
            { cause: error },
          );
        }
        if (isUniqueViolation(error)) {
          const what = /worktree_path/.test(String((error as Error).message))
            ? `worktree path ${s.worktreePath} belongs to another session`
            : `a session with id ${s.id} exists`;
          throw new SessionError("Conflict", what, { cause: error });
        }
        throw error;
      }
      return s;
    });
  }

  /** {@inheritDoc SessionWriter.updateSession} */
  updateSession(id: string, patch: SessionPatch, options?: WriteOptions): Promise<Session | null> {
    // Read and write in one immediate transaction so a concurrent update is never lost.
    const eventOf = options?.logAs === "session.archived"
      ? sessionArchived
      : options?.logAs === "session.restored"
      ? sessionRestored
      : sessionUpdated;
    return this.#change("updating a session", true, options, eventOf, () => {
      const key = parseId(id, "session id");
      const changes = checkSessionPatch(patch);
      const row = this.#first(SQL.getSession, [key]);
      if (!row) return null;
      const next = { ...toSession(row), ...changes };
      const updated = this.#returned(SQL.updateSession, [
        next.title,
        next.status,
        next.agentName,
        next.issueId,
        next.issueTitle,
        next.issueUrl,
        next.lastAccessedAt,
        next.setup === null ? null : JSON.stringify(next.setup),
        nowIso(),
        key,
      ]);
      return updated ? toSession(updated) : null;
    });
  }

  /** {@inheritDoc SessionWriter.deleteSession} */
  deleteSession(id: string, options?: WriteOptions): Promise<Session | null> {
    return this.#change("deleting a session", false, options, sessionDeleted, () => {
      // One DELETE … RETURNING: no check-then-delete race; the secret goes by ON DELETE CASCADE.
      const row = this.#returned(SQL.deleteSession, [parseId(id, "session id")]);
      return row ? toSession(row) : null;
    });
  }

  /** {@inheritDoc SessionWriter.setSessionPorts} */
  setSessionPorts(id: string, ports: number[], options?: WriteOptions): Promise<Session | null> {
    return this.#change("leasing ports", true, options, sessionUpdated, () => {
      const key = parseId(id, "session id");
      const wanted = checkPortList(ports);
      if (this.#first(SQL.getSession, [key]) === null) return null;
      const held = (this.#statement(SQL.portsOfSession).all(key) as Row[]).map((row) => Number(row.port));
      for (const port of held) {
        if (!wanted.includes(port)) this.#statement(SQL.releasePort).run(port, key);
      }
      const now = nowIso();
      this.#lease(key, wanted.filter((port) => !held.includes(port)), now);
      const row = this.#returned(SQL.setSessionPorts, [JSON.stringify(wanted), now, key]);
      return row ? toSession(row) : null;
    });
  }

  /** {@inheritDoc SessionWriter.releaseOrphanedPorts} */
  releaseOrphanedPorts(): Promise<PortLease[]> {
    return this.#write(
      "releasing orphaned port leases",
      () => (this.#statement(SQL.releaseOrphanedPorts).all() as Row[]).map(toPortLease).sort((a, b) => a.port - b.port),
    );
  }

  // Inserts the leases of `ports` for the session, inside the caller's transaction: a port another
  // session holds is `Conflict` naming it (the caller's transaction then rolls back every row).
  #lease(sessionId: string, ports: readonly number[], now: string): void {
    for (const port of ports) {
      try {
        this.#statement(SQL.insertPortLease).run(port, sessionId, now);
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        const holder = this.#first(SQL.portHolder, [port]);
        throw new SessionError(
          "Conflict",
          `port ${port} is leased to ${holder === null ? "another session" : `session ${String(holder.session_id)}`}`,
          { cause: error },
        );
      }
    }
  }

  /** {@inheritDoc SessionWriter.setSessionSecret} */
  setSessionSecret(input: NewSessionSecret, options?: WriteOptions): Promise<void> {
    let sessionId = "";
    return this.#change("storing a session secret", false, options, () => secretStored(sessionId), () => {
      const secret = checkSessionSecret(input);
      sessionId = secret.sessionId;
      const now = nowIso();
      try {
        this.#statement(SQL.upsertSecret).run(
          secret.sessionId,
          secret.encryptedSecret,
          secret.nonce,
          now,
          now,
        );
      } catch (error) {
        if (isForeignKeyViolation(error)) {
          throw new SessionError(
            "SessionNotFound",
            `no session with id ${secret.sessionId}`,
            { cause: error },
          );
        }
        throw error;
      }
    });
  }

  /** {@inheritDoc SessionWriter.deleteSessionSecret} */
  deleteSessionSecret(sessionId: string): Promise<boolean> {
    return this.#autocommit(
      "deleting a session secret",
      () => this.#returned(SQL.deleteSecret, [parseId(sessionId, "session id")]) !== null,
    );
  }

  /** {@inheritDoc SessionReader.getSessionTokenByHash} */
  getSessionTokenByHash(hash: string): Promise<StoredSessionToken | null> {
    return this.#run("reading a session token", () => {
      const row = this.#first(SQL.tokenByHash, [checkTokenHash(hash)]);
      return row ? toSessionToken(row) : null;
    });
  }

  /** {@inheritDoc SessionReader.listSessionTokens} */
  listSessionTokens(sessionId: string): Promise<SessionToken[]> {
    return this.#run("listing session tokens", () => {
      const rows = this.#statement(SQL.tokensOfSession).all(parseId(sessionId, "session id")) as Row[];
      return rows.map((row) => withoutHash(toSessionToken({ ...row, hash: "" })));
    });
  }

  /** {@inheritDoc SessionWriter.createSessionToken} */
  createSessionToken(input: NewSessionToken): Promise<SessionToken> {
    return this.#autocommit("storing a session token", () => {
      const token = buildSessionToken(input, nowIso());
      try {
        this.#statement(SQL.insertToken).run(token.id, token.sessionId, token.hash, token.createdAt);
      } catch (error) {
        if (isForeignKeyViolation(error)) {
          throw new SessionError("SessionNotFound", `no session with id ${token.sessionId}`, { cause: error });
        }
        if (isUniqueViolation(error)) {
          throw new SessionError("Conflict", "a session token with this id or hash exists", { cause: error });
        }
        throw error;
      }
      return withoutHash(token);
    });
  }

  /** {@inheritDoc SessionWriter.revokeSessionToken} */
  revokeSessionToken(sessionId: string, tokenId: string): Promise<SessionToken | null> {
    return this.#autocommit("revoking a session token", () => {
      const row = this.#returned(SQL.revokeToken, [
        nowIso(),
        parseId(tokenId, "token id"),
        parseId(sessionId, "session id"),
      ]);
      return row ? withoutHash(toSessionToken({ ...row, hash: "" })) : null;
    });
  }

  // A write: in an explicit transaction when it has several statements (`transaction`, or its event
  // logged with it), else in autocommit mode. With `logEvent` (and a log), its event (`eventOf` the
  // result; none for `null`, nothing changed) is written in the same transaction, and handed to the
  // log's followers only once the COMMIT succeeded.
  #change<T>(
    action: string,
    transaction: boolean,
    options: WriteOptions | undefined,
    eventOf: (result: NonNullable<T>) => LifecycleEvent,
    work: () => T,
  ): Promise<T> {
    const log = options?.logEvent === true ? this.#log : null;
    if (log === null) return transaction ? this.#write(action, work) : this.#autocommit(action, work);
    let appended: AppendedEvent | null = null;
    return this.#write(action, () => {
      appended = null;
      const result = work();
      if (result !== null) appended = log.append(eventOf(result as NonNullable<T>));
      return result;
    }).then((result) => {
      if (appended !== null) log.committed(appended);
      return result;
    });
  }

  // One write statement in autocommit mode: `run()` and `all()` step it to its end, commit
  // included, so what it returns is committed (a full-disk test pins this for every driver). Cheaper
  // than an explicit transaction, which only writes of several statements need.
  #autocommit<T>(action: string, work: () => T): Promise<T> {
    return this.#run(action, work);
  }

  // Runs one synchronous unit of work and reports it as a promise; driver errors become `Storage`.
  #run<T>(action: string, work: () => T): Promise<T> {
    try {
      return Promise.resolve(work());
    } catch (error) {
      return Promise.reject(storageError(error, action));
    }
  }

  // Runs the statements of one write in an explicit transaction and answers only once COMMIT has
  // succeeded. In autocommit mode a statement's own commit can fail after its row was already handed
  // out (Deno's node:sqlite `get()` returns the row of a `DELETE … RETURNING` whose commit failed on a
  // full disk, and the row stays), so the commit is a step of its own whose failure is always seen.
  #write<T>(action: string, work: () => T): Promise<T> {
    return this.#run(action, () => {
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

// SQLite's extended result code SQLITE_IOERR_SHMSIZE: the `-shm` file beside a WAL database could not
// grow. That is how a full disk shows when a connection first reads, and its message says only
// "disk I/O error", so the Storage error names the likely cause.
const SQLITE_IOERR_SHMSIZE = 4874;
// SQLite's primary result codes SQLITE_BUSY ("database is locked": another connection holds the lock
// a write needs, past the busy timeout) and SQLITE_LOCKED ("database table is locked"). Either undid
// the statement, and only says that the file is busy right now.
const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;

function storageError(error: unknown, action: string): SessionError {
  // node:sqlite puts SQLite's extended result code in `errcode`, bun:sqlite in `errno`.
  const code = (error as { errcode?: unknown; errno?: unknown } | null)?.errcode ??
    (error as { errno?: unknown } | null)?.errno;
  const primary = typeof code === "number" && code > 0 ? code & 0xff : null;
  if (primary === SQLITE_BUSY || primary === SQLITE_LOCKED) {
    // The store's mark of a temporary failure: the same call may succeed once the lock is let go.
    return toStorageError(error, action, { retryAfterSeconds: 1 });
  }
  if (code !== SQLITE_IOERR_SHMSIZE || !(error instanceof Error)) return toStorageError(error, action);
  return new SessionError(
    "Storage",
    `${action} failed: ${error.message} (SQLite could not grow the shared-memory file beside the database: is the disk full?)`,
    { cause: error },
  );
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
