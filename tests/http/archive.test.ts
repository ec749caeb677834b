// POST /v1/sessions/{id}/archive and …/restore over the real WorktreeLifecycle: `createApp` over a
// memory store, real git. The rules are the orchestrator's; these pin their HTTP answers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { git } from "../fixtures/git_fixtures.ts";
import { gitRouteApp, sseReader } from "../fixtures/http_fixture.ts";

test("http+git: archive answers what was kept, restore gives the work back; refusals are 400, 404 and 409", async () => {
  await using t = await gitRouteApp("slo-http-archive-");
  const repository = { body: t.repository };
  const created = await t.callJson("/v1/sessions", {
    method: "POST",
    json: { repositoryId: repository.body.id, title: "Archive me", isWorktree: true },
  });
  const session = created.body;
  writeFileSync(join(session.worktreePath, "notes.txt"), "keep me\n");
  const head = git(session.worktreePath, "rev-parse", "HEAD");
  const status = await t.callJson(`/v1/sessions/${session.id}/status`);
  assert.equal(status.status, 200, JSON.stringify(status.body));
  assert.equal(status.body.dirty, true);
  assert.deepEqual([status.body.ahead, status.body.behind, status.body.landed], [0, 0, null]);
  assert.ok(status.body.diskBytes > 0);
  const events = sseReader(await t.call("/v1/events"));
  assert.equal((await events.next())?.event, "ready");

  const archived = await t.callJson(`/v1/sessions/${session.id}/archive`, { method: "POST" });
  assert.equal(archived.status, 200, JSON.stringify(archived.body));
  assert.equal(archived.body.id, session.id);
  assert.equal(archived.body.status, "archived");
  assert.equal(archived.body.snapshotRef, `refs/session-snapshots/${session.id}`);
  assert.equal(archived.body.head, head);
  assert.equal(archived.body.branchName, session.branchName);
  assert.equal(archived.body.worktreeRemoved, true);
  assert.ok(!existsSync(session.worktreePath));
  assert.equal((await t.callJson(`/v1/sessions/${session.id}`)).body.status, "archived");

  const again = await t.callJson(`/v1/sessions/${session.id}/archive`, { method: "POST" });
  assert.equal(again.status, 409);
  assert.equal(again.body.error.kind, "Conflict");
  const patched = await t.callJson(`/v1/sessions/${session.id}`, { method: "PATCH", json: { status: "active" } });
  assert.equal(patched.status, 409);
  mkdirSync(session.worktreePath);
  const taken = await t.callJson(`/v1/sessions/${session.id}/restore`, { method: "POST" });
  assert.equal(taken.status, 409);
  assert.match(taken.body.error.message, /is taken/);
  rmdirSync(session.worktreePath);

  const restored = await t.callJson(`/v1/sessions/${session.id}/restore`, { method: "POST" });
  assert.equal(restored.status, 200, JSON.stringify(restored.body));
  assert.equal(restored.body.status, "active");
  assert.equal(readFileSync(join(session.worktreePath, "notes.txt"), "utf8"), "keep me\n");
  assert.equal(git(session.worktreePath, "status", "--porcelain"), "?? notes.txt");
  const first = await events.next();
  assert.equal(first?.event, "session.archived");
  assert.equal(JSON.parse(first!.data).session.status, "archived");
  const second = await events.next();
  assert.equal(second?.event, "session.restored");
  assert.equal(JSON.parse(second!.data).session.status, "active");
  await events.close();

  assert.equal((await t.callJson(`/v1/sessions/${session.id}/restore`, { method: "POST" })).status, 409);
  const unknown = crypto.randomUUID();
  for (const verb of ["archive", "restore"]) {
    const missing = await t.callJson(`/v1/sessions/${unknown}/${verb}`, { method: "POST" });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.kind, "SessionNotFound");
  }
  const plain = await t.callJson("/v1/sessions", {
    method: "POST",
    json: { repositoryId: repository.body.id, title: "plain", isWorktree: false },
  });
  const noStatus = await t.callJson(`/v1/sessions/${plain.body.id}/status`);
  assert.equal(noStatus.status, 400);
  assert.equal(noStatus.body.error.kind, "InvalidInput");
  const missingStatus = await t.callJson(`/v1/sessions/${unknown}/status`);
  assert.equal(missingStatus.status, 404);
  assert.equal(missingStatus.body.error.kind, "SessionNotFound");
  const refused = await t.callJson(`/v1/sessions/${plain.body.id}/archive`, { method: "POST" });
  assert.equal(refused.status, 400);
  assert.equal(refused.body.error.kind, "InvalidInput");
  const archivedByPatch = await t.callJson(`/v1/sessions/${plain.body.id}`, {
    method: "PATCH",
    json: { status: "archived" },
  });
  assert.equal(archivedByPatch.status, 400);
});
