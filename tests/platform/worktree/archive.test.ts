// Archive and restore of worktree sessions on real git: the work comes back byte for byte (staged
// as staged, untracked as untracked, modes and binary files included), a snapshot never lands on
// the branch, refusals change nothing, and an archived session can still be deleted.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateDatabaseKey, type LifecycleEvent, LifecycleEvents, SessionSecretChain } from "../../../mod.ts";
import {
  branches,
  commitFile,
  extraWorktrees,
  git,
  indexEntries as index,
  makeEveryKindOfWork as makeWork,
  orchestratorOver,
  refsUnder as refs,
  worktreeContents as contents,
  worktreeFixture,
  worktreeStatus as status,
} from "../../fixtures/git_fixtures.ts";
import { errorOfKind as kind, openSqliteFile } from "../../fixtures/helpers.ts";
import { namedWorktreeSession as session } from "../../fixtures/git_fixtures.ts";

test("archive saves tracked, staged and untracked work, removes the folder, keeps branch, row and secret; restore gives it all back", async () => {
  using f = await worktreeFixture();
  const events = new LifecycleEvents();
  const seen: LifecycleEvent[] = [];
  events.subscribe((event) => seen.push(event));
  const orchestrator = f.orchestratorWith({ events });
  const s = await session(f, "work");
  const wt = s.worktreePath!;
  makeWork(wt);
  const before = { files: contents(wt), status: status(wt), index: index(wt), head: git(wt, "rev-parse", "HEAD") };
  const secret = await orchestrator.resolveSessionSecret(s.id);

  const archived = await orchestrator.archiveSession(s.id);
  assert.equal(archived.session.status, "archived");
  assert.equal(archived.session.worktreePath, wt);
  assert.equal(archived.snapshotRef, `refs/session-snapshots/${s.id}`);
  assert.equal(archived.branch, s.branchName);
  assert.equal(archived.head, before.head);
  assert.equal(archived.worktreeRemoved, true);
  assert.ok(!existsSync(wt));
  assert.deepEqual(extraWorktrees(f.repositoryPath), []);
  assert.equal(git(f.repositoryPath, "rev-parse", s.branchName!), before.head);
  assert.equal((await f.store.getSession(s.id))?.status, "archived");
  assert.deepEqual(await orchestrator.resolveSessionSecret(s.id), secret);
  assert.deepEqual(refs(f.repositoryPath, "refs/session-archives/"), [`refs/session-archives/${s.id}`]);
  // The snapshot holds the work as files; its first parent is the branch's commit.
  assert.equal(git(f.repositoryPath, "rev-parse", `${archived.snapshotRef}^1`), before.head);
  assert.equal(git(f.repositoryPath, "show", `${archived.snapshotRef}:new/deep/notes.md`), "untracked\r\nwith CRLF");

  const restored = await orchestrator.restoreSession(s.id);
  assert.equal(restored.status, "active");
  assert.equal(restored.worktreePath, wt);
  assert.deepEqual(contents(wt), before.files);
  assert.equal(status(wt), before.status);
  assert.equal(index(wt), before.index);
  assert.equal(git(wt, "rev-parse", "HEAD"), before.head);
  assert.equal(git(wt, "symbolic-ref", "--short", "HEAD"), s.branchName);
  // The snapshot never landed on the branch, and it stays; the archive record is dropped.
  assert.equal(git(f.repositoryPath, "rev-parse", s.branchName!), before.head);
  assert.deepEqual(refs(f.repositoryPath, "refs/session-snapshots/"), [archived.snapshotRef]);
  assert.deepEqual(refs(f.repositoryPath, "refs/session-archives/"), []);
  assert.deepEqual(
    seen.map((event) => [event.type, "session" in event ? event.session.status : null]),
    [["session.archived", "archived"], ["session.restored", "active"]],
  );
  assert.deepEqual(readdirSync(join(f.worktreesRoot, ".journal")), []);
  // The restored session lives on: archived again, its second snapshot has a ref of its own.
  writeFileSync(join(wt, "later.txt"), "more\n");
  const again = await orchestrator.archiveSession(s.id);
  assert.equal(again.snapshotRef, `refs/session-snapshots/${s.id}.2`);
  await orchestrator.restoreSession(s.id);
  assert.equal(readFileSync(join(wt, "later.txt"), "utf8"), "more\n");
  assert.deepEqual((await orchestrator.reconcile()).findings, []);
});

