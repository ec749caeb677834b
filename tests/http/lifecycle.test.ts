// The HTTP mapping of the worktree lifecycle, against a small in-test worktree port over the
// orchestrator's rows: which calls the routes make, with what, and how their answers and errors
// come back. Real git is exercised by the worktree and http_worktree suites.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  type ArchivedSession,
  type ClosedSession,
  type CloseSessionOptions,
  type ReconcileOptions,
  type ReconcileReport,
  type Repository,
  type Session,
  SessionError,
  type SessionGitStatus,
  type SnapshotRecord,
  type WorktreeOpenRequest,
  type WorktreePlan,
  type WorktreePort,
  type WorktreeRows,
} from "../../mod.ts";
import { createRepository, sseReader, startTestApp } from "../fixtures/http_fixture.ts";

// A port without git: it records what the orchestrator asks and uses the orchestrator's rows.
class RecordingLifecycle implements WorktreePort {
  readonly hostId = null;
  readonly calls: { method: string; args: unknown[] }[] = [];
  readonly dirty = new Set<string>();

  plan(repository: Repository, names: { worktreeName?: string; branchName?: string }): WorktreePlan {
    const worktreeName = names.worktreeName ?? "default";
    return {
      worktreeName,
      branchName: names.branchName ?? `session/${worktreeName}`,
      worktreePath: `/worktrees/${repository.id}/${worktreeName}`,
    };
  }

  async open(
    request: WorktreeOpenRequest,
    rows: WorktreeRows,
    commit: (baseBranch: string | null, included: null) => Promise<Session>,
  ): Promise<Session> {
    this.calls.push({ method: "open", args: [request] });
    await rows.refuseTaken(request.sessionId, {
      repositoryId: request.repository.id,
      path: request.plan.worktreePath,
      branch: request.plan.branchName,
    });
    return await commit(request.baseRef, null);
  }

  async close(
    session: Session,
    _repository: Repository | null,
    options: CloseSessionOptions,
    rows: WorktreeRows,
  ): Promise<ClosedSession | null> {
    this.calls.push({ method: "close", args: [session.id, options] });
    if (this.dirty.has(session.id) && !options.force) {
      throw new SessionError("Conflict", "the worktree has uncommitted changes; pass force to discard them");
    }
    this.dirty.delete(session.id);
    const deleted = await rows.remove(session.id);
    if (deleted === null) return null;
    return {
      session: deleted,
      worktreeRemoved: deleted.isWorktree,
      branchDeleted: options.deleteBranch === true,
      branchKeptReason: options.deleteBranch === true ? null : "not asked to delete it",
    };
  }

  async archive(session: Session, _repository: Repository, rows: WorktreeRows): Promise<ArchivedSession> {
    this.calls.push({ method: "archive", args: [session.id] });
    const archived = await rows.markArchived(session.id);
    return {
      session: archived!,
      snapshotRef: null,
      branch: session.branchName!,
      head: "0".repeat(40),
      worktreeRemoved: true,
    };
  }

  async restore(session: Session, _repository: Repository, rows: WorktreeRows): Promise<Session> {
    this.calls.push({ method: "restore", args: [session.id] });
    return (await rows.markRestored(session.id))!;
  }

  status(session: Session): Promise<SessionGitStatus> {
    this.calls.push({ method: "status", args: [session.id] });
    return Promise.resolve({
      dirty: this.dirty.has(session.id),
      ahead: 0,
      behind: 0,
      landed: null,
      diskBytes: 0,
      lastChangedAt: null,
    });
  }

  snapshots(): Promise<SnapshotRecord[]> {
    return Promise.resolve([]);
  }

  dropSnapshots(): Promise<string[]> {
    return Promise.resolve([]);
  }

  reconcile(options: ReconcileOptions = {}): Promise<ReconcileReport> {
    this.calls.push({ method: "reconcile", args: [options] });
    return Promise.resolve({
      dryRun: options.dryRun === true,
      findings: [{
        kind: "orphan-worktree",
        sessionId: null,
        path: "/worktrees/x/lost",
        branch: null,
        action: options.dryRun ? "none" : "removed",
        detail: "a worktree no session records",
      }],
    });
  }
}

async function withLifecycle(
  run: (t: Awaited<ReturnType<typeof startTestApp>>, fake: RecordingLifecycle) => Promise<void>,
) {
  let fake: RecordingLifecycle | null = null;
  await using t = await startTestApp({ lifecycle: () => (fake = new RecordingLifecycle()) });
  // The server reconciled once at start, before answering anything.
  assert.deepEqual(fake!.calls.map((c) => c.method), ["reconcile"]);
  fake!.calls.length = 0;
  await run(t, fake!);
}

