/**
 * An in-process store: for tests of code built on the orchestrator, ephemeral sessions and embedding.
 *
 * @module
 */

import type { SealedSecret } from "../crypto.ts";
import { SessionError } from "../errors.ts";
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
  comparePosition,
  nowIso,
} from "../validation.ts";
import type { SessionStore } from "./store.ts";
import { withoutHash } from "./_rows.ts";

/**
 * A {@linkcode SessionStore} held in memory. It enforces the same constraints as `SqliteStore`
 * (unique ids and paths, sessions need their repository, secrets go with their session),
 * and every method completes synchronously before its promise settles, so each is atomic.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryStore } from "./memory_store.ts";
 *
 * const store = new MemoryStore();
 * const repository = await store.createRepository({ path: "/src/app", name: "app" });
 * assert.deepEqual(await store.listRepositories(), [repository]);
 * await assert.rejects(store.createRepository({ path: "/src/app", name: "again" }), { kind: "Conflict" });
 * ```
 */
export class MemoryStore implements SessionStore {
  readonly #repositories = new Map<string, Repository>();
  readonly #sessions = new Map<string, Session>();
  readonly #secrets = new Map<string, StoredSessionSecret>();
  readonly #leases = new Map<number, PortLease>();
  readonly #tokens = new Map<string, StoredSessionToken>();

