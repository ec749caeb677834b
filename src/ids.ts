/**
 * Identifiers: UUID v4 strings.
 *
 * @module
 */

import { SessionError } from "./errors.ts";

/** The id of a session: a lowercase UUID string. */
export type SessionId = string;
/** The id of a repository: a lowercase UUID string. */
export type RepositoryId = string;

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Makes a new random session id (UUID v4, from the platform's CSPRNG).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isUuid, newSessionId } from "./ids.ts";
 *
 * const id = newSessionId();
 * assert.equal(id.length, 36);
 * assert.ok(isUuid(id));
 * ```
 */
export function newSessionId(): SessionId {
  return crypto.randomUUID();
}

/** Makes a new random repository id (UUID v4). */
export function newRepositoryId(): RepositoryId {
  return crypto.randomUUID();
}

/** True when `value` is a UUID string (any version, any case). */
export function isUuid(value: unknown): value is string {
  return typeof value === "string" && UUID_PATTERN.test(value);
}

/**
 * Returns `value` as a lowercase UUID, or throws `InvalidInput`.
 * Ids travel in URLs and file names, so anything else is refused before it reaches storage.
 */
export function parseId(value: unknown, what: string): string {
  if (!isUuid(value)) {
    throw new SessionError(
      "InvalidInput",
      `${what} must be a UUID string, got ${describe(value)}`,
    );
  }
  return value.toLowerCase();
}

function describe(value: unknown): string {
  if (typeof value !== "string") return typeof value;
  return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
}
