// A delete killed while `git worktree remove` is deleting the files: the snapshot a forced delete
// took is never replaced or lost (reconcile reuses the one the journal recorded), and a plain
// delete of a clean worktree is finished rather than mistaken for uncommitted work.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { git, runWorkerUntil, type WorktreeFixture, worktreeFixture } from "../../fixtures/git_fixtures.ts";
import { killDuringRemoval, manyFiles } from "../../fixtures/removal_kill.ts";

/** A close of `sessionId` killed in the middle of its removal (see {@linkcode killDuringRemoval}). */
function killClose(f: WorktreeFixture, sessionId: string, worktree: string, options: string): Promise<void> {
  return killDuringRemoval(
    ["close-at", f.databasePath, f.worktreesRoot, f.keyHex, sessionId, "never", options],
    worktree,
  );
}

function snapshotRefs(repository: string): string[] {
  return git(repository, "for-each-ref", "--format=%(refname)", "refs/session-snapshots/").split("\n").filter(Boolean);
}

function filesIn(repository: string, commit: string): string[] {
  return git(repository, "ls-tree", "-r", "--name-only", commit).split("\n").filter(Boolean).sort();
}

test("a forced delete killed in the middle of the removal keeps its full snapshot; reconcile finishes with it", async () => {
  using f = await worktreeFixture();
  const session = await f.orchestrator.createSession({
    repositoryId: f.repository.id,
    title: "t",
    worktreeName: "big",
    isWorktree: true,
  });
  const wt = session.worktreePath!;
  const expected = [...manyFiles(wt), "README.md"].sort();
  await killClose(f, session.id, wt, "force,deleteBranch");
  // The journal names the snapshot taken before the removal began.
  const entry = JSON.parse(readFileSync(join(f.worktreesRoot, ".journal", `${session.id}.json`), "utf8"));
  const ref = `refs/session-snapshots/${session.id}`;
  assert.deepEqual(entry.snapshot, { ref, commit: git(f.repositoryPath, "rev-parse", ref) });

  const report = await f.orchestrator.reconcile();
  assert.deepEqual(report.findings.map((x) => [x.kind, x.action]), [["unfinished-close", "finished"]]);
  assert.ok(!existsSync(wt));
  assert.equal(await f.store.getSession(session.id), null);
  // One snapshot, the one taken before the removal, with every file; not one of the half-deleted folder.
  assert.deepEqual(snapshotRefs(f.repositoryPath), [ref]);
  assert.equal(git(f.repositoryPath, "rev-parse", ref), entry.snapshot.commit);
  assert.deepEqual(filesIn(f.repositoryPath, ref), expected);
  assert.deepEqual(git(f.repositoryPath, "worktree", "list", "--porcelain").match(/^worktree /gm)?.length, 1);
});

test("a forced delete resumed after its removal lost the folder's .git file reuses the recorded snapshot", async () => {
  using f = await worktreeFixture();
  const session = await f.orchestrator.createSession({
    repositoryId: f.repository.id,
    title: "t",
    worktreeName: "half",
    isWorktree: true,
  });
  const wt = session.worktreePath!;
  writeFileSync(join(wt, "work.txt"), "precious\n");
  const run = await runWorkerUntil(
    ["close-at", f.databasePath, f.worktreesRoot, f.keyHex, session.id, "close:remove", "force,deleteBranch"],
    "at close:remove",
  );
  assert.ok(run.reached, run.stderr);
  const ref = `refs/session-snapshots/${session.id}`;
  const commit = git(f.repositoryPath, "rev-parse", ref);
  // What a removal cut short leaves: some files gone, among them the link to the repository.
  rmSync(join(wt, ".git"));
  rmSync(join(wt, "work.txt"));
  const report = await f.orchestrator.reconcile();
  assert.deepEqual(report.findings.map((x) => [x.kind, x.action]), [["unfinished-close", "finished"]]);
  assert.ok(!existsSync(wt));
  assert.deepEqual(snapshotRefs(f.repositoryPath), [ref]);
  assert.equal(git(f.repositoryPath, "rev-parse", ref), commit);
  assert.equal(git(f.repositoryPath, "show", `${ref}:work.txt`), "precious");
  assert.equal(git(f.repositoryPath, "branch", "--list", session.branchName!), "");
  assert.deepEqual((await f.orchestrator.reconcile()).findings, []);
});

test("a plain delete of a clean worktree killed in the middle of the removal is finished by reconcile", async () => {
  using f = await worktreeFixture();
  const session = await f.orchestrator.createSession({
    repositoryId: f.repository.id,
    title: "t",
    worktreeName: "clean",
    isWorktree: true,
  });
  const wt = session.worktreePath!;
  manyFiles(wt);
  git(wt, "add", "--all");
  git(wt, "commit", "-q", "-m", "many files");
  const tip = git(wt, "rev-parse", "HEAD");
  await killClose(f, session.id, wt, "deleteBranch");
  const report = await f.orchestrator.reconcile();
  assert.deepEqual(report.findings.map((x) => [x.kind, x.action]), [["unfinished-close", "finished"]]);
  assert.ok(!existsSync(wt));
  assert.equal(await f.store.getSession(session.id), null);
  // Its commit is on the branch only: kept, as a plain delete keeps it.
  assert.equal(git(f.repositoryPath, "rev-parse", session.branchName!), tip);
  assert.deepEqual(snapshotRefs(f.repositoryPath), []);
});

test("a plain delete cut short is finished only when nothing but tracked files is missing", async () => {
  using f = await worktreeFixture();
  for (const addWork of [false, true]) {
    const session = await f.orchestrator.createSession({
      repositoryId: f.repository.id,
      title: "t",
      worktreeName: `plain-${addWork}`,
      isWorktree: true,
    });
    const wt = session.worktreePath!;
    writeFileSync(join(wt, "tracked.txt"), "committed\n");
    git(wt, "add", "tracked.txt");
    git(wt, "commit", "-q", "-m", "tracked");
    const run = await runWorkerUntil(
      ["close-at", f.databasePath, f.worktreesRoot, f.keyHex, session.id, "close:remove", ""],
      "at close:remove",
    );
    assert.ok(run.reached, run.stderr);
    // The journal records that the worktree was clean when its removal began.
    const journal = join(f.worktreesRoot, ".journal", `${session.id}.json`);
    assert.equal(JSON.parse(readFileSync(journal, "utf8")).removalFromClean, true);
    rmSync(join(wt, "tracked.txt"));
    rmSync(join(wt, ".git"));
    if (addWork) writeFileSync(join(wt, "new.txt"), "written after the check\n");
    const report = await f.orchestrator.reconcile();
    assert.deepEqual(report.findings.map((x) => [x.kind, x.action]), [[
      "unfinished-close",
      addWork ? "abandoned" : "finished",
    ]]);
    if (addWork) {
      // New work is never thrown away: the session stays, its worktree linked again.
      assert.equal(readFileSync(join(wt, "new.txt"), "utf8"), "written after the check\n");
      assert.notEqual(await f.store.getSession(session.id), null);
      await f.orchestrator.deleteSession(session.id, { force: true });
      assert.equal(
        git(f.repositoryPath, "show", `refs/session-snapshots/${session.id}:new.txt`),
        "written after the check",
      );
    } else {
      assert.ok(!existsSync(wt));
      assert.equal(await f.store.getSession(session.id), null);
    }
  }
});
