/**
 * The one front every store is: it checks and normalises what comes in, sets the timestamps, and
 * turns what a {@linkcode SessionStoreDriver} reports into the contract's error kinds and messages,
 * so that each backend is only a driver and every backend refuses bad input the same way.
 *
 * @module
 */

import type { SealedSecret } from "../crypto.ts";
import { SessionError, toStorageError } from "../errors.ts";
import { parseId } from "../ids.ts";
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
import {
  buildRepository,
  buildSession,
  buildSessionToken,
  checkSessionPatch,
  checkSessionSecret,
  checkTokenHash,
} from "../_records.ts";
import { checkPortList } from "../_field_checks.ts";
import { checkRepositoryFilter, checkSessionFilter } from "../_pages.ts";
import { nowIso } from "../_clock.ts";
import { hasWorktreeToClose } from "../worktree_session.ts";
import { type LoggedEventType, type SessionStoreDriver, StoreDriverError } from "./driver.ts";
import type { SessionStore, WriteOptions } from "./store.ts";

// What a driver's `foreignKey` means for the operation that met it.
type ForeignKeyMeaning = () => SessionError;

/**
 * A {@linkcode SessionStore} over a {@linkcode SessionStoreDriver}: what `MemoryStore`,
 * `SqliteStore` and `PostgresStore` are, and what {@linkcode createSessionStore} makes of a driver
 * of your own. It keeps the whole contract the conformance suite (`./testing`) pins but for the
 * raw reads and writes: bad input is `InvalidInput` before the driver is called, a taken key
 * `Conflict`, a missing reference `RepositoryNotFound` or `SessionNotFound`, and any other failure
 * of the driver `Storage` with the driver's error as `cause`.
 */
export class CheckedSessionStore implements SessionStore {
  readonly #driver: SessionStoreDriver;

  /**
   * Puts the front over `driver`.
   *
   * @param driver the backend's raw reads and writes
   */
  constructor(driver: SessionStoreDriver) {
    this.#driver = driver;
  }

  /** {@inheritDoc SessionReader.getRepository} */
  getRepository(id: string): Promise<Repository | null> {
    return this.#run("reading a repository", () => this.#driver.getRepository(parseId(id, "repository id")));
  }

  /** {@inheritDoc SessionReader.listRepositories} */
  listRepositories(filter: RepositoryFilter = {}): Promise<Repository[]> {
    return this.#run("listing repositories", () => this.#driver.listRepositories(checkRepositoryFilter(filter)));
  }

  /** {@inheritDoc SessionReader.getSession} */
  getSession(id: string): Promise<Session | null> {
    return this.#run("reading a session", () => this.#driver.getSession(parseId(id, "session id")));
  }

  /** {@inheritDoc SessionReader.listSessions} */
  listSessions(filter: SessionFilter = {}): Promise<Session[]> {
    return this.#run("listing sessions", () => this.#driver.listSessions(checkSessionFilter(filter)));
  }

