// The OpenAPI document as tools meet it: Redocly's recommended ruleset (from npm, through npx), a
// client generated from it (openapi-typescript's types over openapi-fetch) doing a whole round trip
// against a real server, and probes of every operation whose answers must all be documented.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import { Hono } from "hono";
import createClient from "openapi-fetch";
import { generateDatabaseKey, MemoryStore, SessionOrchestrator, SessionSecretChain } from "../../mod.ts";
import { decodeBase64 } from "../../src/base64.ts";
import { createApp } from "../../src/http/mod.ts";
import type { paths } from "../fixtures/openapi_types.ts";
import { tempDir } from "../fixtures/helpers.ts";
import { createRepository, rawRequest, startTestServer } from "../fixtures/http_fixture.ts";
import {
  describeProblems,
  GENERATED_TYPES_PATH,
  generateTypes,
  type OpenApiDocument,
  redoclyLint,
  REGENERATE_COMMAND,
} from "../fixtures/openapi_fixture.ts";

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/** Every operation of a document: its path template, method and operation object. */
function operationsOf(document: OpenApiDocument): { path: string; method: string; operation: OpenApiDocument }[] {
  return Object.entries(document.paths as Record<string, OpenApiDocument>).flatMap(([path, item]) =>
    METHODS.filter((method) => item[method] !== undefined).map((method) => ({ path, method, operation: item[method] }))
  );
}

/** An app over a MemoryStore, in process, as an embedder makes one. */
async function memoryApp(serverUrl?: string) {
  const store = new MemoryStore();
  const chain = new SessionSecretChain({ store, databaseKey: await generateDatabaseKey() });
  const token = "a-long-enough-token-for-the-openapi-test";
  return { app: createApp({ orchestrator: new SessionOrchestrator({ store, chain }), token, serverUrl }), token };
}

test(
  "openapi: Redocly's recommended ruleset reports 0 errors and 0 warnings on the server's and a mounted app's document",
  {
    timeout: 240_000,
  },
  async () => {
    await using t = await startTestServer();
    using dir = tempDir("slo-redocly-");
    const served = await t.callJson("/v1/openapi.json");
    assert.equal(served.status, 200);
    // The URL the server listens on.
    assert.deepEqual(served.body.servers, [{ url: t.server.url }]);

    // An app mounted in a user's own app: at the root without a server URL, under a prefix with one.
    const root = await memoryApp();
    const atRoot = await root.app.request("/v1/openapi.json", {
      headers: { host: "localhost", authorization: `Bearer ${root.token}` },
    });
    const rootDocument = await atRoot.json();
    assert.deepEqual(rootDocument.servers, [{ url: "/" }]);
    const prefixed = await memoryApp("/orchestrator");
    const user = new Hono().route("/orchestrator", prefixed.app);
    const underPrefix = await user.request("/orchestrator/v1/openapi.json", {
      headers: { host: "localhost", authorization: `Bearer ${prefixed.token}` },
    });
    assert.equal(underPrefix.status, 200);
    const prefixedDocument = await underPrefix.json();
    assert.deepEqual(prefixedDocument.servers, [{ url: "/orchestrator" }]);

    for (
      const [name, document] of [["served", served.body], ["root", rootDocument], ["prefixed", prefixedDocument]]
    ) {
      const report = await redoclyLint(document, dir.path, name);
      const problems = describeProblems(report);
      assert.equal(report.totals.errors, 0, `${name}: Redocly ${report.version} errors:\n${problems}`);
      assert.equal(report.totals.warnings, 0, `${name}: Redocly ${report.version} warnings:\n${problems}`);
    }
  },
);

