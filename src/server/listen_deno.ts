/**
 * The Deno adapter: `Deno.serve`, restarted when its accept loop fails.
 *
 * @module
 */

import { type FetchHandler, type Listener, listenerUrl, type ListenOptions, SHUTDOWN_GRACE_MS } from "./listen.ts";

// How long to wait before listening again after the accept loop failed, doubling up to the cap.
const RESTART_FIRST_MS = 50;
const RESTART_MAX_MS = 1000;

/**
 * Serves `handler` with `Deno.serve`. When the process runs out of file descriptors (a flood of
 * idle connections), `Deno.serve` ends its accept loop with "Too many open files", and unhandled
 * that ends the process. Here the failure is reported to `options.onListenError` and the server
 * listens again on the same address, backing off while descriptors stay short, so it answers
 * again once the flood's connections close.
 */
export function listen(handler: FetchHandler, options: ListenOptions): Promise<Listener> {
  // `server.shutdown()` waits for responses in flight, but a request body still arriving becomes
  // unreadable the moment it is called (the route fails with BadResource). So the stop first waits
  // for the handlers running now to return, which is when they have read their bodies.
  let running = 0;
  let allReturned: (() => void) | null = null;
  const counted: FetchHandler = async (request) => {
    running++;
    try {
      return await handler(request);
    } finally {
      if (--running === 0) allReturned?.();
    }
  };
  const handlersReturned = (): Promise<void> => {
    if (running === 0) return Promise.resolve();
    let timer: ReturnType<typeof setTimeout> | undefined;
    return new Promise<void>((resolve) => {
      allReturned = resolve;
      // A client that stops sending its body must not hold the stop: after the grace, shut down anyway.
      timer = setTimeout(resolve, SHUTDOWN_GRACE_MS);
    }).finally(() => clearTimeout(timer));
  };
  return new Promise((resolve, reject) => {
    try {
      const hostname = options.hostname ?? "127.0.0.1";
      const onListen = () => {};
      const serve = (port: number) =>
        options.path === undefined
          ? Deno.serve({ hostname, port, onListen }, counted)
          : Deno.serve({ path: options.path, onListen }, counted);
      let server = serve(options.port ?? 0);
      const address = server.addr;
      const port = address.transport === "tcp" ? address.port : null;
      const path = address.transport === "unix" ? address.path : null;
      let stopped = false;
      let restartTimer: ReturnType<typeof setTimeout> | undefined;
      let delay = RESTART_FIRST_MS;
      const restart = () => {
        restartTimer = undefined;
        if (stopped) return;
        try {
          // The failed server's socket file would make the new listen fail with "address in use".
          if (path !== null) Deno.removeSync(path);
        } catch {
          // already gone
        }
        try {
          server = serve(port ?? 0);
          delay = RESTART_FIRST_MS;
          watch(server);
        } catch (error) {
          options.onListenError?.(error);
          restartTimer = setTimeout(restart, delay);
          delay = Math.min(delay * 2, RESTART_MAX_MS);
        }
      };
      const watch = (watched: Deno.HttpServer) => {
        watched.finished.catch((error) => {
          if (stopped || watched !== server) return;
          options.onListenError?.(error);
          restartTimer = setTimeout(restart, delay);
        });
      };
      watch(server);
      resolve({
        url: listenerUrl(hostname, port, path),
        port,
        path,
        shutdown: async () => {
          stopped = true;
          clearTimeout(restartTimer);
          await handlersReturned();
          await server.shutdown().catch(() => {});
        },
      });
    } catch (error) {
      reject(error);
    }
  });
}
