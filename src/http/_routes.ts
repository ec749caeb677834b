/**
 * Internal: every route of the HTTP API, described once in {@linkcode ROUTES}: method, path,
 * request schemas and responses. The same entry validates requests, types its handler in
 * `app.ts`, generates the OpenAPI document, and types the `hc` client, whose type is computed
 * from this list ({@linkcode RoutesSchema}). A new route is one entry here and one handler there;
 * the compiler asks for the handler.
 *
 * The list is plain object literals on purpose: the published package has no slow types, so the
 * list's type must be readable without running type inference on calls (`createRoute(…)`, helper
 * functions). `as const` keeps each method and path a literal type; the reused parts are consts
 * whose types the checker reads the same way.
 *
 * @module
 */

import type { RouteConfig, RouteConfigToTypedResponse, RouteHandler } from "@hono/zod-openapi";
import type { Env, Handler, ToSchema } from "hono";
import {
  ArchivedSessionSchema,
  BackupRequestSchema,
  BackupSchema,
  CreateRepositorySchema,
  CreateSessionSchema,
  DeletedSessionSchema,
  DeleteSessionQuerySchema,
  ErrorSchema,
  EventHeadersSchema,
  EventQuerySchema,
  EventStreamSchema,
  ForkSessionSchema,
  GcQuerySchema,
  GcReportSchema,
  HealthSchema,
  IdParamsSchema,
  MintedTokenSchema,
  OpenApiDocumentSchema,
  PageQuerySchema,
  PruneSnapshotsQuerySchema,
  PruneSnapshotsSchema,
  PutSecretSchema,
  ReconcileQuerySchema,
  ReconcileReportSchema,
  RepositoryListSchema,
  RepositoryPoolSchema,
  RepositorySchema,
  RestoreSnapshotSchema,
  SecretSchema,
  SecretStoredSchema,
  SessionListSchema,
  SessionQuerySchema,
  SessionSchema,
  SessionStatusSchema,
  SessionTokenSchema,
  SignInCodeSchema,
  SnapshotListSchema,
  SnapshotQuerySchema,
  TokenParamsSchema,
  UpdateSessionSchema,
} from "./_schemas.ts";

/** Where the OpenAPI document is served. */
export const OPENAPI_PATH = "/v1/openapi.json" as const;

const errorJson = { "application/json": { schema: ErrorSchema } };

// The error answers, each with the kinds it carries. Every route lists the ones it can give: every
// route can be refused for its Host or Origin (403); every route but health needs the token (401);
// a route that reads a body can find it too large (413, before the token is checked) or not JSON (415).
const invalidInput = {
  description: "Malformed JSON, an unknown field, or an invalid value (kind InvalidInput).",
  content: errorJson,
};
const unauthorized = { description: "No or a wrong bearer token (kind Unauthorized).", content: errorJson };
const forbidden = {
  description: "A Host or Origin outside the allow-lists, or a token scoped to a session asking what it may not " +
    "(kind Forbidden).",
  content: errorJson,
};
const failed = {
  description: "A storage, encryption or git failure, or an unexpected one (kind Storage, Encryption or " +
    "WorktreeCreation); the message refers to the server log.",
  content: errorJson,
};
const unavailable = {
  description: "The database cannot be reached right now, or is busy past the server's bounds (a lock, a " +
    "statement or a free connection waited for too long) (kind Storage), or the server is still starting; " +
    "retry after the Retry-After header's seconds.",
  headers: {
    "Retry-After": {
      description: "Whole seconds after which the same request may succeed.",
      schema: { type: "integer" as const, minimum: 0 },
      required: true,
    },
  },
  content: errorJson,
};

// A worktree create refused for want of disk space where worktrees go.
const noSpace = {
  description: "The worktree's checkout would not fit in the free disk space where worktrees go (with room to " +
    "spare); nothing was made (kind InsufficientStorage). The message says how much is needed and free.",
  content: errorJson,
};
const notFound = {
  description: "No such repository or session (kind RepositoryNotFound or SessionNotFound).",
  content: errorJson,
};
const tooLarge = { description: "The body is over the size limit (kind InvalidInput).", content: errorJson };
const notJson = {
  description: "A body not sent as JSON (kind UnsupportedMediaType): send Content-Type: application/json.",
  content: errorJson,
};

