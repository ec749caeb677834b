// The git layer on real repositories: worktree listing (locked, prunable) and the registration
// read from git's files, lock-error classification, branch-name checks, commit-ish resolution,
// HEAD's branch and commit in one call, and default names.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SessionError } from "../../../mod.ts";
import { branchForWorktreeName, defaultWorktreeName } from "../../../src/platform/mod.ts";
import {
  branchExistsFromFiles,
  Git,
  headFromFiles,
  parseWorktreeList,
  registrationFromFiles,
} from "../../../src/platform/git.ts";
import { isTransientLockError } from "../../../src/platform/git_runner.ts";
import { commitFile, git, makeRepository } from "../../fixtures/git_fixtures.ts";
import { tempDir } from "../../fixtures/helpers.ts";

test("registrationFromFiles reads what git lists, and answers null wherever the files are not plain", async () => {
  using dir = tempDir();
  const repo = join(dir.path, "repo");
  makeRepository(repo);
  const commonDir = join(repo, ".git");
  const onBranch = join(dir.path, "on branch");
  const detached = join(dir.path, "detached");
  git(repo, "worktree", "add", "-q", "-b", "a", "--", onBranch, "main");
  commitFile(onBranch, "a.txt");
  git(repo, "worktree", "lock", "--reason", "busy", "--", onBranch);
  git(repo, "worktree", "add", "-q", "--detach", "--", detached, "main");
  const listed = await new Git().listWorktrees(repo);
  for (const path of [onBranch, detached]) {
    assert.deepEqual(registrationFromFiles(commonDir, path), listed.find((entry) => entry.path === path));
  }
  // A packed branch has no loose ref: registered, its commit left for git to tell.
  git(repo, "pack-refs", "--all");
  assert.deepEqual(registrationFromFiles(commonDir, onBranch), {
    ...listed.find((entry) => entry.path === onBranch),
    head: null,
  });
  // Not this repository's, not a worktree, or a link git wrote relative: not proven here.
  const other = join(dir.path, "other");
  makeRepository(other);
  assert.equal(registrationFromFiles(join(other, ".git"), onBranch), null);
  assert.equal(registrationFromFiles(commonDir, repo), null);
  assert.equal(registrationFromFiles(commonDir, join(dir.path, "missing")), null);
  const link = join(detached, ".git");
  const target = readFileSync(link, "utf8").replace(/^gitdir: /, "").trim();
  writeFileSync(link, `gitdir: ../repo/.git/worktrees/${target.split("/").pop()}\n`);
  assert.equal(registrationFromFiles(commonDir, detached), null);
  // A folder that names a registration which names another folder back.
  writeFileSync(link, `gitdir: ${target}\n`);
  const copy = join(dir.path, "copy");
  mkdirSync(copy);
  writeFileSync(join(copy, ".git"), `gitdir: ${target}\n`);
  assert.equal(registrationFromFiles(commonDir, copy), null);
});

test("branchExistsFromFiles answers as git does, or null where the files cannot say", async () => {
  using dir = tempDir();
  const repo = join(dir.path, "repo");
  makeRepository(repo);
  const commonDir = join(repo, ".git");
  const g = new Git();
  git(repo, "branch", "loose");
  git(repo, "branch", "packed");
  git(repo, "pack-refs", "--all");
  git(repo, "branch", "deep/er");
  for (const name of ["main", "loose", "packed", "deep/er", "absent", "packed/x", "absent/x"]) {
    assert.equal(branchExistsFromFiles(commonDir, name), await g.branchExists(repo, name), name);
  }
  // A folder where the ref would be, or a ref on the way to it: git's to judge.
  assert.equal(branchExistsFromFiles(commonDir, "deep"), null);
  assert.equal(branchExistsFromFiles(commonDir, "deep/er/x"), null);
  git(repo, "symbolic-ref", "refs/heads/alias", "refs/heads/main");
  assert.equal(branchExistsFromFiles(commonDir, "alias"), null);
  // Refs in a reftable are not read here.
  mkdirSync(join(commonDir, "reftable"));
  assert.equal(branchExistsFromFiles(commonDir, "absent"), null);
});

