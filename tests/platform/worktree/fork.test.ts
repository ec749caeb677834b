// Forks of worktree sessions on real git: the new session starts at the source's commit with the
// source's work (staged as staged, untracked as untracked, byte for byte), the source is left as
// it was, refusals make nothing, and a fork killed midway is undone by reconcile.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type LifecycleEvent, LifecycleEvents } from "../../../mod.ts";
import { FORK_STEPS } from "../../../src/platform/mod.ts";
import {
  branches,
  commitFile,
  extraWorktrees,
  git,
  indexEntries,
  makeEveryKindOfWork,
  refsUnder,
  runWorkerUntil,
  worktreeContents,
  worktreeFixture,
  worktreeStatus,
} from "../../fixtures/git_fixtures.ts";
import { errorOfKind as kind } from "../../fixtures/helpers.ts";
import { namedWorktreeSession as session } from "../../fixtures/git_fixtures.ts";

// What a worktree holds: its files, status, index and commit.
function state(worktree: string) {
  return {
    files: worktreeContents(worktree),
    status: worktreeStatus(worktree),
    index: indexEntries(worktree),
    head: git(worktree, "rev-parse", "HEAD"),
  };
}

test("a fork starts at the source's commit with all of its work, on its own branch, and leaves the source as it was", async () => {
  using f = await worktreeFixture();
  const events = new LifecycleEvents();
  const seen: LifecycleEvent[] = [];
  events.subscribe((event) => seen.push(event));
  const orchestrator = f.orchestratorWith({ events });
  const source = await session(f, "work", { issueId: "ISSUE-7", agentName: "claude" });
  makeEveryKindOfWork(source.worktreePath!);
  const before = state(source.worktreePath!);

  const fork = await orchestrator.forkSession(source.id);
  assert.notEqual(fork.id, source.id);
  assert.equal(fork.title, "work (fork)");
  assert.equal(fork.repositoryId, source.repositoryId);
  assert.equal(fork.issueId, "ISSUE-7");
  assert.equal(fork.agentName, "claude");
  assert.equal(fork.baseBranch, source.baseBranch);
  assert.equal(fork.createdBranch, true);
  assert.notEqual(fork.worktreePath, source.worktreePath);
  assert.notEqual(fork.branchName, source.branchName);
  // The fork's worktree: the source's commit and every byte of its work, as the same kind of change.
  assert.deepEqual(state(fork.worktreePath!), before);
  assert.equal(git(f.repositoryPath, "rev-parse", `refs/heads/${fork.branchName}`), before.head);
  // The source: untouched, and its work kept as a snapshot of its own, which never lands on a branch.
  assert.deepEqual(state(source.worktreePath!), before);
  assert.deepEqual(refsUnder(f.repositoryPath, "refs/session-snapshots/"), [`refs/session-snapshots/${source.id}`]);
  assert.equal(git(f.repositoryPath, "rev-parse", `refs/heads/${source.branchName}`), before.head);
  // Both have a secret of their own, and the fork was announced as a create.
  const [a, b] = await Promise.all([
    orchestrator.resolveSessionSecret(source.id),
    orchestrator.resolveSessionSecret(fork.id),
  ]);
  assert.ok(a !== null && b !== null);
  assert.notDeepEqual(a, b);
  assert.deepEqual(seen.map((event) => [event.type, event.type === "session.created" ? event.session.id : null]), [
    ["session.created", fork.id],
  ]);
  // Each lives on alone: the fork's changes do not reach the source.
  writeFileSync(join(fork.worktreePath!, "only-in-fork.txt"), "x\n");
  assert.equal(existsSync(join(source.worktreePath!, "only-in-fork.txt")), false);
  const closed = await orchestrator.deleteSession(fork.id, { force: true, deleteBranch: true });
  assert.equal(closed?.branchDeleted, true);
  assert.deepEqual(state(source.worktreePath!), before);
});

test("a fork takes the caller's title, names and issue fields, and a clean source makes no snapshot", async () => {
  using f = await worktreeFixture();
  const source = await session(f, "clean", { issueId: "ISSUE-1" });
  commitFile(source.worktreePath!, "done.txt", "committed\n");
  const fork = await f.orchestrator.forkSession(source.id, {
    title: "Another try",
    worktreeName: "another",
    branchName: "try/another",
    issueId: "ISSUE-2",
  });
  assert.equal(fork.title, "Another try");
  assert.equal(fork.worktreeName, "another");
  assert.equal(fork.branchName, "try/another");
  assert.equal(fork.issueId, "ISSUE-2");
  assert.equal(worktreeStatus(fork.worktreePath!), "");
  assert.equal(git(fork.worktreePath!, "rev-parse", "HEAD"), git(source.worktreePath!, "rev-parse", "HEAD"));
  assert.deepEqual(refsUnder(f.repositoryPath, "refs/session-snapshots/"), []);
  // A title at the limit keeps within it.
  const long = await session(f, "x".repeat(500).slice(0, 40), { title: "t".repeat(500) });
  const longFork = await f.orchestrator.forkSession(long.id, { worktreeName: "long-fork" });
  assert.equal(longFork.title.length, 500);
  assert.ok(longFork.title.endsWith(" (fork)"));
});

