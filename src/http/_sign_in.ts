/**
 * Internal: the dashboard's one-time sign-in codes. `slo ui`, holding the API token, asks for one
 * (`POST /v1/ui/sign-in-codes`) and opens the browser on a link that carries it in the URL's
 * fragment; the page trades it once (`POST /ui/sign-in`) for the credential it sends as a header.
 * So the token itself never appears in a URL: not in the browser's history, not in a server or
 * proxy log, not in the opener's command line (which other users of the machine can read).
 *
 * @module
 */

import { encodeBase64 } from "../base64.ts";

// base64url without padding: safe in a URL fragment, and in a Windows `start` command line.
const encodeBase64Url = (bytes: Uint8Array): string =>
  encodeBase64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

/** How long a sign-in code can be used, unless told otherwise: long enough to open a browser. */
export const SIGN_IN_CODE_TTL_MS = 2 * 60 * 1000;

/** Most codes outstanding at once; minting past it forgets the oldest, so memory stays bounded. */
export const MAX_SIGN_IN_CODES = 64;

/** A code just made. */
export interface MintedSignInCode {
  /** The code itself (32 random bytes, base64url). */
  code: string;
  /** When it stops working. */
  expiresAt: Date;
}

/** Options of {@linkcode SignInCodes}. */
export interface SignInCodesOptions {
  /** How long a code works, in ms; {@linkcode SIGN_IN_CODE_TTL_MS} by default. */
  ttlMs?: number;
  /** The clock, in ms since the epoch; `Date.now` by default. */
  now?: () => number;
}

const encoder = new TextEncoder();

// Codes are kept by their SHA-256 only, so the memory holds nothing that signs a browser in, and a
// lookup's timing depends on a hash an attacker cannot steer, not on how much of a guess was right.
async function digestOf(code: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(code)));
  return encodeBase64Url(digest);
}

/**
 * The codes of one app, in memory: each works once and for a short time, and all of them die with
 * the process (a link printed before a restart is refused after it; `slo ui` makes a new one).
 */
export class SignInCodes {
  readonly #codes = new Map<string, number>();
  readonly #ttlMs: number;
  readonly #now: () => number;

  /** An empty set of codes. */
  constructor(options: SignInCodesOptions = {}) {
    this.#ttlMs = options.ttlMs ?? SIGN_IN_CODE_TTL_MS;
    this.#now = options.now ?? Date.now;
  }

  /** Makes a code that {@linkcode redeem} accepts once, until it expires. */
  async mint(): Promise<MintedSignInCode> {
    const code = encodeBase64Url(crypto.getRandomValues(new Uint8Array(32)));
    const key = await digestOf(code);
    const expires = this.#now() + this.#ttlMs;
    this.#prune();
    // A Map keeps insertion order: the first key is the oldest code.
    while (this.#codes.size >= MAX_SIGN_IN_CODES) this.#codes.delete(this.#codes.keys().next().value!);
    this.#codes.set(key, expires);
    return { code, expiresAt: new Date(expires) };
  }

  /**
   * Whether `code` is a live code, which it then no longer is. The look-up and the removal happen
   * together, after the only await, so of two requests with one code exactly one is accepted.
   */
  async redeem(code: string): Promise<boolean> {
    const key = await digestOf(code);
    const expires = this.#codes.get(key);
    this.#codes.delete(key);
    return expires !== undefined && this.#now() < expires;
  }

  #prune(): void {
    const now = this.#now();
    for (const [key, expires] of this.#codes) if (expires <= now) this.#codes.delete(key);
  }
}
