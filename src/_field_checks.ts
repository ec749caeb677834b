/**
 * Checks of one field each (text, a host id, a timestamp, a port list, a plain record's keys), each
 * refusing with `InvalidInput` through {@linkcode invalid}, so that bad input is refused the same way
 * whatever the backend, before anything is written. Internal.
 *
 * @module
 */

import { SessionError } from "./errors.ts";
import { MAX_HOST_ID_LENGTH, MAX_NAME_LENGTH, MAX_PATH_LENGTH, MAX_SESSION_PORTS } from "./limits.ts";

// C0, DEL and C1 controls (Cc); format characters (Cf: zero-width spaces and joiners, bidirectional
// controls, the BOM, the soft hyphen, tag characters); line and paragraph separators; lone surrogates,
// which have no UTF-8 form. Each one is invisible or reorders what is shown, so two values that differ
// only by them would look alike.
const CONTROL_OR_FORMAT = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;
// Default-ignorable code points render as nothing (Hangul fillers, the combining grapheme joiner).
// Variation selectors are default-ignorable too, but they pick an emoji's look in a title ("❤️"), so
// free text keeps them; names refuse them (see NAME_INVISIBLE).
const TEXT_INVISIBLE = /(?!\p{Variation_Selector})\p{Default_Ignorable_Code_Point}/u;
// In a worktree or branch name nothing invisible at all is accepted: names are told apart by eye.
const NAME_INVISIBLE = /\p{Default_Ignorable_Code_Point}/u;

/** The code point as `U+XXXX`, for messages that must name an invisible character. */
function codePointLabel(character: string): string {
  return `U+${character.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
}

/** Why `text` has a character no reader can see, or `null`. */
export function invisibleProblem(text: string, strict: boolean): string | null {
  const found = CONTROL_OR_FORMAT.exec(text) ?? TEXT_INVISIBLE.exec(text) ??
    (strict ? NAME_INVISIBLE.exec(text) : null);
  return found === null
    ? null
    : `it contains a control character or an invisible formatting character (${codePointLabel(found[0])})`;
}

/**
 * The length of `text` in UTF-8 bytes, which is what file systems and git count; a lone surrogate
 * counts as the 3 bytes of the replacement character it would be encoded as.
 *
 * @example
 * ```ts
 * import { utf8ByteLength } from "./_field_checks.ts";
 *
 * console.log(utf8ByteLength("é".repeat(200))); // 400
 * ```
 */
export function utf8ByteLength(text: string): number {
  let bytes = 0;
  for (const character of text) {
    const code = character.codePointAt(0)!;
    bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
  }
  return bytes;
}

/** Throws `InvalidInput` with `message`: the one way every input check refuses. */
export function invalid(message: string): never {
  throw new SessionError("InvalidInput", message);
}

/**
 * A required non-empty string of at most `max` characters (UTF-16 code units), without control
 * characters or invisible formatting characters (zero-width spaces and joiners, bidirectional
 * controls, the BOM, C1 controls, lone surrogates), so that two accepted values never differ only
 * by something a reader cannot see.
 */
export function requireText(
  value: unknown,
  field: string,
  max = MAX_NAME_LENGTH,
): string {
  if (typeof value !== "string") invalid(`${field} must be a string`);
  if (value.trim().length === 0) invalid(`${field} must not be empty`);
  if (value.length > max) invalid(`${field} must be at most ${max} characters`);
  const problem = invisibleProblem(value, false);
  if (problem !== null) invalid(`${field} must not contain control or invisible characters: ${problem}`);
  return value;
}

/**
 * A name shown to people and used by the file system or git: at most `maxBytes` UTF-8 bytes, in NFC
 * (a precomposed "é" and "e" + U+0301 look alike and, on macOS, name one folder), nothing invisible.
 */
export function requireName(value: unknown, field: string, maxBytes: number): string {
  const name = requireText(value, field, MAX_PATH_LENGTH);
  const bytes = utf8ByteLength(name);
  if (bytes > maxBytes) invalid(`${field} must be at most ${maxBytes} bytes in UTF-8, got ${bytes}`);
  const problem = invisibleProblem(name, true);
  if (problem !== null) invalid(`${field} must not contain control or invisible characters: ${problem}`);
  if (name !== name.normalize("NFC")) invalid(`${field} must be in Unicode normalization form C (NFC)`);
  return name;
}

/** Like {@linkcode requireText}, but `undefined` and `null` give `null`. */
export function optionalText(
  value: unknown,
  field: string,
  max = MAX_NAME_LENGTH,
): string | null {
  return value === undefined || value === null ? null : requireText(value, field, max);
}

/** A boolean field, `false` when absent. */
export function optionalBoolean(value: unknown, field: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== "boolean") invalid(`${field} must be a boolean`);
  return value;
}

/** An absolute http or https URL, or `null` when absent. */
export function optionalUrl(value: unknown, field: string): string | null {
  const text = optionalText(value, field, MAX_PATH_LENGTH);
  if (text === null) return null;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    invalid(`${field} must be an absolute URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    invalid(`${field} must be an http or https URL`);
  }
  return text;
}

/** Checks `value` is a plain object and names no field outside `allowed`. */
export function requireRecord(
  value: unknown,
  what: string,
  allowed: readonly string[],
): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    invalid(`${what} must be an object`);
  }
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      invalid(`${what} has an unknown field ${JSON.stringify(key)}`);
    }
  }
  return value as Record<string, unknown>;
}

/**
 * A time as the stores keep it: an ISO-8601 UTC string with milliseconds, in the years 0000 to
 * 9999, which every backend stores and orders alike (the same rule in every store, not only the
 * one whose column type refuses the rest).
 */
export function requireTimestamp(value: unknown, field: string): string {
  const text = requireText(value, field);
  const time = Date.parse(text);
  if (Number.isNaN(time)) invalid(`${field} must be an ISO-8601 timestamp`);
  const iso = new Date(time).toISOString();
  if (!/^\d{4}-/.test(iso)) invalid(`${field} must be in the years 0000 to 9999`);
  return iso;
}

/**
 * A host id: 1 to {@linkcode MAX_HOST_ID_LENGTH} letters, digits, `.`, `_`, `:` and `-`, starting
 * with a letter or digit, so it reads plainly in a message and in a log.
 */
export function requireHostId(value: unknown, field = "hostId"): string {
  if (typeof value !== "string") invalid(`${field} must be a string`);
  if (!new RegExp(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,${MAX_HOST_ID_LENGTH - 1}}$`).test(value)) {
    invalid(
      `${field} must be 1 to ${MAX_HOST_ID_LENGTH} letters, digits, '.', '_', ':' or '-', starting with a letter or digit`,
    );
  }
  return value;
}

/**
 * A list of ports as a store keeps it: distinct whole numbers from 1 to 65535, at most
 * {@linkcode MAX_SESSION_PORTS} of them, returned ascending; absent is none.
 */
export function checkPortList(value: unknown, field = "ports"): number[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) invalid(`${field} must be an array of port numbers`);
  if (value.length > MAX_SESSION_PORTS) invalid(`${field} may hold at most ${MAX_SESSION_PORTS} ports`);
  for (const port of value) {
    if (typeof port !== "number" || !Number.isSafeInteger(port) || port < 1 || port > 65535) {
      invalid(`${field} must hold whole numbers from 1 to 65535, not ${JSON.stringify(port)}`);
    }
  }
  const sorted = [...new Set(value as number[])].sort((a, b) => a - b);
  if (sorted.length !== value.length) invalid(`${field} must not name a port twice`);
  return sorted;
}