  /** {@inheritDoc SessionReader.getSessionSecret} */
  getSessionSecret(sessionId: string): Promise<StoredSessionSecret | null> {
    return this.#run(
      "reading a session secret",
      () => this.#driver.getSessionSecret(parseId(sessionId, "session id")),
    );
  }

  /** {@inheritDoc SessionReader.listPortLeases} */
  listPortLeases(): Promise<PortLease[]> {
    return this.#run("listing port leases", () => this.#driver.listPortLeases());
  }

  /** {@inheritDoc SessionReader.getSessionTokenByHash} */
  getSessionTokenByHash(hash: string): Promise<StoredSessionToken | null> {
    return this.#run("reading a session token", () => this.#driver.getSessionTokenByHash(checkTokenHash(hash)));
  }

  /** {@inheritDoc SessionReader.listSessionTokens} */
  listSessionTokens(sessionId: string): Promise<SessionToken[]> {
    return this.#run(
      "listing session tokens",
      () => this.#driver.listSessionTokens(parseId(sessionId, "session id")),
    );
  }

  /** {@inheritDoc SessionWriter.createRepository} */
  createRepository(input: NewRepository, options?: WriteOptions): Promise<Repository> {
    return this.#run("creating a repository", async () => {
      const repository = buildRepository(input, nowIso());
      await this.#driver.insertRepository(repository, logged(options, "repository.created"))
        .catch(this.#refuse({ repository }));
      return repository;
    });
  }

  /** {@inheritDoc SessionWriter.deleteRepository} */
  deleteRepository(id: string, options?: WriteOptions): Promise<Repository | null> {
    return this.#run("deleting a repository", () => {
      const key = parseId(id, "repository id");
      return this.#driver.deleteRepository(key, logged(options, "repository.deleted")).catch(this.#refuse({
        foreignKey: () => new SessionError("Conflict", `repository ${key} still has sessions; delete them first`),
      }));
    });
  }

  /** {@inheritDoc SessionWriter.createSession} */
  createSession(input: NewSession, secret?: SealedSecret, options?: WriteOptions): Promise<Session> {
    return this.#run("creating a session", async () => {
      const session = buildSession(input, nowIso());
      const sealed = secret === undefined ? null : {
        ...checkSessionSecret({ sessionId: session.id, ...secret }),
        createdAt: session.createdAt,
        updatedAt: session.createdAt,
      };
      await this.#driver.insertSession(session, sealed, logged(options, "session.created")).catch(this.#refuse({
        session,
        foreignKey: () => new SessionError("RepositoryNotFound", `no repository with id ${session.repositoryId}`),
      }));
      return session;
    });
  }

  /** {@inheritDoc SessionWriter.updateSession} */
  updateSession(id: string, patch: SessionPatch, options?: WriteOptions): Promise<Session | null> {
    return this.#run("updating a session", () => {
      const key = parseId(id, "session id");
      const changes = checkSessionPatch(patch);
      return this.#driver.updateSession(key, changes, nowIso(), logged(options, options?.logAs ?? "session.updated"));
    });
  }

  /** {@inheritDoc SessionWriter.setSessionPorts} */
  setSessionPorts(id: string, ports: number[], options?: WriteOptions): Promise<Session | null> {
    return this.#run("leasing ports", () => {
      const key = parseId(id, "session id");
      const wanted = checkPortList(ports);
      return this.#driver.setSessionPorts(key, wanted, nowIso(), logged(options, "session.updated"))
        .catch(this.#refuse({}));
    });
  }

  /** {@inheritDoc SessionWriter.releaseOrphanedPorts} */
  releaseOrphanedPorts(): Promise<PortLease[]> {
    return this.#run(
      "releasing orphaned port leases",
      async () => (await this.#driver.releaseOrphanedPorts()).sort((a, b) => a.port - b.port),
    );
  }

  /** {@inheritDoc SessionWriter.deleteSession} */
  deleteSession(id: string, options?: WriteOptions): Promise<Session | null> {
    return this.#run(
      "deleting a session",
      () => this.#driver.deleteSession(parseId(id, "session id"), logged(options, "session.deleted")),
    );
  }

  /** {@inheritDoc SessionWriter.deletePlainSession} */
  deletePlainSession(id: string, options?: WriteOptions): Promise<Session | null> {
    return this.#run("deleting a session", async () => {
      const key = parseId(id, "session id");
      const event = logged(options, "session.deleted");
      if (this.#driver.deletePlainSession !== undefined) return await this.#driver.deletePlainSession(key, event);
      const session = await this.#driver.getSession(key);
      if (session === null || hasWorktreeToClose(session)) return null;
      return await this.#driver.deleteSession(key, event);
    });
  }

  /** {@inheritDoc SessionWriter.setSessionSecret} */
  setSessionSecret(input: NewSessionSecret, options?: WriteOptions): Promise<void> {
    return this.#run("storing a session secret", () => {
      const secret = checkSessionSecret(input);
      const now = nowIso();
      return this.#driver.putSessionSecret(
        { ...secret, createdAt: now, updatedAt: now },
        logged(options, "session.secret.stored"),
      ).catch(this.#refuse({
        foreignKey: () => new SessionError("SessionNotFound", `no session with id ${secret.sessionId}`),
      }));
    });
  }

  /** {@inheritDoc SessionWriter.deleteSessionSecret} */
  deleteSessionSecret(sessionId: string): Promise<boolean> {
    return this.#run(
      "deleting a session secret",
      () => this.#driver.deleteSessionSecret(parseId(sessionId, "session id")),
    );
  }

  /** {@inheritDoc SessionWriter.createSessionToken} */
  createSessionToken(input: NewSessionToken): Promise<SessionToken> {
    return this.#run("storing a session token", async () => {
      const token = buildSessionToken(input, nowIso());
      await this.#driver.insertSessionToken(token).catch(this.#refuse({
        foreignKey: () => new SessionError("SessionNotFound", `no session with id ${token.sessionId}`),
      }));
      return { id: token.id, sessionId: token.sessionId, createdAt: token.createdAt, revokedAt: token.revokedAt };
    });
  }

  /** {@inheritDoc SessionWriter.revokeSessionToken} */
  revokeSessionToken(sessionId: string, tokenId: string): Promise<SessionToken | null> {
    return this.#run("revoking a session token", () => {
      const session = parseId(sessionId, "session id");
      return this.#driver.revokeSessionToken(session, parseId(tokenId, "token id"), nowIso());
    });
  }

  // The contract's error for a driver's refusal of a write: the key it names, with the record it
  // was about; `foreignKey` as the operation means it. Anything else is left to `#run`.
  #refuse(about: { repository?: Repository; session?: Session; foreignKey?: ForeignKeyMeaning }) {
    return (error: unknown): never => {
      if (!(error instanceof StoreDriverError)) throw error;
      if (error.problem === "foreignKey" && about.foreignKey !== undefined) {
        throw withCause(about.foreignKey(), error);
      }
      if (error.problem !== "unique") throw error;
      throw new SessionError("Conflict", conflictMessage(error, about), { cause: error });
    };
  }

  // Runs one call: its checks and its driver call, whose failures become the contract's kinds.
  async #run<T>(action: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw storeFailure(error, action);
    }
  }
}

