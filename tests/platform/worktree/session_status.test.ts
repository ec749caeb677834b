// orchestrator.sessionStatus on real worktrees: dirty and untracked work, ahead and behind its
// base, landing by a merge or a rebase then fast-forward, the folder's size, an archived session,
// and the refusals.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { commitFile, git, worktreeFixture } from "../../fixtures/git_fixtures.ts";

test("status: an untouched session is clean, level with its base, not landed, and takes disk", async () => {
  using f = await worktreeFixture();
  const session = await f.orchestrator.createSession({ repositoryId: f.repository.id, title: "t", isWorktree: true });
  const status = await f.orchestrator.sessionStatus(session.id);
  assert.deepEqual({ ...status, diskBytes: 0, lastChangedAt: null }, {
    dirty: false,
    ahead: 0,
    behind: 0,
    landed: null,
    diskBytes: 0,
    lastChangedAt: null,
  });
  assert.ok(status.diskBytes > 0);
  assert.ok(Date.parse(status.lastChangedAt!) > Date.now() - 600_000, "the folder was just made");
  // The base moving on does not make an untouched branch landed.
  commitFile(f.repositoryPath, "main.txt");
  assert.deepEqual({ ...await f.orchestrator.sessionStatus(session.id), diskBytes: 0, lastChangedAt: null }, {
    dirty: false,
    ahead: 0,
    behind: 1,
    landed: null,
    diskBytes: 0,
    lastChangedAt: null,
  });
});

test("status: untracked and modified files are dirty, the size grows with a file, commits count as ahead", async () => {
  using f = await worktreeFixture();
  const session = await f.orchestrator.createSession({ repositoryId: f.repository.id, title: "t", isWorktree: true });
  const path = session.worktreePath!;
  const before = await f.orchestrator.sessionStatus(session.id);
  writeFileSync(join(path, "big.bin"), new Uint8Array(256 * 1024).fill(7));
  const untracked = await f.orchestrator.sessionStatus(session.id);
  assert.equal(untracked.dirty, true);
  assert.ok(untracked.diskBytes >= before.diskBytes + 256 * 1024, `${untracked.diskBytes} after ${before.diskBytes}`);
  git(path, "add", "big.bin");
  git(path, "commit", "-q", "-m", "big");
  assert.deepEqual({ ...await f.orchestrator.sessionStatus(session.id), diskBytes: 0, lastChangedAt: null }, {
    dirty: false,
    ahead: 1,
    behind: 0,
    landed: null,
    diskBytes: 0,
    lastChangedAt: null,
  });
  writeFileSync(join(path, "README.md"), "changed\n");
  assert.equal((await f.orchestrator.sessionStatus(session.id)).dirty, true);
});

test("status: a session merged into its base is merged; one rebased then fast-forwarded too", async () => {
  using f = await worktreeFixture();
  const make = (title: string) =>
    f.orchestrator.createSession({ repositoryId: f.repository.id, title, isWorktree: true });
  const merged = await make("merged");
  commitFile(merged.worktreePath!, "merged.txt");
  git(f.repositoryPath, "merge", "-q", "--no-ff", "-m", "merge", merged.branchName!);
  assert.equal((await f.orchestrator.sessionStatus(merged.id)).landed, "merged");

  const rebased = await make("rebased");
  commitFile(rebased.worktreePath!, "rebased.txt");
  commitFile(f.repositoryPath, "main.txt");
  git(rebased.worktreePath!, "rebase", "-q", "main");
  git(f.repositoryPath, "merge", "-q", "--ff-only", rebased.branchName!);
  assert.deepEqual({ ...await f.orchestrator.sessionStatus(rebased.id), diskBytes: 0, lastChangedAt: null }, {
    dirty: false,
    ahead: 0,
    behind: 0,
    landed: "merged",
    diskBytes: 0,
    lastChangedAt: null,
  });
});

test("status: a session's recorded base is what it is measured against", async () => {
  using f = await worktreeFixture();
  git(f.repositoryPath, "branch", "release");
  commitFile(f.repositoryPath, "main-only.txt");
  const session = await f.orchestrator.createSession({
    repositoryId: f.repository.id,
    title: "t",
    isWorktree: true,
    baseRef: "release",
  });
  commitFile(session.worktreePath!, "fix.txt");
  assert.equal(session.baseBranch, "release");
  const status = await f.orchestrator.sessionStatus(session.id);
  assert.deepEqual([status.ahead, status.behind], [1, 0]);
});

test("status: an archived session takes no disk, is dirty as its archive says, and still knows when it landed", async () => {
  using f = await worktreeFixture();
  const make = (title: string) =>
    f.orchestrator.createSession({ repositoryId: f.repository.id, title, isWorktree: true });
  const clean = await make("clean");
  commitFile(clean.worktreePath!, "clean.txt");
  const dirty = await make("dirty");
  writeFileSync(join(dirty.worktreePath!, "wip.txt"), "wip\n");
  await f.orchestrator.archiveSession(clean.id);
  await f.orchestrator.archiveSession(dirty.id);
  git(f.repositoryPath, "merge", "-q", "--no-ff", "-m", "merge", clean.branchName!);
  assert.deepEqual(await f.orchestrator.sessionStatus(clean.id), {
    dirty: false,
    ahead: 0,
    behind: 1,
    landed: "merged",
    diskBytes: 0,
    lastChangedAt: null,
  });
  assert.deepEqual(await f.orchestrator.sessionStatus(dirty.id), {
    dirty: true,
    ahead: 0,
    behind: 2,
    landed: null,
    diskBytes: 0,
    lastChangedAt: null,
  });
});

test("status: an unknown id is SessionNotFound, a session without a worktree InvalidInput, another machine's Conflict", async () => {
  using f = await worktreeFixture();
  await assert.rejects(f.orchestrator.sessionStatus(crypto.randomUUID()), { kind: "SessionNotFound" });
  await assert.rejects(f.orchestrator.sessionStatus("not an id"), { kind: "InvalidInput" });
  const plain = await f.orchestrator.createSession({ repositoryId: f.repository.id, title: "p", isWorktree: false });
  await assert.rejects(f.orchestrator.sessionStatus(plain.id), { kind: "InvalidInput" });
  const elsewhere = await f.orchestratorWith({ hostId: "there" }).createSession({
    repositoryId: f.repository.id,
    title: "elsewhere",
    isWorktree: true,
  });
  await assert.rejects(f.orchestratorWith({ hostId: "here" }).sessionStatus(elsewhere.id), { kind: "Conflict" });
});
