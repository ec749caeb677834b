/**
 * The Hono app: the routes of `./_routes.ts` over a `SessionOrchestrator`. Each handler parses,
 * calls one orchestrator method, and serializes; every rule lives in the orchestrator.
 *
 * @module
 */

import { OpenAPIHono, type RouteConfig } from "@hono/zod-openapi";
import type { Context, Env } from "hono";
import { bodyLimit } from "hono/body-limit";
import { decodeBase64, encodeBase64 } from "../base64.ts";
import { isSessionError, SessionError } from "../errors.ts";
import type { SessionOrchestrator } from "../orchestrator.ts";
import { parseDuration } from "../gc.ts";
import { OPENAPI_PATH, type RouteHandlers, ROUTES, type RoutesSchema, TAGS } from "./_routes.ts";
import { eventStream } from "./_sse.ts";
import { describeZodError, type ErrorLogger, errorResponse, handleError } from "./errors.ts";
import { jsonContentType } from "./content_type.ts";
import { bearerAuth, LOOPBACK_HOSTS, originGuard, scopeOf } from "./guard.ts";
import { dashboardUrl, mountDashboard } from "./_dashboard.ts";
import { SignInCodes } from "./_sign_in.ts";

export { OPENAPI_PATH };

/** Largest accepted request body, in bytes, unless `createApp` is told otherwise. */
export const DEFAULT_BODY_LIMIT = 64 * 1024;

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
  logError?: (message: string, cause: unknown) => void;
  /** Ends open event streams when aborted, so a graceful shutdown does not wait on them. */
  signal?: AbortSignal;
  /**
   * The URL clients reach the API at, for the OpenAPI document's `servers`: the server entry passes
   * the one it listens on (`http://localhost` on a Unix socket). Without it the document names `/`,
   * the root of the origin the document was read from, which is right for an app mounted with
   * `app.route("/", …)`; under a prefix, pass the prefix (`"/orchestrator"`).
   */
  serverUrl?: string;
}

/**
 * The app's type, for `hc<AppType>(url)` from `hono/client`: a client typed by the routes, so a
 * wrong path, field or status is a compile error. It is hono's `OpenAPIHono` over the schema of
 * every route, computed from the one list of routes the app registers, so it cannot disagree with
 * the app.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hc } from "hono/client";
 * import type { AppType } from "./mod.ts";
 *
 * const client = hc<AppType>("http://127.0.0.1:7717", { headers: { authorization: "Bearer <token>" } });
 * assert.equal(client.v1.health.$url().pathname, "/v1/health");
 * assert.equal(client.v1.sessions[":id"].secret.$url({ param: { id: "abc" } }).pathname, "/v1/sessions/abc/secret");
 * ```
 */
export type AppType = RoutedApp;

/**
 * @ignore Hono's own `OpenAPIHono` class over the schema of every route. Kept out of this
 * package's documentation, which `deno doc --lint` checks: it counts a type of another package
 * (hono, an npm package) as a private type of this one (denoland/deno#27364).
 */
type RoutedApp = OpenAPIHono<Env, RoutesSchema, "/">;

const truthy = (flag: "true" | "false" | undefined): boolean => flag === "true";

