/**
 * The HTTP adapter: the library as a local JSON API, a Hono app with a typed client. Every route
 * is described once (zod schemas), which both validates requests and generates the OpenAPI 3.1
 * document served at `/v1/openapi.json`. This is the adapter only: the server that
 * `deno task serve` runs (its entry and the per-runtime listeners) lives in `src/server/`, which is
 * internal and not part of the published exports.
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

export {
  type AppOptions,
  type AppSchema,
  type AppType,
  createApp,
  DEFAULT_BODY_LIMIT,
  OPENAPI_PATH,
  type RouteSchema,
} from "./app.ts";
export { type ErrorLogger, type ErrorStatus, type HttpErrorKind, statusOf } from "./errors.ts";
export { bearerAuth, isAllowedHost, LOOPBACK_HOSTS, originGuard, tokenMatches } from "./guard.ts";
export { isJsonContentType, jsonContentType, unsupportedMediaTypeMessage } from "./content_type.ts";
export type * from "./schemas.ts";
