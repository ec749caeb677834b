/**
 * The Deno adapter: `Deno.serve`.
 *
 * @module
 */

import { type FetchHandler, type Listener, listenerUrl, type ListenOptions, SHUTDOWN_GRACE_MS } from "./listen.ts";

/** Serves `handler` with `Deno.serve`. */
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
      const server = options.path === undefined
        ? Deno.serve({ hostname, port: options.port ?? 0, onListen }, counted)
        : Deno.serve({ path: options.path, onListen }, counted);
      const address = server.addr;
      const port = address.transport === "tcp" ? address.port : null;
      const path = address.transport === "unix" ? address.path : null;
      resolve({
        url: listenerUrl(hostname, port, path),
        port,
        path,
        shutdown: async () => {
          await handlersReturned();
          await server.shutdown();
        },
      });
    } catch (error) {
      reject(error);
    }
  });
}
