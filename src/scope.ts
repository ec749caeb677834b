/**
 * What a scoped token may do: the one place its rules are decided. Make a view with the
 * orchestrator's `asScope(scope)`; every entry point (HTTP, MCP through HTTP) calls it instead of
 * the orchestrator itself.
 *
 * @module
 */

import { decodeCursor, encodeCursor } from "./_cursor.ts";
import { comparePosition } from "./_pages.ts";
import { SessionError } from "./errors.ts";
import type { LifecycleEvent } from "./events.ts";
import type { TransientEvent } from "./progress.ts";
import type { GcOptions, GcReport } from "./gc.ts";
import { parseId, type RepositoryId, type SessionId } from "./ids.ts";
import type {
  ArchivedSession,
  ClosedSession,
  CloseSessionOptions,
  ReconcileOptions,
  ReconcileReport,
  RepositoryPool,
} from "./lifecycle.ts";
import type { SessionGitStatus } from "./lifecycle.ts";
import type {
  CreateSessionRequest,
  ForkSessionRequest,
  ListRepositoriesOptions,
  ListSessionsOptions,
  ListSnapshotsOptions,
  PruneSnapshotsOptions,
  PruneSnapshotsReport,
  RepositoryPage,
  RestoreSnapshotRequest,
  SessionOrchestrator,
  SessionPage,
  SnapshotList,
} from "./orchestrator.ts";
import type { BackupOptions, StoreBackup } from "./store/store.ts";
import type { MintedToken, Scope } from "./tokens.ts";
import type { NewRepository, Repository, Session, SessionPatch, SessionToken } from "./types.ts";

// How far up a chain of parents is followed: deeper chains are not made by any agent in practice,
// and a bound keeps a hand-edited cycle from looping.
const MAX_DEPTH = 1000;
// The page read from the store while a scoped list filters it.
const SCAN_PAGE = 1000;

/**
 * The orchestrator as one caller may use it. With the root scope (the server's own token), each
 * method is the orchestrator's. With a session's scope (a token minted for session S):
 * - S itself can be read (get, list, status, its secret) and tokens minted or revoked for it, but
 *   not changed, archived, restored, forked or deleted (`Forbidden`);
 * - every session under S (made with a token of S, or of a session under S: `parentSessionId`
 *   leads to S) can be read, changed, archived, restored, forked and deleted;
 * - any other session answers `SessionNotFound`, exactly as one that does not exist, so a token
 *   never learns another session's existence, fields or secret;
 * - a create (or fork) records `parentSessionId` S, and must be of S's repository (`Forbidden`);
 * - repositories, snapshots, gc, reconcile and backup are `Forbidden`;
 * - events are only those of S and the sessions under it.
 */
export class ScopedOrchestrator {
  readonly #o: SessionOrchestrator;
  readonly #scope: Scope;

  /** A view of `orchestrator` for `scope`; the orchestrator's `asScope` makes it. */
  constructor(orchestrator: SessionOrchestrator, scope: Scope) {
    this.#o = orchestrator;
    if (scope?.kind !== "root" && scope?.kind !== "session") {
      throw new SessionError("InvalidInput", 'a scope is { kind: "root" } or { kind: "session", sessionId, tokenId }');
    }
    this.#scope = scope.kind === "root"
      ? scope
      : { kind: "session", sessionId: parseId(scope.sessionId, "session id"), tokenId: scope.tokenId };
  }

  /** The scope this view enforces. */
  get scope(): Scope {
    return this.#scope;
  }

  /** `Forbidden` unless the scope is root: for what only the server's own token may do (`what` names it). */
  requireRoot(what: string): void {
    if (this.#scope.kind === "session") {
      throw new SessionError(
        "Forbidden",
        `a token scoped to session ${this.#scope.sessionId} cannot ${what}; that needs the server's token`,
      );
    }
  }

