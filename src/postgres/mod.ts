/**
 * The Postgres store, for scaling out: several servers on one database share sessions,
 * repositories, sealed secrets and the database key check. It runs over postgres.js, in Deno and
 * Bun alike, behind the same {@linkcode SessionStore} interface as the SQLite store, and passes the
 * same conformance suite (`./testing`).
 *
 * @example
 * ```ts ignore
 * import { openPostgresStore } from "@rengoku/session-lifecycle-orchestrator/postgres";
 * import { SessionOrchestrator } from "@rengoku/session-lifecycle-orchestrator";
 *
 * const store = await openPostgresStore("postgres://sessions@db.internal:5432/sessions");
 * const orchestrator = new SessionOrchestrator({ store });
 * const repository = await store.createRepository({ path: "/src/app", name: "app" });
 * await orchestrator.createSession({ repositoryId: repository.id, title: "Fix login", isWorktree: false });
 * await store.close();
 * ```
 *
 * @module
 */

export {
  databaseUnavailable,
  describeDatabase,
  openPostgresStore,
  PostgresStore,
  type PostgresStoreOptions,
} from "./postgres_store.ts";
export type { SessionSetup, SetupStateName } from "../setup.ts";
export type { IncludedFiles } from "../included_files.ts";
export type { ListenerFactory, PostgresEventLogOptions } from "./event_log.ts";
export { POSTGRES_SCHEMA_VERSION } from "./schema.ts";
// The types the store's API speaks, so that this entry documents itself.
export type {
  BackupCapableStore,
  BackupOptions,
  SessionReader,
  SessionStore,
  SessionWriter,
  StoreBackup,
} from "../store/store.ts";
export type { DatabaseKeyCheck, SealedSecretProbe, SealedSecretSample } from "../platform/database_key.ts";
export type { SealedSecret } from "../crypto.ts";
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
export type {
  EventLog,
  EventLogFollower,
  EventLogPage,
  EventReplay,
  FollowOptions,
  LifecycleEvent,
  LoggedEvent,
  LoggedEventInfo,
  LoggedEventListener,
} from "../events.ts";
export type { WriteOptions } from "../store/store.ts";
export type { RepositoryId, SessionId } from "../ids.ts";
export type {
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
  SessionStatus,
  SessionToken,
  StoredSessionSecret,
  StoredSessionToken,
} from "../types.ts";
