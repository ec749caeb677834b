/**
 * The Hono app: the routes of `./routes.ts` over a store, a secret chain, lifecycle events and,
 * optionally, a worktree lifecycle.
 *
 * @module
 */

import { OpenAPIHono, type RouteConfig, type RouteConfigToTypedResponse, type RouteHandler } from "@hono/zod-openapi";
import type { Env, Handler, ToSchema } from "hono";
import { bodyLimit } from "hono/body-limit";
import { decodeBase64, encodeBase64 } from "../base64.ts";
import { SessionError } from "../errors.ts";
import type { LifecycleEvents } from "../events.ts";
import type { SessionLifecycle } from "../lifecycle.ts";
import { createSession, deleteSession, storeSessionSecret } from "../orchestrator.ts";
import type { SessionSecretChain } from "../secret_chain.ts";
import type { SessionStore } from "../store/store.ts";
import type { Session } from "../types.ts";
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
import type { CreateSessionBody, DeletedSessionBody } from "./schemas.ts";
import { eventStream } from "./sse.ts";

/** Largest accepted request body, in bytes, unless `createApp` is told otherwise. */
export const DEFAULT_BODY_LIMIT = 64 * 1024;

/** Where the OpenAPI document is served. */
export const OPENAPI_PATH = "/v1/openapi.json";

