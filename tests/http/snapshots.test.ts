// GET /v1/repositories/{id}/snapshots, POST …/snapshots/restore and …/snapshots/prune over the
// real WorktreeLifecycle: `createApp` over a memory store, real git. The rules are the orchestrator's
// (tests/platform/worktree/snapshots.test.ts); these pin the HTTP answers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { git, refsUnder } from "../fixtures/git_fixtures.ts";
import { gitRouteApp } from "../fixtures/http_fixture.ts";

test("http+git: snapshots are listed, restored (201) and pruned (dry run, then for real); refusals are 400 and 404", async () => {
  await using t = await gitRouteApp("slo-http-snapshots-");
  const { repositoryPath } = t;
  const repository = t.repository;
  const base = `/v1/repositories/${repository.id}/snapshots`;
  assert.deepEqual((await t.callJson(base)).body, { snapshots: [] });
  const { body: source } = await t.callJson("/v1/sessions", {
    method: "POST",
    json: { repositoryId: repository.id, title: "Lost work", isWorktree: true },
  });
  writeFileSync(join(source.worktreePath, "notes.txt"), "half done\n");
  writeFileSync(join(source.worktreePath, "README.md"), "changed\n");
  const deleted = await t.callJson(`/v1/sessions/${source.id}?force=true`, { method: "DELETE" });
  const ref = deleted.body.snapshotRef;
  assert.equal(ref, `refs/session-snapshots/${source.id}`);

  const listed = await t.callJson(`${base}?sessionId=${source.id}`);
  assert.equal(listed.status, 200);
  assert.equal(listed.body.snapshots.length, 1);
  const [snapshot] = listed.body.snapshots;
  assert.equal(snapshot.ref, ref);
  assert.equal(snapshot.sessionId, source.id);
  assert.equal(snapshot.reason, "a forced close");
  assert.equal(snapshot.changedPaths, 2);
  assert.equal(snapshot.bytes, "half done\n".length + "changed\n".length);
  assert.equal(snapshot.sessionExists, false);
  assert.equal(snapshot.commit, git(repositoryPath, "rev-parse", ref));

  const restored = await t.callJson(`${base}/restore`, { method: "POST", json: { ref, title: "Found" } });
  assert.equal(restored.status, 201, JSON.stringify(restored.body));
  assert.equal(restored.body.title, "Found");
  assert.equal(readFileSync(join(restored.body.worktreePath, "notes.txt"), "utf8"), "half done\n");
  assert.equal(git(restored.body.worktreePath, "status", "--porcelain"), "M README.md\n?? notes.txt");

  const refusals: Array<[string, unknown, number, string]> = [
    [`${base}/restore`, { ref: "refs/heads/main" }, 400, "InvalidInput"],
    [`${base}/restore`, { ref: "--output=/tmp/x" }, 400, "InvalidInput"],
    [`${base}/restore`, { ref, base: "main" }, 400, "InvalidInput"],
    [`${base}/restore`, {}, 400, "InvalidInput"],
    [`${base}/restore`, { ref: `refs/session-snapshots/${crypto.randomUUID()}` }, 404, "SnapshotNotFound"],
    [`/v1/repositories/${crypto.randomUUID()}/snapshots/restore`, { ref }, 404, "RepositoryNotFound"],
    [`${base}/prune?olderThan=soon`, undefined, 400, "InvalidInput"],
    [`${base}/prune?sessionId=x`, undefined, 400, "InvalidInput"],
  ];
  for (const [path, json, status, kind] of refusals) {
    const response = await t.callJson(path, { method: "POST", ...(json === undefined ? {} : { json }) });
    assert.equal(response.status, status, `${path} ${JSON.stringify(json)}: ${JSON.stringify(response.body)}`);
    assert.equal(response.body.error.kind, kind);
  }
  assert.equal((await t.callJson(`${base}?sessionId=nope`)).status, 400);
  assert.equal((await t.callJson(`/v1/repositories/${crypto.randomUUID()}/snapshots`)).status, 404);

  const dry = await t.callJson(`${base}/prune?dryRun=true`, { method: "POST" });
  assert.equal(dry.status, 200);
  assert.equal(dry.body.dryRun, true);
  assert.deepEqual(dry.body.pruned.map((s: { ref: string }) => s.ref), [ref]);
  assert.deepEqual(refsUnder(repositoryPath, "refs/session-snapshots/"), [ref]);
  const young = await t.callJson(`${base}/prune?olderThan=7d`, { method: "POST" });
  assert.deepEqual(young.body.pruned, []);
  const pruned = await t.callJson(`${base}/prune?sessionId=${source.id}`, { method: "POST" });
  assert.equal(pruned.body.dryRun, false);
  assert.deepEqual(pruned.body.pruned.map((s: { ref: string }) => s.ref), [ref]);
  assert.deepEqual(refsUnder(repositoryPath, "refs/session-snapshots/"), []);
  assert.deepEqual((await t.callJson(base)).body, { snapshots: [] });
});
