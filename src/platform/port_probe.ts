/**
 * Whether a TCP port is free on loopback: the orchestrator's `portProbe`, asked before a port is
 * leased to a session.
 *
 * @module
 */

import { createServer } from "node:net";

/**
 * Whether `port` can be bound on `127.0.0.1` right now: binds it, then lets go at once, so the
 * session's own processes can bind it next. `false` when the bind fails (another program listens
 * there, on loopback or on every address, or the port is not ours to bind). Works in Deno, Bun and
 * Node alike (`node:net`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createServer } from "node:net";
 * import { portIsFree } from "./port_probe.ts";
 *
 * const server = createServer();
 * await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
 * const { port } = server.address() as { port: number };
 * assert.equal(await portIsFree(port), false);
 * await new Promise((resolve) => server.close(resolve));
 * assert.equal(await portIsFree(port), true);
 * ```
 */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}
