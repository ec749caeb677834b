/**
 * Every route of the HTTP API, described once: method, path, request schemas and responses.
 * The same definitions validate requests, type the handlers and the `hc` client, and generate
 * the OpenAPI document. Their types are written out because the package has no slow types;
 * the compiler checks each one against its definition.
 *
 * @module
 */

import { createRoute, type z } from "@hono/zod-openapi";
import {
  CreateRepositorySchema,
  CreateSessionSchema,
  DeletedSessionSchema,
  DeleteSessionQuerySchema,
  ErrorSchema,
  EventStreamSchema,
  HealthSchema,
  IdParamsSchema,
  PageQuerySchema,
  PutSecretSchema,
  ReconcileQuerySchema,
  ReconcileReportSchema,
  RepositoryListSchema,
  RepositorySchema,
  SecretSchema,
  SecretStoredSchema,
  SessionListSchema,
  SessionQuerySchema,
  SessionSchema,
  UpdateSessionSchema,
} from "./schemas.ts";

/** A JSON response described by `S`. */
export type JsonResponse<S extends z.ZodType> = {
  /** What it means. */
  description: string;
  /** Its body. */
  content: { "application/json": { schema: S } };
};

/** A required JSON request body described by `S`. */
export type JsonBody<S extends z.ZodType> = {
  /** The body. */
  content: { "application/json": { schema: S } };
  /** Always required, so a request without a JSON content type is validated too, not skipped. */
  required: true;
};

type ErrorResponse = JsonResponse<typeof ErrorSchema>;

/** The errors any authenticated route can answer with. */
export type CommonErrors = {
  /** Malformed JSON, a field of the wrong type, an unknown field, a bad value. */
  400: ErrorResponse;
  /** No or a wrong bearer token. */
  401: ErrorResponse;
  /** A foreign Host or Origin. */
  403: ErrorResponse;
  /** A storage or encryption failure; storage details are logged, never sent. */
  500: ErrorResponse;
};

const error = (description: string): ErrorResponse => ({
  description,
  content: { "application/json": { schema: ErrorSchema } },
});

const json = <S extends z.ZodType>(schema: S, description: string): JsonResponse<S> => ({
  description,
  content: { "application/json": { schema } },
});

const body = <S extends z.ZodType>(schema: S): JsonBody<S> => ({
  content: { "application/json": { schema } },
  required: true,
});

const commonErrors: CommonErrors = {
  400: error("Malformed JSON, an unknown field, or an invalid value (kind InvalidInput)."),
  401: error("No or a wrong bearer token (kind Unauthorized)."),
  403: error("A Host or Origin outside the allow-lists (kind Forbidden)."),
  500: error("A storage or encryption failure (kind Storage, Encryption or WorktreeCreation)."),
};
const notFound: ErrorResponse = error("No such repository or session (kind RepositoryNotFound or SessionNotFound).");
const tooLarge: ErrorResponse = error("The body is over the size limit (kind InvalidInput).");

type Errors<Extra> = CommonErrors & Extra;

/** `GET /v1/health`. */
export const healthRoute: {
  method: "get";
  path: "/v1/health";
  request: Record<never, never>;
  responses: { 200: JsonResponse<typeof HealthSchema> };
} = createRoute({
  method: "get",
  path: "/v1/health",
  tags: ["server"],
  summary: "Whether the server is up; needs no token",
  security: [],
  request: {},
  responses: { 200: json(HealthSchema, "The server answers.") },
});

/** `GET /v1/repositories`. */
export const listRepositoriesRoute: {
  method: "get";
  path: "/v1/repositories";
  request: { query: typeof PageQuerySchema };
  responses: Errors<{ 200: JsonResponse<typeof RepositoryListSchema> }>;
} = createRoute({
  method: "get",
  path: "/v1/repositories",
  tags: ["repositories"],
  summary: "A page of repositories, oldest first",
  request: { query: PageQuerySchema },
  responses: { 200: json(RepositoryListSchema, "The repositories."), ...commonErrors },
});

