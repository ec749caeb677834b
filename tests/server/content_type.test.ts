// JSON in: a write whose body is not declared as JSON gets 415 UnsupportedMediaType with a hint,
// whatever route it reaches; JSON in any casing or with parameters is read. In-process, app.request().
import { test } from "node:test";
import assert from "node:assert/strict";
import { generateDatabaseKey, MemoryStore, SessionOrchestrator, SessionSecretChain } from "../../mod.ts";
import { createApp } from "../../src/http/mod.ts";
import { isJsonContentType } from "../../src/http/content_type.ts";

const token = "a-long-enough-token-for-the-content-type-test";

// The one place these tests build the app, so a change of createApp's options touches one line.
async function makeApp() {
  const store = new MemoryStore();
  const chain = new SessionSecretChain({ store, databaseKey: await generateDatabaseKey() });
  const app = createApp({ orchestrator: new SessionOrchestrator({ store, chain }), token });
  const send = (method: string, path: string, init: { contentType?: string; body?: BodyInit; auth?: boolean } = {}) => {
    const headers = new Headers({ host: "127.0.0.1:7717" });
    if (init.auth !== false) headers.set("authorization", `Bearer ${token}`);
    if (init.contentType !== undefined) headers.set("content-type", init.contentType);
    return app.request(path, { method, headers, body: init.body, duplex: "half" } as RequestInit);
  };
  return { store, send };
}

const repositoryBody = (name: string) => JSON.stringify({ path: `/src/${name}`, name });

// A body as a stream: no Content-Length, as in a chunked upload.
function streamed(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  return new ReadableStream({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });
}

async function assertRefused(response: Response, sent: RegExp): Promise<void> {
  assert.equal(response.status, 415);
  const body = await response.json();
  assert.equal(body.error.kind, "UnsupportedMediaType");
  assert.match(body.error.message, /send Content-Type: application\/json/);
  assert.match(body.error.message, sent);
}

test("content type: a body without Content-Type, or of another type, is 415 with a hint and writes nothing", async () => {
  const { store, send } = await makeApp();
  // A byte body gets no Content-Type from Request (a string body may get text/plain, depending on the runtime).
  const bytes = new TextEncoder().encode(repositoryBody("none"));
  await assertRefused(await send("POST", "/v1/repositories", { body: bytes }), /without a Content-Type/);
  await assertRefused(
    await send("POST", "/v1/repositories", { contentType: "text/plain;charset=UTF-8", body: repositoryBody("plain") }),
    /text\/plain/,
  );
  await assertRefused(
    await send("POST", "/v1/repositories", { contentType: "application/x-www-form-urlencoded", body: "path=/x" }),
    /x-www-form-urlencoded/,
  );
  await assertRefused(
    await send("POST", "/v1/repositories", { contentType: "application/jsonx", body: repositoryBody("x") }),
    /application\/jsonx/,
  );
  // Parameters in a form the routes cannot read are refused here too, with the same kind.
  await assertRefused(
    await send("POST", "/v1/repositories", {
      contentType: "application/json ; charset=utf-8",
      body: repositoryBody("s"),
    }),
    /application\/json ; charset=utf-8/,
  );
  await assertRefused(await send("POST", "/v1/repositories", { body: streamed(repositoryBody("chunked")) }), /without/);
  assert.deepEqual(await store.listRepositories(), []);
});

test("content type: JSON in any casing, with parameters, or as a +json type is read", async () => {
  const { store, send } = await makeApp();
  const accepted = [
    "application/json",
    "Application/JSON",
    "application/json; charset=utf-8",
    "APPLICATION/JSON;Charset=UTF-8",
    "application/merge-patch+json",
  ];
  for (const [i, contentType] of accepted.entries()) {
    const response = await send("POST", "/v1/repositories", { contentType, body: repositoryBody(`ok-${i}`) });
    assert.equal(response.status, 201, `${contentType}: ${await response.text()}`);
  }
  // Without Content-Length the check reads a copy of the stream; the route still gets the whole body.
  const chunked = await send("POST", "/v1/repositories", {
    contentType: "application/json",
    body: streamed(repositoryBody("chunked")),
  });
  assert.equal(chunked.status, 201, await chunked.text());
  assert.equal((await store.listRepositories()).length, accepted.length + 1);
  for (const value of accepted) assert.equal(isJsonContentType(value), true, value);
  for (const value of ["text/plain", "application/jsonx", "json", "application/json;", ""]) {
    assert.equal(isJsonContentType(value), false, value);
  }
});

test("content type: PATCH and PUT are checked; writes without a body and reads are not; the token comes first", async () => {
  const { store, send } = await makeApp();
  const repository = await store.createRepository({ path: "/src/app", name: "app" });
  const session = await store.createSession({
    id: crypto.randomUUID(),
    repositoryId: repository.id,
    title: "before",
    isWorktree: false,
  });

  await assertRefused(
    await send("PATCH", `/v1/sessions/${session.id}`, {
      contentType: "text/plain",
      body: JSON.stringify({ title: "after" }),
    }),
    /text\/plain/,
  );
  assert.equal((await store.getSession(session.id))?.title, "before");
  await assertRefused(
    await send("PUT", `/v1/sessions/${session.id}/secret`, {
      body: new TextEncoder().encode(JSON.stringify({ encryptedSecret: "", nonce: "" })),
    }),
    /without a Content-Type/,
  );
  assert.equal(await store.getSessionSecret(session.id), null);

  // POST /v1/reconcile takes no body: it reaches the route (here: an empty report, no lifecycle).
  const reconcile = await send("POST", "/v1/reconcile");
  assert.equal(reconcile.status, 200);
  assert.deepEqual(await reconcile.json(), { dryRun: false, findings: [] });
  const empty = await send("POST", "/v1/reconcile", { contentType: "text/plain", body: "" });
  assert.equal(empty.status, 200);
  assert.equal((await send("GET", `/v1/sessions/${session.id}`)).status, 200);

  // Without a token the answer is 401 whatever the body: nothing about the API shows first.
  const anonymous = await send("POST", "/v1/repositories", {
    contentType: "text/plain",
    body: repositoryBody("anon"),
    auth: false,
  });
  assert.equal(anonymous.status, 401);
});
