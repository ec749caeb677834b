// createApp mounted inside a user's own Hono app with app.route(), served on a real loopback port.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Hono } from "hono";
import { generateDatabaseKey, MemoryStore, SessionOrchestrator, SessionSecretChain } from "../../mod.ts";
import { createApp } from "../../src/http/mod.ts";
import { listen } from "../../src/server/listen.ts";
import { asyncDisposable } from "../fixtures/disposable.ts";

test("http: the app mounts under a prefix of the user's own Hono app and keeps its guards there", async () => {
  const store = new MemoryStore();
  const token = "a-long-enough-token-for-the-mount-test";
  const chain = new SessionSecretChain({ store, databaseKey: await generateDatabaseKey() });
  const api = createApp({ orchestrator: new SessionOrchestrator({ store, chain }), token });
  const user = new Hono().get("/", (c) => c.text("the user's own page")).route("/orchestrator", api);
  await using listener = asyncDisposable(
    await listen(user.fetch, { hostname: "127.0.0.1", port: 0 }),
    (listener) => listener.shutdown(),
  );
  assert.equal(await (await fetch(`${listener.url}/`)).text(), "the user's own page");
  const health = await fetch(`${listener.url}/orchestrator/v1/health`);
  assert.deepEqual(await health.json(), { status: "ok" });
  assert.equal((await fetch(`${listener.url}/orchestrator/v1/sessions`)).status, 401);
  const fromPage = await fetch(`${listener.url}/orchestrator/v1/sessions`, {
    headers: { authorization: `Bearer ${token}`, origin: "https://evil.example" },
  });
  assert.equal(fromPage.status, 403);
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const created = await fetch(`${listener.url}/orchestrator/v1/repositories`, {
    method: "POST",
    headers,
    body: JSON.stringify({ path: "/src/mounted", name: "mounted" }),
  });
  assert.equal(created.status, 201);
  assert.equal((await store.listRepositories())[0].name, "mounted");
});