test("http+lifecycle: POST of a worktree session opens it through the lifecycle with baseRef", async () => {
  await withLifecycle(async (t, fake) => {
    const repositoryId = await createRepository(t);
    const events = sseReader(await t.call("/v1/events"));
    assert.equal((await events.next())?.event, "ready");
    const created = await t.callJson("/v1/sessions", {
      method: "POST",
      json: {
        repositoryId,
        title: "wt",
        isWorktree: true,
        worktreeName: "wt",
        branchName: "feature/x",
        baseRef: "main",
        useExistingBranch: true,
      },
    });
    assert.equal(created.status, 201);
    assert.equal(created.body.worktreePath, `/worktrees/${repositoryId}/wt`);
    assert.deepEqual(fake.calls.map((c) => c.method), ["open"]);
    const request = fake.calls[0].args[0] as WorktreeOpenRequest;
    assert.equal(request.baseRef, "main");
    assert.equal(request.useExistingBranch, true);
    assert.deepEqual(request.plan, {
      worktreeName: "wt",
      branchName: "feature/x",
      worktreePath: `/worktrees/${repositoryId}/wt`,
    });
    // The row records what the orchestrator built from the caller's fields and the port's plan.
    assert.equal(created.body.branchName, "feature/x");
    assert.equal(created.body.baseBranch, "main");
    assert.equal(created.body.createdBranch, false);
    // The orchestrator emits the event once; neither the lifecycle nor the route adds one.
    assert.equal((await events.next())?.event, "session.created");
    const plain = await t.callJson("/v1/sessions", {
      method: "POST",
      json: { repositoryId, title: "plain", isWorktree: false },
    });
    assert.equal(plain.status, 201);
    assert.deepEqual(fake.calls.map((c) => c.method), ["open"]);
    const next = await events.next();
    assert.equal(JSON.parse(next!.data).session.id, plain.body.id);
    await events.close();

    const chosenPath = await t.callJson("/v1/sessions", {
      method: "POST",
      json: { repositoryId, title: "x", isWorktree: true, worktreeName: "y", worktreePath: "/elsewhere/y" },
    });
    assert.equal(chosenPath.status, 400);
    assert.match(chosenPath.body.error.message, /worktreePath/);
  });
});

test("http+lifecycle: DELETE closes through the lifecycle; a dirty worktree is 409 until force", async () => {
  await withLifecycle(async (t, fake) => {
    const repositoryId = await createRepository(t);
    const { body: session } = await t.callJson("/v1/sessions", {
      method: "POST",
      json: { repositoryId, title: "wt", isWorktree: true, worktreeName: "wt", branchName: "session/wt" },
    });
    fake.dirty.add(session.id);
    const refused = await t.callJson(`/v1/sessions/${session.id}?deleteBranch=true`, { method: "DELETE" });
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error.kind, "Conflict");
    assert.equal((await t.callJson(`/v1/sessions/${session.id}`)).status, 200);

    const closed = await t.callJson(`/v1/sessions/${session.id}?force=true&deleteBranch=true`, { method: "DELETE" });
    assert.equal(closed.status, 200);
    assert.equal(closed.body.id, session.id);
    assert.equal(closed.body.worktreePath, session.worktreePath);
    assert.equal(closed.body.worktreeRemoved, true);
    assert.equal(closed.body.branchDeleted, true);
    assert.equal(closed.body.branchKeptReason, null);
    assert.deepEqual(fake.calls.filter((c) => c.method === "close").map((c) => c.args[1]), [
      { force: false, deleteBranch: true },
      { force: true, deleteBranch: true },
    ]);
    const again = await t.callJson(`/v1/sessions/${session.id}`, { method: "DELETE" });
    assert.equal(again.status, 404);
    assert.equal(again.body.error.kind, "SessionNotFound");
    const badFlag = await t.callJson(`/v1/sessions/${session.id}?force=yes`, { method: "DELETE" });
    assert.equal(badFlag.status, 400);
  });
});

test("http+lifecycle: POST /v1/reconcile returns the lifecycle's report, dryRun passed through", async () => {
  await withLifecycle(async (t, fake) => {
    const dry = await t.callJson("/v1/reconcile?dryRun=true", { method: "POST" });
    assert.equal(dry.status, 200);
    assert.equal(dry.body.dryRun, true);
    assert.equal(dry.body.findings[0].action, "none");
    const real = await t.callJson("/v1/reconcile", { method: "POST" });
    assert.equal(real.body.dryRun, false);
    assert.equal(real.body.findings[0].action, "removed");
    assert.deepEqual(fake.calls.map((c) => c.args[0]), [{ dryRun: true }, { dryRun: false }]);
  });
});