const repositoryJson = { "application/json": { schema: RepositorySchema } };
const sessionJson = { "application/json": { schema: SessionSchema } };
const idParams = { params: IdParamsSchema };

/** The document's tags, in order: each route has one. */
export const TAGS: { name: string; description: string }[] = [
  { name: "server", description: "The server itself: whether it is up, and this document." },
  { name: "repositories", description: "The repositories (checkouts) that sessions belong to." },
  {
    name: "sessions",
    description: "Agent sessions, each tied to a repository and often to a worktree and branch of its own.",
  },
  { name: "secrets", description: "Each session's 32-byte encryption secret." },
  {
    name: "tokens",
    description: "Bearer tokens scoped to a session: they reach that session and the sessions made with them.",
  },
  { name: "worktrees", description: "Repairing what a killed process left half done." },
  {
    name: "snapshots",
    description: "The work that forced deletes, archives and forks saved: listed, restored into new sessions, pruned.",
  },
  { name: "events", description: "Every lifecycle change, as server-sent events." },
  { name: "backups", description: "Consistent copies of the database, written by the server on its own machine." },
  { name: "dashboard", description: "Signing a browser in to the dashboard at /ui/." },
];

/**
 * Every route of the API. Each key is the route's `operationId` in the document and the name of
 * its handler. Health comes first: it is the one route without a token.
 */
