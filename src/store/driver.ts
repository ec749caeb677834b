/**
 * The small interface a storage backend implements: raw reads and writes of records that
 * {@linkcode createSessionStore}'s front has already checked. The front does everything the
 * `SessionStore` contract asks of every store (ids, input checks, normal forms, timestamps, page
 * checks, error kinds and messages), so a driver keeps only what is its own: its queries, its
 * transactions, its reconnects.
 *
 * A driver reports the failures the front must tell apart by throwing a
 * {@linkcode StoreDriverError}; anything else it throws becomes a `Storage` error naming the action.
 *
 * @module
 */

import type {
  ListPosition,
  PortLease,
  Repository,
  Session,
  SessionPatch,
  SessionStatus,
  SessionToken,
  StoredSessionSecret,
  StoredSessionToken,
} from "../types.ts";

/**
 * The lifecycle event a write logs with it, for a driver that keeps an event log (see `EventLog`):
 * the front passes it when the caller asked for `logEvent`, and `null` otherwise. A driver without a
 * log ignores it. The event is built from the record the write returns (`session.secret.stored`
 * from the secret's session id), and nothing is logged when the write changed nothing.
 */
export type LoggedEventType =
  | "repository.created"
  | "repository.deleted"
  | "session.created"
  | "session.updated"
  | "session.archived"
  | "session.restored"
  | "session.deleted"
  | "session.secret.stored";

/** A checked page of a list, in `(createdAt, id)` order: at most `limit` records after `after`. */
export interface PageQuery {
  /** How many records at most; `null` for all of them. */
  limit: number | null;
  /** Only records after this position; `null` from the first. */
  after: ListPosition | null;
}

/** A checked session list query: each filter `null` when not asked for, the path in normal form. */
export interface SessionQuery extends PageQuery {
  /** Only the sessions of this repository. */
  repositoryId: string | null;
  /** Only the sessions in this status. */
  status: SessionStatus | null;
  /** Only the session with this worktree path (absolute, in normal form). */
  worktreePath: string | null;
  /** Only the sessions on this branch. */
  branchName: string | null;
  /** Only the sessions made under this one. */
  parentSessionId: string | null;
}

/**
 * The unique keys of the store's records, as a driver names the one a write would have broken:
 * a repository's id or path, a session's id or worktree path, a leased port, a token's id or hash.
 */
export type UniqueKey =
  | "repository.id"
  | "repository.path"
  | "session.id"
  | "session.worktreePath"
  | "port"
  | "token";

/**
 * What a driver says went wrong, for the front to turn into the contract's error kinds:
 * - `unique`: a unique key is taken (`Conflict`); say which in `key`, and who holds it in `holder`
 *   where that is cheap to know;
 * - `foreignKey`: the record a write refers to is missing, or a record still referred to was to be
 *   removed (the front knows which by the operation: `RepositoryNotFound`, `SessionNotFound`, or the
 *   `Conflict` of a repository that still has sessions);
 * - `unavailable`: the backend cannot serve the call right now but may soon (`Storage`, marked
 *   temporary: HTTP answers 503 with `Retry-After`);
 * - `badValue`: the backend cannot hold a value the checks accepted (`InvalidInput`).
 */
export type StoreDriverProblem = "unique" | "foreignKey" | "unavailable" | "badValue";

/**
 * The error a driver throws for a failure the front must tell apart (see
 * {@linkcode StoreDriverProblem}). Any other error a driver throws is a `Storage` failure.
 *
 * @example A driver's insert meeting a taken path
 * ```ts
 * import assert from "node:assert/strict";
 * import { StoreDriverError } from "./driver.ts";
 *
 * const error = new StoreDriverError("unique", "repositories.path is taken", { key: "repository.path" });
 * assert.equal(error.problem, "unique");
 * assert.equal(error.holder, null);
 * ```
 */
export class StoreDriverError extends Error {
  /** What kind of failure this is. */
  readonly problem: StoreDriverProblem;
  /** For `unique`: the key that is taken; else `null` (and `null` when the driver cannot tell). */
  readonly key: UniqueKey | null;
  /** For `unique`: the id of the record that holds the key, when the driver knows it; else `null`. */
  readonly holder: string | null;
  /** For a `unique` of key `port`: the port that is taken, when the driver knows it; else `null`. */
  readonly port: number | null;
  /** For `unavailable`: seconds after which the call may succeed (1 when not given). */
  readonly retryAfterSeconds: number;

  /**
   * Makes a driver's error.
   *
   * @param problem what kind of failure
   * @param message the backend's own words, kept for the log (the front writes the caller's message)
   * @param options the key, its holder and port for `unique`; the delay for `unavailable`; the backend's error as `cause`
   */
  constructor(
    problem: StoreDriverProblem,
    message: string,
    options: {
      key?: UniqueKey;
      holder?: string | null;
      port?: number | null;
      retryAfterSeconds?: number;
      cause?: unknown;
    } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "StoreDriverError";
    this.problem = problem;
    this.key = options.key ?? null;
    this.holder = options.holder ?? null;
    this.port = options.port ?? null;
    this.retryAfterSeconds = options.retryAfterSeconds ?? 1;
  }
}

