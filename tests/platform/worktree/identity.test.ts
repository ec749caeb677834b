// A branch or worktree is deleted only in the repository that made it, and only at the tip the
// session left; a checkout that stopped being a git repository never makes a session undeletable.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { SessionOrchestrator } from "../../../mod.ts";
import { commitFile, git, runWorkerUntil, worktreeFixture } from "../../fixtures/git_fixtures.ts";

test("force + deleteBranch never deletes the branch of a new clone at the checkout's path", async () => {
  using f = await worktreeFixture();
  const session = await f.orchestrator.createSession({
    repositoryId: f.repository.id,
    title: "t",
    worktreeName: "replaced",
    isWorktree: true,
  });
  commitFile(session.worktreePath!, "session.txt");
  // The user replaces the checkout with a new clone and works on a branch of the same name.
  const old = join(f.dir, "old-checkout");
  renameSync(f.repositoryPath, old);
  execFileSync("git", ["clone", "-q", "--", old, f.repositoryPath]);
  git(f.repositoryPath, "config", "user.name", "Test");
  git(f.repositoryPath, "config", "user.email", "test@example.com");
  git(f.repositoryPath, "checkout", "-q", "-b", session.branchName!);
  const users = commitFile(f.repositoryPath, "unpushed.txt", "the user's own work\n");
  git(f.repositoryPath, "checkout", "-q", "main");

  const closed = await f.orchestrator.deleteSession(session.id, { force: true, deleteBranch: true });
  assert.equal(closed?.branchDeleted, false);
  assert.match(closed!.branchKeptReason!, /does not register the session's worktree/);
  assert.equal(closed?.worktreeRemoved, false);
  assert.match(closed!.worktreeKeptReason!, /is not a worktree of/);
  assert.equal(git(f.repositoryPath, "rev-parse", session.branchName!), users);
  assert.ok(existsSync(join(session.worktreePath!, "session.txt")));
  assert.equal(await f.store.getSession(session.id), null);
});

test("a branch moved after the close began is not deleted when reconcile finishes the close", async () => {
  using f = await worktreeFixture();
  const session = await f.orchestrator.createSession({
    repositoryId: f.repository.id,
    title: "t",
    worktreeName: "moved",
    isWorktree: true,
  });
  commitFile(session.worktreePath!, "session.txt");
  const run = await runWorkerUntil(
    ["close-at", f.databasePath, f.worktreesRoot, f.keyHex, session.id, "close:row", "force,deleteBranch"],
    "at close:row",
  );
  assert.ok(run.reached, run.stderr);
  // Someone else's commit on the branch, once the session's worktree is gone.
  git(f.repositoryPath, "checkout", "-q", session.branchName!);
  const theirs = commitFile(f.repositoryPath, "theirs.txt", "not the session's\n");
  git(f.repositoryPath, "checkout", "-q", "main");
  const report = await f.orchestrator.reconcile();
  assert.deepEqual(report.findings.map((x) => [x.kind, x.action]), [["unfinished-close", "finished"]]);
  assert.match(report.findings[0].detail, /has moved since the session left it/);
  assert.equal(git(f.repositoryPath, "rev-parse", session.branchName!), theirs);
});

test("sessions of a checkout that is no longer a git repository are deleted, saying what was left; then the repository", async () => {
  using f = await worktreeFixture();
  const orchestrator = new SessionOrchestrator({ store: f.store, chain: f.chain, worktrees: f.lifecycle });
  const sessions = [];
  for (const name of ["plain", "forced"]) {
    sessions.push(
      await orchestrator.createSession({
        repositoryId: f.repository.id,
        title: name,
        worktreeName: name,
        isWorktree: true,
      }),
    );
  }
  // Its `.git` gone: the folder is now just files.
  rmSync(join(f.repositoryPath, ".git"), { recursive: true });
  for (const [i, session] of sessions.entries()) {
    const closed = await orchestrator.deleteSession(session.id, { force: i === 1, deleteBranch: true });
    assert.equal(closed?.session.id, session.id);
    assert.equal(closed?.worktreeRemoved, false);
    assert.equal(closed?.branchDeleted, false);
    assert.match(closed!.worktreeKeptReason!, /is no longer a git repository/);
    assert.match(closed!.worktreeKeptReason!, new RegExp(session.worktreePath!));
    assert.equal(closed?.branchKeptReason, closed?.worktreeKeptReason);
    assert.ok(existsSync(session.worktreePath!));
    assert.equal(await f.store.getSession(session.id), null);
    assert.equal(await f.chain.resolve(session.id), null);
  }
  assert.equal((await orchestrator.deleteRepository(f.repository.id))?.id, f.repository.id);
  assert.equal(readFileSync(join(f.repositoryPath, "README.md"), "utf8"), "hello\n");
});
