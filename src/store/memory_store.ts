/**
 * An in-process store: for tests of code built on the orchestrator, ephemeral sessions and embedding.
 *
 * @module
 */

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
import { comparePosition } from "../_pages.ts";
import { hasWorktreeToClose } from "../worktree_session.ts";
import { CheckedSessionStore } from "./checked_store.ts";
import {
  type PageQuery,
  type SessionQuery,
  type SessionStoreDriver,
  StoreDriverError,
  type UniqueKey,
} from "./driver.ts";
import { SESSION_QUERY_FIELDS, withoutHash } from "./_rows.ts";

/**
 * The driver of {@linkcode MemoryStore}: maps in memory, keeping the same keys and references as the
 * SQL drivers. Every method completes synchronously before its promise settles, so each is atomic.
 * A building block for a driver of your own (one that mirrors its records somewhere, say).
 *
 * @example Behind the checked front
 * ```ts
 * import assert from "node:assert/strict";
 * import { createSessionStore, MemoryStoreDriver } from "../../mod.ts";
 *
 * const store = createSessionStore(new MemoryStoreDriver());
 * const repository = await store.createRepository({ path: "/src/app", name: "app" });
 * assert.deepEqual(await store.listRepositories(), [repository]);
 * ```
 */
export class MemoryStoreDriver implements SessionStoreDriver {
  readonly #repositories = new Map<string, Repository>();
  readonly #sessions = new Map<string, Session>();
  readonly #secrets = new Map<string, StoredSessionSecret>();
  readonly #leases = new Map<number, PortLease>();
  readonly #tokens = new Map<string, StoredSessionToken>();

