/**
 * Base64 with web standards only (no `Buffer`), for secrets in JSON and in keychain entries.
 *
 * @module
 */

import { SessionError } from "./errors.ts";

/** Encodes bytes as standard base64 with padding. */
export function encodeBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decodes standard base64; anything else is `InvalidInput` naming `field`. */
export function decodeBase64(text: string, field = "value"): Uint8Array {
  if (typeof text !== "string" || !BASE64.test(text)) {
    throw new SessionError("InvalidInput", `${field} must be standard base64`);
  }
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
