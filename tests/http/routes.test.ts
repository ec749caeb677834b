import { test } from "node:test";
import assert from "node:assert/strict";
import { encryptSessionSecret, generateSessionSecret } from "../../mod.ts";
import { decodeBase64, encodeBase64 } from "../../src/base64.ts";
import { importDatabaseKey } from "../../src/crypto.ts";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DATABASE_KEY_FILE } from "../../src/platform/database_key.ts";
import { createRepository, startTestApp } from "../fixtures/http_fixture.ts";

test("http: health answers without a token", async () => {
  await using t = await startTestApp();
  const response = await t.call("/v1/health", { headers: { authorization: "" } });
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { status: "ok" });
});

test("http: repositories are created, listed, read and deleted, and a second delete is 404", async () => {
  await using t = await startTestApp();
  const created = await t.callJson("/v1/repositories", {
    method: "POST",
    json: { path: "/src/app", name: "app", isGitRepository: true, defaultBranch: "main" },
  });
  assert.equal(created.status, 201);
  assert.equal(created.body.path, "/src/app");
  assert.equal(created.body.isGitRepository, true);
  assert.equal(created.body.defaultBranch, "main");
  assert.equal(created.body.sessionsPath, null);
  const id = created.body.id;

  const list = await t.callJson("/v1/repositories");
  assert.equal(list.status, 200);
  assert.deepEqual(list.body.repositories.map((r: { id: string }) => r.id), [id]);

  const one = await t.callJson(`/v1/repositories/${id}`);
  assert.equal(one.status, 200);
  assert.deepEqual(one.body, created.body);

  const duplicate = await t.callJson("/v1/repositories", { method: "POST", json: { path: "/src/app", name: "x" } });
  assert.equal(duplicate.status, 409);
  assert.equal(duplicate.body.error.kind, "Conflict");

  const deleted = await t.callJson(`/v1/repositories/${id}`, { method: "DELETE" });
  assert.equal(deleted.status, 200);
  assert.equal(deleted.body.id, id);
  const again = await t.callJson(`/v1/repositories/${id}`, { method: "DELETE" });
  assert.equal(again.status, 404);
  assert.equal(again.body.error.kind, "RepositoryNotFound");
  const gone = await t.callJson(`/v1/repositories/${id}`);
  assert.equal(gone.status, 404);
  assert.equal(gone.body.error.kind, "RepositoryNotFound");
});

test("http: deleting a repository that has sessions is 409 and keeps it", async () => {
  await using t = await startTestApp();
  const repositoryId = await createRepository(t);
  const session = await t.callJson("/v1/sessions", {
    method: "POST",
    json: { repositoryId, title: "t", isWorktree: false },
  });
  assert.equal(session.status, 201);
  const refused = await t.callJson(`/v1/repositories/${repositoryId}`, { method: "DELETE" });
  assert.equal(refused.status, 409);
  assert.equal(refused.body.error.kind, "Conflict");
  assert.equal((await t.callJson(`/v1/repositories/${repositoryId}`)).status, 200);
});

