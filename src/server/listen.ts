/**
 * Serving a fetch handler with the runtime's own server (`Deno.serve` or `Bun.serve`), chosen at
 * run time, or with `node:http` where the operator set connection limits. The adapters are small and alike; everything else about the server is shared.
 * Internal: not in the package's exports.
 *
 * @module
 */

import { isBun } from "../platform/_runtime.ts";
import { listenFailure } from "./start_error.ts";

/** A request handler in the web-standard shape, for example `app.fetch`. */
export type FetchHandler = (request: Request) => Response | Promise<Response>;

/** Where to listen: a TCP host and port, or a Unix domain socket. */
export interface ListenOptions {
  /** Interface to bind; `127.0.0.1` by default. */
  hostname?: string;
  /** TCP port; `0` picks a free one. */
  port?: number;
  /** Listen on this Unix domain socket instead of TCP. */
  path?: string;
  /**
   * Told when the listener stopped accepting connections (for example, out of file descriptors)
   * and when listening again failed; the native listeners keep trying to listen again meanwhile.
   * The one with connection limits stays below the descriptor limit by its cap, and only reports.
   */
  onListenError?: (error: unknown) => void;
  /**
   * Limits on the connections, which the runtimes' own servers cannot enforce: with them the
   * server is `node:http` (slower than `Deno.serve` and `Bun.serve`, which serve without them).
   */
  connectionLimits?: ConnectionLimits;
}

/** The limits a listener holds its connections to. */
export interface ConnectionLimits {
  /** Connections open at once; one more is closed as soon as it is accepted. */
  maxConnections: number;
  /**
   * How long a connection may take to send a request's headers, counted from when it opened or
   * its last response ended; a connection that sends nothing, or its headers slowly, is closed.
   */
  headerTimeoutMs: number;
}

/** A listening server. */
export interface Listener {
  /** `http://host:port` for TCP, or `http+unix://<encoded path>` for a socket. */
  url: string;
  /** The bound TCP port, or `null` on a socket. */
  port: number | null;
  /** The socket path, or `null` on TCP. */
  path: string | null;
  /** Stops accepting connections and resolves once the requests in flight have been answered. */
  shutdown(): Promise<void>;
}

/** The adapter every runtime provides. */
export type Listen = (handler: FetchHandler, options: ListenOptions) => Promise<Listener>;

/**
 * How long a graceful stop waits for the requests in flight before closing their connections, so
 * that a client which stops sending or reading cannot hold the stop for ever.
 */
export const SHUTDOWN_GRACE_MS = 5000;

/** True under Bun. */
export { isBun };

/**
 * Serves `handler` with the current runtime's native server. A failure to listen is a
 * `StartError` whose message names the address and the way out (for example a taken port), the
 * same in every runtime; the runtime's own error is its `cause`.
 */
export async function listen(handler: FetchHandler, options: ListenOptions = {}): Promise<Listener> {
  const limits = options.connectionLimits;
  const adapter: { listen: Listen } = limits !== undefined
    ? { listen: async (handler, options) => (await import("./listen_node.ts")).listen(handler, options, limits) }
    : isBun
    ? await import("./listen_bun.ts")
    : await import("./listen_deno.ts");
  try {
    return await adapter.listen(handler, options);
  } catch (error) {
    throw listenFailure(error, options);
  }
}

/** The URL printed for a listener. */
export function listenerUrl(hostname: string, port: number | null, path: string | null): string {
  if (path !== null) return `http+unix://${encodeURIComponent(path)}`;
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return `http://${host}:${port}`;
}
