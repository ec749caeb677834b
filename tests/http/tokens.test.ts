import { test } from "node:test";
import assert from "node:assert/strict";
import { createRepository, type RouteApp, routeApp, sseReader } from "../fixtures/http_fixture.ts";

// A call with another bearer token than the server's.
const as = (token: string) => ({ authorization: `Bearer ${token}` });

async function newSession(t: RouteApp, repositoryId: string, token?: string, title = "s"): Promise<string> {
  const created = await t.callJson("/v1/sessions", {
    method: "POST",
    json: { repositoryId, title, isWorktree: false },
    headers: token === undefined ? {} : as(token),
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body.id;
}

async function mint(t: RouteApp, sessionId: string, token?: string): Promise<{ token: string; id: string }> {
  const minted = await t.callJson(`/v1/sessions/${sessionId}/tokens`, {
    method: "POST",
    headers: token === undefined ? {} : as(token),
  });
  assert.equal(minted.status, 201, JSON.stringify(minted.body));
  return minted.body;
}

test("http tokens: a minted token is shown once, scoped to its session, and stored only as a hash", async () => {
  await using t = await routeApp();
  const repositoryId = await createRepository(t);
  const sessionId = await newSession(t, repositoryId);
  const minted = await t.callJson(`/v1/sessions/${sessionId}/tokens`, { method: "POST" });
  assert.equal(minted.status, 201);
  assert.match(minted.body.token, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(minted.body.sessionId, sessionId);
  assert.equal(typeof minted.body.id, "string");
  assert.equal(typeof minted.body.createdAt, "string");
  const store = t.store;
  const [record] = await store.listSessionTokens(sessionId);
  assert.deepEqual(record, { id: minted.body.id, sessionId, createdAt: minted.body.createdAt, revokedAt: null });
  assert.equal(JSON.stringify(record).includes(minted.body.token), false);
  const own = await t.callJson(`/v1/sessions/${sessionId}`, { headers: as(minted.body.token) });
  assert.equal(own.status, 200);
  assert.equal(own.body.id, sessionId);
  const wrong = await t.callJson("/v1/sessions", { headers: as("x".repeat(43)) });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.body.error.kind, "Unauthorized");
});

test("http tokens: a scoped token reaches its session (to read) and the sessions made with it, 404 for others", async () => {
  await using t = await routeApp();
  const repositoryId = await createRepository(t);
  const own = await newSession(t, repositoryId, undefined, "agent");
  const other = await newSession(t, repositoryId, undefined, "someone else's");
  const { token } = await mint(t, own);
  const call = (path: string, init: RequestInit & { json?: unknown } = {}) =>
    t.callJson(path, { ...init, headers: as(token) });

  // A create is recorded under the token's session; its repository must be the session's.
  const child = await call("/v1/sessions", {
    method: "POST",
    json: { repositoryId, title: "sub-task", isWorktree: false },
  });
  assert.equal(child.status, 201);
  assert.equal(child.body.parentSessionId, own);
  const elsewhere = await createRepository(t, "elsewhere");
  const refused = await call("/v1/sessions", {
    method: "POST",
    json: { repositoryId: elsewhere, title: "x", isWorktree: false },
  });
  assert.equal(refused.status, 403);
  assert.equal(refused.body.error.kind, "Forbidden");
  const plain = await t.callJson(`/v1/sessions/${other}`);
  assert.equal(plain.body.parentSessionId, null, "a session made with the server's token has no parent");

  // The list holds the token's session and what it made, nothing else.
  const list = await call("/v1/sessions");
  assert.equal(list.status, 200);
  assert.deepEqual(list.body.sessions.map((s: { id: string }) => s.id), [own, child.body.id]);
  const paged = await call("/v1/sessions?limit=1");
  assert.deepEqual(paged.body.sessions.map((s: { id: string }) => s.id), [own]);
  const rest = await call(`/v1/sessions?limit=1&cursor=${paged.body.nextCursor}`);
  assert.deepEqual(rest.body.sessions.map((s: { id: string }) => s.id), [child.body.id]);
  assert.equal(rest.body.nextCursor, null);

  // Another session: 404 on every route, exactly as a missing one; its secret never shows.
  const missing = crypto.randomUUID();
  for (const id of [other, missing]) {
    for (
      const [path, method, json] of [
        [`/v1/sessions/${id}`, "GET", undefined],
        [`/v1/sessions/${id}`, "PATCH", { title: "mine now" }],
        [`/v1/sessions/${id}`, "DELETE", undefined],
        [`/v1/sessions/${id}/secret`, "GET", undefined],
        [`/v1/sessions/${id}/secret`, "PUT", { encryptedSecret: "AAAA", nonce: "AAAA" }],
        [`/v1/sessions/${id}/status`, "GET", undefined],
        [`/v1/sessions/${id}/archive`, "POST", undefined],
        [`/v1/sessions/${id}/restore`, "POST", undefined],
        [`/v1/sessions/${id}/fork`, "POST", {}],
        [`/v1/sessions/${id}/setup`, "POST", undefined],
        [`/v1/sessions/${id}/tokens`, "POST", undefined],
        [`/v1/sessions/${id}/tokens/${crypto.randomUUID()}`, "DELETE", undefined],
      ] as const
    ) {
      const response = await call(path, { method, json });
      assert.equal(response.status, 404, `${method} ${path}`);
      assert.equal(response.body.error.kind, "SessionNotFound", `${method} ${path}`);
      assert.equal(response.body.error.message, `no session with id ${id}`, `${method} ${path}`);
    }
  }
  assert.equal((await t.callJson(`/v1/sessions/${other}`)).body.title, "someone else's", "nothing changed");

  // Its own session: read, not changed.
  assert.equal((await call(`/v1/sessions/${own}/secret`)).status, 200);
  for (
    const [path, method, json] of [
      [`/v1/sessions/${own}`, "PATCH", { title: "renamed" }],
      [`/v1/sessions/${own}`, "DELETE", undefined],
      [`/v1/sessions/${own}/archive`, "POST", undefined],
      [`/v1/sessions/${own}/fork`, "POST", {}],
    ] as const
  ) {
    const response = await call(path, { method, json });
    assert.equal(response.status, 403, `${method} ${path}`);
    assert.equal(response.body.error.kind, "Forbidden");
  }

  // What it made: read, changed, deleted (archive passes the scope and meets the missing worktree).
  const id = child.body.id;
  assert.equal((await call(`/v1/sessions/${id}`)).status, 200);
  assert.equal((await call(`/v1/sessions/${id}/secret`)).status, 200);
  assert.equal(
    (await call(`/v1/sessions/${id}`, { method: "PATCH", json: { title: "renamed" } })).body.title,
    "renamed",
  );
  const archive = await call(`/v1/sessions/${id}/archive`, { method: "POST" });
  assert.equal(archive.status, 400);
  assert.equal(archive.body.error.kind, "InvalidInput");
  assert.equal((await call(`/v1/sessions/${id}`, { method: "DELETE" })).status, 200);
  assert.equal((await call(`/v1/sessions/${id}`)).status, 404);
});

test("http tokens: a scoped token is refused repositories, snapshots, gc, reconcile, backups and the dashboard", async () => {
  await using t = await routeApp();
  const repositoryId = await createRepository(t);
  const own = await newSession(t, repositoryId);
  const { token } = await mint(t, own);
  for (
    const [path, method, json] of [
      ["/v1/repositories", "GET", undefined],
      ["/v1/repositories", "POST", { path: "/src/mine", name: "mine" }],
      [`/v1/repositories/${repositoryId}`, "GET", undefined],
      [`/v1/repositories/${repositoryId}`, "DELETE", undefined],
      [`/v1/repositories/${repositoryId}/snapshots`, "GET", undefined],
      [`/v1/repositories/${repositoryId}/snapshots/prune`, "POST", undefined],
      [`/v1/repositories/${repositoryId}/snapshots/restore`, "POST", { ref: `refs/session-snapshots/${own}` }],
      ["/v1/reconcile?dryRun=true", "POST", undefined],
      ["/v1/gc?dryRun=true", "POST", undefined],
      ["/v1/backup", "POST", { path: "/tmp/nowhere.db" }],
      ["/v1/ui/sign-in-codes", "POST", undefined],
    ] as const
  ) {
    const response = await t.callJson(path, { method, json, headers: as(token) });
    assert.equal(response.status, 403, `${method} ${path}: ${JSON.stringify(response.body)}`);
    assert.equal(response.body.error.kind, "Forbidden");
  }
  assert.equal((await t.callJson(`/v1/repositories/${repositoryId}`)).status, 200, "the repository is still there");
});

test("http tokens: minting for a descendant, what each token reaches, revoking, and a token dying with its session", async () => {
  await using t = await routeApp();
  const repositoryId = await createRepository(t);
  const top = await newSession(t, repositoryId, undefined, "top");
  const a = await mint(t, top);
  const child = await newSession(t, repositoryId, a.token, "child");
  // A token minted for the child with the parent's token: it reaches the child's subtree only.
  const b = await mint(t, child, a.token);
  const grandchild = await newSession(t, repositoryId, b.token, "grandchild");
  assert.equal((await t.callJson(`/v1/sessions/${grandchild}`)).body.parentSessionId, child);
  const seenByA = await t.callJson("/v1/sessions", { headers: as(a.token) });
  assert.deepEqual(seenByA.body.sessions.map((s: { id: string }) => s.id), [top, child, grandchild]);
  const seenByB = await t.callJson("/v1/sessions", { headers: as(b.token) });
  assert.deepEqual(seenByB.body.sessions.map((s: { id: string }) => s.id), [child, grandchild]);
  // Upwards is out of reach: the parent's row, secret and tokens.
  assert.equal((await t.callJson(`/v1/sessions/${top}`, { headers: as(b.token) })).status, 404);
  const secret = await t.callJson(`/v1/sessions/${top}/secret`, { headers: as(b.token) });
  assert.equal(secret.status, 404);
  assert.equal(JSON.stringify(secret.body).includes('secret":'), false);
  assert.equal(
    (await t.callJson(`/v1/sessions/${top}/tokens`, { method: "POST", headers: as(b.token) })).status,
    404,
  );
  // A can delete the grandchild, made by B's token, since it is under A's session.
  assert.equal(
    (await t.callJson(`/v1/sessions/${grandchild}`, { method: "DELETE", headers: as(a.token) })).status,
    200,
  );

  // Revoked: refused from then on; revoking again answers the same record.
  const revoked = await t.callJson(`/v1/sessions/${child}/tokens/${b.id}`, {
    method: "DELETE",
    headers: as(a.token),
  });
  assert.equal(revoked.status, 200);
  assert.equal(revoked.body.id, b.id);
  assert.equal(typeof revoked.body.revokedAt, "string");
  const again = await t.callJson(`/v1/sessions/${child}/tokens/${b.id}`, { method: "DELETE" });
  assert.equal(again.body.revokedAt, revoked.body.revokedAt);
  const refused = await t.callJson("/v1/sessions", { headers: as(b.token) });
  assert.equal(refused.status, 401);
  assert.equal(refused.body.error.kind, "Unauthorized");
  const unknown = await t.callJson(`/v1/sessions/${child}/tokens/${crypto.randomUUID()}`, { method: "DELETE" });
  assert.equal(unknown.status, 404);

  // A deleted session's tokens stop working, and leave nothing behind.
  const c = await mint(t, child);
  assert.equal((await t.callJson(`/v1/sessions/${child}`, { headers: as(c.token) })).status, 200);
  assert.equal((await t.callJson(`/v1/sessions/${child}`, { method: "DELETE", headers: as(a.token) })).status, 200);
  assert.equal((await t.callJson(`/v1/sessions/${child}`, { headers: as(c.token) })).status, 401);
  assert.deepEqual(await t.store.listSessionTokens(child), []);
  assert.equal((await t.callJson(`/v1/sessions/${top}`, { method: "DELETE" })).status, 200);
  assert.equal((await t.callJson("/v1/sessions", { headers: as(a.token) })).status, 401);
});

test("http tokens: a scoped token's event stream carries only its sessions' events", async () => {
  await using t = await routeApp();
  const repositoryId = await createRepository(t);
  const own = await newSession(t, repositoryId);
  const { token } = await mint(t, own);
  const events = sseReader(await t.call("/v1/events", { headers: as(token) }));
  assert.equal((await events.next())?.event, "ready");
  await createRepository(t, "unseen");
  const hidden = await newSession(t, repositoryId, undefined, "hidden");
  await t.callJson(`/v1/sessions/${hidden}`, { method: "PATCH", json: { title: "still hidden" } });
  await t.callJson(`/v1/sessions/${own}`, { method: "PATCH", json: { title: "seen" } });
  const child = await newSession(t, repositoryId, token, "child");
  await t.callJson(`/v1/sessions/${hidden}`, { method: "DELETE" });
  await t.callJson(`/v1/sessions/${child}`, { method: "DELETE", headers: as(token) });
  const seen: string[] = [];
  while (seen.length < 3) {
    const event = await events.next();
    assert.ok(event !== null);
    const data = JSON.parse(event.data);
    seen.push(`${event.event} ${data.session?.title ?? data.sessionId}`);
  }
  assert.deepEqual(seen, ["session.updated seen", "session.created child", "session.deleted child"]);
  await events.close();
});

test("http tokens: ?parentSessionId= lists the sessions made under a session, for the server's token and a scoped one", async () => {
  await using t = await routeApp();
  const repositoryId = await createRepository(t);
  const parent = await newSession(t, repositoryId, undefined, "parent");
  await newSession(t, repositoryId, undefined, "unrelated");
  const { token } = await mint(t, parent);
  const child = await newSession(t, repositoryId, token, "child");
  const grandchild = await newSession(t, repositoryId, (await mint(t, child)).token, "grandchild");
  const titles = (body: { sessions: { title: string }[] }) => body.sessions.map((session) => session.title);

  const children = await t.callJson(`/v1/sessions?parentSessionId=${parent}`);
  assert.equal(children.status, 200, JSON.stringify(children.body));
  assert.deepEqual(titles(children.body), ["child"]);
  assert.deepEqual(titles((await t.callJson(`/v1/sessions?parentSessionId=${child}`)).body), ["grandchild"]);
  const scoped = await t.callJson(`/v1/sessions?parentSessionId=${child}`, { headers: as(token) });
  assert.deepEqual(titles(scoped.body), ["grandchild"]);
  assert.deepEqual((await t.callJson(`/v1/sessions?parentSessionId=${grandchild}`)).body.sessions, []);
  const bad = await t.callJson("/v1/sessions?parentSessionId=not-an-id");
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.kind, "InvalidInput");
});
