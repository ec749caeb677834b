// Session snapshots on real git: listed after a forced delete (and an archive), restored into a
// new session with their uncommitted and untracked work, pruned (dry run, then for real, never a
// live session's), and bad refs refused before git runs, with nothing written.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SessionError } from "../../../mod.ts";
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
  type WorktreeFixture,
  worktreeFixture,
  worktreeStatus,
} from "../../fixtures/git_fixtures.ts";
import { errorOfKind as kind } from "../../fixtures/helpers.ts";
import { namedWorktreeSession as session } from "../../fixtures/git_fixtures.ts";

// A session with committed, staged, unstaged and untracked work, deleted with force: its snapshot
// ref, and what its worktree held.
async function deletedWithWork(f: WorktreeFixture, name: string) {
  const source = await session(f, name);
  makeEveryKindOfWork(source.worktreePath!);
  const files = worktreeContents(source.worktreePath!);
  const head = git(source.worktreePath!, "rev-parse", "HEAD");
  const closed = await f.orchestrator.deleteSession(source.id, { force: true });
  assert.ok(closed?.snapshotRef);
  return { source, ref: closed.snapshotRef, files, head };
}

test("snapshots: a forced delete's snapshot is listed with its session, time, reason and size", async () => {
  using f = await worktreeFixture();
  assert.deepEqual(await f.orchestrator.listSnapshots(f.repository.id), { snapshots: [] });
  const before = Date.now();
  const { source, ref, head } = await deletedWithWork(f, "gone");
  const archived = await session(f, "kept");
  writeFileSync(join(archived.worktreePath!, "draft.txt"), "draft\n");
  const { snapshotRef: archiveRef } = await f.orchestrator.archiveSession(archived.id);
  assert.ok(archiveRef);

  const { snapshots } = await f.orchestrator.listSnapshots(f.repository.id);
  assert.deepEqual(snapshots.map((s) => s.ref).sort(), [ref, archiveRef].sort());
  const gone = snapshots.find((s) => s.ref === ref)!;
  assert.equal(gone.sessionId, source.id);
  assert.equal(gone.commit, git(f.repositoryPath, "rev-parse", ref));
  assert.equal(gone.head, head);
  assert.equal(gone.reason, "a forced close");
  assert.match(gone.subject, new RegExp(`^Snapshot of session ${source.id} before a forced close$`));
  assert.equal(gone.sessionExists, false);
  // Every changed, staged, deleted and untracked path of makeEveryKindOfWork.
  assert.equal(gone.changedPaths, 7);
  assert.equal(gone.bytes, changedBytes(f.repositoryPath, head, ref));
  assert.ok(Date.parse(gone.createdAt) >= Math.floor(before / 1000) * 1000);
  const kept = snapshots.find((s) => s.ref === archiveRef)!;
  assert.equal(kept.sessionExists, true);
  assert.equal(kept.reason, "an archive");
  assert.equal(kept.changedPaths, 1);
  assert.equal(kept.bytes, "draft\n".length);

  const one = await f.orchestrator.listSnapshots(f.repository.id, { sessionId: source.id });
  assert.deepEqual(one.snapshots.map((s) => s.ref), [ref]);
});

// The sizes of the files a snapshot changed against `head`, read another way: `ls-tree -l` of the
// snapshot, at the paths `diff-tree` names (not deleted), gitlinks (size "-") counting 0.
function changedBytes(repository: string, head: string, ref: string): number {
  const paths = git(repository, "diff-tree", "-r", "--name-only", "--diff-filter=d", head, ref).split("\n");
  return git(repository, "ls-tree", "-r", "-l", ref, "--", ...paths).split("\n")
    .map((line) => line.split(/\s+/)[3])
    .reduce((sum, size) => sum + (size === "-" ? 0 : Number(size)), 0);
}

