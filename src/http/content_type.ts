/**
 * JSON in: a request that sends a body to a write route (POST, PATCH, PUT) must say it is JSON.
 * Without this check a body sent as `text/plain` (what `fetch` and curl's `-d` pick by default)
 * reaches the route's schema gate, which answers a bare 400 "Unsupported Media Type" that does
 * not say what to send instead.
 *
 * @module
 */

import type { MiddlewareHandler } from "hono";
import { errorResponse } from "./errors.ts";

/** The methods whose body the API reads. */
const WRITE_METHODS: ReadonlySet<string> = new Set(["POST", "PATCH", "PUT"]);

// `application/json` or a structured `+json` type (`application/merge-patch+json`), in any case,
// with `; name=value` parameters. Exactly the form the routes' schema gate (@hono/zod-openapi)
// reads as JSON: were this check looser, the gate would refuse what it let through, with its bare
// message.
const JSON_CONTENT_TYPE = /^application\/(?:[a-z.-]+\+)?json(?:;\s*[a-z0-9-]+=[^;]+)*$/i;

/**
 * Whether a Content-Type header value names JSON. Media types are case-insensitive and may carry
 * parameters, so `Application/JSON` and `application/json; charset=utf-8` are both JSON.
 */
export function isJsonContentType(contentType: string): boolean {
  return JSON_CONTENT_TYPE.test(contentType.trim());
}

/** The message of a 415 answer: what was sent, and what to send instead. */
export function unsupportedMediaTypeMessage(contentType: string | undefined): string {
  const sent = contentType === undefined ? "a body without a Content-Type" : `a body of type ${contentType}`;
  return `${sent} is not accepted; the API reads JSON: send Content-Type: application/json`;
}

// Whether the request carries at least one body byte. Content-Length answers directly; without it
// (a chunked upload, or a Request built in-process) a copy of the stream is read up to its first
// non-empty chunk, leaving the original for the route.
async function hasBody(request: Request): Promise<boolean> {
  const length = request.headers.get("content-length");
  if (length !== null) return Number(length) > 0;
  if (request.body === null || request.bodyUsed) return false;
  const reader = request.clone().body!.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return false;
      if (value.byteLength > 0) return true;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

/**
 * Refuses, with 415 `UnsupportedMediaType` and a hint, a POST, PATCH or PUT whose body is not
 * declared as JSON (no Content-Type, or another type). A write without a body (for example
 * `POST /v1/reconcile`) passes whatever its Content-Type, since there is nothing to misread.
 */
export function jsonContentType(): MiddlewareHandler {
  return async (c, next) => {
    if (WRITE_METHODS.has(c.req.method)) {
      const contentType = c.req.header("content-type");
      if ((contentType === undefined || !isJsonContentType(contentType)) && await hasBody(c.req.raw)) {
        return errorResponse(c, "UnsupportedMediaType", unsupportedMediaTypeMessage(contentType));
      }
    }
    await next();
  };
}
