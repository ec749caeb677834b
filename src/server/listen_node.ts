/**
 * The listener with connection limits, in both runtimes: `node:http` (through `@hono/node-server`'s
 * request listener) with a cap on open connections and a header timeout that the runtimes' own
 * servers do not offer (`Deno.serve` has neither; `Bun.serve` only an idle timeout). Chosen when
 * the operator sets limits (`--max-connections`, `--header-timeout`); the native servers stay the
 * default, being faster.
 *
 * @module
 */

import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { getRequestListener } from "@hono/node-server";
import {
  type ConnectionLimits,
  type FetchHandler,
  type Listener,
  listenerUrl,
  type ListenOptions,
  SHUTDOWN_GRACE_MS,
} from "./listen.ts";

/** Serves `handler` with `node:http`, holding the connections to `limits`. */
export function listen(handler: FetchHandler, options: ListenOptions, limits: ConnectionLimits): Promise<Listener> {
  // The adapter hands over a light request of its own, which the platform's `Request` does not
  // take as one (Hono's body limit wraps a request with `new Request(request, …)`): a real one,
  // made from it, goes to the handler. The globals stay the runtime's.
  const requestListener = getRequestListener((light: Request) => {
    const hasBody = light.method !== "GET" && light.method !== "HEAD";
    // `duplex` (needed for a streamed body) is missing from the DOM types' RequestInit.
    const init: RequestInit & { duplex: "half" } = {
      method: light.method,
      headers: light.headers,
      body: hasBody ? light.body : null,
      signal: light.signal,
      duplex: "half",
    };
    return handler(new Request(light.url, init));
  }, { overrideGlobalObjects: false });
  // Per open connection: the requests it has in flight (pipelined ones count too).
  const inFlight = new Map<Socket, number>();
  // Per connection: the timer that closes it unless a request's headers arrive first.
  const headerTimers = new Map<Socket, ReturnType<typeof setTimeout>>();
  let closing = false;
  const waitForHeaders = (socket: Socket) => {
    clearTimeout(headerTimers.get(socket));
    headerTimers.set(socket, setTimeout(() => socket.destroy(), limits.headerTimeoutMs));
  };
  const server = createServer({
    // The runtime's own bounds, set to the same limit where it honours them; the timers here hold
    // them where it does not. The request timeout bounds a body's upload, not an answer (streams).
    headersTimeout: limits.headerTimeoutMs,
    keepAliveTimeout: limits.headerTimeoutMs,
    requestTimeout: Math.max(300_000, limits.headerTimeoutMs),
  }, (request: IncomingMessage, response: ServerResponse) => {
    const socket = request.socket;
    clearTimeout(headerTimers.get(socket));
    headerTimers.delete(socket);
    inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1);
    response.on("close", () => {
      const left = (inFlight.get(socket) ?? 1) - 1;
      inFlight.set(socket, left);
      if (left > 0 || socket.destroyed) return;
      // Stopping: the connection goes with its last answer (an event stream ended by the stop, say).
      if (closing) return void socket.destroy();
      // A kept-alive connection waits for its next request's headers under the same bound.
      waitForHeaders(socket);
    });
    void requestListener(request, response);
  });
  // Counted here rather than with `server.maxConnections`, which Bun's node:http does not hold
  // for connections that have sent nothing yet.
  server.on("connection", (socket: Socket) => {
    if (closing || inFlight.size >= limits.maxConnections) return void socket.destroy();
    inFlight.set(socket, 0);
    waitForHeaders(socket);
    socket.on("close", () => {
      inFlight.delete(socket);
      clearTimeout(headerTimers.get(socket));
      headerTimers.delete(socket);
    });
  });
  return new Promise((resolve, reject) => {
    const onError = (error: unknown) => reject(error);
    server.once("error", onError);
    const listening = () => {
      server.off("error", onError);
      server.on("error", (error) => options.onListenError?.(error));
      const address = server.address();
      const port = address !== null && typeof address === "object" ? address.port : null;
      const path = options.path ?? null;
      resolve({
        url: listenerUrl(options.hostname ?? "127.0.0.1", port, path),
        port,
        path,
        shutdown: () =>
          new Promise<void>((done) => {
            // Idle connections go now; those with a request in flight once it is answered, or after the grace.
            closing = true;
            const grace = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
            server.close(() => {
              clearTimeout(grace);
              for (const timer of headerTimers.values()) clearTimeout(timer);
              done();
            });
            server.closeIdleConnections();
            for (const [socket, requests] of inFlight) {
              if (requests === 0) socket.destroy();
            }
          }),
      });
    };
    if (options.path !== undefined) server.listen(options.path, listening);
    else server.listen(options.port ?? 0, options.hostname ?? "127.0.0.1", listening);
  });
}