/**
 * A {@linkcode SessionStore} over `driver`: the contract's checks, normal forms, timestamps and
 * error kinds in front of the driver's raw reads and writes. A store written this way passes the
 * conformance suite `testSessionStore` of `./testing` once its driver keeps its keys and references.
 *
 * @example A driver's refusal becomes the contract's error
 * ```ts
 * import assert from "node:assert/strict";
 * import { createSessionStore, MemoryStoreDriver } from "../../mod.ts";
 *
 * const store = createSessionStore(new MemoryStoreDriver());
 * await assert.rejects(store.getSession("not-an-id"), { kind: "InvalidInput" });
 * await store.createRepository({ path: "/src/app", name: "app" });
 * await assert.rejects(store.createRepository({ path: "/src/app", name: "twin" }), { kind: "Conflict" });
 * ```
 */
export function createSessionStore(driver: SessionStoreDriver): SessionStore {
  return new CheckedSessionStore(driver);
}

// The event to log with a write, when the caller asked for one.
function logged(options: WriteOptions | undefined, type: LoggedEventType): LoggedEventType | null {
  return options?.logEvent === true ? type : null;
}

function withCause(error: SessionError, cause: unknown): SessionError {
  return new SessionError(error.kind, error.message, { cause });
}

// What a `Conflict` says: which key is taken, and by whom where the driver knows.
function conflictMessage(
  error: StoreDriverError,
  about: { repository?: Repository; session?: Session },
): string {
  const { repository, session } = about;
  switch (error.key) {
    case "repository.path":
      return error.holder === null
        ? `a repository already has the path ${repository?.path}`
        : `the repository ${error.holder} already has the path ${repository?.path}`;
    case "repository.id":
      return `a repository with id ${repository?.id} exists`;
    case "session.worktreePath":
      return error.holder === null
        ? `worktree path ${session?.worktreePath} belongs to another session`
        : `worktree path ${session?.worktreePath} belongs to session ${error.holder}`;
    case "session.id":
      return `a session with id ${session?.id} exists`;
    case "port":
      if (error.port === null) return "a port is leased to another session";
      return `port ${error.port} is leased to ${error.holder === null ? "another session" : `session ${error.holder}`}`;
    case "token":
      return "a session token with this id or hash exists";
    default:
      return "a record with the same key exists";
  }
}

/**
 * Any failure of a store call as the contract's error: a `SessionError` as it is, a driver's
 * `unavailable` as a temporary `Storage` error, its `badValue` as `InvalidInput`, and anything else
 * `Storage` naming `action`, the error as `cause`. Internal: for the drivers' own calls outside the
 * front (an event log's pruning, a key check).
 */
export function storeFailure(error: unknown, action: string): SessionError {
  if (error instanceof SessionError) return error;
  if (error instanceof StoreDriverError) {
    if (error.problem === "unavailable") {
      return toStorageError(error.cause ?? error, action, { retryAfterSeconds: error.retryAfterSeconds });
    }
    if (error.problem === "badValue") {
      return new SessionError("InvalidInput", `the database cannot store a value: ${error.message}`, {
        cause: error.cause ?? error,
      });
    }
  }
  return toStorageError(error, action);
}
