/**
 * The one clock of the records' timestamps. Internal.
 *
 * @module
 */

/** The current time as an ISO-8601 UTC string. */
export function nowIso(): string {
  return new Date().toISOString();
}