/** `POST /v1/repositories`. */
export const createRepositoryRoute: {
  method: "post";
  path: "/v1/repositories";
  request: { body: JsonBody<typeof CreateRepositorySchema> };
  responses: Errors<{ 201: JsonResponse<typeof RepositorySchema>; 409: ErrorResponse; 413: ErrorResponse }>;
} = createRoute({
  method: "post",
  path: "/v1/repositories",
  tags: ["repositories"],
  summary: "Add a repository",
  request: { body: body(CreateRepositorySchema) },
  responses: {
    201: json(RepositorySchema, "The new repository."),
    ...commonErrors,
    409: error("A repository with this path exists (kind Conflict)."),
    413: tooLarge,
  },
});

/** `GET /v1/repositories/{id}`. */
export const getRepositoryRoute: {
  method: "get";
  path: "/v1/repositories/{id}";
  request: { params: typeof IdParamsSchema };
  responses: Errors<{ 200: JsonResponse<typeof RepositorySchema>; 404: ErrorResponse }>;
} = createRoute({
  method: "get",
  path: "/v1/repositories/{id}",
  tags: ["repositories"],
  summary: "One repository",
  request: { params: IdParamsSchema },
  responses: { 200: json(RepositorySchema, "The repository."), ...commonErrors, 404: notFound },
});

/** `DELETE /v1/repositories/{id}`. */
export const deleteRepositoryRoute: {
  method: "delete";
  path: "/v1/repositories/{id}";
  request: { params: typeof IdParamsSchema };
  responses: Errors<{ 200: JsonResponse<typeof RepositorySchema>; 404: ErrorResponse; 409: ErrorResponse }>;
} = createRoute({
  method: "delete",
  path: "/v1/repositories/{id}",
  tags: ["repositories"],
  summary: "Remove a repository that has no sessions",
  request: { params: IdParamsSchema },
  responses: {
    200: json(RepositorySchema, "The removed repository."),
    ...commonErrors,
    404: notFound,
    409: error("The repository still has sessions: delete them first (kind Conflict)."),
  },
});

/** `GET /v1/sessions`. */
export const listSessionsRoute: {
  method: "get";
  path: "/v1/sessions";
  request: { query: typeof SessionQuerySchema };
  responses: Errors<{ 200: JsonResponse<typeof SessionListSchema> }>;
} = createRoute({
  method: "get",
  path: "/v1/sessions",
  tags: ["sessions"],
  summary: "A page of sessions, oldest first, optionally of one repository and one status",
  request: { query: SessionQuerySchema },
  responses: { 200: json(SessionListSchema, "The sessions."), ...commonErrors },
});

/** `POST /v1/sessions`. */
export const createSessionRoute: {
  method: "post";
  path: "/v1/sessions";
  request: { body: JsonBody<typeof CreateSessionSchema> };
  responses: Errors<
    { 201: JsonResponse<typeof SessionSchema>; 404: ErrorResponse; 409: ErrorResponse; 413: ErrorResponse }
  >;
} = createRoute({
  method: "post",
  path: "/v1/sessions",
  tags: ["sessions"],
  summary: "Create a session and provision its secret (with a worktree lifecycle: open its worktree too)",
  request: { body: body(CreateSessionSchema) },
  responses: {
    201: json(SessionSchema, "The new session. Its secret is never in this answer."),
    ...commonErrors,
    404: error("No such repository (kind RepositoryNotFound)."),
    409: error("The id or worktree path is taken (kind Conflict)."),
    413: tooLarge,
  },
});

/** `GET /v1/sessions/{id}`. */
export const getSessionRoute: {
  method: "get";
  path: "/v1/sessions/{id}";
  request: { params: typeof IdParamsSchema };
  responses: Errors<{ 200: JsonResponse<typeof SessionSchema>; 404: ErrorResponse }>;
} = createRoute({
  method: "get",
  path: "/v1/sessions/{id}",
  tags: ["sessions"],
  summary: "One session",
  request: { params: IdParamsSchema },
  responses: { 200: json(SessionSchema, "The session."), ...commonErrors, 404: notFound },
});