  /** {@inheritDoc SessionStoreDriver.getRepository} */
  getRepository(id: string): Promise<Repository | null> {
    return settle(() => copy(this.#repositories.get(id)));
  }

  /** {@inheritDoc SessionStoreDriver.listRepositories} */
  listRepositories({ limit, after }: PageQuery): Promise<Repository[]> {
    return settle(() => page([...this.#repositories.values()], limit, after).map((repository) => ({ ...repository })));
  }

  /** {@inheritDoc SessionStoreDriver.getSession} */
  getSession(id: string): Promise<Session | null> {
    return settle(() => copySession(this.#sessions.get(id)));
  }

  /** {@inheritDoc SessionStoreDriver.listSessions} */
  listSessions(query: SessionQuery): Promise<Session[]> {
    return settle(() => {
      const matching = [...this.#sessions.values()].filter((session) =>
        SESSION_QUERY_FIELDS.every((field) => query[field] === null || session[field] === query[field])
      );
      return page(matching, query.limit, query.after).map((session) => copySession(session)!);
    });
  }

  /** {@inheritDoc SessionStoreDriver.getSessionSecret} */
  getSessionSecret(sessionId: string): Promise<StoredSessionSecret | null> {
    return settle(() => {
      const secret = this.#secrets.get(sessionId);
      return secret ? copySecret(secret) : null;
    });
  }

  /** {@inheritDoc SessionStoreDriver.listPortLeases} */
  listPortLeases(): Promise<PortLease[]> {
    return settle(() => [...this.#leases.values()].sort((a, b) => a.port - b.port).map((lease) => ({ ...lease })));
  }

  /** {@inheritDoc SessionStoreDriver.getSessionTokenByHash} */
  getSessionTokenByHash(hash: string): Promise<StoredSessionToken | null> {
    return settle(() => copy([...this.#tokens.values()].find((token) => token.hash === hash)));
  }

  /** {@inheritDoc SessionStoreDriver.listSessionTokens} */
  listSessionTokens(sessionId: string): Promise<SessionToken[]> {
    return settle(() =>
      [...this.#tokens.values()].filter((token) => token.sessionId === sessionId)
        .sort((a, b) => a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : 1)
        .map(withoutHash)
    );
  }

  /** {@inheritDoc SessionStoreDriver.insertRepository} */
  insertRepository(repository: Repository): Promise<void> {
    return settle(() => {
      if (this.#repositories.has(repository.id)) taken("repository.id");
      for (const other of this.#repositories.values()) {
        if (other.path === repository.path) taken("repository.path", other.id);
      }
      this.#repositories.set(repository.id, { ...repository });
    });
  }

  /** {@inheritDoc SessionStoreDriver.deleteRepository} */
  deleteRepository(id: string): Promise<Repository | null> {
    return settle(() => {
      const repository = this.#repositories.get(id);
      if (!repository) return null;
      for (const session of this.#sessions.values()) {
        if (session.repositoryId === id) throw new StoreDriverError("foreignKey", `sessions refer to repository ${id}`);
      }
      this.#repositories.delete(id);
      return repository;
    });
  }

  /** {@inheritDoc SessionStoreDriver.insertSession} */
  insertSession(session: Session, secret: StoredSessionSecret | null): Promise<void> {
    return settle(() => {
      if (!this.#repositories.has(session.repositoryId)) {
        throw new StoreDriverError("foreignKey", `no repository ${session.repositoryId}`);
      }
      if (this.#sessions.has(session.id)) taken("session.id");
      if (session.worktreePath !== null) {
        for (const other of this.#sessions.values()) {
          if (other.worktreePath === session.worktreePath) taken("session.worktreePath", other.id);
        }
      }
      this.#refuseLeased(session.id, session.ports);
      this.#sessions.set(session.id, copySession(session)!);
      if (secret !== null) this.#secrets.set(session.id, copySecret(secret));
      for (const port of session.ports) {
        this.#leases.set(port, { port, sessionId: session.id, leasedAt: session.createdAt });
      }
    });
  }

  /** {@inheritDoc SessionStoreDriver.updateSession} */
  updateSession(id: string, changes: SessionPatch, updatedAt: string): Promise<Session | null> {
    return settle(() => {
      const session = this.#sessions.get(id);
      if (!session) return null;
      const updated = { ...session, ...changes, updatedAt };
      this.#sessions.set(id, updated);
      return copySession(updated)!;
    });
  }

  /** {@inheritDoc SessionStoreDriver.setSessionPorts} */
  setSessionPorts(id: string, ports: number[], now: string): Promise<Session | null> {
    return settle(() => {
      const session = this.#sessions.get(id);
      if (!session) return null;
      this.#refuseLeased(id, ports);
      for (const [port, lease] of this.#leases) {
        if (lease.sessionId === id && !ports.includes(port)) this.#leases.delete(port);
      }
      for (const port of ports) {
        if (!this.#leases.has(port)) this.#leases.set(port, { port, sessionId: id, leasedAt: now });
      }
      const updated = { ...session, ports: [...ports], updatedAt: now };
      this.#sessions.set(id, updated);
      return copySession(updated)!;
    });
  }

  /** {@inheritDoc SessionStoreDriver.releaseOrphanedPorts} */
  releaseOrphanedPorts(): Promise<PortLease[]> {
    return settle(() => {
      const released: PortLease[] = [];
      for (const [port, lease] of this.#leases) {
        if (this.#sessions.has(lease.sessionId)) continue;
        this.#leases.delete(port);
        released.push({ ...lease });
      }
      return released;
    });
  }

  /** {@inheritDoc SessionStoreDriver.deleteSession} */
  deleteSession(id: string): Promise<Session | null> {
    return settle(() => {
      const session = this.#sessions.get(id);
      if (!session) return null;
      this.#sessions.delete(id);
      this.#secrets.delete(id);
      for (const [tokenId, token] of this.#tokens) {
        if (token.sessionId === id) this.#tokens.delete(tokenId);
      }
      for (const port of session.ports) {
        if (this.#leases.get(port)?.sessionId === id) this.#leases.delete(port);
      }
      return session;
    });
  }

  /** {@inheritDoc SessionStoreDriver.deletePlainSession} */
  deletePlainSession(id: string): Promise<Session | null> {
    const session = this.#sessions.get(id);
    return session === undefined || hasWorktreeToClose(session) ? settle(() => null) : this.deleteSession(id);
  }

  /** {@inheritDoc SessionStoreDriver.putSessionSecret} */
  putSessionSecret(secret: StoredSessionSecret): Promise<void> {
    return settle(() => {
      if (!this.#sessions.has(secret.sessionId)) {
        throw new StoreDriverError("foreignKey", `no session ${secret.sessionId}`);
      }
      const createdAt = this.#secrets.get(secret.sessionId)?.createdAt ?? secret.createdAt;
      this.#secrets.set(secret.sessionId, { ...copySecret(secret), createdAt });
    });
  }

  /** {@inheritDoc SessionStoreDriver.deleteSessionSecret} */
  deleteSessionSecret(sessionId: string): Promise<boolean> {
    return settle(() => this.#secrets.delete(sessionId));
  }

  /** {@inheritDoc SessionStoreDriver.insertSessionToken} */
  insertSessionToken(token: StoredSessionToken): Promise<void> {
    return settle(() => {
      if (!this.#sessions.has(token.sessionId)) {
        throw new StoreDriverError("foreignKey", `no session ${token.sessionId}`);
      }
      if (this.#tokens.has(token.id)) taken("token");
      for (const other of this.#tokens.values()) {
        if (other.hash === token.hash) taken("token");
      }
      this.#tokens.set(token.id, { ...token });
    });
  }

  /** {@inheritDoc SessionStoreDriver.revokeSessionToken} */
  revokeSessionToken(sessionId: string, tokenId: string, now: string): Promise<SessionToken | null> {
    return settle(() => {
      const token = this.#tokens.get(tokenId);
      if (token === undefined || token.sessionId !== sessionId) return null;
      if (token.revokedAt === null) token.revokedAt = now;
      return withoutHash(token);
    });
  }

  // `unique` (key `port`) when another session than `sessionId` holds one of `ports`.
  #refuseLeased(sessionId: string, ports: readonly number[]): void {
    for (const port of ports) {
      const holder = this.#leases.get(port);
      if (holder !== undefined && holder.sessionId !== sessionId) taken("port", holder.sessionId, port);
    }
  }
}

/**
 * A {@linkcode SessionStore} held in memory: the checked front over a {@linkcode MemoryStoreDriver}.
 * It enforces the same constraints as `SqliteStore` (unique ids and paths, sessions need their
 * repository, secrets go with their session), and each method is atomic.
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
export class MemoryStore extends CheckedSessionStore {
  /** An empty store. */
  constructor() {
    super(new MemoryStoreDriver());
  }
}

function taken(key: UniqueKey, holder: string | null = null, port: number | null = null): never {
  throw new StoreDriverError("unique", `${key} is taken`, { key, holder, port });
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
  return { ...secret, encryptedSecret: secret.encryptedSecret.slice(), nonce: secret.nonce.slice() };
}
