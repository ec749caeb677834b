/**
 * "Local but not open": the checks every request passes before a route runs. A Host allow-list
 * stops DNS rebinding (a web page whose name now points at 127.0.0.1 still sends its own name as
 * Host), an Origin allow-list stops browsers' cross-site requests, and a bearer token, compared in
 * constant time, stops everyone else.
 *
 * @module
 */

import type { Context, MiddlewareHandler } from "hono";
import { ROOT_SCOPE, type Scope } from "../tokens.ts";
import { errorResponse } from "./errors.ts";

/** The loopback names a local server answers to by default. */
export const LOOPBACK_HOSTS: readonly string[] = ["localhost", "127.0.0.1", "[::1]"];

/**
 * Whether `host` (a Host header value, `name` or `name:port`) is allowed. An entry with a port
 * allows that port only; an entry without one allows the name on any port.
 */
export function isAllowedHost(host: string, allowed: readonly string[]): boolean {
  const value = host.trim().toLowerCase();
  const match = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(value);
  if (match === null) return false;
  const name = match[1];
  return allowed.some((entry) => {
    const wanted = entry.toLowerCase();
    if (wanted === value) return true;
    return !/:\d+$/.test(wanted) && wanted === name;
  });
}

/**
 * Whether `origin` (an Origin header value) is the origin the request was sent to: the scheme of
 * `requestUrl` and exactly its Host header. Only a page this server itself served (the dashboard)
 * sends that; a page elsewhere, even one whose name was rebound to 127.0.0.1, sends its own name,
 * which the Host check has refused already.
 */
export function isOwnOrigin(origin: string, host: string | undefined, requestUrl: string): boolean {
  if (host === undefined) return false;
  const scheme = new URL(requestUrl).protocol;
  return origin.toLowerCase() === `${scheme}//${host.trim().toLowerCase()}`;
}

/**
 * Refuses, with 403 `Forbidden`, a request whose Host is not in `allowedHosts` (unless that is
 * `null`) or that carries an Origin that is neither in `allowedOrigins` nor, with the Host check
 * on, the server's own (see {@linkcode isOwnOrigin}). Requests without Origin (curl, scripts,
 * same-machine tools) pass the second check: browsers always send one cross-site.
 */
export function originGuard(
  allowedHosts: readonly string[] | null,
  allowedOrigins: readonly string[],
): MiddlewareHandler {
  const origins = new Set(allowedOrigins.map((origin) => origin.toLowerCase()));
  return async (c, next) => {
    if (allowedHosts !== null) {
      // No Host at all (HTTP/1.0, a hand-made request) is refused too: the check must see a name.
      const host = c.req.header("host");
      if (host === undefined || !isAllowedHost(host, allowedHosts)) {
        return errorResponse(c, "Forbidden", "this Host is not allowed (the server only answers to loopback names)");
      }
    }
    const origin = c.req.header("origin");
    // The own origin counts only where the Host was checked: without that check, a rebound name's
    // page would send an Origin that matches its own Host.
    const own = allowedHosts !== null && origin !== undefined && isOwnOrigin(origin, c.req.header("host"), c.req.url);
    if (origin !== undefined && !origins.has(origin.toLowerCase()) && !own) {
      return errorResponse(c, "Forbidden", "requests from this Origin are not allowed");
    }
    await next();
  };
}

const encoder = new TextEncoder();

/**
 * Whether `given` equals the token whose UTF-8 bytes are `expected`. The loop always runs over
 * every byte of the expected token and never stops early, so the time taken says nothing about
 * how much of a guess was right (only the token's length, which is fixed and public, shows).
 * Synchronous on purpose: hashing with WebCrypto on every request cost a thread-pool round trip.
 */
export function tokenMatches(given: string, expected: Uint8Array): boolean {
  const actual = encoder.encode(given);
  let difference = actual.length ^ expected.length;
  for (let i = 0; i < expected.length; i++) difference |= (actual[i] ?? 0) ^ expected[i];
  return difference === 0;
}

// The scope each request was let in with, by its request object (set by bearerAuth).
const scopes = new WeakMap<Request, Scope>();

/**
 * The scope the request was let in with: root for the server's token, the session's for a token
 * scoped to one (see `bearerAuth`'s `resolve`). Root for a request that went through no bearer check.
 */
export function scopeOf(c: Context): Scope {
  return scopes.get(c.req.raw) ?? ROOT_SCOPE;
}

/**
 * Refuses, with 401 `Unauthorized`, a request without `Authorization: Bearer <token>`. The server's
 * token (compared in constant time) lets a request in with the root scope; any other token is
 * given to `resolve` (the orchestrator's `resolveToken`), whose scope, when it answers one, the
 * handlers then act in (see {@linkcode scopeOf}).
 */
export function bearerAuth(
  token: string,
  resolve: ((token: string) => Promise<Scope | null>) | null = null,
): MiddlewareHandler {
  if (typeof token !== "string" || token.length < 16) {
    throw new TypeError("the API token must be a string of at least 16 characters");
  }
  const expected = encoder.encode(token);
  return async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const match = /^bearer\s+(\S+)\s*$/i.exec(header);
    if (match === null) {
      c.header("WWW-Authenticate", 'Bearer realm="session-lifecycle-orchestrator"');
      return errorResponse(c, "Unauthorized", "a bearer token is required (Authorization: Bearer <token>)");
    }
    if (tokenMatches(match[1], expected)) {
      scopes.set(c.req.raw, ROOT_SCOPE);
    } else {
      const scope = resolve === null ? null : await resolve(match[1]);
      if (scope === null) {
        c.header("WWW-Authenticate", 'Bearer realm="session-lifecycle-orchestrator", error="invalid_token"');
        return errorResponse(c, "Unauthorized", "the bearer token is wrong");
      }
      scopes.set(c.req.raw, scope);
    }
    await next();
  };
}
