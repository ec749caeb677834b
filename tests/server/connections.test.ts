// A flood of idle connections, with a real server process run short of file descriptors: it stops
// accepting while they are open (under Deno its accept loop fails with "Too many open files"), but
// it never exits, and it answers again once they close.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { isBun, tempDir } from "../fixtures/helpers.ts";
import { servedProcess } from "../fixtures/disposable.ts";

// Low enough that the flood below surely exhausts it; high enough for the server to start.
const OPEN_FILE_LIMIT = 128;
const FLOOD = 400;

async function health(url: string): Promise<number | null> {
  try {
    const response = await fetch(`${url}/v1/health`, { signal: AbortSignal.timeout(2000) });
    await response.body?.cancel();
    return response.status;
  } catch {
    return null;
  }
}

// Opens `count` connections that never send a byte; resolves once each is connected or has failed.
async function idleConnections(port: number, count: number): Promise<Socket[]> {
  const sockets: Socket[] = [];
  await Promise.all(
    Array.from({ length: count }, () =>
      new Promise<void>((resolve) => {
        const socket = connect(port, "127.0.0.1", () => resolve());
        socket.on("error", () => resolve());
        // The kernel's backlog may take the connection without the server ever accepting it.
        socket.setTimeout(3000, () => resolve());
        sockets.push(socket);
      })),
  );
  return sockets;
}

test("connections: a flood of idle connections past the open-file limit does not end the server; it answers again once they close", async () => {
  using dir = tempDir("slo-flood-");
  await using server = servedProcess(["--port", "0", "--data-dir", dir.path], { openFileLimit: OPEN_FILE_LIMIT });
  const url = await server.url;
  assert.equal(await health(url), 200);
  const sockets = await idleConnections(Number(new URL(url).port), FLOOD);
  // Held a moment, so the server meets them all while they are open.
  await new Promise((resolve) => setTimeout(resolve, 500));
  for (const socket of sockets) socket.destroy();
  let status: number | null = null;
  for (let attempt = 0; attempt < 60 && status !== 200; attempt++) {
    status = await health(url);
    if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 250));
  }
  assert.equal(status, 200, server.output());
  assert.equal(server.child.exitCode, null, server.output());
  // Under Deno the flood did run the server out of descriptors, and it said so and listened again.
  if (!isBun) assert.match(server.output(), /stopped accepting connections; it listens again/);
  server.signal("SIGTERM");
  assert.deepEqual(await server.closed, { code: 0, signal: null }, server.output());
});