const paths = (count: number): string => `${count} changed path${count === 1 ? "" : "s"}`;

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
 * import assert from "node:assert/strict";
 * import { createApp } from "./mod.ts";
 * import { generateDatabaseKey, MemoryStore, SessionOrchestrator, SessionSecretChain } from "../../mod.ts";
 *
 * const store = new MemoryStore();
 * const chain = new SessionSecretChain({ store, databaseKey: await generateDatabaseKey() });
 * const app = createApp({ orchestrator: new SessionOrchestrator({ store, chain }), token: "a-long-random-token-here" });
 * const health = await app.request("/v1/health", { headers: { host: "127.0.0.1:7717" } });
 * assert.equal(health.status, 200);
 * assert.deepEqual(await health.json(), { status: "ok" });
 * const noToken = await app.request("/v1/sessions", { headers: { host: "127.0.0.1:7717" } });
 * assert.equal(noToken.status, 401);
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

  const documentConfig = {
    openapi: "3.1.0",
    info: {
      title: "session-lifecycle-orchestrator",
      version: "1",
      description: "Sessions of AI coding agents: repositories, sessions with worktrees, their secrets, and events. " +
        "Every route but /v1/health needs `Authorization: Bearer <token>`; the server keeps the token in " +
        "<data dir>/token. Every error is { error: { kind, message } }.",
      license: { name: "MIT", identifier: "MIT" },
    },
    servers: [{ url: options.serverUrl ?? "/" }],
    tags: TAGS,
    security: [{ bearer: [] }],
  };

  // The dashboard's one-time sign-in codes: in memory, so they die with the app.
  const signInCodes = new SignInCodes();

  // The orchestrator as the request's caller may use it: every scope rule is decided there.
  const scoped = (c: Context) => orchestrator.asScope(scopeOf(c));

  const handlers: RouteHandlers = {
    getHealth: (c) => c.json({ status: "ok" as const }, 200),
    listRepositories: async (c) => c.json(await scoped(c).listRepositories(c.req.valid("query")), 200),
    createRepository: async (c) => c.json(await scoped(c).createRepository(c.req.valid("json")), 201),
    getRepository: async (c) => {
      const { id } = c.req.valid("param");
      return c.json(
        found(await scoped(c).getRepository(id), "RepositoryNotFound", `no repository with id ${id}`),
        200,
      );
    },
    deleteRepository: async (c) => {
      const { id } = c.req.valid("param");
      const repository = await scoped(c).deleteRepository(id);
      return c.json(found(repository, "RepositoryNotFound", `no repository with id ${id}`), 200);
    },
    getRepositoryPool: async (c) => {
      const { id } = c.req.valid("param");
      return c.json(await scoped(c).repositoryPool(id), 200);
    },
    listSnapshots: async (c) => {
      const { id } = c.req.valid("param");
      const { sessionId } = c.req.valid("query");
      return c.json(await scoped(c).listSnapshots(id, sessionId === undefined ? {} : { sessionId }), 200);
    },
    restoreSnapshot: async (c) => {
      const { id } = c.req.valid("param");
      const { ref, ...request } = c.req.valid("json");
      return c.json(await scoped(c).restoreSnapshot(id, ref, request), 201);
    },
    pruneSnapshots: async (c) => {
      const { id } = c.req.valid("param");
      const { olderThan, sessionId, dryRun } = c.req.valid("query");
      return c.json(
        await scoped(c).pruneSnapshots(id, {
          dryRun: truthy(dryRun),
          ...(olderThan === undefined ? {} : { olderThanMs: parseDuration(olderThan, "olderThan") }),
          ...(sessionId === undefined ? {} : { sessionId }),
        }),
        200,
      );
    },
    listSessions: async (c) => c.json(await scoped(c).listSessions(c.req.valid("query")), 200),
    createSession: async (c) => c.json(await scoped(c).createSession(c.req.valid("json")), 201),
    getSession: async (c) => {
      const { id } = c.req.valid("param");
      return c.json(found(await scoped(c).getSession(id), "SessionNotFound", `no session with id ${id}`), 200);
    },
    updateSession: async (c) => {
      const { id } = c.req.valid("param");
      const session = await scoped(c).updateSession(id, c.req.valid("json"));
      return c.json(found(session, "SessionNotFound", `no session with id ${id}`), 200);
    },
    deleteSession: async (c) => {
      const { id } = c.req.valid("param");
      const { force, deleteBranch } = c.req.valid("query");
      const closed = await scoped(c)
        .deleteSession(id, { force: truthy(force), deleteBranch: truthy(deleteBranch) })
        .catch((error) => {
          // A refusal that `force` overrides (a worktree holding work): say so in this API's words.
          if (!isSessionError(error, "Conflict") || !error.forceable) throw error;
          const details = error.details;
          const kept = details === null
            ? ""
            : details.wouldSnapshot
            ? ` (a snapshot of ${paths(details.dirtyPathCount)} is kept first; the answer's snapshotRef names it)`
            : ` (${paths(details.dirtyPathCount)} would be lost)`;
          throw new SessionError(
            "Conflict",
            `${error.message}; to discard the changes, retry with ?force=true${kept}`,
            details === null ? { cause: error, forceable: true } : { cause: error, details },
          );
        });
      const { session, ...outcome } = found(closed, "SessionNotFound", `no session with id ${id}`);
      return c.json({
        ...session,
        worktreeRemoved: outcome.worktreeRemoved,
        branchDeleted: outcome.branchDeleted,
        branchKeptReason: outcome.branchKeptReason,
        worktreeKeptReason: outcome.worktreeKeptReason ?? null,
        snapshotRef: outcome.snapshotRef ?? null,
      }, 200);
    },
    archiveSession: async (c) => {
      const { id } = c.req.valid("param");
      const { session, snapshotRef, head, worktreeRemoved } = await scoped(c).archiveSession(id);
      return c.json({ ...session, snapshotRef, head, worktreeRemoved }, 200);
    },
    restoreSession: async (c) => {
      const { id } = c.req.valid("param");
      return c.json(await scoped(c).restoreSession(id), 200);
    },
    runSessionSetup: async (c) => {
      const { id } = c.req.valid("param");
      return c.json(await scoped(c).runSetup(id), 202);
    },
    forkSession: async (c) => {
      const { id } = c.req.valid("param");
      return c.json(await scoped(c).forkSession(id, c.req.valid("json")), 201);
    },
    getSessionStatus: async (c) => {
      const { id } = c.req.valid("param");
      return c.json(await scoped(c).sessionStatus(id), 200);
    },
    putSessionSecret: async (c) => {
      const { id } = c.req.valid("param");
      const { encryptedSecret, nonce } = c.req.valid("json");
      await scoped(c).storeSessionSecret(
        id,
        decodeBase64(encryptedSecret, "encryptedSecret"),
        decodeBase64(nonce, "nonce"),
      );
      return c.json({ sessionId: id, stored: true as const }, 200);
    },
    getSessionSecret: async (c) => {
      const { id } = c.req.valid("param");
      const secret = found(
        await scoped(c).resolveSessionSecret(id),
        "SessionNotFound",
        `session ${id} has no secret`,
      );
      const encoded = encodeBase64(secret);
      secret.fill(0);
      return c.json({ sessionId: id, secret: encoded }, 200);
    },
    reconcile: async (c) => {
      const { dryRun } = c.req.valid("query");
      return c.json(await scoped(c).reconcile({ dryRun: truthy(dryRun) }), 200);
    },
    gc: async (c) => {
      const { dryRun, idle } = c.req.valid("query");
      const idleMs = idle === undefined ? undefined : parseDuration(idle, "idle");
      return c.json(await scoped(c).gc({ dryRun: truthy(dryRun), idleMs }), 200);
    },
    createBackup: async (c) => {
      const { path, overwrite } = c.req.valid("json");
      return c.json(await scoped(c).backup(path, overwrite === undefined ? {} : { overwrite }), 200);
    },
    createSessionToken: async (c) => {
      const { id } = c.req.valid("param");
      return c.json(await scoped(c).mintToken(id), 201);
    },
    revokeSessionToken: async (c) => {
      const { id, tokenId } = c.req.valid("param");
      const token = await scoped(c).revokeToken(id, tokenId);
      return c.json(found(token, "SessionNotFound", `session ${id} has no token with id ${tokenId}`), 200);
    },
    streamEvents: (c) => {
      // The header an EventSource sends on reconnecting wins over a query a page URL may carry.
      const lastEventId = c.req.valid("header")["last-event-id"] ?? c.req.valid("query").lastEventId;
      return eventStream(c, orchestrator, lastEventId, options.signal, scoped(c));
    },
    createSignInCode: async (c) => {
      scoped(c).requireRoot("sign a browser in to the dashboard");
      const { code, expiresAt } = await signInCodes.mint();
      return c.json({ url: dashboardUrl(c, code), expiresAt: expiresAt.toISOString() }, 201);
    },
    // Made on each request, like hono's `doc31`, so routes a user adds to this app are in it too.
    getOpenApiDocument: (c) => c.json({ ...app.getOpenAPI31Document(documentConfig) }, 200),
  };

  // A route declared with `security: []` (health) is registered before the token check, so it
  // is answered without a token; every other route after it.
  const names = Object.keys(ROUTES) as (keyof typeof ROUTES)[];
  const open = (name: keyof typeof ROUTES) => {
    const route: RouteConfig = ROUTES[name];
    return route.security !== undefined && route.security.length === 0;
  };
  const register = (name: keyof typeof ROUTES) =>
    // Each handler is typed by its own route in `handlers`; the loop only pairs them up, and names
    // the operation in the document after it.
    app.openapi(
      { ...ROUTES[name], operationId: name } as RouteConfig,
      handlers[name] as RouteHandlers[keyof RouteHandlers] as never,
    );
  names.filter(open).forEach(register);
  // The page's files carry no data and its sign-in is gated by a code: before the token check too.
  mountDashboard(app, { token: options.token, codes: signInCodes });
  app.use(bearerAuth(options.token, (token) => orchestrator.resolveToken(token)));
  // After the token check, so that a caller without one learns nothing about the API.
  app.use(jsonContentType());
  names.filter((name) => !open(name)).forEach(register);

  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description: "The server's token, kept in <data dir>/token.",
  });
  // The routes registered above are exactly `ROUTES`, whose schema `AppType` is computed from.
  return app as unknown as AppType;
}