test("http: a session is created with its secret provisioned, read, filtered, patched and deleted", async () => {
  await using t = await startTestApp();
  const repositoryId = await createRepository(t, "one");
  const otherId = await createRepository(t, "two");
  const created = await t.callJson("/v1/sessions", {
    method: "POST",
    json: {
      repositoryId,
      title: "Add dark mode",
      agentName: "claude",
      isWorktree: true,
      worktreeName: "dark-mode",
      branchName: "session/dark-mode",
      worktreePath: "/data/worktrees/app/dark-mode",
    },
  });
  assert.equal(created.status, 201);
  const session = created.body;
  assert.equal(session.title, "Add dark mode");
  assert.equal(session.worktreePath, "/data/worktrees/app/dark-mode");
  assert.equal(session.status, "active");
  assert.equal("secret" in session, false);
  await t.callJson("/v1/sessions", {
    method: "POST",
    json: { repositoryId: otherId, title: "x", isWorktree: false },
  });

  // The provisioned secret is sealed in the SQLite file and resolves through the chain.
  const secret = await t.callJson(`/v1/sessions/${session.id}/secret`);
  assert.equal(secret.status, 200);
  assert.equal(decodeBase64(secret.body.secret).length, 32);
  assert.notEqual(await t.server.parts.store.getSessionSecret(session.id), null);

  const all = await t.callJson("/v1/sessions");
  assert.equal(all.body.sessions.length, 2);
  const filtered = await t.callJson(`/v1/sessions?repositoryId=${repositoryId}`);
  assert.deepEqual(filtered.body.sessions.map((s: { id: string }) => s.id), [session.id]);

  const read = await t.callJson(`/v1/sessions/${session.id}`);
  assert.deepEqual(read.body, session);

  const patched = await t.callJson(`/v1/sessions/${session.id}`, {
    method: "PATCH",
    json: { title: "Dark mode, v2", status: "paused" },
  });
  assert.equal(patched.status, 200);
  assert.equal(patched.body.title, "Dark mode, v2");
  assert.equal(patched.body.status, "paused");
  assert.equal((await t.callJson(`/v1/sessions/${session.id}`)).body.status, "paused");

  const deleted = await t.callJson(`/v1/sessions/${session.id}`, { method: "DELETE" });
  assert.equal(deleted.status, 200);
  assert.equal(deleted.body.id, session.id);
  assert.equal(deleted.body.worktreePath, "/data/worktrees/app/dark-mode");
  assert.equal(deleted.body.branchName, "session/dark-mode");
  assert.equal((await t.callJson(`/v1/sessions/${session.id}`)).status, 404);
  assert.equal(await t.server.parts.store.getSessionSecret(session.id), null);
  assert.equal(t.server.parts.chain.cache.contains(session.id), false);
  const secretGone = await t.callJson(`/v1/sessions/${session.id}/secret`);
  assert.equal(secretGone.status, 404);
  assert.equal(secretGone.body.error.kind, "SessionNotFound");
});

test("http: a session for a missing repository is 404 and writes nothing", async () => {
  await using t = await startTestApp();
  const response = await t.callJson("/v1/sessions", {
    method: "POST",
    json: { repositoryId: crypto.randomUUID(), title: "t", isWorktree: false },
  });
  assert.equal(response.status, 404);
  assert.equal(response.body.error.kind, "RepositoryNotFound");
  assert.deepEqual(await t.server.parts.store.listSessions(), []);
});

test("http: without a lifecycle a worktree session needs worktreePath, and baseRef is refused", async () => {
  await using t = await startTestApp();
  const repositoryId = await createRepository(t);
  const missing = await t.callJson("/v1/sessions", {
    method: "POST",
    json: { repositoryId, title: "t", isWorktree: true, worktreeName: "w" },
  });
  assert.equal(missing.status, 400);
  assert.equal(missing.body.error.kind, "InvalidInput");
  const baseRef = await t.callJson("/v1/sessions", {
    method: "POST",
    json: { repositoryId, title: "t", isWorktree: true, worktreePath: "/w/x", baseRef: "main" },
  });
  assert.equal(baseRef.status, 400);
  assert.match(baseRef.body.error.message, /lifecycle/);
  // Without a lifecycle there are no worktrees to repair: an empty report.
  const reconcile = await t.callJson("/v1/reconcile", { method: "POST" });
  assert.equal(reconcile.status, 200);
  assert.deepEqual(reconcile.body, { dryRun: false, findings: [] });
  assert.deepEqual(await t.server.parts.store.listSessions(), []);
});

