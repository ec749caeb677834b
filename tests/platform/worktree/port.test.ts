// The line between the orchestrator and its worktree port, on real git and SQLite: the
// orchestrator checks a create's fields before the port is asked anything, and the port reaches
// the rows only through the narrow `WorktreeRows` (and each open's `commit`) it is handed, at the
// steps where they belong.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  type LifecycleEvent,
  LifecycleEvents,
  SessionOrchestrator,
  type WorktreePort,
  type WorktreeRows,
} from "../../../mod.ts";
import { assertNothingLeft, commitFile, worktreeFixture } from "../../fixtures/git_fixtures.ts";
import { errorOfKind as kind } from "../../fixtures/helpers.ts";

// A port that forwards to `inner` and records each call, and each call it makes on the rows.
function recording(inner: WorktreePort): { port: WorktreePort; calls: string[] } {
  const calls: string[] = [];
  const watch = (rows: WorktreeRows): WorktreeRows => ({
    current: (id) => (calls.push("rows.current"), rows.current(id)),
    holding: (claim) => (calls.push("rows.holding"), rows.holding(claim)),
    refuseTaken: (id, claim) => (calls.push("rows.refuseTaken"), rows.refuseTaken(id, claim)),
    repositories: () => (calls.push("rows.repositories"), rows.repositories()),
    sessionsOf: (id) => (calls.push("rows.sessionsOf"), rows.sessionsOf(id)),
    remove: (id) => (calls.push("rows.remove"), rows.remove(id)),
    discardOpened: (id, path) => (calls.push("rows.discardOpened"), rows.discardOpened(id, path)),
    markArchived: (id) => (calls.push("rows.markArchived"), rows.markArchived(id)),
    markRestored: (id) => (calls.push("rows.markRestored"), rows.markRestored(id)),
  });
  const port: WorktreePort = {
    get hostId() {
      return inner.hostId;
    },
    plan: (repository, names) => (calls.push("plan"), inner.plan(repository, names)),
    open: (request, rows, commit) => {
      calls.push("open");
      return inner.open(request, watch(rows), (base, included) => (calls.push("commit"), commit(base, included)));
    },
    close: (session, repository, options, rows) => {
      calls.push("close");
      return inner.close(session, repository, options, watch(rows));
    },
    archive: (session, repository, rows) => (calls.push("archive"), inner.archive(session, repository, watch(rows))),
    restore: (session, repository, rows) => (calls.push("restore"), inner.restore(session, repository, watch(rows))),
    status: (session, repository) => (calls.push("status"), inner.status(session, repository)),
    snapshots: (repository) => (calls.push("snapshots"), inner.snapshots(repository)),
    dropSnapshots: (repository, refs) => (calls.push("dropSnapshots"), inner.dropSnapshots(repository, refs)),
    reconcile: (options, rows) => (calls.push("reconcile"), inner.reconcile(options, watch(rows))),
  };
  return { port, calls };
}

test("port: every field of a worktree create is checked by the orchestrator before the port is asked anything", async () => {
  using f = await worktreeFixture();
  const { port, calls } = recording(f.lifecycle);
  const orchestrator = new SessionOrchestrator({ store: f.store, chain: f.chain, worktrees: port });
  const base = { repositoryId: f.repository.id, title: "t", isWorktree: true as const };
  const refused: Record<string, unknown>[] = [
    { title: "" },
    { title: 7 },
    { worktreeName: "../x" },
    { worktreeName: 7 },
    { branchName: "a..b" },
    { issueUrl: "not a url" },
    { agentName: 7 },
    { useExistingBranch: true },
    { baseRef: "--orphan" },
    { baseRef: "two words" },
  ];
  for (const fields of refused) {
    await assert.rejects(
      orchestrator.createSession({ ...base, ...fields } as never),
      kind("InvalidInput"),
      JSON.stringify(fields),
    );
  }
  // A bad field is InvalidInput before the repository is looked up, as for a plain session.
  await assert.rejects(
    orchestrator.createSession({ ...base, repositoryId: crypto.randomUUID(), worktreeName: "../x" }),
    kind("InvalidInput"),
  );
  assert.deepEqual(calls, []);
  await assertNothingLeft(f);
});

test("port: open claims and commits through the orchestrator, close and reconcile reach rows only through it", async () => {
  using f = await worktreeFixture();
  const { port, calls } = recording(f.lifecycle);
  const events = new LifecycleEvents();
  const seen: LifecycleEvent["type"][] = [];
  events.subscribe((event) => seen.push(event.type));
  const orchestrator = new SessionOrchestrator({ store: f.store, chain: f.chain, events, worktrees: port });

  const session = await orchestrator.createSession({ repositoryId: f.repository.id, title: "T", isWorktree: true });
  assert.deepEqual(calls, ["plan", "open", "rows.refuseTaken", "commit"]);
  // The row is the one draft: the caller's fields and the port's names, with the base the port recorded.
  assert.equal(session.worktreePath, port.plan(f.repository, { sessionId: session.id, title: "T" }).worktreePath);
  assert.equal(session.baseBranch, "main");
  assert.equal(session.createdBranch, true);
  assert.equal((await orchestrator.resolveSessionSecret(session.id))?.length, 32);

  calls.length = 0;
  const report = await orchestrator.reconcile();
  assert.deepEqual(report.findings, []);
  assert.deepEqual(calls, ["reconcile", "rows.repositories", "rows.sessionsOf", "rows.sessionsOf"]);

  calls.length = 0;
  commitFile(session.worktreePath!, "work.txt", "work\n");
  const closed = await orchestrator.deleteSession(session.id, { deleteBranch: true });
  assert.equal(closed?.worktreeRemoved, true);
  assert.equal(closed?.branchDeleted, false); // it has a commit of its own
  assert.deepEqual(calls, ["close", "rows.current", "rows.remove"]);
  assert.equal(await orchestrator.resolveSessionSecret(session.id), null);
  assert.deepEqual(seen, ["session.created", "session.deleted"]);
  await assertNothingLeft(f, [session.branchName!]);
});

test("port: an open that fails after its row has the orchestrator discard the row, announced by none", async () => {
  using f = await worktreeFixture();
  const failing = f.lifecycleWith({
    onStep: (step) => {
      if (step === "open:row") throw new Error("injected after the row");
    },
  });
  const { port, calls } = recording(failing);
  const events = new LifecycleEvents();
  const seen: string[] = [];
  events.subscribe((event) => seen.push(event.type));
  const orchestrator = new SessionOrchestrator({ store: f.store, chain: f.chain, events, worktrees: port });
  await assert.rejects(
    orchestrator.createSession({ repositoryId: f.repository.id, title: "T", isWorktree: true }),
    (error) => kind("WorktreeCreation")(error) && /injected after the row/.test((error as Error).message),
  );
  assert.deepEqual(calls, ["plan", "open", "rows.refuseTaken", "commit", "rows.discardOpened", "rows.holding"]);
  assert.deepEqual(seen, []);
  await assertNothingLeft(f);
});