test("openapi: every operation has its stable operationId and a described tag; the document has a license", async () => {
  const { app, token } = await memoryApp();
  const document = await (await app.request("/v1/openapi.json", {
    headers: { host: "localhost", authorization: `Bearer ${token}` },
  })).json();
  const ids = Object.fromEntries(
    operationsOf(document).map((
      { path, method, operation },
    ) => [`${method.toUpperCase()} ${path}`, operation.operationId]),
  );
  assert.deepEqual(ids, {
    "GET /v1/health": "getHealth",
    "GET /v1/repositories": "listRepositories",
    "POST /v1/repositories": "createRepository",
    "GET /v1/repositories/{id}": "getRepository",
    "DELETE /v1/repositories/{id}": "deleteRepository",
    "GET /v1/repositories/{id}/pool": "getRepositoryPool",
    "GET /v1/repositories/{id}/snapshots": "listSnapshots",
    "POST /v1/repositories/{id}/snapshots/restore": "restoreSnapshot",
    "POST /v1/repositories/{id}/snapshots/prune": "pruneSnapshots",
    "GET /v1/sessions": "listSessions",
    "POST /v1/sessions": "createSession",
    "POST /v1/sessions/{id}/archive": "archiveSession",
    "POST /v1/sessions/{id}/fork": "forkSession",
    "POST /v1/sessions/{id}/restore": "restoreSession",
    "POST /v1/sessions/{id}/setup": "runSessionSetup",
    "GET /v1/sessions/{id}/status": "getSessionStatus",
    "GET /v1/sessions/{id}": "getSession",
    "PATCH /v1/sessions/{id}": "updateSession",
    "DELETE /v1/sessions/{id}": "deleteSession",
    "PUT /v1/sessions/{id}/secret": "putSessionSecret",
    "GET /v1/sessions/{id}/secret": "getSessionSecret",
    "POST /v1/sessions/{id}/tokens": "createSessionToken",
    "DELETE /v1/sessions/{id}/tokens/{tokenId}": "revokeSessionToken",
    "POST /v1/reconcile": "reconcile",
    "POST /v1/gc": "gc",
    "POST /v1/backup": "createBackup",
    "GET /v1/events": "streamEvents",
    "POST /v1/ui/sign-in-codes": "createSignInCode",
    "GET /v1/openapi.json": "getOpenApiDocument",
  });
  const tags = new Map<string, string>(document.tags.map((tag: { name: string; description: string }) => [
    tag.name,
    tag.description,
  ]));
  for (const { path, method, operation } of operationsOf(document)) {
    assert.equal(operation.tags.length, 1, `${method} ${path}`);
    assert.ok(tags.get(operation.tags[0]), `${method} ${path}: tag ${operation.tags[0]} is not described`);
  }
  assert.deepEqual(document.info.license, { name: "MIT", identifier: "MIT" });
  // Every 503 (the database away or busy, the server starting) says when to try again.
  let unavailable = 0;
  for (const { path, method, operation } of operationsOf(document)) {
    const answer = operation.responses["503"];
    if (answer === undefined) continue;
    unavailable++;
    assert.equal(answer.headers?.["Retry-After"]?.schema?.type, "integer", `${method} ${path}: Retry-After`);
    assert.equal(answer.headers["Retry-After"].required, true, `${method} ${path}`);
  }
  assert.ok(unavailable >= 14, `${unavailable} operations list a 503`);
  // The delete answer's fields are all always present, so all are required.
  const deleted = document.components.schemas.DeletedSession;
  assert.deepEqual([...deleted.required].sort(), Object.keys(deleted.properties).sort());
  for (const field of ["worktreeRemoved", "branchDeleted", "branchKeptReason", "worktreeKeptReason", "snapshotRef"]) {
    assert.ok(deleted.required.includes(field), field);
  }
});

test("openapi: a server on a wildcard address names its loopback address, which its Host check answers", async () => {
  await using t = await startTestServer({ hostname: "0.0.0.0" });
  const url = `http://127.0.0.1:${t.server.port}`;
  const response = await fetch(`${url}/v1/openapi.json`, { headers: { authorization: `Bearer ${t.server.token}` } });
  assert.equal(response.status, 200);
  assert.deepEqual((await response.json()).servers, [{ url }]);
});