test("snapshots: bytes is the total size of the files the snapshot changed, as it holds them", async () => {
  using f = await worktreeFixture();
  const s = await session(f, "sized");
  const wt = s.worktreePath!;
  commitFile(wt, "big.txt", "b".repeat(5000));
  commitFile(wt, "gone.txt", "g".repeat(700));
  const head = git(wt, "rev-parse", "HEAD");
  writeFileSync(join(wt, "README.md"), "r".repeat(300)); // a tracked file changed: its new size
  rmSync(join(wt, "gone.txt")); // deleted: 0
  symlinkSync("README.md", join(wt, "link")); // a symbolic link: its target's length
  writeFileSync(join(wt, "data.bin"), Uint8Array.from({ length: 1234 }, (_, i) => i % 256)); // untracked
  const nested = join(wt, "inner"); // a nested repository: its gitlink counts 0
  mkdirSync(nested);
  git(nested, "init", "-q");
  commitFile(nested, "inner.txt", "i".repeat(777));
  const closed = await f.orchestrator.deleteSession(s.id, { force: true });
  const [snapshot] = (await f.orchestrator.listSnapshots(f.repository.id)).snapshots;
  assert.equal(snapshot.ref, closed!.snapshotRef);
  assert.equal(snapshot.changedPaths, 5);
  assert.equal(snapshot.bytes, 300 + "README.md".length + 1234);
  assert.equal(snapshot.bytes, changedBytes(f.repositoryPath, head, snapshot.ref));
  // big.txt, committed on the branch, is not part of the saved work.
  assert.ok(snapshot.bytes < 5000);
});

test("snapshots: a restore makes a new session with the snapshot's uncommitted and untracked work", async () => {
  using f = await worktreeFixture();
  const { ref, files, head } = await deletedWithWork(f, "lost");
  const restored = await f.orchestrator.restoreSnapshot(f.repository.id, ref, { title: "Found again" });
  assert.equal(restored.title, "Found again");
  assert.equal(restored.status, "active");
  assert.equal(restored.createdBranch, true);
  const wt = restored.worktreePath!;
  // Every byte and mode back, on a new branch at the commit the worktree had; the snapshot is on no branch.
  assert.deepEqual(worktreeContents(wt), files);
  assert.equal(git(wt, "rev-parse", "HEAD"), head);
  assert.equal(git(f.repositoryPath, "rev-parse", `refs/heads/${restored.branchName}`), head);
  assert.equal(git(wt, "symbolic-ref", "--short", "HEAD"), restored.branchName);
  // Nothing staged (a forced close does not record the index): changes are changes, new files untracked.
  assert.equal(git(wt, "diff", "--cached", "--name-only"), "");
  const status = worktreeStatus(wt).split("\n").map((line) => line.trim());
  for (const path of ["blob.bin", "new/deep/notes.md", "run.sh", "staged.txt", "both.txt"]) {
    assert.ok(status.includes(`?? ${path}`), `${path} untracked in ${status.join(" | ")}`);
  }
  assert.ok(status.includes("M README.md"), status.join(" | "));
  assert.ok(status.includes("D committed.txt"), status.join(" | "));
  // The ref stays, and the restore is one more create with a secret of its own.
  assert.deepEqual(refsUnder(f.repositoryPath, "refs/session-snapshots/"), [ref]);
  assert.equal((await f.orchestrator.resolveSessionSecret(restored.id))?.length, 32);
  // A second restore of the same snapshot is another session; the default title names the snapshot.
  const again = await f.orchestrator.restoreSnapshot(f.repository.id, ref);
  assert.equal(again.title, `Restored ${ref.slice("refs/session-snapshots/".length)}`);
  assert.deepEqual(worktreeContents(again.worktreePath!), files);
});

test("snapshots: an archive's snapshot restores into a new session with staged work staged", async () => {
  using f = await worktreeFixture();
  const source = await session(f, "archived");
  makeEveryKindOfWork(source.worktreePath!);
  const before = {
    files: worktreeContents(source.worktreePath!),
    status: worktreeStatus(source.worktreePath!),
    index: indexEntries(source.worktreePath!),
  };
  const { snapshotRef } = await f.orchestrator.archiveSession(source.id);
  const copy = await f.orchestrator.restoreSnapshot(f.repository.id, snapshotRef!);
  assert.deepEqual({
    files: worktreeContents(copy.worktreePath!),
    status: worktreeStatus(copy.worktreePath!),
    index: indexEntries(copy.worktreePath!),
  }, before);
  // The archived session is untouched and still restores itself.
  const back = await f.orchestrator.restoreSession(source.id);
  assert.equal(worktreeStatus(back.worktreePath!), before.status);
});