test("a fork of an archived session gets what the archive saved, and the source stays archived", async () => {
  using f = await worktreeFixture();
  const source = await session(f, "shelved");
  makeEveryKindOfWork(source.worktreePath!);
  const before = state(source.worktreePath!);
  await f.orchestrator.archiveSession(source.id);
  const fork = await f.orchestrator.forkSession(source.id, { worktreeName: "from-archive" });
  assert.deepEqual(state(fork.worktreePath!), before);
  assert.equal((await f.store.getSession(source.id))?.status, "archived");
  assert.equal(existsSync(source.worktreePath!), false);
  // The archive is whole still: the source restores with its work.
  const restored = await f.orchestrator.restoreSession(source.id);
  assert.deepEqual(state(restored.worktreePath!), before);
});

test("refused forks make nothing: unknown source, no worktree, bad fields, taken names, a busy or nested source", async () => {
  using f = await worktreeFixture();
  const plain = await f.orchestrator.createSession({
    repositoryId: f.repository.id,
    title: "plain",
    isWorktree: false,
  });
  const source = await session(f, "src");
  writeFileSync(join(source.worktreePath!, "work.txt"), "uncommitted\n");
  const count = async () => (await f.store.listSessions({ limit: 100 })).length;
  const sessionsBefore = await count();
  const worktreesBefore = extraWorktrees(f.repositoryPath);
  const branchesBefore = branches(f.repositoryPath);

  await assert.rejects(f.orchestrator.forkSession("00000000-0000-4000-8000-000000000000"), kind("SessionNotFound"));
  await assert.rejects(f.orchestrator.forkSession("../etc"), kind("InvalidInput"));
  await assert.rejects(f.orchestrator.forkSession(plain.id), kind("InvalidInput"));
  await assert.rejects(
    f.orchestrator.forkSession(source.id, { repositoryId: f.repository.id } as never),
    kind("InvalidInput"),
  );
  await assert.rejects(f.orchestrator.forkSession(source.id, { title: "" }), kind("InvalidInput"));
  await assert.rejects(f.orchestrator.forkSession(source.id, { branchName: "--force" }), kind("InvalidInput"));
  await assert.rejects(f.orchestrator.forkSession(source.id, { worktreeName: "../up" }), kind("InvalidInput"));
  await assert.rejects(f.orchestrator.forkSession(source.id, { branchName: source.branchName! }), kind("Conflict"));
  await assert.rejects(f.orchestrator.forkSession(source.id, { sessionId: source.id }), kind("Conflict"));
  // A merge in progress in the source: its state would not be copied.
  git(source.worktreePath!, "stash", "-q", "-u");
  commitFile(source.worktreePath!, "conflict.txt", "mine\n");
  git(f.repositoryPath, "checkout", "-q", "-b", "other");
  commitFile(f.repositoryPath, "conflict.txt", "theirs\n");
  git(f.repositoryPath, "checkout", "-q", "main");
  try {
    git(source.worktreePath!, "merge", "-q", "other");
  } catch { /* the conflict is the point */ }
  await assert.rejects(f.orchestrator.forkSession(source.id), /in the middle of a merge/);
  git(source.worktreePath!, "merge", "--abort");
  // A repository nested in the source.
  const nested = join(source.worktreePath!, "vendor", "lib");
  mkdirSync(nested, { recursive: true });
  git(nested, "init", "-q");
  await assert.rejects(f.orchestrator.forkSession(source.id), /holds the repository vendor\/lib/);

  assert.equal(await count(), sessionsBefore);
  assert.deepEqual(extraWorktrees(f.repositoryPath), worktreesBefore);
  assert.deepEqual(branches(f.repositoryPath), [...branchesBefore, "other"].sort());
  assert.deepEqual(refsUnder(f.repositoryPath, "refs/session-snapshots/"), []);
});

// Never announced before it returned, a fork killed at any step (its row written or not) is undone, as an open is.
for (const step of FORK_STEPS) {
  test(`a fork killed at ${step} is undone by reconcile, and the source keeps its work`, async () => {
    using f = await worktreeFixture();
    const source = await session(f, "origin");
    makeEveryKindOfWork(source.worktreePath!);
    const before = state(source.worktreePath!);
    const run = await runWorkerUntil(
      ["fork-at", f.databasePath, f.worktreesRoot, f.keyHex, source.id, step, "copy"],
      `at ${step}`,
    );
    assert.ok(run.reached, run.stderr);
    const report = await f.orchestrator.reconcile();
    assert.deepEqual(report.findings.map((finding) => [finding.kind, finding.action]), [
      ["unfinished-open", "undone"],
    ]);
    assert.deepEqual((await f.store.listSessions({ limit: 10 })).map((s) => s.id), [source.id]);
    assert.equal(existsSync(join(f.folder, "copy")), false);
    assert.deepEqual(extraWorktrees(f.repositoryPath), [source.worktreePath]);
    assert.equal(branches(f.repositoryPath).some((branch) => branch.endsWith("copy")), false);
    assert.deepEqual(state(source.worktreePath!), before);
    // The fork goes through once the journal is clear.
    const fork = await f.orchestrator.forkSession(source.id, { worktreeName: "copy" });
    assert.deepEqual(state(fork.worktreePath!), before);
  });
}
