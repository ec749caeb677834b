/**
 * The Bun adapter: `Bun.serve`.
 *
 * @module
 */

import { type FetchHandler, type Listener, listenerUrl, type ListenOptions, SHUTDOWN_GRACE_MS } from "./listen.ts";

// The slice of Bun's API used here, typed locally so this file type-checks without Bun's types.
interface BunServer {
  port?: number;
  stop(closeActiveConnections?: boolean): Promise<void>;
}
interface BunServeOptions {
  fetch: FetchHandler;
  hostname?: string;
  port?: number;
  unix?: string;
  idleTimeout?: number;
}
interface BunGlobal {
  serve(options: BunServeOptions): BunServer;
}

/** Seconds a connection may stay silent; above the event stream's 15 s keep-alive. */
const IDLE_TIMEOUT_SECONDS = 60;

/** Serves `handler` with `Bun.serve`. */
export function listen(handler: FetchHandler, options: ListenOptions): Promise<Listener> {
  const bun = (globalThis as unknown as { Bun: BunGlobal }).Bun;
  return new Promise((resolve, reject) => {
    try {
      const hostname = options.hostname ?? "127.0.0.1";
      const server = options.path === undefined
        ? bun.serve({ fetch: handler, hostname, port: options.port ?? 0, idleTimeout: IDLE_TIMEOUT_SECONDS })
        : bun.serve({ fetch: handler, unix: options.path, idleTimeout: IDLE_TIMEOUT_SECONDS });
      const port = options.path === undefined ? server.port ?? null : null;
      const path = options.path ?? null;
      resolve({
        url: listenerUrl(hostname, port, path),
        port,
        path,
        // Graceful: stops accepting, then waits for the requests in flight, but not for ever: a
        // connection a client keeps open without reading is closed after a grace period.
        shutdown: async () => {
          let timer: ReturnType<typeof setTimeout> | undefined;
          const grace = new Promise<"late">((
            resolve,
          ) => (timer = setTimeout(() => resolve("late"), SHUTDOWN_GRACE_MS)));
          const outcome = await Promise.race([server.stop(false), grace]);
          clearTimeout(timer);
          if (outcome === "late") await server.stop(true);
        },
      });
    } catch (error) {
      reject(error);
    }
  });
}