test("http: a secret sealed by the caller is stored with PUT and resolved with GET", async () => {
  await using t = await startTestApp();
  const repositoryId = await createRepository(t);
  const { body: session } = await t.callJson("/v1/sessions", {
    method: "POST",
    json: { repositoryId, title: "t", isWorktree: false },
  });
  const before = (await t.callJson(`/v1/sessions/${session.id}/secret`)).body.secret;
  // Seal a new secret under the server's database key, as a same-machine client holding it would.
  const raw = decodeBase64(readFileSync(join(t.dataDir, DATABASE_KEY_FILE), "utf8").trim());
  const key = await importDatabaseKey(raw);
  const secret = generateSessionSecret();
  const sealed = await encryptSessionSecret(key, session.id, secret);
  const put = await t.callJson(`/v1/sessions/${session.id}/secret`, {
    method: "PUT",
    json: { encryptedSecret: encodeBase64(sealed.encryptedSecret), nonce: encodeBase64(sealed.nonce) },
  });
  assert.equal(put.status, 200);
  assert.deepEqual(put.body, { sessionId: session.id, stored: true });
  const after = await t.callJson(`/v1/sessions/${session.id}/secret`);
  assert.equal(after.status, 200);
  assert.notEqual(after.body.secret, before);
  assert.equal(after.body.secret, encodeBase64(secret));

  const badNonce = await t.callJson(`/v1/sessions/${session.id}/secret`, {
    method: "PUT",
    json: { encryptedSecret: encodeBase64(sealed.encryptedSecret), nonce: "AAAA" },
  });
  assert.equal(badNonce.status, 400);
  const notBase64 = await t.callJson(`/v1/sessions/${session.id}/secret`, {
    method: "PUT",
    json: { encryptedSecret: "%%%", nonce: encodeBase64(sealed.nonce) },
  });
  assert.equal(notBase64.status, 400);
  // Ciphertext that does not open under the database key for this session is refused, and the
  // stored secret stays: bytes of random noise, and a secret sealed for another session id.
  const noise = await t.callJson(`/v1/sessions/${session.id}/secret`, {
    method: "PUT",
    json: { encryptedSecret: encodeBase64(new Uint8Array(48).fill(7)), nonce: encodeBase64(sealed.nonce) },
  });
  assert.equal(noise.status, 400);
  assert.equal(noise.body.error.kind, "InvalidInput");
  assert.match(noise.body.error.message, /does not open/);
  const elsewhere = await encryptSessionSecret(key, crypto.randomUUID(), generateSessionSecret());
  const moved = await t.callJson(`/v1/sessions/${session.id}/secret`, {
    method: "PUT",
    json: { encryptedSecret: encodeBase64(elsewhere.encryptedSecret), nonce: encodeBase64(elsewhere.nonce) },
  });
  assert.equal(moved.status, 400);
  assert.equal((await t.callJson(`/v1/sessions/${session.id}/secret`)).body.secret, encodeBase64(secret));
  const unknown = await t.callJson(`/v1/sessions/${crypto.randomUUID()}/secret`, {
    method: "PUT",
    json: { encryptedSecret: encodeBase64(sealed.encryptedSecret), nonce: encodeBase64(sealed.nonce) },
  });
  assert.equal(unknown.status, 404);
  assert.equal(unknown.body.error.kind, "SessionNotFound");
  assert.equal((await t.callJson(`/v1/sessions/${session.id}/secret`)).body.secret, encodeBase64(secret));
});

test("http: malformed JSON, unknown fields and wrong types are 400 InvalidInput and write nothing", async () => {
  await using t = await startTestApp();
  const malformed = await t.call("/v1/repositories", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: '{"path": "/src/app",',
  });
  assert.equal(malformed.status, 400);
  assert.equal((await malformed.json()).error.kind, "InvalidInput");

  const unknown = await t.callJson("/v1/repositories", {
    method: "POST",
    json: { path: "/src/app", name: "app", admin: true },
  });
  assert.equal(unknown.status, 400);
  assert.equal(unknown.body.error.kind, "InvalidInput");
  assert.match(unknown.body.error.message, /admin/);

  const wrongType = await t.callJson("/v1/repositories", { method: "POST", json: { path: 42, name: "app" } });
  assert.equal(wrongType.status, 400);
  assert.match(wrongType.body.error.message, /path/);

  const relative = await t.callJson("/v1/repositories", { method: "POST", json: { path: "src/app", name: "app" } });
  assert.equal(relative.status, 400);
  assert.equal(relative.body.error.kind, "InvalidInput");

  // A body not declared as JSON is 415 with a hint (tests/server/content_type.test.ts has the rest).
  const notJson = await t.call("/v1/repositories", { method: "POST", body: "path=/src/app" });
  assert.equal(notJson.status, 415);
  assert.equal((await notJson.json()).error.kind, "UnsupportedMediaType");

  const badStatus = await t.callJson(`/v1/sessions/${crypto.randomUUID()}`, {
    method: "PATCH",
    json: { status: "exploded" },
  });
  assert.equal(badStatus.status, 400);

  const badId = await t.callJson("/v1/sessions/not-a-uuid");
  assert.equal(badId.status, 400);
  assert.equal(badId.body.error.kind, "InvalidInput");

  assert.deepEqual(await t.server.parts.store.listRepositories(), []);
});