test("headBranchAndCommit answers as currentBranch and resolveCommit do, in one call", async () => {
  using dir = tempDir();
  const repo = join(dir.path, "repo");
  const g = new Git();
  git(dir.path, "init", "-q", "-b", "main", repo);
  // Unborn: no commit, so no answer, and the caller asks apart.
  assert.equal(await g.headBranchAndCommit(repo), null);
  rmSync(repo, { recursive: true });
  makeRepository(repo);
  const tip = await g.resolveCommit(repo, "main");
  assert.deepEqual(await g.headBranchAndCommit(repo), { branch: "main", commit: tip });
  // A tag of the same name: the short name must still name the branch.
  git(repo, "tag", "main", `${tip}`);
  assert.deepEqual(await g.headBranchAndCommit(repo), { branch: await g.currentBranch(repo), commit: tip });
  assert.equal(await g.currentBranch(repo), "heads/main");
  git(repo, "checkout", "-q", "--detach");
  assert.deepEqual(await g.headBranchAndCommit(repo), { branch: "HEAD", commit: tip });
});

test("headFromFiles answers as git does, or null where a ref could shadow the branch", async () => {
  using dir = tempDir();
  const repo = join(dir.path, "repo");
  const g = new Git();
  git(dir.path, "init", "-q", "-b", "main", repo);
  assert.equal(headFromFiles(repo), null);
  rmSync(repo, { recursive: true });
  makeRepository(repo);
  const tip = (await g.resolveCommit(repo, "main"))!;
  assert.deepEqual(headFromFiles(repo), { branch: "main", commit: tip });
  git(repo, "pack-refs", "--all");
  assert.deepEqual(headFromFiles(repo), await g.headBranchAndCommit(repo));
  // A linked worktree's own HEAD, its branch in the common directory.
  const linked = join(dir.path, "linked");
  git(repo, "worktree", "add", "-q", "-b", "side", "--", linked, "main");
  assert.deepEqual(headFromFiles(linked), { branch: "side", commit: tip });
  assert.deepEqual(headFromFiles(linked), await g.headBranchAndCommit(linked));
  // Shadowed by a tag (loose, then packed) or by a ref of the same name: git's to say (heads/main).
  git(repo, "tag", "main", tip);
  assert.equal(headFromFiles(repo), null);
  git(repo, "pack-refs", "--all");
  assert.equal(headFromFiles(repo), null);
  git(repo, "tag", "-d", "main");
  assert.deepEqual(headFromFiles(repo), { branch: "main", commit: tip });
  git(repo, "update-ref", "refs/main", tip);
  assert.equal(headFromFiles(repo), null);
  git(repo, "update-ref", "-d", "refs/main");
  git(repo, "checkout", "-q", "--detach");
  assert.deepEqual(headFromFiles(repo), { branch: "HEAD", commit: tip });
  assert.deepEqual(headFromFiles(repo), await g.headBranchAndCommit(repo));
});

test("listWorktrees parses porcelain -z output, including locked and prunable entries", async () => {
  using dir = tempDir();
  const repo = join(dir.path, "repo");
  makeRepository(repo);
  const locked = join(dir.path, "locked wt");
  const gone = join(dir.path, "gone");
  git(repo, "worktree", "add", "-q", "-b", "a", "--", locked, "main");
  git(repo, "worktree", "lock", "--reason", "in use by agent", "--", locked);
  git(repo, "worktree", "add", "-q", "--detach", "--", gone, "main");
  rmSync(gone, { recursive: true });
  const entries = await new Git().listWorktrees(repo);
  assert.equal(entries.length, 3);
  assert.equal(entries[0].path, repo);
  assert.equal(entries[0].branch, "main");
  const lockedEntry = entries.find((entry) => entry.path === locked)!;
  assert.deepEqual(
    { branch: lockedEntry.branch, locked: lockedEntry.locked, prunable: lockedEntry.prunable },
    { branch: "a", locked: "in use by agent", prunable: null },
  );
  const goneEntry = entries.find((entry) => entry.path === gone)!;
  assert.equal(goneEntry.detached, true);
  assert.match(goneEntry.prunable ?? "", /gitdir file points to non-existent location/);
  // Only the one record is dropped; the locked worktree stays listed.
  await new Git().forgetMissingWorktree(repo, gone);
  assert.deepEqual((await new Git().listWorktrees(repo)).map((entry) => entry.path), [repo, locked]);
});

test("parseWorktreeList reads a bare entry and values with spaces", () => {
  const entries = parseWorktreeList("worktree /srv/r.git\0bare\0\0worktree /a b\0HEAD 1234\0detached\0locked\0\0");
  assert.equal(entries.length, 2);
  assert.equal(entries[0].bare, true);
  assert.equal(entries[1].path, "/a b");
  assert.equal(entries[1].locked, "");
  assert.equal(entries[1].detached, true);
});

