/**
 * How failures become HTTP answers: one body shape, `{ "error": { "kind", "message" } }`, and a
 * status per kind. Server-side failures (every 500: `Storage`, `Encryption`, `WorktreeCreation`,
 * anything unexpected) are logged with their full message and cause and answered with a generic
 * message and a reference to the log line, so driver details, git's output and absolute paths never
 * reach a client unless the app was made with `exposeErrorDetails` (a local debugging aid). A
 * server-side failure its store marked as temporary (`retryAfterSeconds`: the database is away, or
 * busy past a time bound) is answered 503 with `Retry-After` instead of 500.
 *
 * @module
 */

import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ZodError } from "zod";
import { errorMessage, type ForceableRefusal, retryAfterOf, SessionError, type SessionErrorKind } from "../errors.ts";
import type { ErrorBody } from "./bodies.ts";

/** The kinds an HTTP error body carries: every `SessionError` kind, plus the four only HTTP has. */
export type HttpErrorKind = SessionErrorKind | "Unauthorized" | "Forbidden" | "NotFound" | "UnsupportedMediaType";

/** The statuses the API answers errors with. */
export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 415 | 500 | 503 | 507;

/** Receives what the server keeps to itself: the cause of a 500. */
export type ErrorLogger = (message: string, cause: unknown) => void;

const STATUS: Record<HttpErrorKind, ErrorStatus> = {
  InvalidInput: 400,
  Unauthorized: 401,
  Forbidden: 403,
  RepositoryNotFound: 404,
  SessionNotFound: 404,
  SnapshotNotFound: 404,
  NotFound: 404,
  Conflict: 409,
  UnsupportedMediaType: 415,
  Storage: 500,
  Encryption: 500,
  WorktreeCreation: 500,
  InsufficientStorage: 507,
};

/** Every kind an HTTP error body can carry. */
export const HTTP_ERROR_KINDS: readonly HttpErrorKind[] = Object.keys(STATUS) as HttpErrorKind[];

/** The status an error kind is answered with. */
export function statusOf(kind: HttpErrorKind): ErrorStatus {
  return STATUS[kind];
}

/**
 * The JSON error answer; a refusal that `force` overrides says so (`forceable: true`), with its
 * {@linkcode ForceableRefusal} as `details` when it has one.
 */
export function errorResponse(
  c: Context,
  kind: HttpErrorKind,
  message: string,
  status?: ErrorStatus,
  forceable = false,
  details: ForceableRefusal | null = null,
): Response {
  const body: ErrorBody = {
    error: forceable || details !== null
      ? { kind, message, forceable: true, ...(details === null ? {} : { details }) }
      : { kind, message },
  };
  return c.json(body, status ?? statusOf(kind));
}

/** Turns a zod failure into one readable sentence naming the offending fields. */
export function describeZodError(error: ZodError, target: string): string {
  const parts = error.issues.slice(0, 5).map((issue) => {
    const where = [target === "json" ? "body" : target, ...issue.path.map(String)].join(".");
    if (issue.code === "unrecognized_keys") return `${where}: unknown field(s) ${issue.keys.join(", ")}`;
    return `${where}: ${issue.message}`;
  });
  return parts.join("; ");
}

/** Options of {@linkcode handleError}. */
export interface ErrorHandlerOptions {
  /**
   * Send the full message of a 500 answer (absolute paths, git's output, driver errors) instead of a
   * generic one. Off by default; meant for a server run locally with `--debug`. The log always has
   * the full detail either way.
   */
  exposeErrorDetails?: boolean;
}

// What a client is told about a server-side failure of each kind; the specifics stay in the log.
const GENERIC_MESSAGE: Partial<Record<HttpErrorKind, string>> = {
  Storage: "the session store failed",
  Encryption: "sealing or opening a secret failed",
  WorktreeCreation: "a git or worktree operation failed",
};

/**
 * The app's error handler: a `SessionError` keeps its kind, and a client error (4xx) its message,
 * which describes the caller's input; hono's own exceptions (malformed JSON) are `InvalidInput`.
 * A 500 (a `Storage`, `Encryption` or `WorktreeCreation` error, or anything unexpected, answered as
 * `Storage`) is logged in full with its cause and a short reference, and answered with a generic
 * message carrying that reference, unless `options.exposeErrorDetails` is set. One that the store
 * marked as temporary (`retryAfterSeconds` on the error or along its causes) is answered 503 with
 * `Retry-After` instead, its body the same.
 *
 * @example Use it as a Hono app's error handler
 * ```ts
 * import { Hono } from "hono";
 * import { handleError } from "./errors.ts";
 *
 * const app = new Hono();
 * app.onError((error, c) => handleError(error, c, (message, cause) => console.error(message, cause)));
 * ```
 */
export function handleError(
  error: unknown,
  c: Context,
  log: ErrorLogger,
  options: ErrorHandlerOptions = {},
): Response {
  // A refusal for want of disk space says so: it is about the machine, not a secret of the server's.
  if (error instanceof SessionError && (statusOf(error.kind) < 500 || error.kind === "InsufficientStorage")) {
    return errorResponse(c, error.kind, error.message, undefined, error.forceable, error.details);
  }
  // The routes' own media-type gate, should it ever refuse what `jsonContentType` let through.
  if (error instanceof HTTPException && error.status === 415) {
    return errorResponse(
      c,
      "UnsupportedMediaType",
      "the request body must be JSON: send Content-Type: application/json",
    );
  }
  if (error instanceof HTTPException && error.status < 500) {
    const status = error.status === 413 ? 413 : 400;
    return errorResponse(c, "InvalidInput", error.message || "bad request", status);
  }
  const kind: HttpErrorKind = error instanceof SessionError ? error.kind : "Storage";
  const detail = error instanceof SessionError ? error.message : `unexpected error: ${errorMessage(error)}`;
  const retryAfter = retryAfterOf(error);
  if (retryAfter !== null) c.header("retry-after", String(retryAfter));
  const status = retryAfter === null ? undefined : 503;
  // The reference ties the answer a user reports to the log line an operator reads.
  const reference = crypto.randomUUID().slice(0, 8);
  log(
    `${c.req.method} ${c.req.path}: ${detail} [ref ${reference}]`,
    error instanceof SessionError ? error.cause ?? error : error,
  );
  if (options.exposeErrorDetails === true) return errorResponse(c, kind, detail, status);
  const generic = retryAfter !== null
    ? `the session store cannot answer right now; try again in ${retryAfter} s`
    : (error instanceof SessionError ? GENERIC_MESSAGE[kind] : undefined) ?? "the server failed";
  return errorResponse(c, kind, `${generic}; the server log has the details (ref ${reference})`, status);
}
