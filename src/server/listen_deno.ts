/**
 * The Deno adapter: `Deno.serve`.
 *
 * @module
 */

import { type FetchHandler, type Listener, listenerUrl, type ListenOptions } from "./listen.ts";

/** Serves `handler` with `Deno.serve`. */
export function listen(handler: FetchHandler, options: ListenOptions): Promise<Listener> {
  return new Promise((resolve, reject) => {
    try {
      const hostname = options.hostname ?? "127.0.0.1";
      const onListen = () => {};
      const server = options.path === undefined
        ? Deno.serve({ hostname, port: options.port ?? 0, onListen }, handler)
        : Deno.serve({ path: options.path, onListen }, handler);
      const address = server.addr;
      const port = address.transport === "tcp" ? address.port : null;
      const path = address.transport === "unix" ? address.path : null;
      resolve({
        url: listenerUrl(hostname, port, path),
        port,
        path,
        shutdown: () => server.shutdown(),
      });
    } catch (error) {
      reject(error);
    }
  });
}