/**
 * A storage backend under {@linkcode createSessionStore}. Every input is checked and in normal
 * form, every timestamp set, before a driver sees it; ids are UUIDs in lower case. Each method is
 * atomic, and returns records the caller owns (fresh objects, absent optional values as `null`).
 * `event` asks a driver with an event log to log the write's event in the write's own transaction
 * (see {@linkcode LoggedEventType}); other drivers ignore it.
 *
 * Unique keys: a repository's id and path, a session's id and worktree path (when set), a port
 * (one lease per port), a token's id and hash. References: a session needs its repository, a secret,
 * a lease and a token their session. A broken key or reference is a {@linkcode StoreDriverError}.
 */
export interface SessionStoreDriver {
  /** The repository, or `null`. */
  getRepository(id: string): Promise<Repository | null>;
  /** A page of repositories, in `(createdAt, id)` order. */
  listRepositories(query: PageQuery): Promise<Repository[]>;
  /** The session, or `null`. */
  getSession(id: string): Promise<Session | null>;
  /** A page of the sessions that match every filter given, in `(createdAt, id)` order. */
  listSessions(query: SessionQuery): Promise<Session[]>;
  /** The session's sealed secret, or `null`. */
  getSessionSecret(sessionId: string): Promise<StoredSessionSecret | null>;
  /** Every port lease, by port ascending. */
  listPortLeases(): Promise<PortLease[]>;
  /** The token with this hash (64 lower-case hex digits), or `null`. */
  getSessionTokenByHash(hash: string): Promise<StoredSessionToken | null>;
  /** The session's tokens, in `(createdAt, id)` order, without their hashes. */
  listSessionTokens(sessionId: string): Promise<SessionToken[]>;

  /** Adds the repository; `unique` when its id or path is taken. */
  insertRepository(repository: Repository, event: LoggedEventType | null): Promise<void>;
  /** Removes the repository and returns it, or `null`; `foreignKey` while sessions refer to it. */
  deleteRepository(id: string, event: LoggedEventType | null): Promise<Repository | null>;
  /**
   * Adds the session, with its secret when given and a lease of each of its `ports`, all or nothing;
   * `foreignKey` without its repository, `unique` for a taken id, worktree path or port.
   */
  insertSession(session: Session, secret: StoredSessionSecret | null, event: LoggedEventType | null): Promise<void>;
  /**
   * Sets the fields of `changes` (only those) and `updatedAt`, and returns the updated session, or
   * `null` when there is none. A concurrent update of other fields is never lost.
   */
  updateSession(
    id: string,
    changes: SessionPatch,
    updatedAt: string,
    event: LoggedEventType | null,
  ): Promise<Session | null>;
  /**
   * Makes `ports` the session's leases (new ones leased at `now`, others released) and its `ports`
   * field, `updatedAt` set to `now`; returns the session, or `null` when there is none (nothing
   * leased). `unique` (key `port`), with nothing changed, when another session holds one.
   */
  setSessionPorts(id: string, ports: number[], now: string, event: LoggedEventType | null): Promise<Session | null>;
  /** Removes the leases whose session is gone and returns them. */
  releaseOrphanedPorts(): Promise<PortLease[]>;
  /** Removes the session with its secret, leases and tokens; returns the removed row, or `null`. */
  deleteSession(id: string, event: LoggedEventType | null): Promise<Session | null>;
  /**
   * Like {@linkcode deleteSession}, but only a session without a worktree to close (see
   * `hasWorktreeToClose`), in one step: `null` when nothing was removed (no such session, or one
   * with a worktree). Optional: without it the front reads the row first, then deletes.
   */
  deletePlainSession?(id: string, event: LoggedEventType | null): Promise<Session | null>;
  /**
   * Adds or replaces the session's secret; a replaced one keeps its `createdAt` (the given one is
   * used for a new secret). `foreignKey` when the session does not exist.
   */
  putSessionSecret(secret: StoredSessionSecret, event: LoggedEventType | null): Promise<void>;
  /** Removes the session's secret; `true` when there was one. */
  deleteSessionSecret(sessionId: string): Promise<boolean>;
  /** Adds the token; `foreignKey` without its session, `unique` for a taken id or hash. */
  insertSessionToken(token: StoredSessionToken): Promise<void>;
  /**
   * Sets `revokedAt` to `now` unless it is set already, and returns the token, or `null` when the
   * session has no such token.
   */
  revokeSessionToken(sessionId: string, tokenId: string, now: string): Promise<SessionToken | null>;
}
