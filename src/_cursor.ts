/**
 * Internal to the orchestrator: opaque list cursors, each the position of the last record of a
 * page as a URL-safe string.
 *
 * @module
 */

import type { ListPosition } from "./types.ts";
import { invalid } from "./_field_checks.ts";

const CURSOR = /^[A-Za-z0-9_-]{1,400}$/;

/** Encodes where the next page starts; callers treat the text as opaque. */
export function encodeCursor(position: ListPosition): string {
  const text = btoa(JSON.stringify([position.createdAt, position.id]));
  return text.replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** Decodes a cursor made by {@linkcode encodeCursor}; anything else is `InvalidInput`. */
export function decodeCursor(cursor: string): ListPosition {
  if (typeof cursor !== "string" || !CURSOR.test(cursor)) invalid("cursor is not one this server made");
  try {
    const value: unknown = JSON.parse(atob(cursor.replaceAll("-", "+").replaceAll("_", "/")));
    if (
      Array.isArray(value) && value.length === 2 && typeof value[0] === "string" && typeof value[1] === "string" &&
      !Number.isNaN(Date.parse(value[0]))
    ) {
      return { createdAt: value[0], id: value[1] };
    }
  } catch {
    // reported below
  }
  invalid("cursor is not one this server made");
}