export const ROUTES = {
  getHealth: {
    method: "get" as const,
    path: "/v1/health" as const,
    tags: ["server"],
    summary: "Whether the server is up; needs no token",
    security: [],
    request: {},
    responses: {
      200: { description: "The server answers.", content: { "application/json": { schema: HealthSchema } } },
      403: forbidden,
    },
  },
  listRepositories: {
    method: "get" as const,
    path: "/v1/repositories" as const,
    tags: ["repositories"],
    summary: "A page of repositories, oldest first",
    request: { query: PageQuerySchema },
    responses: {
      200: { description: "The repositories.", content: { "application/json": { schema: RepositoryListSchema } } },
      400: invalidInput,
      401: unauthorized,
      403: forbidden,
      500: failed,
      503: unavailable,
    },
  },
  createRepository: {
    method: "post" as const,
    path: "/v1/repositories" as const,
    tags: ["repositories"],
    summary: "Add a repository",
    request: { body: { content: { "application/json": { schema: CreateRepositorySchema } }, required: true as const } },
    responses: {
      201: { description: "The new repository.", content: repositoryJson },
      400: invalidInput,
      401: unauthorized,
      403: forbidden,
      409: { description: "A repository with this path exists (kind Conflict).", content: errorJson },
      413: tooLarge,
      415: notJson,
      500: failed,
      503: unavailable,
    },
  },
  getRepository: {
    method: "get" as const,
    path: "/v1/repositories/{id}" as const,
    tags: ["repositories"],
    summary: "One repository",
    request: idParams,
    responses: {
      200: { description: "The repository.", content: repositoryJson },
      400: invalidInput,
      401: unauthorized,
      403: forbidden,
      404: notFound,
      500: failed,
      503: unavailable,
    },
  },
  deleteRepository: {
    method: "delete" as const,
    path: "/v1/repositories/{id}" as const,
    tags: ["repositories"],
    summary: "Remove a repository that has no sessions",
    request: idParams,
    responses: {
      200: { description: "The removed repository.", content: repositoryJson },
      400: invalidInput,
      401: unauthorized,
      403: forbidden,
      404: notFound,
      409: {
        description: "The repository still has sessions: delete them first (kind Conflict).",
        content: errorJson,
      },
      413: tooLarge,
      500: failed,
      503: unavailable,
    },
  },
  getRepositoryPool: {
    method: "get" as const,
    path: "/v1/repositories/{id}/pool" as const,
    tags: ["repositories"],
    summary: "A repository's pool of ready worktrees",
    description: "How many worktrees the operator's config keeps ready at the repository's default branch " +
      "(`pool`), and how many are ready now; a short pool starts filling in the background. `{ size: 0, ready: 0 }` " +
      "when it keeps none.",
    request: { params: IdParamsSchema },
    responses: {
      200: { description: "The pool.", content: { "application/json": { schema: RepositoryPoolSchema } } },
      400: { description: "A bad id (kind InvalidInput).", content: errorJson },
      401: unauthorized,
      403: forbidden,
      404: { description: "No such repository (kind RepositoryNotFound).", content: errorJson },
      500: failed,
      503: unavailable,
    },
  },
  listSnapshots: {
    method: "get" as const,
    path: "/v1/repositories/{id}/snapshots" as const,
    tags: ["snapshots"],
    summary: "The session snapshots a repository keeps",
    description: "What forced deletes, archives and forks saved under refs/session-snapshots/, oldest first: each " +
      "one's session, commit, when and why it was taken, how many paths it changed and their size in bytes, and " +
      "whether its session still exists. Changes nothing.",
    request: { params: IdParamsSchema, query: SnapshotQuerySchema },
    responses: {
      200: { description: "The snapshots.", content: { "application/json": { schema: SnapshotListSchema } } },
      400: {
        description: "A bad id, or no worktree lifecycle configured (kind InvalidInput).",
        content: errorJson,
      },
      401: unauthorized,
      403: forbidden,
      404: { description: "No such repository (kind RepositoryNotFound).", content: errorJson },
      500: failed,
      503: unavailable,
    },
  },
  restoreSnapshot: {
    method: "post" as const,
    path: "/v1/repositories/{id}/snapshots/restore" as const,
    tags: ["snapshots"],
    summary: "Restore a snapshot's work into a new worktree session",
    description: "The new session's branch (new) starts at the commit the snapshot's worktree had, and its worktree " +
      "holds the snapshot's files as uncommitted changes, untracked files untracked (what was staged is staged " +
      "again for an archive's snapshot whose record is still there). The snapshot never lands on a branch and its " +
      "ref stays. Announced as `session.created`.",
    request: {
      params: IdParamsSchema,
      body: { content: { "application/json": { schema: RestoreSnapshotSchema } }, required: true as const },
    },
    responses: {
      201: { description: "The new session.", content: sessionJson },
      400: {
        description: "A ref that is not refs/session-snapshots/<session id>[.<n>], a malformed field, or no " +
          "worktree lifecycle configured (kind InvalidInput); nothing was made.",
        content: errorJson,
      },
      401: unauthorized,
      403: forbidden,
      404: {
        description: "No such repository (kind RepositoryNotFound) or snapshot (kind SnapshotNotFound).",
        content: errorJson,
      },
      409: {
        description: "The new session's folder or branch is taken; nothing was made (kind Conflict).",
        content: errorJson,
      },
      413: tooLarge,
      415: notJson,
      500: failed,
      503: unavailable,
      507: noSpace,
    },
  },
  pruneSnapshots: {
    method: "post" as const,
    path: "/v1/repositories/{id}/snapshots/prune" as const,
    tags: ["snapshots"],
    summary: "Delete old snapshots of sessions that are gone",
    description: "Deletes the snapshots taken longer ago than olderThan (every age by default), optionally only " +
      "one session's. A snapshot whose session still exists is never deleted: it is reported as kept. With " +
      "dryRun nothing changes.",
    request: { params: IdParamsSchema, query: PruneSnapshotsQuerySchema },
    responses: {
      200: {
        description: "What was deleted (or would be) and what was kept.",
        content: { "application/json": { schema: PruneSnapshotsSchema } },
      },
      400: {
        description: "A bad duration or id, or no worktree lifecycle configured (kind InvalidInput).",
        content: errorJson,
      },
      401: unauthorized,
      403: forbidden,
      404: { description: "No such repository (kind RepositoryNotFound).", content: errorJson },
      413: tooLarge,
      415: notJson,
      500: failed,
      503: unavailable,
    },
  },
  listSessions: {
    method: "get" as const,
    path: "/v1/sessions" as const,
    tags: ["sessions"],
    summary: "A page of sessions, oldest first, optionally of one repository, one status and one parent session",
    request: { query: SessionQuerySchema },
    responses: {
      200: { description: "The sessions.", content: { "application/json": { schema: SessionListSchema } } },
      400: invalidInput,
      401: unauthorized,
      403: forbidden,
      500: failed,
      503: unavailable,
    },
  },
  createSession: {
    method: "post" as const,
    path: "/v1/sessions" as const,
    tags: ["sessions"],
    summary: "Create a session and provision its secret (with a worktree lifecycle: open its worktree too)",
    request: { body: { content: { "application/json": { schema: CreateSessionSchema } }, required: true as const } },
    responses: {
      201: { description: "The new session. Its secret is never in this answer.", content: sessionJson },
      400: invalidInput,
      401: unauthorized,
      403: forbidden,
      404: { description: "No such repository (kind RepositoryNotFound).", content: errorJson },
      409: { description: "The id or worktree path is taken (kind Conflict).", content: errorJson },
      413: tooLarge,
      415: notJson,
      500: failed,
      503: unavailable,
      507: noSpace,
    },
  },
  getSession: {
    method: "get" as const,
    path: "/v1/sessions/{id}" as const,
    tags: ["sessions"],
    summary: "One session",
    request: idParams,
    responses: {
      200: { description: "The session.", content: sessionJson },
      400: invalidInput,
      401: unauthorized,
      403: forbidden,
      404: notFound,
      500: failed,
      503: unavailable,
    },
  },
  updateSession: {
    method: "patch" as const,
    path: "/v1/sessions/{id}" as const,
    tags: ["sessions"],
    summary: "Change a session's title or status",
    request: {
      params: IdParamsSchema,
      body: { content: { "application/json": { schema: UpdateSessionSchema } }, required: true as const },
    },
    responses: {
      200: { description: "The changed session.", content: sessionJson },
      400: invalidInput,
      401: unauthorized,
      403: forbidden,
      404: notFound,
      413: tooLarge,
      415: notJson,
      500: failed,
      503: unavailable,
    },
  },
  deleteSession: {
    method: "delete" as const,
    path: "/v1/sessions/{id}" as const,
    tags: ["sessions"],
    summary: "Delete a session in one atomic step and forget its secret (with a lifecycle: close its worktree)",
    request: { params: IdParamsSchema, query: DeleteSessionQuerySchema },
    responses: {
      200: {
        description: "The deleted session: the caller's cleanup data.",
        content: { "application/json": { schema: DeletedSessionSchema } },
      },
      400: invalidInput,
      401: unauthorized,
      403: forbidden,
      404: {
        description: "The session did not exist (kind SessionNotFound); of two concurrent deletes one gets this.",
        content: errorJson,
      },
      409: {
        description: "The worktree has changes (retry with force=true; the error has forceable: true), or it belongs " +
          "to another machine's server, which the message names (kind Conflict).",
        content: errorJson,
      },
      413: tooLarge,
      500: failed,
      503: unavailable,
    },
  },
  archiveSession: {
    method: "post" as const,
    path: "/v1/sessions/{id}/archive" as const,
    tags: ["sessions"],
    summary: "Archive a worktree session: save its work, remove its folder, keep its branch, row and secret",
    description: "The worktree's uncommitted work (tracked, staged and untracked changes; not ignored files) is " +
      "saved under a snapshot ref of its own when there is any, the folder and git's record of it are removed, " +
      "and the session is kept with status `archived` (its folder and branch still recorded) until it is restored " +
      "or deleted. Announced as `session.archived`.",
    request: { params: IdParamsSchema },
    responses: {
      200: {
        description: "The archived session and what was kept.",
        content: { "application/json": { schema: ArchivedSessionSchema } },
      },
      400: {
        description: "The session has no worktree made by this server's worktree lifecycle (or the server has " +
          "none), or the id is malformed (kind InvalidInput).",
        content: errorJson,
      },
      401: unauthorized,
      403: forbidden,
      404: notFound,
      409: {
        description: "The session is archived already, belongs to another machine's server, has an unfinished " +
          "operation, or its worktree cannot be archived whole (missing, not on its branch, in the middle of a " +
          "merge or rebase, or holding a nested repository); nothing was changed (kind Conflict).",
        content: errorJson,
      },
      413: tooLarge,
      415: notJson,
      500: failed,
      503: unavailable,
    },
  },
  restoreSession: {
    method: "post" as const,
    path: "/v1/sessions/{id}/restore" as const,
    tags: ["sessions"],
    summary: "Restore an archived session: its worktree back on its branch, with its work uncommitted",
    description: "The worktree comes back at its folder, on its branch at the commit it had, with the archived " +
      "work as uncommitted changes: staged as staged, untracked as untracked, byte for byte. The snapshot never " +
      "lands on the branch, and its ref stays. A clean archive whose branch moved since is restored on the branch " +
      "where it is now. Announced as `session.restored`.",
    request: { params: IdParamsSchema },
    responses: {
      200: { description: "The restored session, active again.", content: sessionJson },
      400: {
        description: "The session has no worktree made by this server's worktree lifecycle (or the server has " +
          "none), or the id is malformed (kind InvalidInput).",
        content: errorJson,
      },
      401: unauthorized,
      403: forbidden,
      404: notFound,
      409: {
        description: "The session is not archived, belongs to another machine's server, or cannot be restored " +
          "as it was: its folder is taken, or its branch is gone, checked out elsewhere, or moved while there is " +
          "work to put back; nothing was changed (kind Conflict).",
        content: errorJson,
      },
      413: tooLarge,
      415: notJson,
      500: failed,
      503: unavailable,
    },
  },
  runSessionSetup: {
    method: "post" as const,
    path: "/v1/sessions/{id}/setup" as const,
    tags: ["sessions"],
    summary: "Run a worktree session's setup again (the operator's commands)",
    description: "Runs the setup commands the operator's config file gives the session's repository, in its " +
      "worktree, as a create does: the answer comes at once, with `setup.state` `running`, and the run goes on in " +
      "the background (`session.updated` events carry its state and the end of its output). For a setup that " +
      "failed or was interrupted. Nothing in a request can name a command.",
    request: { params: IdParamsSchema },
    responses: {
      202: { description: "The session, its setup running.", content: sessionJson },
      400: {
        description: "The session has no worktree made by this server, or its repository has no setup commands " +
          "(kind InvalidInput).",
        content: errorJson,
      },
      401: unauthorized,
      403: forbidden,
      404: notFound,
      409: {
        description: "Its setup is already running, it is archived, or it belongs to another machine (kind Conflict).",
        content: errorJson,
      },
      413: tooLarge,
      415: notJson,
      500: failed,
      503: unavailable,
    },
  },
  forkSession: {
    method: "post" as const,
    path: "/v1/sessions/{id}/fork" as const,
    tags: ["sessions"],
    summary: "Fork a worktree session: a new session from its commit with its uncommitted work, the source untouched",
    description: "The new session gets its own worktree and a new branch that starts at the source's commit, with " +
      "the source's uncommitted work copied in (staged as staged, untracked as untracked, byte for byte); the " +
      "source is left as it was, its work saved first as a snapshot of its own. An archived source forks from " +
      "what its archive saved. The body may be empty (`{}`). Announced as `session.created`.",
    request: {
      params: IdParamsSchema,
      body: { content: { "application/json": { schema: ForkSessionSchema } }, required: true as const },
    },
    responses: {
      201: { description: "The new session.", content: sessionJson },
      400: {
        description: "A field is malformed, or the source has no worktree made by this server's worktree " +
          "lifecycle (or the server has none) (kind InvalidInput).",
        content: errorJson,
      },
      401: unauthorized,
      403: forbidden,
      404: notFound,
      409: {
        description: "The fork's folder or branch is taken, the source belongs to another machine's server or has " +
          "an unfinished operation, or its worktree cannot be copied whole (missing, not on its branch, in the " +
          "middle of a merge or rebase, or holding a nested repository); nothing was made (kind Conflict).",
        content: errorJson,
      },
      413: tooLarge,
      415: notJson,
      500: failed,
      503: unavailable,
      507: noSpace,
    },
  },
  getSessionStatus: {
    method: "get" as const,
    path: "/v1/sessions/{id}/status" as const,
    tags: ["sessions"],
    summary: "A worktree session's git state: uncommitted work, ahead and behind its base, landed, disk use",
    description: "Read from the repository's refs and objects (ahead, behind, landed) and the worktree folder " +
      "(dirty, diskBytes); nothing is changed. A branch with no commits of its own is never landed.",
    request: idParams,
    responses: {
      200: {
        description: "The session's git state.",
        content: { "application/json": { schema: SessionStatusSchema } },
      },
      400: {
        description: "The session has no worktree (or the server has no worktree lifecycle), or the id is malformed " +
          "(kind InvalidInput).",
        content: errorJson,
      },
      401: unauthorized,
      403: forbidden,
      404: notFound,
      409: {
        description: "The session's worktree is on another machine; ask that machine's server (kind Conflict).",
        content: errorJson,
      },
      500: failed,
      503: unavailable,
    },
  },
  putSessionSecret: {
    method: "put" as const,
    path: "/v1/sessions/{id}/secret" as const,
    tags: ["secrets"],
    summary: "Store a secret the caller sealed under the database key (base64)",
    request: {
      params: IdParamsSchema,
      body: { content: { "application/json": { schema: PutSecretSchema } }, required: true as const },
    },
    responses: {
      200: { description: "Stored.", content: { "application/json": { schema: SecretStoredSchema } } },
      400: {
        description: "Bad base64, or ciphertext that does not open under the database key (kind InvalidInput).",
        content: errorJson,
      },
      401: unauthorized,
      403: forbidden,
      404: { description: "No such session (kind SessionNotFound).", content: errorJson },
      413: tooLarge,
      415: notJson,
      500: failed,
      503: unavailable,
    },
  },
  getSessionSecret: {
    method: "get" as const,
    path: "/v1/sessions/{id}/secret" as const,
    tags: ["secrets"],
    summary: "A session's secret, resolved through memory, the store and the keychain (base64)",
    request: idParams,
    responses: {
      200: { description: "The secret.", content: { "application/json": { schema: SecretSchema } } },
      400: invalidInput,
      401: unauthorized,
      403: forbidden,
      404: { description: "No such session, or it has no secret (kind SessionNotFound).", content: errorJson },
      500: failed,
      503: unavailable,
    },
  },
  reconcile: {
    method: "post" as const,
    path: "/v1/reconcile" as const,
    tags: ["worktrees"],
    summary: "Finish or undo what a killed process left; without a worktree lifecycle, an empty report",
    request: { query: ReconcileQuerySchema },
    responses: {
      200: {
        description: "What was found and done.",
        content: { "application/json": { schema: ReconcileReportSchema } },
      },
      400: invalidInput,
      401: unauthorized,
      403: forbidden,
      413: tooLarge,
      415: notJson,
      500: failed,
      503: unavailable,
    },
  },
  gc: {
    method: "post" as const,
    path: "/v1/gc" as const,
    tags: ["worktrees"],
    summary: "Clean up finished work: delete landed and clean sessions, archive landed but dirty or idle ones",
    description: "Only worktree sessions this server's lifecycle made on this machine are looked at. A delete is " +
      "never forced and deletes the branch only when it was merged (every commit in the base) and made here; an " +
      "archive saves the work first, so it can be restored. With dryRun nothing changes.",
    request: { query: GcQuerySchema },
    responses: {
      200: {
        description: "One finding per session: what was decided, why, and whether it was done.",
        content: { "application/json": { schema: GcReportSchema } },
      },
      400: {
        description: "A bad idle duration, or no worktree lifecycle configured (kind InvalidInput).",
        content: errorJson,
      },
      401: unauthorized,
      403: forbidden,
      413: tooLarge,
      415: notJson,
      500: failed,
      503: unavailable,
    },
  },
  createBackup: {
    method: "post" as const,
    path: "/v1/backup" as const,
    tags: ["backups"],
    summary: "Write a consistent, checked copy of the SQLite database to a file on the server's machine",
    request: { body: { content: { "application/json": { schema: BackupRequestSchema } }, required: true as const } },
    responses: {
      200: {
        description: "The copy, checked with PRAGMA integrity_check, is in place: a server started on it serves " +
          "every change committed before it was made.",
        content: { "application/json": { schema: BackupSchema } },
      },
      400: {
        description: "A relative path or one with `..`, a folder that does not exist, a folder as the path, the " +
          "live database's own files, or a store that cannot be copied (Postgres: use pg_dump) (kind InvalidInput).",
        content: errorJson,
      },
      401: unauthorized,
      403: forbidden,
      409: {
        description: "A file exists at the path: retry with overwrite: true to replace it (kind Conflict).",
        content: errorJson,
      },
      413: tooLarge,
      415: notJson,
      500: failed,
      503: unavailable,
    },
  },
  streamEvents: {
    method: "get" as const,
    path: "/v1/events" as const,
    tags: ["events"],
    summary: "Server-sent events: every lifecycle change, after it is committed; resumes from Last-Event-ID",
    description: "Each event's `id:` is durable (the store's event log: it survives restarts and is never reused). " +
      "A client that reconnects with `Last-Event-ID` (or `?lastEventId=`) receives exactly the events it missed, " +
      "as far as the log keeps them (the SQLite and Postgres logs keep the newest 10 000 events, and any event " +
      "younger than 10 minutes), then the new ones; older ones are announced by one `gap` event.",
    request: { headers: EventHeadersSchema, query: EventQuerySchema },
    responses: {
      200: { description: "The event stream.", content: { "text/event-stream": { schema: EventStreamSchema } } },
      400: {
        description:
          "A `Last-Event-ID` that is not a whole number, or is newer than the newest event (kind InvalidInput).",
        content: errorJson,
      },
      401: unauthorized,
      403: forbidden,
      500: failed,
      503: unavailable,
    },
  },
  createSessionToken: {
    method: "post" as const,
    path: "/v1/sessions/{id}/tokens" as const,
    tags: ["tokens"],
    summary: "Mint a bearer token scoped to a session (shown once)",
    description: "With the token a caller reads the session, creates sessions of its repository (recorded with " +
      "`parentSessionId`), and reads, changes, archives, restores, forks and deletes only the sessions made with it " +
      "and their descendants; any other session answers 404, repositories, snapshots, gc, reconcile and backups " +
      "403. Minted with the server's token, or a token scoped to the session or an ancestor of it. It is stored " +
      "as its SHA-256 hash only, and dies with its session or when revoked.",
    request: { params: IdParamsSchema },
    responses: {
      201: {
        description: "The token, its id and its session.",
        content: { "application/json": { schema: MintedTokenSchema } },
      },
      400: invalidInput,
      401: unauthorized,
      403: forbidden,
      404: notFound,
      413: tooLarge,
      415: notJson,
      500: failed,
      503: unavailable,
    },
  },
  revokeSessionToken: {
    method: "delete" as const,
    path: "/v1/sessions/{id}/tokens/{tokenId}" as const,
    tags: ["tokens"],
    summary: "Revoke a session's scoped token",
    description: "From now on the token is refused (401). Revoking a revoked token again answers it as it is.",
    request: { params: TokenParamsSchema },
    responses: {
      200: {
        description: "The token's record, revoked.",
        content: { "application/json": { schema: SessionTokenSchema } },
      },
      400: invalidInput,
      401: unauthorized,
      403: forbidden,
      404: { description: "No such session, or no such token of it (kind SessionNotFound).", content: errorJson },
      413: tooLarge,
      500: failed,
      503: unavailable,
    },
  },
  createSignInCode: {
    method: "post" as const,
    path: "/v1/ui/sign-in-codes" as const,
    tags: ["dashboard"],
    summary: "A one-time link that signs a browser in to the dashboard (what `slo ui` opens)",
    request: {},
    responses: {
      201: {
        description: "The link: the dashboard's URL with a code in its fragment, which `POST /ui/sign-in` accepts " +
          "once, within two minutes, while this server runs.",
        content: { "application/json": { schema: SignInCodeSchema } },
      },
      401: unauthorized,
      403: forbidden,
      413: tooLarge,
      415: notJson,
      500: failed,
      503: unavailable,
    },
  },
  getOpenApiDocument: {
    method: "get" as const,
    path: OPENAPI_PATH,
    tags: ["server"],
    summary: "This OpenAPI 3.1 document",
    request: {},
    responses: {
      200: {
        description: "The document: every route, its parameters, bodies and answers.",
        content: { "application/json": { schema: OpenApiDocumentSchema } },
      },
      401: unauthorized,
      403: forbidden,
      500: failed,
      503: unavailable,
    },
  },
};

/** The routes' type: by handler name, each route's literal description. */
export type Routes = typeof ROUTES;

/** A handler per route, each typed by its route: its params, query and body, and the answers it may give. */
export type RouteHandlers = { [Name in keyof Routes]: RouteHandler<Routes[Name]> };

type RouteInput<R extends RouteConfig> = RouteHandler<R> extends Handler<Env, string, infer I> ? I : never;

type HonoPath<P extends string> = P extends `${infer Start}/{${infer Param}}${infer Rest}`
  ? `${Start}/:${Param}${HonoPath<Rest>}`
  : P;

/** The client-facing schema of one route, as `app.openapi(route, …)` records it. */
type RouteSchema<R extends RouteConfig> = ToSchema<
  R["method"],
  HonoPath<R["path"]>,
  RouteInput<R>,
  RouteConfigToTypedResponse<R>
>;

type UnionToIntersection<U> = (U extends unknown ? (value: U) => void : never) extends (value: infer I) => void ? I
  : never;

/** The schema of every route in {@linkcode ROUTES}: what `hc` reads. */
export type RoutesSchema = UnionToIntersection<{ [Name in keyof Routes]: RouteSchema<Routes[Name]> }[keyof Routes]>;
