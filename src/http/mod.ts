/**
 * The HTTP adapter: the library as a local JSON API, a Hono app over a `SessionOrchestrator`,
 * with a typed client. Every route is declared once, and that one declaration validates requests,
 * types the client and generates the OpenAPI 3.1 document served at `/v1/openapi.json`. This is
 * the adapter only: the server that `deno task serve` runs (its entry and the per-runtime
 * listeners) lives in `src/server/`, which is internal and not part of the published exports.
 *
 * @example Call the app with the typed client, in process
 * ```ts
 * import assert from "node:assert/strict";
 * import { hc } from "hono/client";
 * import { type AppType, createApp } from "./mod.ts";
 * import { generateDatabaseKey, MemoryStore, SessionOrchestrator, SessionSecretChain } from "../../mod.ts";
 *
 * const store = new MemoryStore();
 * const chain = new SessionSecretChain({ store, databaseKey: await generateDatabaseKey() });
 * const token = "a-long-random-token-from-somewhere";
 * const app = createApp({ orchestrator: new SessionOrchestrator({ store, chain }), token });
 * const client = hc<AppType>("http://localhost", {
 *   // In process there is no Host header unless one is given; the app answers loopback names only.
 *   headers: { authorization: `Bearer ${token}`, host: "localhost" },
 *   fetch: (input: RequestInfo | URL, init?: RequestInit) => app.request(input, init),
 * });
 *
 * const created = await client.v1.repositories.$post({ json: { path: "/src/app", name: "app" } });
 * assert.equal(created.status, 201);
 * const listed = await client.v1.repositories.$get({ query: { limit: "10" } });
 * assert.equal(listed.status, 200);
 * if (listed.status === 200) {
 *   const page = await listed.json();
 *   assert.deepEqual(page.repositories.map((r) => r.name), ["app"]);
 *   assert.equal(page.nextCursor, null);
 * }
 * ```
 *
 * @module
 */

export { type AppOptions, type AppType, createApp, DEFAULT_BODY_LIMIT, OPENAPI_PATH } from "./app.ts";
export type * from "./bodies.ts";

// The core's types that this entry's API names, re-exported (types only) so that this entry is
// documented completely on its own. They are the `.` export's own types, not copies.
export type {
  AnyEventListener,
  ArchivedSession,
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
  RestoreSnapshotRequest,
  Scope,
  ScopedOrchestrator,
  SealedSecret,
  Session,
  SessionFilter,
  SessionGitStatus,
  SessionId,
  SessionOrchestrator,
  SessionPage,
  SessionPatch,
  SessionProgressEvent,
  SessionReader,
  SessionSetup,
  SessionSnapshot,
  SessionStatus,
  SessionStore,
  SessionToken,
  SessionWriter,
  SetupStateName,
  SnapshotList,
  SnapshotRecord,
  StoreBackup,
  StoredSessionSecret,
  StoredSessionToken,
  TransientEvent,
  WorktreeProgress,
  WriteOptions,
} from "../../mod.ts";