  // The session `id` when the scope reaches it (`write`: to change it, which its own session is
  // not), else the error a missing session gets. Root: `null`, nothing read.
  async #reach(id: SessionId, write: boolean): Promise<Session | null> {
    if (this.#scope.kind === "root") return null;
    const key = parseId(id, "session id");
    const session = await this.#o.getSession(key);
    if (session === null || !(await this.#within(session))) {
      throw new SessionError("SessionNotFound", `no session with id ${key}`);
    }
    if (write && session.id === this.#scope.sessionId) {
      throw new SessionError(
        "Forbidden",
        `a token scoped to session ${key} may read it but not change, archive, restore, fork or delete it`,
      );
    }
    return session;
  }

  // Every session a session's scope reaches: its session, then the sessions made under each reached
  // one, level by level (each level from the index on parentSessionId), as deep as `#within` looks.
  // So a scoped list reads the scope's own tree, never every session of the store.
  async #tree(): Promise<Session[]> {
    if (this.#scope.kind === "root") return [];
    const root = await this.#o.getSession(this.#scope.sessionId);
    if (root === null) return [];
    const reached = [root];
    const seen = new Set([root.id]);
    let level = [root.id];
    for (let depth = 0; level.length > 0 && depth < MAX_DEPTH - 1; depth++) {
      const next: SessionId[] = [];
      for (const parentSessionId of level) {
        let cursor: string | null = null;
        do {
          const page: SessionPage = await this.#o.listSessions({
            parentSessionId,
            limit: SCAN_PAGE,
            ...(cursor === null ? {} : { cursor }),
          });
          for (const child of page.sessions) {
            if (seen.has(child.id)) continue;
            seen.add(child.id);
            reached.push(child);
            next.push(child.id);
          }
          cursor = page.nextCursor;
        } while (cursor !== null);
      }
      level = next;
    }
    return reached;
  }

  // Whether `session` is the scope's session or under it.
  async #within(session: Session, memo: Map<string, boolean> = new Map()): Promise<boolean> {
    if (this.#scope.kind === "root") return true;
    const root = this.#scope.sessionId;
    const seen: string[] = [];
    let current: Session | null = session;
    let answer = false;
    for (let depth = 0; current !== null && depth < MAX_DEPTH; depth++) {
      const known = memo.get(current.id);
      if (known !== undefined) {
        answer = known;
        break;
      }
      seen.push(current.id);
      if (current.id === root) {
        answer = true;
        break;
      }
      if (current.parentSessionId === null || seen.includes(current.parentSessionId)) break;
      current = await this.#o.getSession(current.parentSessionId);
    }
    for (const id of seen) memo.set(id, answer);
    return answer;
  }

  /**
   * Whether a caller of this scope is shown `event` (on the event stream). A create's progress is
   * shown when the session is made under one the scope reaches.
   */
  async sees(event: LifecycleEvent | TransientEvent): Promise<boolean> {
    if (this.#scope.kind === "root") return true;
    switch (event.type) {
      case "session.progress": {
        if (event.parentSessionId === null) return false;
        const parent = await this.#o.getSession(event.parentSessionId);
        return parent !== null && await this.#within(parent);
      }
      case "repository.created":
      case "repository.deleted":
        return false;
      case "session.secret.stored": {
        const session = await this.#o.getSession(event.sessionId);
        return session !== null && await this.#within(session);
      }
      default:
        return await this.#within(event.session);
    }
  }

  // --- repositories, snapshots, maintenance: the server's token only ---

  /** The orchestrator's `listRepositories`; `Forbidden` for a session's scope. */
  listRepositories(options?: ListRepositoriesOptions): Promise<RepositoryPage> {
    this.requireRoot("list repositories");
    return this.#o.listRepositories(options);
  }

  /** The orchestrator's `createRepository`; `Forbidden` for a session's scope. */
  createRepository(input: NewRepository): Promise<Repository> {
    this.requireRoot("add repositories");
    return this.#o.createRepository(input);
  }

  /** The orchestrator's `getRepository`; `Forbidden` for a session's scope. */
  getRepository(id: RepositoryId): Promise<Repository | null> {
    this.requireRoot("read repositories");
    return this.#o.getRepository(id);
  }

  /** The orchestrator's `deleteRepository`; `Forbidden` for a session's scope. */
  deleteRepository(id: RepositoryId): Promise<Repository | null> {
    this.requireRoot("delete repositories");
    return this.#o.deleteRepository(id);
  }

  /** The orchestrator's `repositoryPool`; `Forbidden` for a session's scope. */
  repositoryPool(repositoryId: RepositoryId): Promise<RepositoryPool> {
    this.requireRoot("read a repository's worktree pool");
    return this.#o.repositoryPool(repositoryId);
  }

  /** The orchestrator's `listSnapshots`; `Forbidden` for a session's scope. */
  listSnapshots(repositoryId: RepositoryId, options?: ListSnapshotsOptions): Promise<SnapshotList> {
    this.requireRoot("list a repository's snapshots");
    return this.#o.listSnapshots(repositoryId, options);
  }

  /** The orchestrator's `pruneSnapshots`; `Forbidden` for a session's scope. */
  pruneSnapshots(repositoryId: RepositoryId, options?: PruneSnapshotsOptions): Promise<PruneSnapshotsReport> {
    this.requireRoot("prune snapshots");
    return this.#o.pruneSnapshots(repositoryId, options);
  }

  /** The orchestrator's `restoreSnapshot`; `Forbidden` for a session's scope. */
  restoreSnapshot(repositoryId: RepositoryId, ref: string, request?: RestoreSnapshotRequest): Promise<Session> {
    this.requireRoot("restore snapshots");
    return this.#o.restoreSnapshot(repositoryId, ref, request);
  }

  /** The orchestrator's `reconcile`; `Forbidden` for a session's scope. */
  reconcile(options?: ReconcileOptions): Promise<ReconcileReport> {
    this.requireRoot("reconcile");
    return this.#o.reconcile(options);
  }

  /** The orchestrator's `gc`; `Forbidden` for a session's scope. */
  gc(options?: GcOptions): Promise<GcReport> {
    this.requireRoot("run gc");
    return this.#o.gc(options);
  }

  /** The orchestrator's `backup`; `Forbidden` for a session's scope. */
  backup(destination: string, options?: BackupOptions): Promise<StoreBackup> {
    this.requireRoot("back up the database");
    return this.#o.backup(destination, options);
  }

  // --- sessions ---

  /**
   * A page of the sessions the scope reaches, oldest first (see the orchestrator's `listSessions`).
   * For a session's scope, the pages are the reachable sessions only, and a cursor continues after
   * the last one given.
   */
  async listSessions(options: ListSessionsOptions = {}): Promise<SessionPage> {
    if (this.#scope.kind === "root") return await this.#o.listSessions(options);
    await this.#o.listSessions({ ...options, limit: 1 }); // checks the options and cursor as the orchestrator does
    const limit = options.limit ?? 100;
    const after = options.cursor === undefined ? null : decodeCursor(options.cursor);
    const found = (await this.#tree()).filter((session) =>
      (options.repositoryId === undefined || session.repositoryId === options.repositoryId) &&
      (options.status === undefined || session.status === options.status) &&
      (options.parentSessionId === undefined || session.parentSessionId === options.parentSessionId) &&
      (after === null || comparePosition(session, after) > 0)
    ).sort(comparePosition);
    return {
      sessions: found.slice(0, limit),
      nextCursor: found.length > limit ? encodeCursor(found[limit - 1]) : null,
    };
  }

  /** The session, or `null` when it does not exist or the scope does not reach it. */
  async getSession(id: SessionId): Promise<Session | null> {
    if (this.#scope.kind === "root") return await this.#o.getSession(id);
    try {
      return await this.#reach(id, false);
    } catch (error) {
      if (error instanceof SessionError && error.kind === "SessionNotFound") return null;
      throw error;
    }
  }

  /**
   * Creates a session (see the orchestrator's `createSession`). For a session's scope it is
   * recorded with `parentSessionId` the scope's session, and must be of that session's repository
   * (`Forbidden` otherwise).
   */
  async createSession(request: CreateSessionRequest): Promise<Session> {
    if (this.#scope.kind === "root") return await this.#o.createSession(request);
    return await this.#o.createSession({ ...request, ...(await this.#parented(request?.repositoryId)) });
  }

  // The parentSessionId of what the scope creates, once the repository is checked to be its session's.
  async #parented(repositoryId: unknown): Promise<{ parentSessionId: SessionId }> {
    const own = this.#scope.kind === "session" ? await this.#o.getSession(this.#scope.sessionId) : null;
    if (own === null) throw new SessionError("SessionNotFound", "the token's session is gone");
    if (repositoryId !== own.repositoryId) {
      throw new SessionError(
        "Forbidden",
        `a token scoped to session ${own.id} may only create sessions of its repository ${own.repositoryId}`,
      );
    }
    return { parentSessionId: own.id };
  }

  /** The orchestrator's `updateSession`, for a session the scope may change; `null` when it may not see it. */
  async updateSession(id: SessionId, patch: SessionPatch): Promise<Session | null> {
    if ((await this.getSession(id)) === null) return null;
    await this.#reach(id, true);
    return await this.#o.updateSession(id, patch);
  }

  /** The orchestrator's `deleteSession`, for a session the scope may change; `null` when it may not see it. */
  async deleteSession(id: SessionId, options?: CloseSessionOptions): Promise<ClosedSession | null> {
    if ((await this.getSession(id)) === null) return null;
    await this.#reach(id, true);
    return await this.#o.deleteSession(id, options);
  }

  /** The orchestrator's `archiveSession`, for a session the scope may change. */
  async archiveSession(id: SessionId): Promise<ArchivedSession> {
    await this.#reach(id, true);
    return await this.#o.archiveSession(id);
  }

  /** The orchestrator's `restoreSession`, for a session the scope may change. */
  async restoreSession(id: SessionId): Promise<Session> {
    await this.#reach(id, true);
    return await this.#o.restoreSession(id);
  }

  /** The orchestrator's `runSetup`, for a session the scope may change. */
  async runSetup(id: SessionId): Promise<Session> {
    await this.#reach(id, true);
    return await this.#o.runSetup(id);
  }

  /** The orchestrator's `forkSession`, for a session the scope may change; the fork is recorded under the scope. */
  async forkSession(id: SessionId, request: ForkSessionRequest = {}): Promise<Session> {
    const source = await this.#reach(id, true);
    if (source === null) return await this.#o.forkSession(id, request);
    return await this.#o.forkSession(id, { ...request, ...(await this.#parented(source.repositoryId)) });
  }

  /** The orchestrator's `sessionStatus`, for a session the scope reaches. */
  async sessionStatus(id: SessionId): Promise<SessionGitStatus> {
    await this.#reach(id, false);
    return await this.#o.sessionStatus(id);
  }

  /** The orchestrator's `storeSessionSecret`, for a session the scope may change. */
  async storeSessionSecret(id: SessionId, encryptedSecret: Uint8Array, nonce: Uint8Array): Promise<void> {
    await this.#reach(id, true);
    return await this.#o.storeSessionSecret(id, encryptedSecret, nonce);
  }

  /** The orchestrator's `resolveSessionSecret`, for a session the scope reaches (`SessionNotFound` otherwise). */
  async resolveSessionSecret(id: SessionId): Promise<Uint8Array | null> {
    await this.#reach(id, false);
    return await this.#o.resolveSessionSecret(id);
  }

  // --- tokens ---

  /** The orchestrator's `mintToken`, for a session the scope reaches (`SessionNotFound` otherwise). */
  async mintToken(sessionId: SessionId): Promise<MintedToken> {
    await this.#reach(sessionId, false);
    return await this.#o.mintToken(sessionId);
  }

  /** The orchestrator's `revokeToken`, for a session the scope reaches (`SessionNotFound` otherwise). */
  async revokeToken(sessionId: SessionId, tokenId: string): Promise<SessionToken | null> {
    await this.#reach(sessionId, false);
    return await this.#o.revokeToken(sessionId, tokenId);
  }

  /** The orchestrator's `listTokens`, for a session the scope reaches (`SessionNotFound` otherwise). */
  async listTokens(sessionId: SessionId): Promise<SessionToken[]> {
    await this.#reach(sessionId, false);
    return await this.#o.listTokens(sessionId);
  }
}
