import { test } from "node:test";
import assert from "node:assert/strict";
import { createRepository, routeApp, sseReader, startTestApp } from "../fixtures/http_fixture.ts";

test("http: 500 concurrent POST /v1/sessions make 500 distinct sessions, each with its secret", async () => {
  await using t = await routeApp();
  const repositoryId = await createRepository(t);
  const responses = await Promise.all(
    Array.from(
      { length: 500 },
      (_, i) =>
        t.callJson("/v1/sessions", {
          method: "POST",
          json: { repositoryId, title: `session ${i}`, isWorktree: false },
        }),
    ),
  );
  assert.deepEqual(responses.filter((r) => r.status !== 201), []);
  const ids = new Set(responses.map((r) => r.body.id as string));
  assert.equal(ids.size, 500);
  const titles = new Set(responses.map((r) => r.body.title as string));
  assert.equal(titles.size, 500);
  const stored = await t.store.listSessions({ repositoryId });
  assert.deepEqual(new Set(stored.map((s) => s.id)), ids);
  for (const id of ids) assert.notEqual(await t.store.getSessionSecret(id), null);
});

test("http: two concurrent DELETEs of one session give one 200 with the session and one 404", async () => {
  await using t = await routeApp();
  const repositoryId = await createRepository(t);
  for (let round = 0; round < 20; round++) {
    const { body: session } = await t.callJson("/v1/sessions", {
      method: "POST",
      json: { repositoryId, title: `round ${round}`, isWorktree: false },
    });
    const results = await Promise.all([
      t.callJson(`/v1/sessions/${session.id}`, { method: "DELETE" }),
      t.callJson(`/v1/sessions/${session.id}`, { method: "DELETE" }),
    ]);
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 404]);
    const winner = results.find((r) => r.status === 200)!;
    const { worktreeRemoved, branchDeleted, branchKeptReason, worktreeKeptReason, snapshotRef, ...row } = winner.body;
    assert.deepEqual(row, session);
    assert.deepEqual([worktreeRemoved, branchDeleted, branchKeptReason, worktreeKeptReason, snapshotRef], [
      false,
      false,
      null,
      null,
      null,
    ]);
    assert.equal(results.find((r) => r.status === 404)!.body.error.kind, "SessionNotFound");
  }
  assert.deepEqual(await t.store.listSessions(), []);
});

test("http: the event stream delivers each committed change, in order", async () => {
  await using t = await routeApp();
  const response = await t.call("/v1/events");
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/event-stream/);
  const events = sseReader(response);
  assert.equal((await events.next())?.event, "ready");

  const repositoryId = await createRepository(t);
  const { body: session } = await t.callJson("/v1/sessions", {
    method: "POST",
    json: { repositoryId, title: "watched", isWorktree: false },
  });
  await t.callJson(`/v1/sessions/${session.id}`, { method: "PATCH", json: { status: "completed" } });
  // A refused write emits nothing.
  await t.callJson("/v1/sessions", { method: "POST", json: { repositoryId, title: "", isWorktree: false } });
  await t.callJson(`/v1/sessions/${session.id}`, { method: "DELETE" });
  await t.callJson(`/v1/repositories/${repositoryId}`, { method: "DELETE" });

  const received = [];
  for (let i = 0; i < 5; i++) received.push((await events.next())!);
  assert.deepEqual(received.map((e) => e.event), [
    "repository.created",
    "session.created",
    "session.updated",
    "session.deleted",
    "repository.deleted",
  ]);
  assert.deepEqual(received.map((e) => e.id), ["1", "2", "3", "4", "5"]);
  const created = JSON.parse(received[1].data);
  assert.equal(created.type, "session.created");
  assert.deepEqual(created.session, session);
  assert.equal(JSON.parse(received[2].data).session.status, "completed");
  assert.equal(JSON.parse(received[3].data).session.id, session.id);
  await events.close();
});

test("http: stopping the server ends open event streams instead of waiting on them", async () => {
  const t = await startTestApp();
  const response = await t.call("/v1/events");
  const events = sseReader(response);
  assert.equal((await events.next())?.event, "ready");
  await t.close();
  assert.equal(await events.next(), null);
  assert.equal(t.server.parts.events.size, 0);
});
