/**
 * The server's API token, kept in a file only its owner can read: a client on the same machine,
 * run by the same user, reads it from there.
 *
 * @module
 */

import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { errorMessage, SessionError } from "../errors.ts";
import { writePrivateFileSync } from "./private_file.ts";

/** The token file's name inside the data directory. */
export const TOKEN_FILE_NAME = "token";

/** Shortest token accepted from the file; anything shorter (say, a truncated write) is replaced. */
const MIN_TOKEN_LENGTH = 32;

/** A new token: 32 random bytes, base64url without padding (43 characters). */
export function generateApiToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** The token and where it is kept. */
export interface ApiTokenFile {
  /** The bearer token. */
  token: string;
  /** `<dataDir>/token`. */
  path: string;
  /** Whether this call made it. */
  created: boolean;
}

function readToken(path: string): string | null {
  try {
    const token = readFileSync(path, "utf8").trim();
    return token.length >= MIN_TOKEN_LENGTH ? token : null;
  } catch (error) {
    if ((error as { code?: string }).code === "ENOENT") return null;
    throw new SessionError("Storage", `reading the API token failed: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Reads `<dataDir>/token`, making it on first start (mode 0600, in a folder made with mode 0700).
 * A token found readable by other users may have been read by them, so it is replaced by a new
 * one, as is a truncated file. Two servers starting at once end up with the same token: the file is
 * published with an exclusive link, which only one can win.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mkdtempSync, rmSync, statSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { ensureApiToken } from "./token_file.ts";
 *
 * const dir = mkdtempSync(join(tmpdir(), "slo-"));
 * const first = ensureApiToken(dir);
 * assert.equal(first.created, true);
 * assert.equal(ensureApiToken(dir).token, first.token); // kept across starts
 * assert.equal(statSync(join(dir, "token")).mode & 0o777, 0o600);
 * rmSync(dir, { recursive: true });
 * ```
 */
export function ensureApiToken(dataDir: string): ApiTokenFile {
  const path = join(dataDir, TOKEN_FILE_NAME);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const existing = readToken(path);
  const exposed = existing !== null && process.platform !== "win32" && (statSync(path).mode & 0o077) !== 0;
  if (existing !== null && !exposed) return { token: existing, path, created: false };
  const token = generateApiToken();
  // Written whole to a private file first, so no reader ever sees a partial or readable token.
  try {
    // An exposed or broken token is replaced; otherwise of two first starts exactly one token wins.
    const replace = existing !== null || existsSync(path);
    if (writePrivateFileSync(path, `${token}\n`, replace ? "replace" : "create")) {
      return { token, path, created: true };
    }
    const winner = readToken(path);
    if (winner !== null) return { token: winner, path, created: false };
    throw new SessionError("Storage", `the API token file ${path} is unreadable or too short`);
  } catch (error) {
    if (error instanceof SessionError) throw error;
    throw new SessionError("Storage", `writing the API token failed: ${errorMessage(error)}`, { cause: error });
  }
}
