/**
 * Identifiers: time-ordered UUID v7 strings (RFC 9562), monotonic within one process.
 *
 * Lists are ordered by `(createdAt, id)`. Two records one process makes one after the other in
 * the same millisecond share a `createdAt`, so the id is what keeps them in creation order: every
 * id this module makes sorts after the one it made before, as text and as a Postgres `uuid`.
 *
 * @module
 */

import { SessionError } from "./errors.ts";

/** The id of a session: a lowercase UUID string. */
export type SessionId = string;
/** The id of a repository: a lowercase UUID string. */
export type RepositoryId = string;

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The 12-bit counter (`rand_a`) of the last id, and the millisecond it belongs to. */
let lastMillisecond = -1;
let lastCounter = 0;
const COUNTER_LIMIT = 0xfff;

/**
 * Makes a UUID v7: 48 bits of Unix milliseconds, the version, a 12-bit counter (RFC 9562's
 * "fixed bit-length dedicated counter", method 1), the variant and 62 random bits from the
 * platform's CSPRNG. A new millisecond starts the counter at a random value in its lower half, so
 * ids stay unguessable and about 2,000 more fit in that millisecond; past them, or when the clock
 * steps back, the id borrows the next millisecond, so the sequence never goes down.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { newUuidV7 } from "./ids.ts";
 *
 * const ids = Array.from({ length: 1000 }, () => newUuidV7());
 * assert.deepEqual([...ids].sort(), ids); // made in order, sorted in order
 * assert.equal(ids[0][14], "7"); // the version digit
 * ```
 */
export function newUuidV7(): string {
  const now = Date.now();
  const random = crypto.getRandomValues(new Uint8Array(10));
  if (now > lastMillisecond) {
    lastMillisecond = now;
    lastCounter = ((random[8] << 8) | random[9]) & 0x7ff;
  } else if (lastCounter < COUNTER_LIMIT) {
    lastCounter += 1;
  } else {
    lastMillisecond += 1;
    lastCounter = ((random[8] << 8) | random[9]) & 0x7ff;
  }
  const bytes = new Uint8Array(16);
  let time = lastMillisecond;
  for (let index = 5; index >= 0; index--) {
    bytes[index] = time % 256;
    time = Math.floor(time / 256);
  }
  bytes[6] = 0x70 | (lastCounter >> 8);
  bytes[7] = lastCounter & 0xff;
  bytes.set(random.subarray(0, 8), 8);
  bytes[8] = 0x80 | (bytes[8] & 0x3f);
  let hex = "";
  for (const byte of bytes) hex += byte.toString(16).padStart(2, "0");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * Makes a new session id: a UUID v7, later in order than every id this process made before.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isUuid, newSessionId } from "./ids.ts";
 *
 * const first = newSessionId();
 * const second = newSessionId();
 * assert.ok(isUuid(first));
 * assert.ok(first < second); // the order lists keep within one millisecond
 * ```
 */
export function newSessionId(): SessionId {
  return newUuidV7();
}

/** Makes a new repository id: a UUID v7, like {@linkcode newSessionId}. */
export function newRepositoryId(): RepositoryId {
  return newUuidV7();
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