test("openapi: a server on a Unix socket names http://localhost, the origin its clients send", async () => {
  using dir = tempDir("slo-openapi-sock-");
  await using t = await startTestServer({ socket: join(dir.path, "api.sock") });
  const body = await new Promise<string>((resolve, reject) => {
    const request = httpRequest({
      socketPath: join(dir.path, "api.sock"),
      path: "/v1/openapi.json",
      headers: { host: "localhost", authorization: `Bearer ${t.server.token}` },
    }, (response) => {
      let text = "";
      response.setEncoding("utf8");
      response.on("data", (chunk) => (text += chunk));
      response.on("end", () => resolve(text));
    });
    request.on("error", reject);
    request.end();
  });
  assert.deepEqual(JSON.parse(body).servers, [{ url: "http://localhost" }]);
});

test("openapi: the generated client types are what openapi-typescript generates from a real server's document", {
  timeout: 60_000,
}, async () => {
  await using t = await startTestServer();
  const { body: document } = await t.callJson("/v1/openapi.json");
  const generated = await generateTypes(document);
  assert.ok(
    readFileSync(GENERATED_TYPES_PATH, "utf8") === generated,
    `tests/fixtures/openapi_types.ts is not what the server's document generates; run: ${REGENERATE_COMMAND}`,
  );
});

