/**
 * The Hono app: the routes of `./routes.ts` over a `SessionOrchestrator`. Each handler parses,
 * calls one orchestrator method, and serializes; every rule lives in the orchestrator.
 *
 * @module
 */

import { OpenAPIHono, type RouteConfig, type RouteConfigToTypedResponse, type RouteHandler } from "@hono/zod-openapi";
import type { Env, Handler, ToSchema } from "hono";
import { bodyLimit } from "hono/body-limit";
import { decodeBase64, encodeBase64 } from "../base64.ts";
import { SessionError } from "../errors.ts";
import type { SessionOrchestrator } from "../orchestrator.ts";
import { describeZodError, type ErrorLogger, errorResponse, handleError } from "./errors.ts";
import { bearerAuth, LOOPBACK_HOSTS, originGuard } from "./guard.ts";
import { jsonContentType } from "./content_type.ts";
import {
  createRepositoryRoute,
  createSessionRoute,
  deleteRepositoryRoute,
  deleteSessionRoute,
  eventsRoute,
  getRepositoryRoute,
  getSecretRoute,
  getSessionRoute,
  healthRoute,
  listRepositoriesRoute,
  listSessionsRoute,
  putSecretRoute,
  reconcileRoute,
  updateSessionRoute,
} from "./routes.ts";
import { eventStream } from "./sse.ts";

/** Largest accepted request body, in bytes, unless `createApp` is told otherwise. */
export const DEFAULT_BODY_LIMIT = 64 * 1024;

/** Where the OpenAPI document is served. */
export const OPENAPI_PATH = "/v1/openapi.json";

/** What {@linkcode createApp} needs. */
export interface AppOptions {
  /** What every route calls; `GET /v1/events` streams its events. */
  orchestrator: SessionOrchestrator;
  /**
   * The bearer token every route but health requires (at least 16 characters). The server entry
   * makes one and keeps it in `<data dir>/token`.
   */
  token: string;
  /**
   * Host header values answered (`name` for any port, or `name:port`); others get 403. Defaults
   * to the loopback names on any port; `null` turns the check off (for example behind a proxy
   * that checks it).
   */
  allowedHosts?: readonly string[] | null;
  /** Origin header values accepted; a request with any other Origin gets 403. None by default. */
  allowedOrigins?: readonly string[];
  /** Largest request body in bytes; larger ones get 413. 64 KiB by default. */
  bodyLimit?: number;
  /**
   * Send the full message of a 500 answer (paths, git's output, driver errors) instead of a generic
   * one with a log reference. Off by default; for debugging a server run locally.
   */
  exposeErrorDetails?: boolean;
  /** Receives the causes of 500 answers. `console.error` by default. */
  logError?: ErrorLogger;
  /** Ends open event streams when aborted, so a graceful shutdown does not wait on them. */
  signal?: AbortSignal;
}

type RouteInput<R extends RouteConfig> = RouteHandler<R> extends Handler<Env, string, infer I> ? I : never;

type ConvertPath<P extends string> = P extends `${infer Start}/{${infer Param}}${infer Rest}`
  ? `${Start}/:${Param}${ConvertPath<Rest>}`
  : P;

/** The client-facing schema of one route, as `app.openapi(route, …)` records it. */
export type RouteSchema<R extends RouteConfig> = ToSchema<
  R["method"],
  ConvertPath<R["path"]>,
  RouteInput<R>,
  RouteConfigToTypedResponse<R>
>;

/** Every route of the app, for the typed client. */
export type AppSchema =
  & RouteSchema<typeof healthRoute>
  & RouteSchema<typeof listRepositoriesRoute>
  & RouteSchema<typeof createRepositoryRoute>
  & RouteSchema<typeof getRepositoryRoute>
  & RouteSchema<typeof deleteRepositoryRoute>
  & RouteSchema<typeof listSessionsRoute>
  & RouteSchema<typeof createSessionRoute>
  & RouteSchema<typeof getSessionRoute>
  & RouteSchema<typeof updateSessionRoute>
  & RouteSchema<typeof deleteSessionRoute>
  & RouteSchema<typeof putSecretRoute>
  & RouteSchema<typeof getSecretRoute>
  & RouteSchema<typeof reconcileRoute>
  & RouteSchema<typeof eventsRoute>
  & ToSchema<"get", typeof OPENAPI_PATH, Record<never, never>, Record<never, never>>;

/**
 * The app's type, for `hc<AppType>(url)` from `hono/client`: a client typed by the routes.
 *
 * @example
 * ```ts
 * import { hc } from "hono/client";
 * import type { AppType } from "./mod.ts";
 *
 * const client = hc<AppType>("http://127.0.0.1:7717", { headers: { authorization: "Bearer <token>" } });
 * const health = client.v1.health.$url();
 * console.log(health.pathname); // "/v1/health"
 * ```
 */
export type AppType = OpenAPIHono<Env, AppSchema, "/">;

const truthy = (flag: "true" | "false" | undefined): boolean => flag === "true";

// A missing record is answered as the error of its kind.
function found<T>(value: T | null, kind: "RepositoryNotFound" | "SessionNotFound", message: string): T {
  if (value === null) throw new SessionError(kind, message);
  return value;
}