  /** {@inheritDoc SessionReader.getRepository} */
  getRepository(id: string): Promise<Repository | null> {
    return settle(() => copy(this.#repositories.get(parseId(id, "repository id"))));
  }

  /** {@inheritDoc SessionReader.listRepositories} */
  listRepositories(filter: RepositoryFilter = {}): Promise<Repository[]> {
    return settle(() => {
      const { limit, after } = checkRepositoryFilter(filter);
      return page([...this.#repositories.values()], limit, after).map((repository) => ({ ...repository }));
    });
  }

  /** {@inheritDoc SessionReader.getSession} */
  getSession(id: string): Promise<Session | null> {
    return settle(() => copySession(this.#sessions.get(parseId(id, "session id"))));
  }

  /** {@inheritDoc SessionReader.listSessions} */
  listSessions(filter: SessionFilter = {}): Promise<Session[]> {
    return settle(() => {
      const { repositoryId, status, worktreePath, branchName, limit, after } = checkSessionFilter(filter);
      const matching = [...this.#sessions.values()].filter((session) =>
        (repositoryId === null || session.repositoryId === repositoryId) &&
        (status === null || session.status === status) &&
        (worktreePath === null || session.worktreePath === worktreePath) &&
        (branchName === null || session.branchName === branchName)
      );
      return page(matching, limit, after).map((session) => copySession(session)!);
    });
  }

  /** {@inheritDoc SessionReader.getSessionSecret} */
  getSessionSecret(sessionId: string): Promise<StoredSessionSecret | null> {
    return settle(() => {
      const secret = this.#secrets.get(parseId(sessionId, "session id"));
      return secret ? copySecret(secret) : null;
    });
  }

  /** {@inheritDoc SessionReader.listPortLeases} */
  listPortLeases(): Promise<PortLease[]> {
    return settle(() => [...this.#leases.values()].sort((a, b) => a.port - b.port).map((lease) => ({ ...lease })));
  }

  /** {@inheritDoc SessionWriter.createRepository} */
  createRepository(input: NewRepository): Promise<Repository> {
    return settle(() => {
      const repository = buildRepository(input, nowIso());
      if (this.#repositories.has(repository.id)) {
        conflict(`a repository with id ${repository.id} exists`);
      }
      for (const other of this.#repositories.values()) {
        if (other.path === repository.path) {
          conflict(`the repository ${other.id} already has the path ${repository.path}`);
        }
      }
      this.#repositories.set(repository.id, repository);
      return { ...repository };
    });
  }

  /** {@inheritDoc SessionWriter.deleteRepository} */
  deleteRepository(id: string): Promise<Repository | null> {
    return settle(() => {
      const key = parseId(id, "repository id");
      const repository = this.#repositories.get(key);
      if (!repository) return null;
      for (const session of this.#sessions.values()) {
        if (session.repositoryId === key) {
          conflict(`repository ${key} still has sessions; delete them first`);
        }
      }
      this.#repositories.delete(key);
      return repository;
    });
  }

  /** {@inheritDoc SessionWriter.createSession} */
  createSession(input: NewSession, secret?: SealedSecret): Promise<Session> {
    return settle(() => {
      const session = buildSession(input, nowIso());
      const sealed = secret === undefined ? null : checkSessionSecret({ sessionId: session.id, ...secret });
      if (!this.#repositories.has(session.repositoryId)) {
        throw new SessionError(
          "RepositoryNotFound",
          `no repository with id ${session.repositoryId}`,
        );
      }
      if (this.#sessions.has(session.id)) {
        conflict(`a session with id ${session.id} exists`);
      }
      if (session.worktreePath !== null) {
        for (const other of this.#sessions.values()) {
          if (other.worktreePath === session.worktreePath) {
            conflict(
              `worktree path ${session.worktreePath} belongs to session ${other.id}`,
            );
          }
        }
      }
      this.#refuseLeased(session.id, session.ports);
      this.#sessions.set(session.id, session);
      if (sealed !== null) {
        this.#secrets.set(session.id, { ...sealed, createdAt: session.createdAt, updatedAt: session.createdAt });
      }
      for (const port of session.ports) {
        this.#leases.set(port, { port, sessionId: session.id, leasedAt: session.createdAt });
      }
      return copySession(session)!;
    });
  }

  /** {@inheritDoc SessionWriter.updateSession} */
  updateSession(id: string, patch: SessionPatch): Promise<Session | null> {
    return settle(() => {
      const key = parseId(id, "session id");
      const changes = checkSessionPatch(patch);
      const session = this.#sessions.get(key);
      if (!session) return null;
      const updated = { ...session, ...changes, updatedAt: nowIso() };
      this.#sessions.set(key, updated);
      return copySession(updated)!;
    });
  }

  /** {@inheritDoc SessionWriter.deleteSession} */
  deleteSession(id: string): Promise<Session | null> {
    return settle(() => {
      const key = parseId(id, "session id");
      const session = this.#sessions.get(key);
      if (!session) return null;
      this.#sessions.delete(key);
      this.#secrets.delete(key);
      for (const [id, token] of this.#tokens) {
        if (token.sessionId === key) this.#tokens.delete(id);
      }
      for (const port of session.ports) {
        if (this.#leases.get(port)?.sessionId === key) this.#leases.delete(port);
      }
      return session;
    });
  }

  /** {@inheritDoc SessionWriter.setSessionPorts} */
  setSessionPorts(id: string, ports: number[]): Promise<Session | null> {
    return settle(() => {
      const key = parseId(id, "session id");
      const wanted = checkPortList(ports);
      const session = this.#sessions.get(key);
      if (!session) return null;
      this.#refuseLeased(key, wanted);
      const now = nowIso();
      for (const [port, lease] of this.#leases) {
        if (lease.sessionId === key && !wanted.includes(port)) this.#leases.delete(port);
      }
      for (const port of wanted) {
        if (!this.#leases.has(port)) this.#leases.set(port, { port, sessionId: key, leasedAt: now });
      }
      const updated = { ...session, ports: wanted, updatedAt: now };
      this.#sessions.set(key, updated);
      return copySession(updated)!;
    });
  }

  /** {@inheritDoc SessionWriter.releaseOrphanedPorts} */
  releaseOrphanedPorts(): Promise<PortLease[]> {
    return settle(() => {
      const released: PortLease[] = [];
      for (const [port, lease] of [...this.#leases].sort(([a], [b]) => a - b)) {
        if (this.#sessions.has(lease.sessionId)) continue;
        this.#leases.delete(port);
        released.push({ ...lease });
      }
      return released;
    });
  }

  // `Conflict` when another session than `sessionId` holds one of `ports`.
  #refuseLeased(sessionId: string, ports: readonly number[]): void {
    for (const port of ports) {
      const holder = this.#leases.get(port);
      if (holder !== undefined && holder.sessionId !== sessionId) {
        conflict(`port ${port} is leased to session ${holder.sessionId}`);
      }
    }
  }

  /** {@inheritDoc SessionWriter.setSessionSecret} */
  setSessionSecret(input: NewSessionSecret): Promise<void> {
    return settle(() => {
      const secret = checkSessionSecret(input);
      if (!this.#sessions.has(secret.sessionId)) {
        throw new SessionError(
          "SessionNotFound",
          `no session with id ${secret.sessionId}`,
        );
      }
      const now = nowIso();
      const createdAt = this.#secrets.get(secret.sessionId)?.createdAt ?? now;
      this.#secrets.set(secret.sessionId, {
        ...secret,
        createdAt,
        updatedAt: now,
      });
    });
  }

  /** {@inheritDoc SessionWriter.deleteSessionSecret} */
  deleteSessionSecret(sessionId: string): Promise<boolean> {
    return settle(() => this.#secrets.delete(parseId(sessionId, "session id")));
  }

  /** {@inheritDoc SessionReader.getSessionTokenByHash} */
  getSessionTokenByHash(hash: string): Promise<StoredSessionToken | null> {
    return settle(() => {
      const wanted = checkTokenHash(hash);
      const token = [...this.#tokens.values()].find((token) => token.hash === wanted);
      return token === undefined ? null : { ...token };
    });
  }

  /** {@inheritDoc SessionReader.listSessionTokens} */
  listSessionTokens(sessionId: string): Promise<SessionToken[]> {
    return settle(() => {
      const key = parseId(sessionId, "session id");
      return [...this.#tokens.values()].filter((token) => token.sessionId === key)
        .sort((a, b) => a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : 1)
        .map(withoutHash);
    });
  }

  /** {@inheritDoc SessionWriter.createSessionToken} */
  createSessionToken(input: NewSessionToken): Promise<SessionToken> {
    return settle(() => {
      const token = buildSessionToken(input, nowIso());
      if (!this.#sessions.has(token.sessionId)) {
        throw new SessionError("SessionNotFound", `no session with id ${token.sessionId}`);
      }
      if (this.#tokens.has(token.id)) conflict(`a session token with id ${token.id} exists`);
      for (const other of this.#tokens.values()) {
        if (other.hash === token.hash) conflict("a session token with this hash exists");
      }
      this.#tokens.set(token.id, token);
      return withoutHash(token);
    });
  }

  /** {@inheritDoc SessionWriter.revokeSessionToken} */
  revokeSessionToken(sessionId: string, tokenId: string): Promise<SessionToken | null> {
    return settle(() => {
      const key = parseId(sessionId, "session id");
      const token = this.#tokens.get(parseId(tokenId, "token id"));
      if (token === undefined || token.sessionId !== key) return null;
      if (token.revokedAt === null) token.revokedAt = nowIso();
      return withoutHash(token);
    });
  }
}

// The records after `after` in list order, at most `limit` of them. Sorting here is fine for an
// in-process store; SQL stores answer the same question from an index.
function page<T extends ListPosition>(records: T[], limit: number | null, after: ListPosition | null): T[] {
  const sorted = records.filter((record) => after === null || comparePosition(record, after) > 0).sort(comparePosition);
  return limit === null ? sorted : sorted.slice(0, limit);
}

// Runs `work` synchronously and reports its outcome as a promise, so a throw becomes a rejection.
function settle<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (error) {
    return Promise.reject(error);
  }
}

function copy<T extends object>(value: T | undefined): T | null {
  return value === undefined ? null : { ...value };
}

function copySession(session: Session | undefined): Session | null {
  return session === undefined ? null : { ...session, ports: [...session.ports] };
}

function copySecret(secret: StoredSessionSecret): StoredSessionSecret {
  return {
    ...secret,
    encryptedSecret: secret.encryptedSecret.slice(),
    nonce: secret.nonce.slice(),
  };
}

function conflict(message: string): never {
  throw new SessionError("Conflict", message);
}
