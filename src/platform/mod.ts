/**
 * Runtime parts: the default SQLite driver (`bun:sqlite` under Bun, `node:sqlite` under Deno and
 * Node), the OS keychain, where the database key lives, the default data directory, the server's
 * token file, and `WorktreeLifecycle`, which gives sessions real git worktrees. They use the
 * runtimes' built-ins and npm packages that work in Deno, Node and Bun.
 *
 * @example The orchestrator over a SQLite file
 * ```ts
 * import assert from "node:assert/strict";
 * import { mkdtempSync, rmSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { openSqliteStore } from "./mod.ts";
 * import { generateDatabaseKey, SessionOrchestrator, SessionSecretChain } from "../../mod.ts";
 *
 * const dir = mkdtempSync(join(tmpdir(), "slo-"));
 * const store = openSqliteStore(join(dir, "sessions.db"));
 * const chain = new SessionSecretChain({ store, databaseKey: await generateDatabaseKey() });
 * const orchestrator = new SessionOrchestrator({ store, chain });
 * const repository = await orchestrator.createRepository({ path: "/src/app", name: "app" });
 * const session = await orchestrator.createSession({ repositoryId: repository.id, title: "t", isWorktree: false });
 * assert.notEqual(await store.getSessionSecret(session.id), null); // sealed, in the same file
 * store.close();
 * rmSync(dir, { recursive: true });
 * ```
 *
 * @module
 */

export {
  ClosableSqliteStore,
  openSqliteStore,
  type SqliteConnection,
  type SqliteDriverName,
  sqliteDriverName,
  sqliteSecretProbe,
} from "./sqlite.ts";
export { canonicalRepositoryPath, isGitCheckout } from "./repository_path.ts";
export { portIsFree } from "./port_probe.ts";
export {
  isKeychainBindingFailure,
  keychainWorks,
  openDefaultKeychain,
  OsKeychain,
  type OsKeychainOptions,
} from "./keychain.ts";
export type { Keychain } from "../keychain.ts";
export {
  DATABASE_KEY_ACCOUNT,
  DATABASE_KEY_CHECK_FILE,
  DATABASE_KEY_ENV,
  DATABASE_KEY_FILE,
  DATABASE_KEY_LOCK_FILE,
  type DatabaseKeyCheck,
  resolveDatabaseKey,
  type ResolveDatabaseKeyOptions,
  type ResolvedDatabaseKey,
  type SealedSecretProbe,
  type SealedSecretSample,
  storeSecretProbe,
} from "./database_key.ts";
export { APP_DIR_NAME, type DataDirContext, defaultDataDir } from "./data_dir.ts";
export {
  HOST_ID_ENV,
  HOST_ID_FILE,
  MACHINE_ID_PATH,
  type ResolvedHostId,
  resolveHostId,
  type ResolveHostIdOptions,
} from "./host_id.ts";
export {
  DATABASE_FILE_NAME,
  type DatabaseTimeouts,
  type OpenedOrchestrator,
  openOrchestrator,
  type OpenOrchestratorOptions,
  type OrchestratorParts,
  type OwnedStore,
  usableKeychain,
  WORKTREES_DIR_NAME,
} from "./open_orchestrator.ts";
export { type ApiTokenFile, ensureApiToken, generateApiToken, TOKEN_FILE_NAME } from "./token_file.ts";
export { branchForWorktreeName, defaultWorktreeName } from "./worktree_names.ts";
export { includeFiles, type IncludeRequest, WORKTREE_INCLUDE_FILE } from "./worktree_include.ts";
export { type OrphanedSetup, ProcessSetupRunner } from "./setup_runner.ts";
export {
  CONFIG_FILE_NAME,
  defaultConfigPath,
  loadOperatorConfig,
  type OperatorConfig,
  parseOperatorConfig,
  type PeriodicGcSettings,
  settingsFor,
} from "./operator_config.ts";
export {
  ARCHIVE_STEPS,
  CLOSE_STEPS,
  FORK_STEPS,
  type LifecycleStep,
  OPEN_STEPS,
  RESTORE_STEPS,
  WorktreeLifecycle,
  type WorktreeLifecycleOptions,
} from "./worktree_lifecycle.ts";

export type { CheckedSessionStore } from "../store/checked_store.ts";
export type {
  LoggedEventType,
  PageQuery,
  SessionQuery,
  SessionStoreDriver,
  StoreDriverError,
  StoreDriverProblem,
  UniqueKey,
} from "../store/driver.ts";
// The core's types that this entry's API names, re-exported (types only) so that this entry is
// documented completely on its own. They are the `.` export's own types, not copies.
export type {
  AnyEventListener,
  ArchivedSession,
  BackupCapableStore,
  BackupOptions,
  ClosedSession,
  CloseSessionOptions,
  CreateSessionParams,
  CreateSessionRequest,
  EmittedEventInfo,
  EventFeed,
  EventFeedOptions,
  EventLog,
  EventLogFollower,
  EventLogPage,
  EventReplay,
  FeedItem,
  FollowOptions,
  ForceableRefusal,
  ForkSessionRequest,
  GcAction,
  GcFinding,
  GcOptions,
  GcReport,
  IncludedFiles,
  LandedKind,
  LifecycleEvent,
  LifecycleEvents,
  LifecycleEventsOptions,
  LifecycleListener,
  ListPosition,
  ListRepositoriesOptions,
  ListSessionsOptions,
  ListSnapshotsOptions,
  LoggedEvent,
  LoggedEventInfo,
  LoggedEventListener,
  MintedToken,
  NewRepository,
  NewSession,
  NewSessionSecret,
  NewSessionToken,
  OpenSessionParams,
  PortLease,
  PortRange,
  ProgressPhase,
  ProgressSubject,
  PruneSnapshotsOptions,
  PruneSnapshotsReport,
  ReconcileFinding,
  ReconcileOptions,
  ReconcileReport,
  Repository,
  RepositoryFilter,
  RepositoryId,
  RepositoryPage,
  RepositoryPool,
  RepositorySettings,
  RestoreSnapshotRequest,
  Scope,
  ScopedOrchestrator,
  SealedSecret,
  Session,
  SessionError,
  SessionErrorKind,
  SessionFilter,
  SessionGitStatus,
  SessionId,
  SessionOrchestrator,
  SessionOrchestratorOptions,
  SessionPage,
  SessionPatch,
  SessionProgressEvent,
  SessionReader,
  SessionSecretCache,
  SessionSecretChain,
  SessionSetup,
  SessionSnapshot,
  SessionStatus,
  SessionStore,
  SessionToken,
  SessionWriter,
  SetupRunner,
  SetupRunRequest,
  SetupRunResult,
  SetupStateName,
  SnapshotList,
  SnapshotRecord,
  SqliteDatabase,
  SqliteEventLogOptions,
  SqliteStatement,
  SqliteStore,
  SqliteStoreOptions,
  SqliteValue,
  StoreBackup,
  StoredSessionSecret,
  StoredSessionToken,
  TransientEvent,
  WorktreeClaim,
  WorktreeOpenRequest,
  WorktreePlan,
  WorktreePort,
  WorktreeProgress,
  WorktreeRows,
  WriteOptions,
} from "../../mod.ts";
