// A forced delete loses no work: before the worktree is removed, everything in it (tracked
// changes, staged changes, untracked files; not ignored files) is saved as a commit under
// refs/session-snapshots/<session id>, from which it is restored byte for byte.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { SessionError } from "../../../mod.ts";
import { Git } from "../../../src/platform/git.ts";
import { branches, commitFile, git, worktreeFixture } from "../../fixtures/git_fixtures.ts";
import { tempDir } from "../../fixtures/helpers.ts";

/** Every file under `root` (not `.git`), by relative path, with its bytes. */
function filesOf(root: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const walk = (folder: string) => {
    for (const item of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, item.name);
      if (item.name === ".git") continue;
      if (item.isDirectory()) walk(path);
      else files.set(relative(root, path), readFileSync(path));
    }
  };
  walk(root);
  return files;
}

/** Makes every kind of uncommitted work in `wt`; returns the files expected in a snapshot. */
function makeWork(wt: string): Map<string, Buffer> {
  writeFileSync(join(wt, "README.md"), "changed, not staged\n");
  writeFileSync(join(wt, "staged.txt"), "staged\n");
  git(wt, "add", "staged.txt");
  writeFileSync(join(wt, "both.txt"), "staged version\n");
  git(wt, "add", "both.txt");
  writeFileSync(join(wt, "both.txt"), "newer, unstaged version\n");
  rmSync(join(wt, "src", "deleted.txt"));
  mkdirSync(join(wt, "untracked", "deep"), { recursive: true });
  writeFileSync(join(wt, "untracked", "deep", "file.bin"), Uint8Array.from([0, 1, 2, 255, 13, 10, 0, 42]));
  writeFileSync(join(wt, "run.sh"), "#!/bin/sh\necho hi\n");
  chmodSync(join(wt, "run.sh"), 0o755);
  const expected = filesOf(wt);
  // Ignored: never part of a snapshot.
  writeFileSync(join(wt, "debug.log"), "noise\n");
  mkdirSync(join(wt, "build"));
  writeFileSync(join(wt, "build", "out.o"), "binary\n");
  return expected;
}

/** The repository gets a .gitignore and a file to delete, committed on main. */
function prepareRepository(repository: string): void {
  writeFileSync(join(repository, ".gitignore"), "*.log\nbuild/\n");
  mkdirSync(join(repository, "src"));
  writeFileSync(join(repository, "src", "deleted.txt"), "to be deleted\n");
  git(repository, "add", "--all");
  git(repository, "commit", "-q", "-m", "ignore rules");
}

test("a forced close saves all uncommitted work under refs/session-snapshots/<id>, restored byte for byte", async () => {
  using f = await worktreeFixture();
  prepareRepository(f.repositoryPath);
  const session = await f.orchestrator.createSession({
    repositoryId: f.repository.id,
    title: "t",
    worktreeName: "dirty",
    isWorktree: true,
  });
  const wt = session.worktreePath!;
  const tip = commitFile(wt, "committed.txt", "on the branch only\n");
  const expected = makeWork(wt);

  const closed = await f.orchestrator.deleteSession(session.id, { force: true, deleteBranch: true });
  assert.equal(closed?.worktreeRemoved, true);
  assert.equal(closed?.branchDeleted, true);
  assert.ok(!existsSync(wt));
  assert.deepEqual(branches(f.repositoryPath), ["main"]);

  const ref = `refs/session-snapshots/${session.id}`;
  // The snapshot's parent is the branch's tip, which therefore stays reachable.
  assert.equal(git(f.repositoryPath, "rev-parse", `${ref}^`), tip);
  assert.equal(git(f.repositoryPath, "rev-list", "--count", ref), "4");

  // Restoring, as the README says: a worktree of the snapshot has exactly the work.
  const restored = join(f.dir, "restored");
  git(f.repositoryPath, "worktree", "add", "-q", "--detach", "--", restored, ref);
  const actual = filesOf(restored);
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort());
  for (const [path, bytes] of expected) assert.ok(actual.get(path)!.equals(bytes), path);
  assert.ok(!existsSync(join(restored, "debug.log")));
  assert.ok(!existsSync(join(restored, "build")));
  assert.equal(statSync(join(restored, "run.sh")).mode & 0o111, 0o111);
  // ... and `reset --soft HEAD~1` turns it back into changes on top of the branch's tip.
  git(restored, "reset", "-q", "--soft", "HEAD~1");
  assert.equal(git(restored, "rev-parse", "HEAD"), tip);
  assert.match(git(restored, "status", "--porcelain"), /M {2}README\.md/);
  // Dropping it, as the README says.
  git(f.repositoryPath, "worktree", "remove", "--force", "--", restored);
  git(f.repositoryPath, "update-ref", "-d", ref);
  assert.equal(git(f.repositoryPath, "for-each-ref", "refs/session-snapshots/"), "");
});