test("http: unknown sessions are 404 on every session route", async () => {
  await using t = await startTestApp();
  const id = crypto.randomUUID();
  for (
    const [path, method, json] of [
      [`/v1/sessions/${id}`, "GET", undefined],
      [`/v1/sessions/${id}`, "PATCH", { title: "x" }],
      [`/v1/sessions/${id}`, "DELETE", undefined],
      [`/v1/sessions/${id}/secret`, "GET", undefined],
      [`/v1/sessions/${id}/tokens`, "POST", undefined],
      [`/v1/sessions/${id}/tokens/${crypto.randomUUID()}`, "DELETE", undefined],
    ] as const
  ) {
    const response = await t.callJson(path, { method, json });
    assert.equal(response.status, 404, `${method} ${path}`);
    assert.equal(response.body.error.kind, "SessionNotFound");
  }
  const route = await t.callJson("/v1/nothing-here");
  assert.equal(route.status, 404);
});

test("http: a body over 64 KiB is 413 and writes nothing", async () => {
  await using t = await startTestApp();
  const response = await t.callJson("/v1/repositories", {
    method: "POST",
    json: { path: "/src/app", name: "x".repeat(70 * 1024) },
  });
  assert.equal(response.status, 413);
  assert.equal(response.body.error.kind, "InvalidInput");
  assert.deepEqual(await t.server.parts.store.listRepositories(), []);
});

