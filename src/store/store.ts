/**
 * The pluggable storage interface. Every method returns a Promise so any backend fits,
 * from an in-process map to a remote database.
 *
 * Contract, pinned by the conformance suite that `./testing` exports (`testSessionStore`):
 * - returned records are fresh objects with absent optional values as `null`;
 * - bad input throws `SessionError` kind `InvalidInput` and writes nothing;
 * - a duplicate id, repository path or worktree path is `Conflict`;
 * - a session for an unknown repository is `RepositoryNotFound`, a secret for an unknown session `SessionNotFound`;
 * - deleting a repository that still has sessions is `Conflict`;
 * - `deleteSession` is atomic and removes the session's secret, port leases and tokens with it;
 * - a port is leased to at most one session of the store (a unique key, not a check in memory), and
 *   a write that would lease a taken port is `Conflict` and writes nothing;
 * - any other backend failure is `Storage` with the original error as `cause`.
 *
 * @module
 */

import type { SealedSecret } from "../crypto.ts";
import type { RepositoryId, SessionId } from "../ids.ts";
import type {
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

/** The read side of a store. */
export interface SessionReader {
  /** The repository, or `null` when there is none with this id. */
  getRepository(id: RepositoryId): Promise<Repository | null>;
  /** Repositories by `(createdAt, id)`, oldest first; a page of them with `limit` and `after`. */
  listRepositories(filter?: RepositoryFilter): Promise<Repository[]>;
  /** The session, or `null` when there is none with this id. */
  getSession(id: SessionId): Promise<Session | null>;
  /**
   * Sessions by `(createdAt, id)`, oldest first, optionally of one repository or status; a page of
   * them with `limit` and `after`. A store answers a page with an index, not by reading every row.
   */
  listSessions(filter?: SessionFilter): Promise<Session[]>;
  /** The session's encrypted secret, or `null`. */
  getSessionSecret(sessionId: SessionId): Promise<StoredSessionSecret | null>;
  /** Every port lease of the store, by port ascending. */
  listPortLeases(): Promise<PortLease[]>;
  /** The scoped token with this SHA-256 hash (revoked or not), or `null`. */
  getSessionTokenByHash(hash: string): Promise<StoredSessionToken | null>;
  /** The scoped tokens of a session (revoked ones too), oldest first, without their hashes. */
  listSessionTokens(sessionId: SessionId): Promise<SessionToken[]>;
}

/**
 * What a write that makes an announced change carries. A store with an event log (see `EventLog`)
 * writes the change's lifecycle event in the change's own transaction; the other stores ignore it.
 */
export interface WriteOptions {
  /**
   * Log the change's event with it: `repository.created` for `createRepository`, `repository.deleted`,
   * `session.created`, `session.updated` (also for `setSessionPorts`) and `session.deleted` for the
   * others (each with the record the write returns), `session.secret.stored` for `setSessionSecret`; nothing when the write
   * returns `null` (nothing changed) or fails.
   */
  logEvent?: boolean;
  /**
   * For `updateSession` with `logEvent`: log the change as this event (with the updated record)
   * instead of `session.updated`. The orchestrator's archive and restore steps use it.
   */
  logAs?: "session.archived" | "session.restored";
}

/** The write side of a store. */
export interface SessionWriter {
  /** Adds a repository; `Conflict` when its id or path is taken. */
  createRepository(input: NewRepository, options?: WriteOptions): Promise<Repository>;
  /** Removes a repository and returns it, or `null`; `Conflict` while it has sessions. */
  deleteRepository(id: RepositoryId, options?: WriteOptions): Promise<Repository | null>;
  /**
   * Adds a session, and with `secret` its sealed secret in the same transaction, so that no
   * crash can leave the one without the other; `RepositoryNotFound`, or `Conflict` when its id or
   * worktree path is taken.
   */
  createSession(input: NewSession, secret?: SealedSecret, options?: WriteOptions): Promise<Session>;
  /** Changes a session and returns it, or `null` when it does not exist. */
  updateSession(id: SessionId, patch: SessionPatch, options?: WriteOptions): Promise<Session | null>;
  /**
   * Makes `ports` the session's leased ports in one transaction: leases those it does not hold yet,
   * releases those it holds and are not listed, and records the list on the row. Returns the
   * updated session, or `null` when it does not exist (nothing leased). `Conflict`, with nothing
   * changed, when another session holds one of them; `InvalidInput` for a bad list.
   */
  setSessionPorts(id: SessionId, ports: number[], options?: WriteOptions): Promise<Session | null>;
  /**
   * Releases the leases whose session row is gone (none are left by this interface's writes, but a
   * database edited by other means may have them) and returns them; leases of live sessions stay.
   */
  releaseOrphanedPorts(): Promise<PortLease[]>;
  /** Atomically removes a session, its secret and its port leases; returns the removed row, or `null`. */
  deleteSession(id: SessionId, options?: WriteOptions): Promise<Session | null>;
  /**
   * Removes a session as `deleteSession` does, but only one without a worktree to close (not a
   * worktree session, or one with no worktree path or branch recorded): the delete of a caller that
   * closes worktrees first, in one round trip for the common case. `null` when nothing was removed:
   * no such session, or one with a worktree (read it to tell which). Optional: without it the
   * orchestrator reads the session first.
   */
  deletePlainSession?(id: SessionId, options?: WriteOptions): Promise<Session | null>;
  /** Adds or replaces a session's encrypted secret; `SessionNotFound` when the session does not exist. */
  setSessionSecret(input: NewSessionSecret, options?: WriteOptions): Promise<void>;
  /** Removes a session's secret and keeps the session; `true` when there was one. */
  deleteSessionSecret(sessionId: SessionId): Promise<boolean>;
  /**
   * Records a token scoped to a session, by its hash; `SessionNotFound` when the session does not
   * exist, `Conflict` when the id or the hash is taken. The token goes with its session's row.
   */
  createSessionToken(input: NewSessionToken): Promise<SessionToken>;
  /**
   * Marks the session's token `tokenId` revoked (once: a revoked one keeps its first `revokedAt`)
   * and returns it, or `null` when the session has no such token.
   */
  revokeSessionToken(sessionId: SessionId, tokenId: string): Promise<SessionToken | null>;
}

/** A complete store: both sides. */
export type SessionStore = SessionReader & SessionWriter;

/** Options of a backup. */
export interface BackupOptions {
  /** Replace a file that already exists at the destination; refused (`Conflict`) by default. */
  overwrite?: boolean;
}

/** What a backup wrote: read back from the copy itself, once it passed SQLite's integrity check. */
export interface StoreBackup {
  /** The file written (absolute). */
  path: string;
  /** Its size in bytes. */
  bytes: number;
  /** How many sessions the copy holds. */
  sessions: number;
  /** How many repositories the copy holds. */
  repositories: number;
  /** What `PRAGMA integrity_check` said of the copy: a copy that fails it is never put in place. */
  integrity: "ok";
}

/**
 * A store that can write a consistent copy of its database to a file while it is in use (the
 * platform's SQLite store: `VACUUM INTO` a temp file beside the destination, checked, then renamed
 * into place). A store without it (`MemoryStore`) cannot be backed up this way.
 */
export interface BackupCapableStore {
  /**
   * Writes the copy to `destination` (an absolute path in a folder that exists). An existing file
   * there is `Conflict` unless `overwrite`; a folder, a missing folder or the live database's own
   * files are `InvalidInput`. Nothing is left at the destination unless the whole copy passed the
   * integrity check.
   */
  backup(destination: string, options?: BackupOptions): Promise<StoreBackup>;
}

/** The store's backup capability (see {@linkcode BackupCapableStore}), or `null` when it has none. */
export function backupCapabilityOf(store: unknown): BackupCapableStore | null {
  let backup: unknown;
  try {
    backup = (store as { backup?: unknown } | null | undefined)?.backup;
  } catch {
    return null; // A wrapper that answers only the store methods.
  }
  return typeof backup === "function" ? store as BackupCapableStore : null;
}
