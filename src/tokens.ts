/**
 * Tokens scoped to a session: what they look like, how they are hashed, and what they grant (a
 * {@linkcode Scope}). A token is 32 random bytes in base64url (43 characters), shown once when it
 * is minted; stores keep only its SHA-256 hash and look it up by that.
 *
 * @module
 */

import { encodeBase64 } from "./base64.ts";
import type { SessionId } from "./ids.ts";

/**
 * What a caller may reach: everything (`root`: the server's own token, or a library caller), or
 * one session and the sessions made under it (`session`: a token minted for that session).
 */
export type Scope =
  | { kind: "root" }
  | {
    kind: "session";
    /** The session the token was minted for. */
    sessionId: SessionId;
    /** The token's id (to revoke it). */
    tokenId: string;
  };

/** The scope of full access. */
export const ROOT_SCOPE: Scope = Object.freeze({ kind: "root" as const });

/** A token as minted: the only time its text is given out. */
export interface MintedToken {
  /** The bearer token itself: keep it, it is never shown again. */
  token: string;
  /** Its id, to revoke it. */
  id: string;
  /** The session it is scoped to. */
  sessionId: SessionId;
  /** ISO-8601 UTC. */
  createdAt: string;
}

const TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** A new token: 32 random bytes from WebCrypto, in base64url without padding. */
export function generateSessionToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const text = encodeBase64(bytes).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
  bytes.fill(0);
  return text;
}

/** Whether `text` has the form of a minted token (43 base64url characters). */
export function looksLikeSessionToken(text: string): boolean {
  return typeof text === "string" && TOKEN.test(text);
}

/** The SHA-256 of the token's UTF-8 bytes, as 64 lower-case hex digits: what stores keep. */
export async function hashToken(token: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token)));
  return Array.from(digest, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** Whether two strings are equal, in time that depends on their length only. */
export function constantTimeEqual(a: string, b: string): boolean {
  let difference = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    difference |= (a.charCodeAt(i) || 0) ^ (b.charCodeAt(i) || 0);
  }
  return difference === 0;
}
