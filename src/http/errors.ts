/**
 * How failures become HTTP answers: one body shape, `{ "error": { "kind", "message" } }`, and a
 * status per kind. Storage failures are logged with their cause and answered with a generic
 * message, so driver details and file paths never reach a client.
 *
 * @module
 */

import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ZodError } from "zod";
import { SessionError, type SessionErrorKind } from "../errors.ts";
import type { ErrorBody } from "./bodies.ts";

/** The kinds an HTTP error body carries: every `SessionError` kind, plus the three only HTTP has. */
export type HttpErrorKind = SessionErrorKind | "Unauthorized" | "Forbidden" | "NotFound";

/** The statuses the API answers errors with. */
export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 500;

/** Receives what the server keeps to itself: the cause of a 500. */
export type ErrorLogger = (message: string, cause: unknown) => void;

const STATUS: Record<HttpErrorKind, ErrorStatus> = {
  InvalidInput: 400,
  Unauthorized: 401,
  Forbidden: 403,
  RepositoryNotFound: 404,
  SessionNotFound: 404,
  NotFound: 404,
  Conflict: 409,
  Storage: 500,
  Encryption: 500,
  WorktreeCreation: 500,
};

/** The status an error kind is answered with. */
export function statusOf(kind: HttpErrorKind): ErrorStatus {
  return STATUS[kind];
}

/** The JSON error answer. */
export function errorResponse(c: Context, kind: HttpErrorKind, message: string, status?: ErrorStatus): Response {
  const body: ErrorBody = { error: { kind, message } };
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

/**
 * The app's error handler: a `SessionError` keeps its kind (and, except `Storage`, its message,
 * which is written to be safe to show); hono's own exceptions (malformed JSON) are `InvalidInput`;
 * anything else is an internal failure, logged and answered generically.
 */
export function handleError(error: unknown, c: Context, log: ErrorLogger): Response {
  if (error instanceof SessionError) {
    if (error.kind === "Storage") {
      log(`${c.req.method} ${c.req.path}: ${error.message}`, error.cause ?? error);
      return errorResponse(c, "Storage", "the session store failed; the server log has the details");
    }
    return errorResponse(c, error.kind, error.message);
  }
  if (error instanceof HTTPException && error.status < 500) {
    const status = error.status === 413 ? 413 : 400;
    return errorResponse(c, "InvalidInput", error.message || "bad request", status);
  }
  log(`${c.req.method} ${c.req.path}: unexpected error`, error);
  return errorResponse(c, "Storage", "the server failed; the server log has the details");
}