test("openapi: a client generated from the document (openapi-typescript + openapi-fetch) does a whole round trip", async () => {
  await using t = await startTestServer();
  // `paths` are the generated types (checked current above); deno test type-checks this code against them.
  const client = createClient<paths>({
    baseUrl: t.server.url,
    headers: { authorization: `Bearer ${t.server.token}` },
  });
  const health = await client.GET("/v1/health");
  assert.equal(health.response.status, 200);
  assert.deepEqual(health.data, { status: "ok" });

  const createdRepository = await client.POST("/v1/repositories", {
    body: { path: `/src/generated-${crypto.randomUUID()}`, name: "generated", defaultBranch: "main" },
  });
  assert.equal(createdRepository.response.status, 201);
  assert.ok(createdRepository.data);
  const repository = createdRepository.data;
  assert.equal(repository.name, "generated");
  assert.equal(repository.defaultBranch, "main");
  assert.equal(repository.sessionsPath, null);

  const sessions = [];
  for (const title of ["First from a generated client", "Second"]) {
    const created = await client.POST("/v1/sessions", {
      body: { repositoryId: repository.id, title, agentName: "claude", isWorktree: false },
    });
    assert.equal(created.response.status, 201);
    assert.ok(created.data);
    assert.equal(created.data.title, title);
    assert.equal(created.data.status, "active");
    sessions.push(created.data);
  }
  const [session, second] = sessions;

  const read = await client.GET("/v1/sessions/{id}", { params: { path: { id: session.id } } });
  assert.equal(read.response.status, 200);
  assert.deepEqual(read.data, session);

  // A page of one, then the next page by its cursor.
  const first = await client.GET("/v1/sessions", { params: { query: { repositoryId: repository.id, limit: 1 } } });
  assert.equal(first.response.status, 200);
  assert.ok(first.data);
  assert.deepEqual(first.data.sessions.map((s) => s.id), [session.id]);
  assert.equal(typeof first.data.nextCursor, "string");
  const next = await client.GET("/v1/sessions", {
    params: { query: { repositoryId: repository.id, limit: 1, cursor: first.data.nextCursor ?? undefined } },
  });
  assert.deepEqual(next.data?.sessions.map((s) => s.id), [second.id]);
  assert.equal(next.data?.nextCursor, null);

  const secret = await client.GET("/v1/sessions/{id}/secret", { params: { path: { id: session.id } } });
  assert.equal(secret.response.status, 200);
  assert.ok(secret.data);
  assert.equal(secret.data.sessionId, session.id);
  assert.equal(decodeBase64(secret.data.secret).length, 32);

  const patched = await client.PATCH("/v1/sessions/{id}", {
    params: { path: { id: session.id } },
    body: { status: "paused" },
  });
  assert.equal(patched.data?.status, "paused");

  // A backup, and the 409 of a second one to the same file.
  {
    using backups = tempDir("slo-openapi-backup-");
    const path = join(backups.path, "copy.db");
    const backup = await client.POST("/v1/backup", { body: { path } });
    assert.equal(backup.response.status, 200);
    assert.deepEqual(backup.data && { ...backup.data, bytes: 0 }, {
      path,
      bytes: 0,
      sessions: 2,
      repositories: 1,
      integrity: "ok",
    });
    const taken = await client.POST("/v1/backup", { body: { path } });
    assert.equal(taken.response.status, 409);
    assert.equal(taken.error?.error.kind, "Conflict");
    assert.equal((await client.POST("/v1/backup", { body: { path, overwrite: true } })).response.status, 200);
  }

  const deleted = await client.DELETE("/v1/sessions/{id}", { params: { path: { id: session.id } } });
  assert.equal(deleted.response.status, 200);
  assert.ok(deleted.data);
  // The close result's fields are required in the document, so the generated type has no `undefined` here.
  const closed: {
    worktreeRemoved: boolean;
    branchDeleted: boolean;
    branchKeptReason: string | null;
    worktreeKeptReason: string | null;
    snapshotRef: string | null;
  } = deleted.data;
  assert.deepEqual(closed.worktreeRemoved, false);
  assert.equal(deleted.data.id, session.id);
  assert.equal(deleted.data.status, "paused");
  assert.equal(deleted.data.branchDeleted, false);
  assert.equal(deleted.data.branchKeptReason, null);
  assert.equal(deleted.data.worktreeKeptReason, null);
  assert.equal(deleted.data.snapshotRef, null);

  // Errors come back as the document's error body.
  const again = await client.DELETE("/v1/sessions/{id}", { params: { path: { id: session.id } } });
  assert.equal(again.response.status, 404);
  assert.equal(again.data, undefined);
  assert.equal(again.error?.error.kind, "SessionNotFound");
  const refused = await client.DELETE("/v1/repositories/{id}", { params: { path: { id: repository.id } } });
  assert.equal(refused.response.status, 409);
  assert.equal(refused.error?.error.kind, "Conflict");

  assert.equal(
    (await client.DELETE("/v1/sessions/{id}", { params: { path: { id: second.id } } })).response.status,
    200,
  );
  const removed = await client.DELETE("/v1/repositories/{id}", { params: { path: { id: repository.id } } });
  assert.equal(removed.response.status, 200);
  assert.equal(removed.data?.id, repository.id);
  const gone = await client.GET("/v1/repositories/{id}", { params: { path: { id: repository.id } } });
  assert.equal(gone.response.status, 404);
  assert.equal(gone.error?.error.kind, "RepositoryNotFound");

  const document = await client.GET("/v1/openapi.json");
  assert.equal(document.data?.openapi, "3.1.0");
  const anonymous = createClient<paths>({ baseUrl: t.server.url });
  const unauthorized = await anonymous.GET("/v1/sessions");
  assert.equal(unauthorized.response.status, 401);
  assert.equal(unauthorized.error?.error.kind, "Unauthorized");
});