test("a clean worktree is archived without a snapshot and restored clean; reconcile leaves the archived session alone", async () => {
  using f = await worktreeFixture();
  const s = await session(f, "clean");
  const tip = commitFile(s.worktreePath!, "done.txt");
  const archived = await f.orchestrator.archiveSession(s.id);
  assert.equal(archived.snapshotRef, null);
  assert.equal(archived.head, tip);
  assert.deepEqual(refs(f.repositoryPath, "refs/session-snapshots/"), []);
  // Reconcile never recreates an archived session's folder.
  assert.deepEqual((await f.orchestrator.reconcile()).findings, []);
  assert.ok(!existsSync(s.worktreePath!));
  const restored = await f.orchestrator.restoreSession(s.id);
  assert.equal(restored.status, "active");
  assert.equal(status(s.worktreePath!), "");
  assert.equal(git(s.worktreePath!, "rev-parse", "HEAD"), tip);
});

test("restore is refused with nothing changed when the folder is taken, the branch is checked out elsewhere, gone, or moved under saved work", async () => {
  using f = await worktreeFixture();
  const s = await session(f, "taken");
  const wt = s.worktreePath!;
  writeFileSync(join(wt, "work.txt"), "mine\n");
  const archived = await f.orchestrator.archiveSession(s.id);
  const unchanged = async () => {
    assert.equal((await f.store.getSession(s.id))?.status, "archived");
    assert.deepEqual(refs(f.repositoryPath, "refs/session-archives/"), [`refs/session-archives/${s.id}`]);
    assert.deepEqual(readdirSync(join(f.worktreesRoot, ".journal")), []);
    assert.equal(git(f.repositoryPath, "rev-parse", s.branchName!), archived.head);
  };

  mkdirSync(wt);
  writeFileSync(join(wt, "someone-else.txt"), "theirs\n");
  await assert.rejects(f.orchestrator.restoreSession(s.id), (error: unknown) => {
    assert.ok(kind("Conflict")(error));
    assert.match((error as Error).message, /is taken/);
    return true;
  });
  assert.deepEqual(readdirSync(wt), ["someone-else.txt"]);
  await unchanged();
  // Reconcile reports the folder in the way, and leaves it.
  assert.deepEqual(
    (await f.orchestrator.reconcile()).findings.map((x) => [x.kind, x.action, x.sessionId]),
    [["archived-folder-taken", "none", s.id]],
  );
  assert.deepEqual(readdirSync(wt), ["someone-else.txt"]);
  // An empty folder is someone's too: kept.
  rmSync(join(wt, "someone-else.txt"));
  await assert.rejects(f.orchestrator.restoreSession(s.id), kind("Conflict"));
  assert.ok(existsSync(wt));
  rmSync(wt, { recursive: true });

  // Checked out in the main checkout.
  git(f.repositoryPath, "checkout", "-q", s.branchName!);
  await assert.rejects(f.orchestrator.restoreSession(s.id), /checked out at/);
  git(f.repositoryPath, "checkout", "-q", "main");
  assert.ok(!existsSync(wt));
  await unchanged();

  // Moved: the saved work was made on the old commit, so it is not put on the new one.
  const moved = commitFile(f.repositoryPath, "elsewhere.txt");
  git(f.repositoryPath, "branch", "-f", s.branchName!, moved);
  await assert.rejects(f.orchestrator.restoreSession(s.id), /moved from/);
  git(f.repositoryPath, "branch", "-f", s.branchName!, archived.head);
  await unchanged();

  // Gone.
  git(f.repositoryPath, "branch", "-D", s.branchName!);
  await assert.rejects(f.orchestrator.restoreSession(s.id), /no longer exists/);
  git(f.repositoryPath, "branch", s.branchName!, archived.head);
  await unchanged();
  assert.ok(!existsSync(wt));

  // With the way clear, it restores.
  await f.orchestrator.restoreSession(s.id);
  assert.equal(readFileSync(join(wt, "work.txt"), "utf8"), "mine\n");
});

