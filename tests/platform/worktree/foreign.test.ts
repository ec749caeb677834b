// Reconcile and close act only on what the rows and the journal prove this lifecycle made: a
// user's own worktree whose folder is away (an unmounted drive) keeps git's record of it, and
// works again when the folder is back; our own missing worktree is still repaired.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { commitFile, extraWorktrees, git, worktreeFixture } from "../../fixtures/git_fixtures.ts";

/** A user's worktree made with plain git, with a commit and uncommitted work, then moved away. */
function userWorktreeAway(repository: string, path: string, branch: string): { commit: string; away: string } {
  git(repository, "worktree", "add", "-q", "-b", branch, "--", path, "main");
  const commit = commitFile(path, "mine.txt", "the user's commit\n");
  writeFileSync(join(path, "draft.txt"), "uncommitted\n");
  const away = `${path}.away`;
  renameSync(path, away);
  return { commit, away };
}

/** Brings the folder back and checks that the worktree works as before. */
function assertWorksAgain(path: string, away: string, branch: string, commit: string): void {
  renameSync(away, path);
  assert.equal(git(path, "rev-parse", "--abbrev-ref", "HEAD"), branch);
  assert.equal(git(path, "rev-parse", "HEAD"), commit);
  assert.equal(git(path, "status", "--porcelain"), "?? draft.txt");
  assert.equal(readFileSync(join(path, "draft.txt"), "utf8"), "uncommitted\n");
}

test("reconcile keeps the record of a user's worktree whose folder is away, and repairs its own", async () => {
  using f = await worktreeFixture();
  // One user's worktree beside the repository, one the user put in our worktrees folder.
  const beside = join(f.dir, "users-own");
  const inside = join(f.folder, "users-inside");
  const userBeside = userWorktreeAway(f.repositoryPath, beside, "user/beside");
  const userInside = userWorktreeAway(f.repositoryPath, inside, "user/inside");
  const ours = await f.orchestrator.createSession({
    repositoryId: f.repository.id,
    title: "t",
    worktreeName: "ours",
    isWorktree: true,
  });
  const ourCommit = commitFile(ours.worktreePath!, "ours.txt");
  rmSync(ours.worktreePath!, { recursive: true });

  const dry = await f.orchestrator.reconcile({ dryRun: true });
  const report = await f.orchestrator.reconcile();
  for (const run of [dry, report]) {
    const stale = run.findings.filter((x) => x.kind === "stale-registration");
    assert.deepEqual(
      stale.map((x) => [x.path, x.sessionId, x.action]).sort(),
      [
        [beside, null, "none"],
        [inside, null, "none"],
        [ours.worktreePath!, ours.id, run.dryRun ? "none" : "pruned"],
      ].sort(),
    );
  }
  assert.ok(report.findings.some((x) => x.kind === "missing-worktree" && x.action === "recreated"));
  assert.equal(git(ours.worktreePath!, "rev-parse", "HEAD"), ourCommit);
  // Git still knows both user worktrees.
  assert.deepEqual(extraWorktrees(f.repositoryPath), [beside, ours.worktreePath!, inside].sort());
  assertWorksAgain(beside, userBeside.away, "user/beside", userBeside.commit);
  assertWorksAgain(inside, userInside.away, "user/inside", userInside.commit);
  // With the folders back, nothing is stale; the one in our folder is only reported.
  const again = await f.orchestrator.reconcile();
  assert.deepEqual(again.findings.map((x) => [x.kind, x.path, x.action]), [["orphan-worktree", inside, "none"]]);
});

test("closing a session whose folder is gone drops only that session's record", async () => {
  using f = await worktreeFixture();
  const user = join(f.dir, "users-own");
  const away = userWorktreeAway(f.repositoryPath, user, "user/own");
  for (const force of [false, true]) {
    const session = await f.orchestrator.createSession({
      repositoryId: f.repository.id,
      title: "t",
      worktreeName: `gone-${force}`,
      isWorktree: true,
    });
    rmSync(session.worktreePath!, { recursive: true });
    const closed = await f.orchestrator.deleteSession(session.id, { force, deleteBranch: true });
    assert.equal(closed?.session.id, session.id);
    assert.equal(closed?.branchDeleted, true);
    // Nothing was left to snapshot.
    assert.equal(git(f.repositoryPath, "for-each-ref", "refs/session-snapshots/"), "");
    assert.deepEqual(extraWorktrees(f.repositoryPath), [user]);
  }
  assert.ok(!existsSync(user));
  assertWorksAgain(user, away.away, "user/own", away.commit);
});