/** What {@linkcode createApp} needs. */
export interface AppOptions {
  /** Where repositories, sessions and sealed secrets live. */
  store: SessionStore;
  /** Provisions, resolves and forgets session secrets; use the same `store`. */
  chain: SessionSecretChain;
  /** Where the app emits its changes and whence `GET /v1/events` streams them. */
  events: LifecycleEvents;
  /**
   * The bearer token every route but health requires (at least 16 characters). The server entry
   * makes one and keeps it in `<data dir>/token`.
   */
  token: string;
  /**
   * Worktree sessions: when set, `POST /v1/sessions` with `isWorktree: true` opens through it,
   * `DELETE /v1/sessions/{id}` closes through it, and `POST /v1/reconcile` works.
   */
  lifecycle?: SessionLifecycle;
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

/**
 * The HTTP API as a Hono app: JSON in and out, every route described once (validation and the
 * OpenAPI document at `/v1/openapi.json` come from the same schemas), every error
 * `{ "error": { "kind", "message" } }`. Mount it in your own app with `app.route("/", createApp(…))`,
 * or serve it with the server entry (`deno task serve`).
 *
 * @example
 * ```ts
 * import { createApp } from "./mod.ts";
 * import { generateDatabaseKey, LifecycleEvents, MemoryStore, SessionSecretChain } from "../../mod.ts";
 *
 * const store = new MemoryStore();
 * const app = createApp({
 *   store,
 *   chain: new SessionSecretChain({ store, databaseKey: await generateDatabaseKey() }),
 *   events: new LifecycleEvents(),
 *   token: "a-long-random-token-from-somewhere",
 * });
 * const response = await app.request("/v1/health", { headers: { host: "127.0.0.1:7717" } });
 * console.log(response.status, await response.json()); // 200 { status: "ok" }
 * ```
 */
export function createApp(options: AppOptions): AppType {
  const { store, chain, events, lifecycle } = options;
  const logError: ErrorLogger = options.logError ?? ((message, cause) => console.error(message, cause));
  const app = new OpenAPIHono({
    defaultHook: (result, c) => {
      if (!result.success) return errorResponse(c, "InvalidInput", describeZodError(result.error, result.target));
    },
  });
  app.onError((error, c) => handleError(error, c, logError));
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

  const requireLifecycle = (): SessionLifecycle => {
    if (lifecycle === undefined) throw new SessionError("InvalidInput", "no worktree lifecycle configured");
    return lifecycle;
  };

  const create = async (body: CreateSessionBody): Promise<Session> => {
    const { worktreePath, baseRef, useExistingBranch, ...params } = body;
    if (lifecycle !== undefined && params.isWorktree) {
      if (worktreePath !== undefined) {
        throw new SessionError("InvalidInput", "worktreePath is chosen by the worktree lifecycle; leave it out");
      }
      return await lifecycle.open({ ...params, baseRef, useExistingBranch });
    }
    if (baseRef !== undefined || useExistingBranch !== undefined) {
      throw new SessionError(
        "InvalidInput",
        lifecycle === undefined
          ? "baseRef and useExistingBranch need a worktree lifecycle, and none is configured"
          : "baseRef and useExistingBranch apply to worktree sessions only",
      );
    }
    const session = await createSession(store, params, undefined, worktreePath);
    try {
      await chain.provision(session.id);
    } catch (error) {
      // Nothing half-made stays: a session without its secret is removed again.
      await deleteSession(store, session.id).catch((cause) => logError("rolling back a session", cause));
      await chain.forget(session.id).catch((cause) => logError("rolling back a session secret", cause));
      throw error;
    }
    events.emit({ type: "session.created", session });
    return session;
  };

  const remove = async (id: string, force: boolean, deleteBranch: boolean): Promise<DeletedSessionBody | null> => {
    if (lifecycle !== undefined) {
      const closed = await lifecycle.close(id, { force, deleteBranch });
      if (closed === null) return null;
      const { session, worktreeRemoved, branchDeleted, branchKeptReason, worktreeKeptReason } = closed;
      return {
        ...session,
        worktreeRemoved,
        branchDeleted,
        branchKeptReason,
        worktreeKeptReason: worktreeKeptReason ?? null,
      };
    }
    const session = await deleteSession(store, id);
    if (session === null) return null;
    // The row and its sealed secret are gone; the cache and keychain copies go now. A failure
    // there does not undo the committed delete, so it is logged rather than answered.
    await chain.forget(id, { rowDeleted: true }).catch((cause) =>
      logError(`forgetting the secret of session ${id}`, cause)
    );
    events.emit({ type: "session.deleted", session });
    return session;
  };

  const routed = open
    .openapi(listRepositoriesRoute, async (c) => c.json({ repositories: await store.listRepositories() }, 200))
    .openapi(createRepositoryRoute, async (c) => {
      const repository = await store.createRepository(c.req.valid("json"));
      events.emit({ type: "repository.created", repository });
      return c.json(repository, 201);
    })
    .openapi(getRepositoryRoute, async (c) => {
      const { id } = c.req.valid("param");
      const repository = await store.getRepository(id);
      if (repository === null) throw new SessionError("RepositoryNotFound", `no repository with id ${id}`);
      return c.json(repository, 200);
    })
    .openapi(deleteRepositoryRoute, async (c) => {
      const { id } = c.req.valid("param");
      const repository = await store.deleteRepository(id);
      if (repository === null) throw new SessionError("RepositoryNotFound", `no repository with id ${id}`);
      events.emit({ type: "repository.deleted", repository });
      return c.json(repository, 200);
    })
    .openapi(listSessionsRoute, async (c) => {
      const { repositoryId } = c.req.valid("query");
      return c.json({ sessions: await store.listSessions(repositoryId === undefined ? {} : { repositoryId }) }, 200);
    })
    .openapi(createSessionRoute, async (c) => c.json(await create(c.req.valid("json")), 201))
    .openapi(getSessionRoute, async (c) => {
      const { id } = c.req.valid("param");
      const session = await store.getSession(id);
      if (session === null) throw new SessionError("SessionNotFound", `no session with id ${id}`);
      return c.json(session, 200);
    })
    .openapi(updateSessionRoute, async (c) => {
      const { id } = c.req.valid("param");
      const session = await store.updateSession(id, c.req.valid("json"));
      if (session === null) throw new SessionError("SessionNotFound", `no session with id ${id}`);
      events.emit({ type: "session.updated", session });
      return c.json(session, 200);
    })
    .openapi(deleteSessionRoute, async (c) => {
      const { id } = c.req.valid("param");
      const { force, deleteBranch } = c.req.valid("query");
      const deleted = await remove(id, truthy(force), truthy(deleteBranch));
      if (deleted === null) throw new SessionError("SessionNotFound", `no session with id ${id}`);
      return c.json(deleted, 200);
    })
    .openapi(putSecretRoute, async (c) => {
      const { id } = c.req.valid("param");
      const { encryptedSecret, nonce } = c.req.valid("json");
      await storeSessionSecret(
        store,
        id,
        decodeBase64(encryptedSecret, "encryptedSecret"),
        decodeBase64(nonce, "nonce"),
      );
      // The cached plaintext belongs to the replaced secret; the next resolve opens the new one,
      // even when a load of the old one is in flight right now.
      await chain.invalidate(id);
      events.emit({ type: "session.secret.stored", sessionId: id });
      return c.json({ sessionId: id, stored: true as const }, 200);
    })
    .openapi(getSecretRoute, async (c) => {
      const { id } = c.req.valid("param");
      const secret = await chain.resolve(id);
      if (secret === null) throw new SessionError("SessionNotFound", `session ${id} has no secret`);
      const encoded = encodeBase64(secret);
      secret.fill(0);
      return c.json({ sessionId: id, secret: encoded }, 200);
    })
    .openapi(reconcileRoute, async (c) => {
      const { dryRun } = c.req.valid("query");
      return c.json(await requireLifecycle().reconcile({ dryRun: truthy(dryRun) }), 200);
    })
    .openapi(eventsRoute, (c) => eventStream(c, events, options.signal));

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