test("a clean archive whose branch moved meanwhile is restored on the branch where it is now", async () => {
  using f = await worktreeFixture();
  const s = await session(f, "moved");
  await f.orchestrator.archiveSession(s.id);
  const moved = commitFile(f.repositoryPath, "upstream.txt");
  git(f.repositoryPath, "branch", "-f", s.branchName!, moved);
  await f.orchestrator.restoreSession(s.id);
  assert.equal(git(s.worktreePath!, "rev-parse", "HEAD"), moved);
  assert.equal(status(s.worktreePath!), "");
});

test("an archived session is deleted with its cleanup data: nothing on disk to remove, its branch as a close handles it, its snapshot kept", async () => {
  using f = await worktreeFixture();
  const kept = await session(f, "kept");
  writeFileSync(join(kept.worktreePath!, "work.txt"), "saved\n");
  const archived = await f.orchestrator.archiveSession(kept.id);
  const closed = await f.orchestrator.deleteSession(kept.id, { deleteBranch: true });
  assert.equal(closed?.session.id, kept.id);
  assert.equal(closed?.session.status, "archived");
  assert.equal(closed?.worktreeRemoved, false);
  assert.equal(closed?.worktreeKeptReason, null);
  assert.equal(closed?.snapshotRef, archived.snapshotRef);
  // It made the branch and the branch has nothing of its own: deleted, as a close deletes it.
  assert.equal(closed?.branchDeleted, true);
  assert.equal(await f.store.getSession(kept.id), null);
  assert.equal(await f.orchestrator.resolveSessionSecret(kept.id), null);
  assert.deepEqual(refs(f.repositoryPath, "refs/session-archives/"), []);
  assert.equal(git(f.repositoryPath, "show", `${archived.snapshotRef}:work.txt`), "saved");

  // A branch with commits of its own is kept without force, and one that moved since is never deleted.
  const ahead = await session(f, "ahead");
  commitFile(ahead.worktreePath!, "mine.txt");
  await f.orchestrator.archiveSession(ahead.id);
  const aheadClosed = await f.orchestrator.deleteSession(ahead.id, { deleteBranch: true });
  assert.equal(aheadClosed?.branchDeleted, false);
  assert.match(aheadClosed?.branchKeptReason ?? "", /commit\(s\) on neither/);
  const moved = await session(f, "moved");
  await f.orchestrator.archiveSession(moved.id);
  git(f.repositoryPath, "branch", "-f", moved.branchName!, commitFile(f.repositoryPath, "other.txt"));
  const movedClosed = await f.orchestrator.deleteSession(moved.id, { deleteBranch: true, force: true });
  assert.equal(movedClosed?.branchDeleted, false);
  assert.match(movedClosed?.branchKeptReason ?? "", /has moved/);
  assert.deepEqual(branches(f.repositoryPath), ["main", ahead.branchName!, moved.branchName!].sort());
});

