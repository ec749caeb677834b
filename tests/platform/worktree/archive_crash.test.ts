// An archive or a restore killed midway, in a real child process: the session is whole (archived
// with its snapshot, or active with its work), and reconcile finishes or undoes the phase.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  git,
  refsUnder as refs,
  runWorkerUntil,
  type WorktreeFixture,
  worktreeFixture,
  worktreeStatus as status,
} from "../../fixtures/git_fixtures.ts";
import { killDuringRemoval, manyFiles } from "../../fixtures/removal_kill.ts";

function journal(f: WorktreeFixture): string[] {
  const folder = join(f.worktreesRoot, ".journal");
  return existsSync(folder) ? readdirSync(folder) : [];
}

async function workSession(f: WorktreeFixture, name: string) {
  const session = await f.orchestrator.createSession({
    repositoryId: f.repository.id,
    title: name,
    worktreeName: name,
    isWorktree: true,
  });
  const wt = session.worktreePath!;
  writeFileSync(join(wt, "README.md"), "hello\nchanged\n");
  writeFileSync(join(wt, "staged.txt"), "staged\n");
  git(wt, "add", "staged.txt");
  writeFileSync(join(wt, "untracked.txt"), "untracked\n");
  return session;
}

async function runStep(f: WorktreeFixture, mode: "archive-at" | "restore-at", id: string, step: string) {
  const run = await runWorkerUntil([mode, f.databasePath, f.worktreesRoot, f.keyHex, id, step], `at ${step}`);
  assert.ok(run.reached, run.stderr);
}

test("an archive killed before its removal began is undone: the session stays active with its work", async () => {
  using f = await worktreeFixture();
  const session = await workSession(f, "early");
  const wt = session.worktreePath!;
  const before = status(wt);
  await runStep(f, "archive-at", session.id, "archive:journal");
  assert.deepEqual(journal(f), [`${session.id}.json`]);
  // Another archive waits for reconcile rather than overwrite what the journal needs.
  await assert.rejects(f.orchestrator.archiveSession(session.id), /unfinished archive/);
  const report = await f.orchestrator.reconcile();
  assert.deepEqual(report.findings.map((x) => [x.kind, x.action]), [["unfinished-archive", "undone"]]);
  assert.equal((await f.store.getSession(session.id))?.status, "active");
  assert.equal(status(wt), before);
  assert.deepEqual(refs(f.repositoryPath, "refs/session-archives/"), []);
  assert.deepEqual(journal(f), []);
  // And it archives once the journal is clear.
  assert.notEqual((await f.orchestrator.archiveSession(session.id)).snapshotRef, null);
});

test("an archive killed in the middle of the removal is finished with its snapshot, and restores whole", async () => {
  using f = await worktreeFixture();
  const session = await workSession(f, "big");
  const wt = session.worktreePath!;
  const files = manyFiles(wt);
  const before = status(wt);
  await killDuringRemoval(
    ["archive-at", f.databasePath, f.worktreesRoot, f.keyHex, session.id, "never"],
    wt,
  );
  // The journal records the snapshot and the archive, taken before the removal began.
  const entry = JSON.parse(readFileSync(join(f.worktreesRoot, ".journal", `${session.id}.json`), "utf8"));
  const ref = `refs/session-snapshots/${session.id}`;
  assert.equal(entry.removing, true);
  assert.deepEqual(entry.snapshot, { ref, commit: git(f.repositoryPath, "rev-parse", ref) });
  assert.equal((await f.store.getSession(session.id))?.status, "active");

  const report = await f.orchestrator.reconcile();
  assert.deepEqual(report.findings.map((x) => [x.kind, x.action]), [["unfinished-archive", "finished"]]);
  assert.ok(!existsSync(wt));
  assert.equal((await f.store.getSession(session.id))?.status, "archived");
  assert.deepEqual(refs(f.repositoryPath, "refs/session-snapshots/"), [ref]);
  assert.deepEqual((await f.orchestrator.reconcile()).findings, []);

  await f.orchestrator.restoreSession(session.id);
  assert.equal(status(wt), before);
  for (const path of files.slice(0, 50)) assert.ok(existsSync(join(wt, path)), path);
  assert.equal(
    readFileSync(join(wt, files.at(-1)!), "utf8"),
    `${files.at(-1)!.replace(/^d(\d+)\/f(\d+)\.txt$/, "$1/$2")}\n`,
  );
});

test("an archive killed after its removal, before its row step, is finished by reconcile", async () => {
  using f = await worktreeFixture();
  const session = await workSession(f, "late");
  await runStep(f, "archive-at", session.id, "archive:worktree");
  assert.ok(!existsSync(session.worktreePath!));
  assert.equal((await f.store.getSession(session.id))?.status, "active");
  const report = await f.orchestrator.reconcile();
  assert.deepEqual(report.findings.map((x) => [x.kind, x.action]), [["unfinished-archive", "finished"]]);
  assert.equal((await f.store.getSession(session.id))?.status, "archived");
  await f.orchestrator.restoreSession(session.id);
  assert.equal(readFileSync(join(session.worktreePath!, "untracked.txt"), "utf8"), "untracked\n");
});

test("a restore killed while putting the work back is undone: the session stays archived with its snapshot", async () => {
  using f = await worktreeFixture();
  const session = await workSession(f, "restore-early");
  const wt = session.worktreePath!;
  const before = status(wt);
  const archived = await f.orchestrator.archiveSession(session.id);
  await runStep(f, "restore-at", session.id, "restore:changes");
  // Killed with the worktree back and its work in it, the row still archived.
  assert.ok(existsSync(wt));
  assert.equal((await f.store.getSession(session.id))?.status, "archived");
  await assert.rejects(f.orchestrator.deleteSession(session.id), /unfinished restore/);
  const report = await f.orchestrator.reconcile();
  assert.deepEqual(report.findings.map((x) => [x.kind, x.action]), [["unfinished-restore", "undone"]]);
  assert.ok(!existsSync(wt));
  assert.equal(git(f.repositoryPath, "worktree", "list", "--porcelain").match(/^worktree /gm)?.length, 1);
  assert.equal((await f.store.getSession(session.id))?.status, "archived");
  assert.deepEqual(refs(f.repositoryPath, "refs/session-snapshots/"), [archived.snapshotRef]);
  assert.deepEqual(refs(f.repositoryPath, "refs/session-archives/"), [`refs/session-archives/${session.id}`]);
  await f.orchestrator.restoreSession(session.id);
  assert.equal(status(wt), before);
});

test("a restore killed after its row step is finished by reconcile: active, with its work", async () => {
  using f = await worktreeFixture();
  const session = await workSession(f, "restore-late");
  const wt = session.worktreePath!;
  const before = status(wt);
  await f.orchestrator.archiveSession(session.id);
  await runStep(f, "restore-at", session.id, "restore:row");
  assert.equal((await f.store.getSession(session.id))?.status, "active");
  const report = await f.orchestrator.reconcile();
  assert.deepEqual(report.findings.map((x) => [x.kind, x.action]), [["unfinished-restore", "finished"]]);
  assert.equal(status(wt), before);
  assert.deepEqual(refs(f.repositoryPath, "refs/session-archives/"), []);
  assert.deepEqual(journal(f), []);
  assert.deepEqual((await f.orchestrator.reconcile()).findings, []);
});
