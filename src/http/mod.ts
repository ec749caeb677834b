/**
 * The HTTP adapter: the library as a local JSON API, a Hono app with a typed client. Every route
 * is described once (zod schemas), which both validates requests and generates the OpenAPI 3.1
 * document served at `/v1/openapi.json`. The server entry that `deno task serve` runs is
 * `src/http/server.ts`.
 *
 * @example Serve the app, call it with the typed client
 * ```ts
 * import { hc } from "hono/client";
 * import { type AppType, createApp } from "./mod.ts";
 * import { generateDatabaseKey, LifecycleEvents, MemoryStore, SessionSecretChain } from "../../mod.ts";
 *
 * const store = new MemoryStore();
 * const token = "a-long-random-token-from-somewhere";
 * const app = createApp({
 *   store,
 *   chain: new SessionSecretChain({ store, databaseKey: await generateDatabaseKey() }),
 *   events: new LifecycleEvents(),
 *   token,
 * });
 * const client = hc<AppType>("http://localhost", {
 *   headers: { authorization: `Bearer ${token}` },
 *   fetch: (input: RequestInfo | URL, init?: RequestInit) => app.request(input, init),
 * });
 * const created = await client.v1.repositories.$post({ json: { path: "/src/app", name: "app" } });
 * console.log(created.status); // 201
 * ```
 *
 * @module
 */

export { type AppOptions, type AppType, createApp, DEFAULT_BODY_LIMIT, OPENAPI_PATH } from "./app.ts";
export type * from "./bodies.ts";

// The core's types that this entry's API names, re-exported (types only) so that this entry is
// documented completely on its own. They are the `.` export's own types, not copies.
export type {
  ClosedSession,
  CloseSessionOptions,
  CreateSessionParams,
  CreateSessionRequest,
  LifecycleEvent,
  LifecycleEvents,
  LifecycleListener,
  ListPosition,
  ListRepositoriesOptions,
  ListSessionsOptions,
  NewRepository,
  NewSession,
  NewSessionSecret,
  OpenSessionParams,
  ReconcileFinding,
  ReconcileOptions,
  ReconcileReport,
  Repository,
  RepositoryFilter,
  RepositoryId,
  RepositoryPage,
  SealedSecret,
  Session,
  SessionFilter,
  SessionId,
  SessionOrchestrator,
  SessionPage,
  SessionPatch,
  SessionReader,
  SessionStatus,
  SessionStore,
  SessionWriter,
  StoredSessionSecret,
} from "../../mod.ts";
