/**
 * Sealing session secrets with WebCrypto: AES-256-GCM under a database key, a fresh 12-byte random
 * nonce per seal, and the session id as additional authenticated data, so a sealed secret copied to
 * another session's row fails to open instead of yielding the wrong key.
 *
 * @module
 */

import { SessionError } from "./errors.ts";
import { NONCE_LENGTH } from "./limits.ts";

/** Length of a session secret and of a raw database key, in bytes. */
export const SECRET_LENGTH = 32;

/** A sealed session secret: ciphertext with its tag, and the nonce it was sealed with. */
export interface SealedSecret {
  /** AES-GCM ciphertext followed by its 16-byte tag. */
  encryptedSecret: Uint8Array;
  /** The 12-byte nonce. */
  nonce: Uint8Array;
}

/**
 * A new random session secret: 32 bytes from the platform's CSPRNG.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateSessionSecret } from "./crypto.ts";
 *
 * assert.equal(generateSessionSecret().length, 32);
 * ```
 */
export function generateSessionSecret(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(SECRET_LENGTH));
}

/** New random raw bytes for a database key, to keep somewhere safe and pass to {@linkcode importDatabaseKey}. */
export function generateDatabaseKeyBytes(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(SECRET_LENGTH));
}

/**
 * Imports 32 raw bytes as a non-extractable AES-256-GCM key: once imported, the key material
 * cannot be read back out of the `CryptoKey`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateDatabaseKeyBytes, importDatabaseKey } from "./crypto.ts";
 *
 * const key = await importDatabaseKey(generateDatabaseKeyBytes());
 * assert.equal(key.extractable, false);
 * ```
 */
export async function importDatabaseKey(raw: Uint8Array): Promise<CryptoKey> {
  if (!(raw instanceof Uint8Array) || raw.length !== SECRET_LENGTH) {
    throw new SessionError("Encryption", `a database key must be ${SECRET_LENGTH} bytes`);
  }
  try {
    return await crypto.subtle.importKey("raw", raw.slice(), { name: "AES-GCM" }, false, ["encrypt", "decrypt"]);
  } catch (error) {
    throw new SessionError("Encryption", "the database key could not be imported", { cause: error });
  }
}

/** A new random non-extractable database key (for ephemeral use: it cannot be saved). */
export function generateDatabaseKey(): Promise<CryptoKey> {
  return importDatabaseKey(generateDatabaseKeyBytes());
}

const encoder = new TextEncoder();

/** Seals `secret` for `sessionId` under `databaseKey` with a fresh random nonce. */
export async function encryptSessionSecret(
  databaseKey: CryptoKey,
  sessionId: string,
  secret: Uint8Array,
): Promise<SealedSecret> {
  const nonce = crypto.getRandomValues(new Uint8Array(NONCE_LENGTH));
  try {
    const sealed = await crypto.subtle.encrypt(
      { name: "AES-GCM", iv: nonce, additionalData: encoder.encode(sessionId) },
      databaseKey,
      secret.slice(),
    );
    return { encryptedSecret: new Uint8Array(sealed), nonce };
  } catch (error) {
    throw new SessionError("Encryption", `sealing the secret of session ${sessionId} failed`, { cause: error });
  }
}

/**
 * Opens a sealed secret of `sessionId`. A wrong key, any changed byte, or a secret sealed for
 * another session fails loudly with `SessionError` kind `Encryption`.
 */
export async function decryptSessionSecret(
  databaseKey: CryptoKey,
  sessionId: string,
  sealed: SealedSecret,
): Promise<Uint8Array> {
  if (sealed.nonce.length !== NONCE_LENGTH) {
    throw new SessionError("Encryption", `the stored nonce of session ${sessionId} is not ${NONCE_LENGTH} bytes`);
  }
  try {
    const opened = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: sealed.nonce.slice(), additionalData: encoder.encode(sessionId) },
      databaseKey,
      sealed.encryptedSecret.slice(),
    );
    return new Uint8Array(opened);
  } catch (error) {
    throw new SessionError(
      "Encryption",
      `the stored secret of session ${sessionId} failed authentication: wrong key, tampered, or not this session's`,
      { cause: error },
    );
  }
}
