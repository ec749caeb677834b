/**
 * session-lifecycle-orchestrator: create and delete AI coding-agent sessions over pluggable
 * storage, and keep each session's secret. This entry is the platform-neutral core: web
 * standards only, so it runs in Deno, Bun, Node and browsers alike. `SessionOrchestrator` is
 * what every entry point goes through; `createSession`, `deleteSession` and `storeSessionSecret`
 * are the low-level layer it builds on.
 *
 * @example The orchestrator: a session with its secret, listed by pages, deleted with its cleanup data
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateDatabaseKey, MemoryStore, SessionOrchestrator, SessionSecretChain } from "./mod.ts";
 *
 * const store = new MemoryStore();
 * const chain = new SessionSecretChain({ store, databaseKey: await generateDatabaseKey() });
 * const orchestrator = new SessionOrchestrator({ store, chain });
 *
 * const repository = await orchestrator.createRepository({ path: "/src/app", name: "app" });
 * const session = await orchestrator.createSession({
 *   repositoryId: repository.id,
 *   title: "Add dark mode",
 *   isWorktree: true,
 *   worktreeName: "dark-mode",
 *   branchName: "session/dark-mode",
 *   worktreePath: "/data/worktrees/app/dark-mode", // without a worktree lifecycle, the caller's folder
 * });
 * assert.equal((await orchestrator.resolveSessionSecret(session.id))?.length, 32);
 *
 * const page = await orchestrator.listSessions({ repositoryId: repository.id, limit: 10 });
 * assert.deepEqual(page.sessions.map((s) => s.id), [session.id]);
 * assert.equal(page.nextCursor, null); // the last page
 *
 * const closed = await orchestrator.deleteSession(session.id);
 * assert.equal(closed?.session.worktreePath, "/data/worktrees/app/dark-mode"); // the caller removes it
 * assert.equal(closed?.worktreeRemoved, false);
 * assert.equal(await orchestrator.resolveSessionSecret(session.id), null);
 * ```
 *
 * @example The low-level layer: one store call each, the caller keeps the secret
 * ```ts
 * import assert from "node:assert/strict";
 * import { createSession, deleteSession, MemoryStore } from "./mod.ts";
 *
 * const store = new MemoryStore();
 * const repository = await store.createRepository({ path: "/src/app", name: "app" });
 * const session = await createSession(store, {
 *   repositoryId: repository.id,
 *   title: "Add dark mode",
 *   isWorktree: true,
 *   worktreeName: "dark-mode",
 *   branchName: "session/dark-mode",
 * }, undefined, "/data/worktrees/app/dark-mode");
 *
 * const deleted = await deleteSession(store, session.id);
 * assert.equal(deleted?.branchName, "session/dark-mode"); // the caller deletes the branch
 * assert.equal(await deleteSession(store, session.id), null); // not there any more: not an error
 * ```
 *
 * @module
 */