test("snapshots: prune deletes only snapshots of sessions that are gone; a dry run changes nothing", async () => {
  using f = await worktreeFixture();
  const first = await deletedWithWork(f, "one");
  const second = await deletedWithWork(f, "two");
  const live = await session(f, "live");
  commitFile(live.worktreePath!, "x.txt");
  writeFileSync(join(live.worktreePath!, "wip.txt"), "wip\n");
  const { snapshotRef: liveRef } = await f.orchestrator.archiveSession(live.id);
  const all = [first.ref, second.ref, liveRef!].sort();

  const dry = await f.orchestrator.pruneSnapshots(f.repository.id, { dryRun: true });
  assert.equal(dry.dryRun, true);
  assert.deepEqual(dry.pruned.map((s) => s.ref).sort(), [first.ref, second.ref].sort());
  assert.deepEqual(dry.kept.map((s) => s.ref), [liveRef]);
  assert.match(dry.kept[0].keptReason, /still exists/);
  assert.deepEqual(refsUnder(f.repositoryPath, "refs/session-snapshots/").sort(), all);

  // Nothing is a day old yet.
  const young = await f.orchestrator.pruneSnapshots(f.repository.id, { olderThanMs: 86_400_000 });
  assert.deepEqual({ pruned: young.pruned, kept: young.kept }, { pruned: [], kept: [] });

  const one = await f.orchestrator.pruneSnapshots(f.repository.id, { sessionId: first.source.id });
  assert.deepEqual(one.pruned.map((s) => s.ref), [first.ref]);
  assert.deepEqual(refsUnder(f.repositoryPath, "refs/session-snapshots/").sort(), [second.ref, liveRef!].sort());

  const rest = await f.orchestrator.pruneSnapshots(f.repository.id, {});
  assert.equal(rest.dryRun, false);
  assert.deepEqual(rest.pruned.map((s) => s.ref), [second.ref]);
  assert.deepEqual(refsUnder(f.repositoryPath, "refs/session-snapshots/"), [liveRef]);
  // The live session's snapshot is still its archive's: it restores.
  const back = await f.orchestrator.restoreSession(live.id);
  assert.equal(worktreeStatus(back.worktreePath!), "?? wip.txt");
});

test("snapshots: bad refs and options are refused before git runs, and nothing is written", async () => {
  using f = await worktreeFixture();
  const { ref } = await deletedWithWork(f, "source");
  const branchesBefore = branches(f.repositoryPath);
  const bad: unknown[] = [
    "refs/heads/main",
    "--output=/tmp/x",
    "HEAD",
    `${ref}~1`,
    `${ref}^{tree}`,
    "refs/session-snapshots/../heads/main",
    "refs/session-snapshots/not-a-uuid",
    `refs/session-snapshots/transfer-${crypto.randomUUID()}`,
    `${ref}.0`,
    ` ${ref}`,
    "",
    7,
    null,
  ];
  for (const value of bad) {
    await assert.rejects(
      f.orchestrator.restoreSnapshot(f.repository.id, value as string),
      kind("InvalidInput"),
      JSON.stringify(value),
    );
  }
  const unknown = `refs/session-snapshots/${crypto.randomUUID()}`;
  await assert.rejects(f.orchestrator.restoreSnapshot(f.repository.id, unknown), kind("SnapshotNotFound"));
  await assert.rejects(f.orchestrator.restoreSnapshot(f.repository.id, `${ref}.2`), kind("SnapshotNotFound"));
  await assert.rejects(f.orchestrator.restoreSnapshot(crypto.randomUUID(), ref), kind("RepositoryNotFound"));
  await assert.rejects(f.orchestrator.restoreSnapshot(f.repository.id, ref, { title: "" }), kind("InvalidInput"));
  await assert.rejects(
    f.orchestrator.restoreSnapshot(f.repository.id, ref, { base: "x" } as never),
    kind("InvalidInput"),
  );
  await assert.rejects(f.orchestrator.listSnapshots(crypto.randomUUID()), kind("RepositoryNotFound"));
  await assert.rejects(f.orchestrator.listSnapshots(f.repository.id, { sessionId: "x" }), kind("InvalidInput"));
  for (const options of [{ olderThanMs: -1 }, { olderThanMs: 1.5 }, { dryRun: "yes" }, { sessionId: "--all" }]) {
    await assert.rejects(
      f.orchestrator.pruneSnapshots(f.repository.id, options as never),
      kind("InvalidInput"),
      JSON.stringify(options),
    );
  }
  assert.deepEqual(await f.store.listSessions(), []);
  assert.deepEqual(branches(f.repositoryPath), branchesBefore);
  assert.deepEqual(extraWorktrees(f.repositoryPath), []);
  assert.deepEqual(refsUnder(f.repositoryPath, "refs/session-snapshots/"), [ref]);
});