/** `PATCH /v1/sessions/{id}`. */
export const updateSessionRoute: {
  method: "patch";
  path: "/v1/sessions/{id}";
  request: { params: typeof IdParamsSchema; body: JsonBody<typeof UpdateSessionSchema> };
  responses: Errors<{ 200: JsonResponse<typeof SessionSchema>; 404: ErrorResponse; 413: ErrorResponse }>;
} = createRoute({
  method: "patch",
  path: "/v1/sessions/{id}",
  tags: ["sessions"],
  summary: "Change a session's title or status",
  request: { params: IdParamsSchema, body: body(UpdateSessionSchema) },
  responses: { 200: json(SessionSchema, "The changed session."), ...commonErrors, 404: notFound, 413: tooLarge },
});

/** `DELETE /v1/sessions/{id}`. */
export const deleteSessionRoute: {
  method: "delete";
  path: "/v1/sessions/{id}";
  request: { params: typeof IdParamsSchema; query: typeof DeleteSessionQuerySchema };
  responses: Errors<{ 200: JsonResponse<typeof DeletedSessionSchema>; 404: ErrorResponse; 409: ErrorResponse }>;
} = createRoute({
  method: "delete",
  path: "/v1/sessions/{id}",
  tags: ["sessions"],
  summary: "Delete a session in one atomic step and forget its secret (with a lifecycle: close its worktree)",
  request: { params: IdParamsSchema, query: DeleteSessionQuerySchema },
  responses: {
    200: json(DeletedSessionSchema, "The deleted session: the caller's cleanup data."),
    ...commonErrors,
    404: error("The session did not exist (kind SessionNotFound); of two concurrent deletes one gets this."),
    409: error("The worktree has changes; retry with force=true (kind Conflict)."),
  },
});

/** `PUT /v1/sessions/{id}/secret`. */
export const putSecretRoute: {
  method: "put";
  path: "/v1/sessions/{id}/secret";
  request: { params: typeof IdParamsSchema; body: JsonBody<typeof PutSecretSchema> };
  responses: Errors<{ 200: JsonResponse<typeof SecretStoredSchema>; 404: ErrorResponse; 413: ErrorResponse }>;
} = createRoute({
  method: "put",
  path: "/v1/sessions/{id}/secret",
  tags: ["secrets"],
  summary: "Store a secret the caller sealed under the database key (base64)",
  request: { params: IdParamsSchema, body: body(PutSecretSchema) },
  responses: {
    200: json(SecretStoredSchema, "Stored."),
    ...commonErrors,
    404: error("No such session (kind SessionNotFound)."),
    413: tooLarge,
  },
});

/** `GET /v1/sessions/{id}/secret`. */
export const getSecretRoute: {
  method: "get";
  path: "/v1/sessions/{id}/secret";
  request: { params: typeof IdParamsSchema };
  responses: Errors<{ 200: JsonResponse<typeof SecretSchema>; 404: ErrorResponse }>;
} = createRoute({
  method: "get",
  path: "/v1/sessions/{id}/secret",
  tags: ["secrets"],
  summary: "A session's secret, resolved through memory, the store and the keychain (base64)",
  request: { params: IdParamsSchema },
  responses: {
    200: json(SecretSchema, "The secret."),
    ...commonErrors,
    404: error("No such session, or it has no secret (kind SessionNotFound)."),
  },
});

/** `POST /v1/reconcile`. */
export const reconcileRoute: {
  method: "post";
  path: "/v1/reconcile";
  request: { query: typeof ReconcileQuerySchema };
  responses: Errors<{ 200: JsonResponse<typeof ReconcileReportSchema> }>;
} = createRoute({
  method: "post",
  path: "/v1/reconcile",
  tags: ["worktrees"],
  summary: "Finish or undo what a killed process left (needs a worktree lifecycle; 400 without one)",
  request: { query: ReconcileQuerySchema },
  responses: { 200: json(ReconcileReportSchema, "What was found and done."), ...commonErrors },
});

/** `GET /v1/events`. */
export const eventsRoute: {
  method: "get";
  path: "/v1/events";
  request: Record<never, never>;
  responses: Errors<{ 200: { description: string; content: { "text/event-stream": { schema: z.ZodString } } } }>;
} = createRoute({
  method: "get",
  path: "/v1/events",
  tags: ["events"],
  summary: "Server-sent events: every lifecycle change, after it is committed",
  request: {},
  responses: {
    200: { description: "The event stream.", content: { "text/event-stream": { schema: EventStreamSchema } } },
    ...commonErrors,
  },
});