export {
  dirtyWorktreeRefusal,
  type ForceableRefusal,
  isSessionError,
  MAX_DIRTY_PATHS,
  retryAfterOf,
  SESSION_ERROR_KINDS,
  SessionError,
  type SessionErrorKind,
} from "./src/errors.ts";
export { isUuid, newRepositoryId, newSessionId, type RepositoryId, type SessionId } from "./src/ids.ts";
export {
  type ListPosition,
  type NewRepository,
  type NewSession,
  type NewSessionSecret,
  type NewSessionToken,
  type PortLease,
  type Repository,
  type RepositoryFilter,
  type Session,
  SESSION_STATUSES,
  type SessionFilter,
  type SessionPatch,
  type SessionStatus,
  type SessionToken,
  type StoredSessionSecret,
  type StoredSessionToken,
} from "./src/types.ts";
export { branchNameProblem } from "./src/branch_names.ts";
export { hasWorktreeToClose } from "./src/worktree_session.ts";
export {
  MAX_BRANCH_NAME_BYTES,
  MAX_SESSION_PORTS,
  MAX_TITLE_LENGTH,
  MAX_WORKTREE_NAME_BYTES,
  NONCE_LENGTH,
} from "./src/limits.ts";
export {
  backupCapabilityOf,
  type BackupCapableStore,
  type BackupOptions,
  type SessionReader,
  type SessionStore,
  type SessionWriter,
  type StoreBackup,
  type WriteOptions,
} from "./src/store/store.ts";
export { MemoryStore, MemoryStoreDriver } from "./src/store/memory_store.ts";
export { CheckedSessionStore, createSessionStore } from "./src/store/checked_store.ts";
export {
  type LoggedEventType,
  type PageQuery,
  type SessionQuery,
  type SessionStoreDriver,
  StoreDriverError,
  type StoreDriverProblem,
  type UniqueKey,
} from "./src/store/driver.ts";
export type { SqliteDatabase, SqliteStatement, SqliteValue } from "./src/store/sqlite_driver.ts";
export { SqliteStore, type SqliteStoreOptions } from "./src/store/sqlite_store.ts";
export type { SqliteEventLogOptions } from "./src/store/sqlite_event_log.ts";
export { EventFeed, type EventFeedOptions, type FeedItem } from "./src/event_feed.ts";
export { SCHEMA_VERSION } from "./src/store/sqlite_schema.ts";
export {
  type CreateSessionRequest,
  DEFAULT_PAGE_SIZE,
  DEFAULT_PORT_RANGE,
  DEFAULT_SETUP_TIMEOUT_MS,
  type ForkSessionRequest,
  type ListRepositoriesOptions,
  type ListSessionsOptions,
  type ListSnapshotsOptions,
  MAX_PAGE_SIZE,
  type PortRange,
  type PruneSnapshotsOptions,
  type PruneSnapshotsReport,
  type RepositoryPage,
  type RestoreSnapshotRequest,
  SessionOrchestrator,
  type SessionOrchestratorOptions,
  type SessionPage,
  type SessionSnapshot,
  type SnapshotList,
} from "./src/orchestrator.ts";
export { createSession, type CreateSessionParams, deleteSession, storeSessionSecret } from "./src/operations.ts";
export { SessionSecretCache } from "./src/secret_cache.ts";
export { ScopedOrchestrator } from "./src/scope.ts";
export {
  constantTimeEqual,
  generateSessionToken,
  hashToken,
  looksLikeSessionToken,
  type MintedToken,
  ROOT_SCOPE,
  type Scope,
} from "./src/tokens.ts";
export { decodeBase64, encodeBase64 } from "./src/base64.ts";
export {
  decryptSessionSecret,
  encryptSessionSecret,
  generateDatabaseKey,
  generateDatabaseKeyBytes,
  generateSessionSecret,
  importDatabaseKey,
  type SealedSecret,
  SECRET_LENGTH,
} from "./src/crypto.ts";
export type { Keychain } from "./src/keychain.ts";
export {
  DEFAULT_KEYCHAIN_SERVICE,
  type SecretStore,
  SessionSecretChain,
  type SessionSecretChainOptions,
} from "./src/secret_chain.ts";
export {
  type AnyEventListener,
  type EmittedEventInfo,
  type EventLog,
  type EventLogFollower,
  eventLogOf,
  type EventLogPage,
  type EventReplay,
  type FollowOptions,
  type LifecycleEvent,
  LifecycleEvents,
  type LifecycleEventsOptions,
  type LifecycleListener,
  type LoggedEvent,
  type LoggedEventInfo,
  type LoggedEventListener,
} from "./src/events.ts";
export {
  progressEvent,
  type ProgressPhase,
  type ProgressSubject,
  type SessionProgressEvent,
  type TransientEvent,
  type WorktreeProgress,
} from "./src/progress.ts";
export type {
  ArchivedSession,
  ClosedSession,
  CloseSessionOptions,
  LandedKind,
  OpenSessionParams,
  ReconcileFinding,
  ReconcileOptions,
  ReconcileReport,
  RepositoryPool,
  SessionGitStatus,
  SnapshotRecord,
  WorktreeClaim,
  WorktreeOpenRequest,
  WorktreePlan,
  WorktreePort,
  WorktreeRows,
} from "./src/lifecycle.ts";
export { checkIncludedFiles, type IncludedFiles, MAX_INCLUDED_LIST } from "./src/included_files.ts";
export {
  checkSessionSetup,
  MAX_SETUP_LOG_TAIL,
  type SessionSetup,
  SETUP_STATES,
  type SetupRunner,
  type SetupRunRequest,
  type SetupRunResult,
  type SetupStateName,
} from "./src/setup.ts";
export {
  checkRepositorySettings,
  MAX_INCLUDE_PATTERNS,
  MAX_POOL_SIZE,
  MAX_SETUP_COMMANDS,
  MAX_SPARSE_PATHS,
  type RepositorySettings,
} from "./src/repository_settings.ts";
export {
  type GcAction,
  type GcDecision,
  gcDecision,
  type GcFinding,
  type GcOptions,
  type GcReport,
  parseDuration,
} from "./src/gc.ts";