test("snapshots: a dirty delete is refused with the paths a forced one would snapshot, as data", async () => {
  using f = await worktreeFixture();
  const s = await session(f, "dirty");
  const wt = s.worktreePath!;
  commitFile(wt, "old name.txt", "content\n");
  git(wt, "mv", "old name.txt", "new name.txt");
  writeFileSync(join(wt, "README.md"), "changed\n");
  writeFileSync(join(wt, "untracked.txt"), "new\n");
  const refusal = await f.orchestrator.deleteSession(s.id).then(
    () => assert.fail("a dirty worktree must be kept"),
    (error: unknown) => error,
  );
  assert.ok(refusal instanceof SessionError && refusal.kind === "Conflict");
  assert.equal(refusal.forceable, true);
  assert.deepEqual(refusal.details, {
    forceable: true,
    wouldSnapshot: true,
    dirtyPaths: ["README.md", "new name.txt", "untracked.txt"],
    dirtyPathCount: 3,
  });
  // Nothing was touched; the forced delete keeps a snapshot of exactly that work.
  assert.deepEqual(refsUnder(f.repositoryPath, "refs/session-snapshots/"), []);
  const closed = await f.orchestrator.deleteSession(s.id, { force: true });
  const { snapshots } = await f.orchestrator.listSnapshots(f.repository.id);
  assert.deepEqual(snapshots.map((x) => [x.ref, x.changedPaths]), [[closed!.snapshotRef, 4]]);
});

// A snapshot's restore is journaled as an open with a copy step (FORK_STEPS): killed at any step,
// its row written or not, it is undone by reconcile, and the snapshot stays to be restored again.
for (const step of FORK_STEPS) {
  test(`snapshots: a restore killed at ${step} is undone by reconcile, and the snapshot stays`, async () => {
    using f = await worktreeFixture();
    const { ref, files } = await deletedWithWork(f, "lost");
    const run = await runWorkerUntil(
      ["snapshot-at", f.databasePath, f.worktreesRoot, f.keyHex, f.repository.id, step, ref],
      `at ${step}`,
    );
    assert.ok(run.reached, run.stderr);
    const report = await f.orchestrator.reconcile();
    assert.deepEqual(report.findings.map((finding) => [finding.kind, finding.action]), [
      ["unfinished-open", "undone"],
    ]);
    assert.deepEqual(await f.store.listSessions(), []);
    assert.deepEqual(extraWorktrees(f.repositoryPath), []);
    assert.deepEqual(branches(f.repositoryPath), ["main", "session/lost"]);
    assert.deepEqual(refsUnder(f.repositoryPath, "refs/session-snapshots/"), [ref]);
    const found = await f.orchestrator.restoreSnapshot(f.repository.id, ref, { worktreeName: "found" });
    assert.deepEqual(worktreeContents(found.worktreePath!), files);
  });
}