test("http: a storage failure is 500 with a generic message; the cause is logged, not sent", async () => {
  await using t = await startTestApp();
  await createRepository(t);
  t.server.parts.store.close();
  const response = await t.callJson("/v1/repositories");
  assert.equal(response.status, 500);
  assert.equal(response.body.error.kind, "Storage");
  assert.doesNotMatch(response.body.error.message, /sqlite|database|closed|\//i);
  assert.equal(t.logged.length, 1);
  assert.match(String(t.logged[0].cause), /database|closed|open/i);
});

test("http: the OpenAPI 3.1 document describes every route, its schemas and the bearer scheme", async () => {
  await using t = await startTestApp();
  const { status, body } = await t.callJson("/v1/openapi.json");
  assert.equal(status, 200);
  assert.equal(body.openapi, "3.1.0");
  assert.deepEqual(Object.keys(body.paths).sort(), [
    "/v1/backup",
    "/v1/events",
    "/v1/gc",
    "/v1/health",
    "/v1/openapi.json",
    "/v1/reconcile",
    "/v1/repositories",
    "/v1/repositories/{id}",
    "/v1/repositories/{id}/pool",
    "/v1/repositories/{id}/snapshots",
    "/v1/repositories/{id}/snapshots/prune",
    "/v1/repositories/{id}/snapshots/restore",
    "/v1/sessions",
    "/v1/sessions/{id}",
    "/v1/sessions/{id}/archive",
    "/v1/sessions/{id}/fork",
    "/v1/sessions/{id}/restore",
    "/v1/sessions/{id}/secret",
    "/v1/sessions/{id}/setup",
    "/v1/sessions/{id}/status",
    "/v1/sessions/{id}/tokens",
    "/v1/sessions/{id}/tokens/{tokenId}",
    "/v1/ui/sign-in-codes",
  ]);
  assert.deepEqual(Object.keys(body.paths["/v1/sessions/{id}"]).sort(), ["delete", "get", "patch"]);
  const create = body.components.schemas.CreateSession;
  assert.equal(create.additionalProperties, false);
  assert.deepEqual([...create.required].sort(), ["isWorktree", "repositoryId", "title"]);
  assert.ok(body.paths["/v1/sessions"].post.responses["409"]);
  assert.equal(body.components.securitySchemes.bearer.type, "http");
  assert.equal(body.components.securitySchemes.bearer.scheme, "bearer");
  assert.deepEqual(body.paths["/v1/health"].get.security, []);
  const deleteParameters = body.paths["/v1/sessions/{id}"].delete.parameters.map((p: { name: string }) => p.name);
  assert.deepEqual(deleteParameters.sort(), ["deleteBranch", "force", "id"]);
  const backup = body.components.schemas.BackupRequest;
  assert.equal(backup.additionalProperties, false);
  assert.deepEqual(backup.required, ["path"]);
  assert.deepEqual([...body.components.schemas.Backup.required].sort(), [
    "bytes",
    "integrity",
    "path",
    "repositories",
    "sessions",
  ]);
});

test("http: every answer of a whole lifecycle is one the OpenAPI document lists, with its required fields", async () => {
  await using t = await startTestApp();
  const { body: document } = await t.callJson("/v1/openapi.json");
  // deno-lint-ignore no-explicit-any
  const schemaOf = (schema: any): any =>
    schema?.$ref ? document.components.schemas[schema.$ref.split("/").pop()] : schema;
  const checked: string[] = [];
  const drive = async (method: string, path: string, template: string, json?: unknown) => {
    const { status, body } = await t.callJson(path, { method, json });
    const operation = document.paths[template]?.[method.toLowerCase()];
    assert.ok(operation, `${method} ${template} is not in the document`);
    const response = operation.responses[String(status)];
    assert.ok(response, `${method} ${template} answered ${status}, which the document does not list`);
    const schema = schemaOf(response.content?.["application/json"]?.schema);
    for (const field of schema?.required ?? []) assert.ok(field in body, `${method} ${template} ${status}: ${field}`);
    checked.push(`${method} ${template} ${status}`);
    return body;
  };
  await drive("GET", "/v1/health", "/v1/health");
  const repository = await drive("POST", "/v1/repositories", "/v1/repositories", {
    path: `/src/doc-${crypto.randomUUID()}`,
    name: "doc",
  });
  await drive("GET", `/v1/repositories/${repository.id}`, "/v1/repositories/{id}");
  const session = await drive("POST", "/v1/sessions", "/v1/sessions", {
    repositoryId: repository.id,
    title: "from the document",
    isWorktree: false,
  });
  await drive("POST", "/v1/sessions", "/v1/sessions", { repositoryId: repository.id, title: "" });
  await drive("GET", `/v1/sessions?repositoryId=${repository.id}`, "/v1/sessions");
  await drive("PATCH", `/v1/sessions/${session.id}`, "/v1/sessions/{id}", { status: "paused" });
  await drive("GET", `/v1/sessions/${session.id}/secret`, "/v1/sessions/{id}/secret");
  await drive("DELETE", `/v1/repositories/${repository.id}`, "/v1/repositories/{id}");
  await drive("DELETE", `/v1/sessions/${session.id}`, "/v1/sessions/{id}");
  await drive("DELETE", `/v1/sessions/${session.id}`, "/v1/sessions/{id}");
  await drive("GET", `/v1/sessions/${session.id}`, "/v1/sessions/{id}");
  await drive("POST", "/v1/reconcile", "/v1/reconcile");
  await drive("DELETE", `/v1/repositories/${repository.id}`, "/v1/repositories/{id}");
  assert.deepEqual(checked.map((line) => line.split(" ").pop()), [
    "200",
    "201",
    "200",
    "201",
    "400",
    "200",
    "200",
    "200",
    "409",
    "200",
    "404",
    "404",
    "200",
    "200",
  ]);
});
