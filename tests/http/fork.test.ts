// POST /v1/sessions/{id}/fork over the real WorktreeLifecycle: `createApp` over a memory store,
// real git. The rules are the orchestrator's (tests/platform/worktree/fork.test.ts); these pin the HTTP answers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { git } from "../fixtures/git_fixtures.ts";
import { gitRouteApp, sseReader } from "../fixtures/http_fixture.ts";

test("http+git: a fork is 201 with the new session and the source's work; refusals are 400, 404, 409 and 415", async () => {
  await using t = await gitRouteApp("slo-http-fork-");
  const repository = { body: t.repository };
  const created = await t.callJson("/v1/sessions", {
    method: "POST",
    json: { repositoryId: repository.body.id, title: "Try one", isWorktree: true, issueId: "ISSUE-3" },
  });
  const source = created.body;
  writeFileSync(join(source.worktreePath, "notes.txt"), "half done\n");
  const events = sseReader(await t.call("/v1/events"));
  assert.equal((await events.next())?.event, "ready");

  const forked = await t.callJson(`/v1/sessions/${source.id}/fork`, { method: "POST", json: {} });
  assert.equal(forked.status, 201, JSON.stringify(forked.body));
  const fork = forked.body;
  assert.equal(fork.title, "Try one (fork)");
  assert.equal(fork.issueId, "ISSUE-3");
  assert.notEqual(fork.branchName, source.branchName);
  assert.equal(readFileSync(join(fork.worktreePath, "notes.txt"), "utf8"), "half done\n");
  assert.equal(git(fork.worktreePath, "status", "--porcelain"), "?? notes.txt");
  assert.equal(git(source.worktreePath, "status", "--porcelain"), "?? notes.txt");
  const announced = await events.next();
  assert.equal(announced?.event, "session.created");
  assert.equal(JSON.parse(announced!.data).session.id, fork.id);
  await events.close();

  const named = await t.callJson(`/v1/sessions/${source.id}/fork`, {
    method: "POST",
    json: { title: "Try two", branchName: "try/two" },
  });
  assert.equal(named.status, 201, JSON.stringify(named.body));
  assert.equal(named.body.branchName, "try/two");

  const count = async () => (await t.callJson("/v1/sessions")).body.sessions.length;
  const before = await count();
  const refusals: Array<[unknown, number, string]> = [
    [{ repositoryId: repository.body.id }, 400, "InvalidInput"],
    [{ sessionId: crypto.randomUUID() }, 400, "InvalidInput"],
    [{ branchName: "--upload-pack=evil" }, 400, "InvalidInput"],
    [{ worktreeName: "../../etc" }, 400, "InvalidInput"],
    [{ branchName: "try/two" }, 409, "Conflict"],
  ];
  for (const [json, status, kind] of refusals) {
    const refused = await t.callJson(`/v1/sessions/${source.id}/fork`, { method: "POST", json });
    assert.equal(refused.status, status, JSON.stringify([json, refused.body]));
    assert.equal(refused.body.error.kind, kind);
  }
  const missing = await t.callJson(`/v1/sessions/${crypto.randomUUID()}/fork`, { method: "POST", json: {} });
  assert.equal(missing.status, 404);
  assert.equal(missing.body.error.kind, "SessionNotFound");
  const plain = await t.callJson("/v1/sessions", {
    method: "POST",
    json: { repositoryId: repository.body.id, title: "No worktree", isWorktree: false },
  });
  const noWorktree = await t.callJson(`/v1/sessions/${plain.body.id}/fork`, { method: "POST", json: {} });
  assert.equal(noWorktree.status, 400);
  const notJson = await t.call(`/v1/sessions/${source.id}/fork`, {
    method: "POST",
    headers: { "content-type": "text/plain" },
    body: "{}",
  });
  assert.equal(notJson.status, 415);
  await notJson.body?.cancel();
  assert.equal(await count(), before + 1);
});