test("openapi: every answer the server gives to probes of every operation is one the document lists", {
  timeout: 60_000,
}, async () => {
  await using t = await startTestServer();
  const { body: document } = await t.callJson("/v1/openapi.json");
  const repositoryId = await createRepository(t, "probed");
  const created = await t.callJson("/v1/sessions", {
    method: "POST",
    json: { repositoryId, title: "probed", isWorktree: false },
  });
  assert.equal(created.status, 201);
  const ids = [created.body.id, crypto.randomUUID(), "not-a-uuid"];
  const token = `Bearer ${t.server.token}`;
  const big = JSON.stringify({ title: "x".repeat(70 * 1024) });
  const undocumented: string[] = [];
  const seen = new Map<string, Set<number>>();

  for (const { path, method, operation } of operationsOf(document)) {
    const operationId: string = operation.operationId;
    seen.set(operationId, new Set());
    const urls = path.includes("{id}")
      ? ids.map((id) => path.replace("{id}", path.startsWith("/v1/repositories") && id === ids[0] ? repositoryId : id))
      : [path];
    const withBody = method !== "get";
    for (const url of urls) {
      const probes: { name: string; init: RequestInit; query?: string }[] = [
        { name: "no token", init: {} },
        { name: "foreign Origin", init: { headers: { authorization: token, origin: "https://evil.example" } } },
        { name: "plain", init: { headers: { authorization: token } } },
        {
          name: "bad query",
          init: { headers: { authorization: token } },
          query: "?limit=0&status=nope&force=maybe&deleteBranch=maybe&dryRun=maybe",
        },
      ];
      if (withBody) {
        probes.push(
          {
            name: "text body",
            init: { headers: { authorization: token, "content-type": "text/plain" }, body: "{}" },
          },
          {
            name: "bad JSON",
            init: { headers: { authorization: token, "content-type": "application/json" }, body: "{" },
          },
          {
            name: "empty JSON",
            init: { headers: { authorization: token, "content-type": "application/json" }, body: "{}" },
          },
          {
            name: "big body",
            init: { headers: { authorization: token, "content-type": "application/json" }, body: big },
          },
          { name: "big body, no token", init: { headers: { "content-type": "application/json" }, body: big } },
        );
      }
      const record = (name: string, status: number) => {
        seen.get(operationId)!.add(status);
        if (operation.responses[String(status)] === undefined) {
          undocumented.push(`${operationId} (${method.toUpperCase()} ${url}, ${name}): ${status}`);
        }
      };
      for (const probe of probes) {
        const response = await fetch(`${t.server.url}${url}${probe.query ?? ""}`, {
          ...probe.init,
          method: method.toUpperCase(),
        });
        // The event stream stays open: its status is all a probe needs.
        await response.body?.cancel();
        record(probe.name, response.status);
      }
      const foreign = await rawRequest(`${t.server.url}${url}`, {
        method: method.toUpperCase(),
        headers: { host: "evil.example", authorization: token },
      });
      record("foreign Host", foreign.status);
    }
  }
  assert.deepEqual(undocumented, [], `answers the document does not list:\n${undocumented.join("\n")}`);
  // The probes reached what they aim at: the guards on every operation, the body checks on every write.
  for (const { method, operation } of operationsOf(document)) {
    const statuses = seen.get(operation.operationId)!;
    assert.ok(statuses.has(403), `${operation.operationId}: ${[...statuses]}`);
    if (operation.operationId !== "getHealth") assert.ok(statuses.has(401), operation.operationId);
    if (method !== "get") assert.ok(statuses.has(413), `${operation.operationId}: ${[...statuses]}`);
    if (["post", "put", "patch"].includes(method)) assert.ok(statuses.has(415), operation.operationId);
  }
});

test("openapi: GET /v1/events documents Last-Event-ID (header and query), its 400, and the ready, id and gap fields", async () => {
  const { app, token } = await memoryApp();
  const response = await app.request("/v1/openapi.json", {
    headers: { host: "localhost", authorization: `Bearer ${token}` },
  });
  const operation = (await response.json()).paths["/v1/events"].get;
  const parameters = operation.parameters.map((parameter: { name: string; in: string }) =>
    `${parameter.in} ${parameter.name}`
  );
  assert.deepEqual(parameters.sort(), ["header last-event-id", "query lastEventId"]);
  assert.equal(operation.responses["400"].content["application/json"].schema.$ref, "#/components/schemas/Error");
  const stream = operation.responses["200"].content["text/event-stream"].schema.description;
  for (const word of ["ready", "durable id", "gap", "restarts"]) assert.match(stream, new RegExp(word));
  assert.match(operation.description, /Last-Event-ID/);
});