test("transient lock errors are told apart from permanent refusals", () => {
  for (
    const message of [
      "fatal: Unable to create '/r/.git/index.lock': File exists.\n\nAnother git process seems to be running",
      "error: could not lock config file .git/config: File exists",
      "fatal: cannot lock ref 'refs/heads/x': Unable to create '/r/.git/refs/heads/x.lock': File exists.",
    ]
  ) assert.equal(isTransientLockError(message), true, message);
  for (
    const message of [
      "fatal: a branch named 'x' already exists",
      "fatal: cannot lock ref 'refs/heads/a/b': 'refs/heads/a' exists; cannot create 'refs/heads/a/b'",
      "fatal: 'x' is not a valid branch name",
    ]
  ) assert.equal(isTransientLockError(message), false, message);
});

test("checkBranchName runs our check and git's own", async () => {
  using dir = tempDir();
  const repo = join(dir.path, "repo");
  makeRepository(repo);
  const g = new Git();
  await g.checkBranchName(repo, "session/ünïcode");
  for (const name of ["-b", "--upload-pack=x", "a..b", "a b", "x.lock", "a/", "@", "a@{b"]) {
    await assert.rejects(
      g.checkBranchName(repo, name),
      (e) => e instanceof SessionError && e.kind === "InvalidInput",
    );
  }
  await assert.rejects(
    g.repositoryInfo(dir.path),
    (e) => e instanceof SessionError && e.kind === "InvalidInput",
  );
  const info = await g.repositoryInfo(repo);
  assert.equal(info.commonDir, join(repo, ".git"));
});

test("default names are valid worktree names and branch names", () => {
  const id = "1b4e28ba-2fa1-11d2-883f-0016d3cca427";
  assert.equal(defaultWorktreeName("Add dark mode!", id), "add-dark-mode-d3cca427");
  assert.equal(defaultWorktreeName("日本語のタイトル", id), "日本語のタイトル-d3cca427");
  assert.equal(defaultWorktreeName("???", id), id);
  assert.equal(defaultWorktreeName("../../etc/passwd", id), "etc-passwd-d3cca427");
  assert.equal(branchForWorktreeName("session/", "my wörk tree"), "session/my-wörk-tree");
  assert.equal(branchForWorktreeName("session/", "x.lock"), "session/x-lock");
  assert.equal(branchForWorktreeName("session/", "a~b^c"), "session/a-b-c");
});

test("resolveCommit accepts every commit-ish and answers null for anything else, options included", async () => {
  using dir = tempDir();
  const repo = join(dir.path, "repo");
  makeRepository(repo);
  const first = git(repo, "rev-parse", "HEAD");
  const second = commitFile(repo, "two.txt");
  git(repo, "tag", "-a", "-m", "v1", "v1", first);
  git(repo, "tag", "light", second);
  git(repo, "branch", "feature", first);
  const g = new Git();
  const cases: Array<[string, string]> = [
    ["HEAD", second],
    ["HEAD~1", first],
    ["main", second],
    ["refs/heads/feature", first],
    ["feature", first],
    ["v1", first], // an annotated tag is peeled to its commit
    ["light", second],
    [first, first],
    [first.slice(0, 10), first],
    [`${second}^`, first],
  ];
  for (const [ref, expected] of cases) assert.equal(await g.resolveCommit(repo, ref), expected, ref);
  const tree = git(repo, "rev-parse", "HEAD^{tree}");
  const output = join(dir.path, "written");
  for (
    const ref of [
      "nope",
      "HEAD~5",
      tree,
      "HEAD:README.md",
      "--output=" + output,
      "-h",
      "--all",
      "main..feature",
      " main",
    ]
  ) {
    assert.equal(await g.resolveCommit(repo, ref), null, ref);
  }
  assert.equal(existsSync(output), false);
  for (const ref of ["", "a\nb", "x\u0000"]) {
    await assert.rejects(g.resolveCommit(repo, ref), (e) => e instanceof SessionError && e.kind === "InvalidInput");
  }
  await assert.rejects(
    g.resolveCommit(dir.path, "HEAD"),
    (e) => e instanceof SessionError && e.kind === "WorktreeCreation",
  );
});