test("archive and restore refuse what they cannot do whole, and only archive sets the archived status", async () => {
  using f = await worktreeFixture();
  await assert.rejects(f.orchestrator.archiveSession(crypto.randomUUID()), kind("SessionNotFound"));
  await assert.rejects(f.orchestrator.restoreSession(crypto.randomUUID()), kind("SessionNotFound"));
  await assert.rejects(f.orchestrator.archiveSession("not-an-id"), kind("InvalidInput"));
  const plain = await f.orchestrator.createSession({ repositoryId: f.repository.id, title: "p", isWorktree: false });
  await assert.rejects(f.orchestrator.archiveSession(plain.id), (error: unknown) => {
    assert.ok(kind("InvalidInput")(error));
    assert.match((error as Error).message, /has no worktree/);
    return true;
  });
  const s = await session(f, "rules");
  await assert.rejects(f.orchestrator.restoreSession(s.id), kind("Conflict"));
  await assert.rejects(f.orchestrator.updateSession(s.id, { status: "archived" }), kind("InvalidInput"));
  assert.equal((await f.store.getSession(s.id))?.status, "active");
  // Not on its branch, mid-merge, or holding a nested repository: refused, with the worktree untouched.
  git(s.worktreePath!, "checkout", "-q", "--detach");
  await assert.rejects(f.orchestrator.archiveSession(s.id), /detached HEAD/);
  git(s.worktreePath!, "checkout", "-q", s.branchName!);
  // In the middle of a merge (a conflict stopped it): its state would go with the folder.
  commitFile(s.worktreePath!, "clash.txt", "ours\n");
  git(f.repositoryPath, "checkout", "-q", "-b", "theirs", "main");
  commitFile(f.repositoryPath, "clash.txt", "theirs\n");
  git(f.repositoryPath, "checkout", "-q", "main");
  assert.throws(() => git(s.worktreePath!, "merge", "-q", "theirs"));
  await assert.rejects(f.orchestrator.archiveSession(s.id), /in the middle of a merge/);
  git(s.worktreePath!, "merge", "--abort");
  // Another machine's session is archived by its own server only.
  await assert.rejects(
    f.orchestratorWith({ hostId: "elsewhere" }).archiveSession(
      (await f.orchestratorWith({ hostId: "here" }).createSession({
        repositoryId: f.repository.id,
        title: "theirs",
        isWorktree: true,
      })).id,
    ),
    /on another machine/,
  );
  const inner = join(s.worktreePath!, "vendor", "lib");
  mkdirSync(inner, { recursive: true });
  git(inner, "init", "-q");
  await assert.rejects(f.orchestrator.archiveSession(s.id), /holds the repository vendor\/lib/);
  assert.ok(existsSync(join(inner, ".git")));
  rmSync(join(s.worktreePath!, "vendor"), { recursive: true });
  assert.deepEqual(readdirSync(join(f.worktreesRoot, ".journal")), []);
  assert.deepEqual(refs(f.repositoryPath, "refs/session-archives/"), []);

  await f.orchestrator.archiveSession(s.id);
  await assert.rejects(f.orchestrator.archiveSession(s.id), kind("Conflict"));
  await assert.rejects(f.orchestrator.updateSession(s.id, { status: "active" }), kind("Conflict"));
  // Fields other than the status still change.
  assert.equal((await f.orchestrator.updateSession(s.id, { title: "renamed" }))?.title, "renamed");
  assert.equal((await f.store.getSession(s.id))?.status, "archived");
});

test("over a store with an event log, archive and restore are logged as their own events, with the changed row", async () => {
  using f = await worktreeFixture();
  using store = openSqliteFile(join(f.dir, "logged.db"), { eventLog: true });
  const chain = new SessionSecretChain({ store, databaseKey: await generateDatabaseKey() });
  const orchestrator = orchestratorOver({ store, chain, worktreesRoot: join(f.dir, "logged-worktrees") });
  const repository = await orchestrator.createRepository({
    path: f.repositoryPath,
    name: "r",
    isGitRepository: true,
  });
  const s = await orchestrator.createSession({ repositoryId: repository.id, title: "logged", isWorktree: true });
  await orchestrator.archiveSession(s.id);
  await orchestrator.restoreSession(s.id);
  const logged = (await store.eventLog!.readAfter("0", 10)).events.map(({ event }) => event);
  assert.deepEqual(
    logged.map((event) => [event.type, "session" in event ? event.session.status : null]),
    [["repository.created", null], ["session.created", "active"], ["session.archived", "archived"], [
      "session.restored",
      "active",
    ]],
  );
});
