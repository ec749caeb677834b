// Edges of the HTTP layer met with raw sockets: no Host header, an unknown route, a chunked body
// over the limit, and an event-stream reader that stops reading.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect } from "node:net";
import { disposable } from "../fixtures/disposable.ts";
import { startTestServer } from "../fixtures/http_fixture.ts";

// Sends `head` (and `body`) over a raw socket and resolves with the status line's code.
function rawExchange(url: string, head: string, body = ""): Promise<number> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(head + body));
    let received = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk) => {
      received += chunk;
      const match = /^HTTP\/1\.[01] (\d{3})/.exec(received);
      if (match) {
        socket.destroy();
        resolve(Number(match[1]));
      }
    });
    socket.on("error", reject);
    socket.on("close", () => reject(new Error(`closed without a status line: ${JSON.stringify(received)}`)));
  });
}

test("http: a request without a Host header is 403, even with the token", async () => {
  await using t = await startTestServer();
  const status = await rawExchange(
    t.server.url,
    `GET /v1/sessions HTTP/1.0\r\nAuthorization: Bearer ${t.server.token}\r\n\r\n`,
  );
  assert.equal(status, 403);
  assert.deepEqual(t.logged, []);
});

test("http: an unknown route is 404 with kind NotFound", async () => {
  await using t = await startTestServer();
  const { status, body } = await t.callJson("/v1/nothing-here");
  assert.equal(status, 404);
  assert.equal(body.error.kind, "NotFound");
});

test("http: a chunked body over the limit is 413 and writes nothing", async () => {
  await using t = await startTestServer();
  const host = new URL(t.server.url).host;
  const chunk = "x".repeat(16 * 1024);
  const chunks = Array.from({ length: 6 }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`).join("");
  const status = await rawExchange(
    t.server.url,
    `POST /v1/repositories HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${t.server.token}\r\n` +
      `Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`,
    `${chunks}0\r\n\r\n`,
  );
  assert.equal(status, 413);
  assert.deepEqual((await t.callJson("/v1/repositories")).body.repositories, []);
});

test("http: an event-stream reader that stops reading is cut off, so it holds no subscription", {
  timeout: 60_000,
}, async () => {
  await using t = await startTestServer();
  const { hostname, port, host } = new URL(t.server.url);
  using socket = disposable(connect(Number(port), hostname), (socket) => socket.destroy());
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  socket.write(`GET /v1/events HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${t.server.token}\r\n\r\n`);
  // Wait for the subscription, then never read again.
  const events = t.server.parts.events;
  while (events.size === 0) await new Promise((resolve) => setTimeout(resolve, 10));
  socket.pause();
  const session = { sessionId: crypto.randomUUID() };
  // Enough events to fill the socket's buffers on both ends, whatever their size, then some.
  for (let round = 0; round < 2000 && events.size > 0; round++) {
    for (let i = 0; i < 500; i++) events.emit({ type: "session.secret.stored", ...session });
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.equal(events.size, 0, "the stuck reader is still subscribed");
});