test("snapshotWorktree leaves the worktree's index, files and branch as they were", async () => {
  using f = await worktreeFixture();
  prepareRepository(f.repositoryPath);
  const session = await f.orchestrator.createSession({
    repositoryId: f.repository.id,
    title: "t",
    worktreeName: "kept",
    isWorktree: true,
  });
  const wt = session.worktreePath!;
  makeWork(wt);
  const gitDir = git(wt, "rev-parse", "--absolute-git-dir");
  const before = {
    index: readFileSync(join(gitDir, "index")),
    files: filesOf(wt),
    status: git(wt, "status", "--porcelain", "--ignored"),
    head: git(wt, "rev-parse", "HEAD"),
    branch: git(wt, "symbolic-ref", "HEAD"),
  };
  const g = new Git();
  const ref = await g.snapshotWorktree(wt, session.id);
  const first = git(f.repositoryPath, "rev-parse", ref);
  assert.deepEqual(readFileSync(join(gitDir, "index")), before.index);
  assert.deepEqual(filesOf(wt), before.files);
  assert.equal(git(wt, "status", "--porcelain", "--ignored"), before.status);
  assert.equal(git(wt, "rev-parse", "HEAD"), before.head);
  assert.equal(git(wt, "symbolic-ref", "HEAD"), before.branch);
  // A later snapshot of the same session gets a ref of its own: the first is never moved or hidden.
  writeFileSync(join(wt, "later.txt"), "later\n");
  const second = await g.saveWorktree(wt, session.id);
  assert.equal(second.ref, `${ref}.2`);
  assert.equal(git(f.repositoryPath, "rev-parse", ref), first);
  assert.equal(git(f.repositoryPath, "rev-parse", second.ref), second.commit);
  assert.equal(git(f.repositoryPath, "show", `${second.ref}:later.txt`), "later");
  assert.notEqual(spawnSync("git", ["-C", f.repositoryPath, "cat-file", "-e", `${ref}:later.txt`]).status, 0);
  assert.equal(await g.snapshotWorktree(wt, session.id), `${ref}.3`);
  assert.deepEqual((await g.sessionSnapshots(f.repositoryPath, session.id)).map((s) => s.ref), [
    ref,
    `${ref}.2`,
    `${ref}.3`,
  ]);

  // Only the top of a worktree, and only an id that can name a ref.
  await assert.rejects(
    g.snapshotWorktree(join(wt, "src"), session.id),
    (e) => e instanceof SessionError && e.kind === "InvalidInput",
  );
  {
    using plain = tempDir();
    await assert.rejects(
      g.snapshotWorktree(plain.path, session.id),
      (e) => e instanceof SessionError && e.kind === "InvalidInput",
    );
  }
  for (const id of ["", "../x", "-d", "a b", "x.lock"]) {
    await assert.rejects(g.snapshotWorktree(wt, id), (e) => e instanceof SessionError && e.kind === "InvalidInput");
  }
  await f.orchestrator.deleteSession(session.id, { force: true, deleteBranch: true });
});

test("the close answer names the snapshot of a forced close; a plain close makes none", async () => {
  using f = await worktreeFixture();
  for (const force of [false, true]) {
    const session = await f.orchestrator.createSession({
      repositoryId: f.repository.id,
      title: "t",
      worktreeName: `wt-${force}`,
      isWorktree: true,
    });
    const closed = await f.orchestrator.deleteSession(session.id, { force, deleteBranch: true });
    assert.equal(closed?.worktreeRemoved, true);
    assert.equal(closed?.snapshotRef, force ? `refs/session-snapshots/${session.id}` : null);
  }
});

test("a snapshot that cannot be saved stops the forced close; the work and the session stay", async () => {
  using f = await worktreeFixture();
  using dir = tempDir("slo-failing-git-");
  // A real git, except that it cannot write the snapshot's commit.
  const wrapper = join(dir.path, "git");
  writeFileSync(
    wrapper,
    `#!/bin/sh\nfor arg in "$@"; do\n  if [ "$arg" = commit-tree ]; then echo "fatal: disk full" >&2; exit 128; fi\ndone\nexec git "$@"\n`,
    { mode: 0o755 },
  );
  const failing = f.orchestratorWith({ gitPath: wrapper });
  const session = await failing.createSession({
    repositoryId: f.repository.id,
    title: "t",
    worktreeName: "unsaved",
    isWorktree: true,
  });
  writeFileSync(join(session.worktreePath!, "work.txt"), "precious\n");
  await assert.rejects(
    failing.deleteSession(session.id, { force: true }),
    (e) => e instanceof SessionError && e.kind === "WorktreeCreation" && /disk full/.test(e.message),
  );
  assert.equal(readFileSync(join(session.worktreePath!, "work.txt"), "utf8"), "precious\n");
  assert.notEqual(await f.store.getSession(session.id), null);
  // The journaled close is finished by reconcile once git works: saved first, then removed.
  const report = await f.orchestrator.reconcile();
  assert.deepEqual(report.findings.map((x) => [x.kind, x.action]), [["unfinished-close", "finished"]]);
  assert.equal(git(f.repositoryPath, "show", `refs/session-snapshots/${session.id}:work.txt`), "precious");
  assert.ok(!existsSync(session.worktreePath!));
  assert.equal(spawnSync("git", ["-C", f.repositoryPath, "show-ref", "--quiet", session.branchName!]).status, 0);
});