/**
 * The HTTP API as a Hono app: JSON in and out, every route described once (validation and the
 * OpenAPI document at `/v1/openapi.json` come from the same schemas), every error
 * `{ "error": { "kind", "message" } }`. Mount it in your own app with `app.route("/", createApp(…))`,
 * or serve it with the server entry (`deno task serve`).
 *
 * @example
 * ```ts
 * import { createApp } from "./mod.ts";
 * import { generateDatabaseKey, MemoryStore, SessionOrchestrator, SessionSecretChain } from "../../mod.ts";
 *
 * const store = new MemoryStore();
 * const chain = new SessionSecretChain({ store, databaseKey: await generateDatabaseKey() });
 * const app = createApp({ orchestrator: new SessionOrchestrator({ store, chain }), token: "a-long-random-token-here" });
 * const response = await app.request("/v1/health", { headers: { host: "127.0.0.1:7717" } });
 * console.log(response.status, await response.json()); // 200 { status: "ok" }
 * ```
 */
export function createApp(options: AppOptions): AppType {
  const { orchestrator } = options;
  const logError: ErrorLogger = options.logError ?? ((message, cause) => console.error(message, cause));
  const app = new OpenAPIHono({
    defaultHook: (result, c) => {
      if (!result.success) return errorResponse(c, "InvalidInput", describeZodError(result.error, result.target));
    },
  });
  app.onError((error, c) => handleError(error, c, logError, { exposeErrorDetails: options.exposeErrorDetails }));
  app.notFound((c) => errorResponse(c, "NotFound", `no route for ${c.req.method} ${c.req.path}`));
  app.use(
    originGuard(
      options.allowedHosts === undefined ? LOOPBACK_HOSTS : options.allowedHosts,
      options.allowedOrigins ?? [],
    ),
  );
  const limit = options.bodyLimit ?? DEFAULT_BODY_LIMIT;
  app.use(bodyLimit({
    maxSize: limit,
    onError: (c) => errorResponse(c, "InvalidInput", `the request body is over ${limit} bytes`, 413),
  }));

  // Registered before the token check, so it is the one route that needs no token.
  const open = app.openapi(healthRoute, (c) => c.json({ status: "ok" as const }, 200));
  open.use(bearerAuth(options.token));
  open.use(jsonContentType());

  const routed = open
    .openapi(listRepositoriesRoute, async (c) => c.json(await orchestrator.listRepositories(c.req.valid("query")), 200))
    .openapi(createRepositoryRoute, async (c) => c.json(await orchestrator.createRepository(c.req.valid("json")), 201))
    .openapi(getRepositoryRoute, async (c) => {
      const { id } = c.req.valid("param");
      return c.json(
        found(await orchestrator.getRepository(id), "RepositoryNotFound", `no repository with id ${id}`),
        200,
      );
    })
    .openapi(deleteRepositoryRoute, async (c) => {
      const { id } = c.req.valid("param");
      const repository = await orchestrator.deleteRepository(id);
      return c.json(found(repository, "RepositoryNotFound", `no repository with id ${id}`), 200);
    })
    .openapi(listSessionsRoute, async (c) => c.json(await orchestrator.listSessions(c.req.valid("query")), 200))
    .openapi(createSessionRoute, async (c) => c.json(await orchestrator.createSession(c.req.valid("json")), 201))
    .openapi(getSessionRoute, async (c) => {
      const { id } = c.req.valid("param");
      return c.json(found(await orchestrator.getSession(id), "SessionNotFound", `no session with id ${id}`), 200);
    })
    .openapi(updateSessionRoute, async (c) => {
      const { id } = c.req.valid("param");
      const session = await orchestrator.updateSession(id, c.req.valid("json"));
      return c.json(found(session, "SessionNotFound", `no session with id ${id}`), 200);
    })
    .openapi(deleteSessionRoute, async (c) => {
      const { id } = c.req.valid("param");
      const { force, deleteBranch } = c.req.valid("query");
      const closed = await orchestrator.deleteSession(id, { force: truthy(force), deleteBranch: truthy(deleteBranch) });
      const { session, ...outcome } = found(closed, "SessionNotFound", `no session with id ${id}`);
      return c.json({
        ...session,
        worktreeRemoved: outcome.worktreeRemoved,
        branchDeleted: outcome.branchDeleted,
        branchKeptReason: outcome.branchKeptReason,
        worktreeKeptReason: outcome.worktreeKeptReason ?? null,
        snapshotRef: outcome.snapshotRef ?? null,
      }, 200);
    })
    .openapi(putSecretRoute, async (c) => {
      const { id } = c.req.valid("param");
      const { encryptedSecret, nonce } = c.req.valid("json");
      await orchestrator.storeSessionSecret(
        id,
        decodeBase64(encryptedSecret, "encryptedSecret"),
        decodeBase64(nonce, "nonce"),
      );
      return c.json({ sessionId: id, stored: true as const }, 200);
    })
    .openapi(getSecretRoute, async (c) => {
      const { id } = c.req.valid("param");
      const secret = found(
        await orchestrator.resolveSessionSecret(id),
        "SessionNotFound",
        `session ${id} has no secret`,
      );
      const encoded = encodeBase64(secret);
      secret.fill(0);
      return c.json({ sessionId: id, secret: encoded }, 200);
    })
    .openapi(reconcileRoute, async (c) => {
      const { dryRun } = c.req.valid("query");
      return c.json(await orchestrator.reconcile({ dryRun: truthy(dryRun) }), 200);
    })
    .openapi(eventsRoute, (c) => eventStream(c, orchestrator.events, options.signal));

  routed.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer" });
  return routed.doc31(OPENAPI_PATH, {
    openapi: "3.1.0",
    info: {
      title: "session-lifecycle-orchestrator",
      version: "1",
      description: "Sessions of AI coding agents: repositories, sessions with worktrees, their secrets, and events. " +
        "Every route but /v1/health needs `Authorization: Bearer <token>`; the server keeps the token in " +
        "<data dir>/token. Every error is { error: { kind, message } }.",
    },
    security: [{ bearer: [] }],
  });
}
