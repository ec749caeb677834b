/**
 * session-lifecycle-orchestrator: create and delete AI coding-agent sessions over pluggable
 * storage, and keep each session's secret. This entry is the platform-neutral core: web
 * standards only, so it runs in Deno, Bun, Node and browsers alike.
 *
 * @example Create, delete, and clean up with the returned data
 * ```ts
 * import { createSession, deleteSession, MemoryStore, SessionSecretCache } from "./mod.ts";
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
 * const cache = new SessionSecretCache();
 * cache.insert(session.id, crypto.getRandomValues(new Uint8Array(32)));
 *
 * const deleted = await deleteSession(store, session.id);
 * if (deleted?.worktreePath) console.log("remove", deleted.worktreePath);
 * cache.remove(session.id);
 * ```
 *
 * @module
 */

export { isSessionError, SESSION_ERROR_KINDS, SessionError, type SessionErrorKind } from "./src/errors.ts";
export { isUuid, newRepositoryId, newSessionId, type RepositoryId, type SessionId } from "./src/ids.ts";
export {
  type ListPosition,
  type NewRepository,
  type NewSession,
  type NewSessionSecret,
  type Repository,
  type RepositoryFilter,
  type Session,
  SESSION_STATUSES,
  type SessionFilter,
  type SessionPatch,
  type SessionStatus,
  type StoredSessionSecret,
} from "./src/types.ts";
export {
  branchNameProblem,
  MAX_BRANCH_NAME_BYTES,
  MAX_TITLE_LENGTH,
  MAX_WORKTREE_NAME_BYTES,
  NONCE_LENGTH,
} from "./src/validation.ts";
export type { SessionReader, SessionStore, SessionWriter } from "./src/store/store.ts";
export { MemoryStore } from "./src/store/memory_store.ts";
export type { SqliteDatabase, SqliteStatement, SqliteValue } from "./src/store/sqlite_driver.ts";
export { SqliteStore, type SqliteStoreOptions } from "./src/store/sqlite_store.ts";
export { SCHEMA_VERSION } from "./src/store/sqlite_schema.ts";
export {
  type CreateSessionRequest,
  DEFAULT_PAGE_SIZE,
  type ListRepositoriesOptions,
  type ListSessionsOptions,
  MAX_PAGE_SIZE,
  type RepositoryPage,
  SessionOrchestrator,
  type SessionOrchestratorOptions,
  type SessionPage,
} from "./src/orchestrator.ts";
export { createSession, type CreateSessionParams, deleteSession, storeSessionSecret } from "./src/operations.ts";
export { SessionSecretCache } from "./src/secret_cache.ts";
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
export { type LifecycleEvent, LifecycleEvents, type LifecycleListener } from "./src/events.ts";
export type {
  ClosedSession,
  CloseSessionOptions,
  LifecycleSteps,
  OpenSessionParams,
  ReconcileFinding,
  ReconcileOptions,
  ReconcileReport,
  SessionLifecycle,
  WorktreeRequest,
} from "./src/lifecycle.ts";
