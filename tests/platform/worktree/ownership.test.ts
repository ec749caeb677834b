// What reconcile may remove after a killed open: only what the journal proves was that open's, never
// a folder, branch, row or secret that a later session holds under the same names.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SessionError } from "../../../mod.ts";
import { Journal, type JournalEntry } from "../../../src/platform/journal.ts";
import { branches, extraWorktrees, git, type WorktreeFixture, worktreeFixture } from "../../fixtures/git_fixtures.ts";

// The journal entry a process killed right after journaling an open leaves.
function killedOpen(f: WorktreeFixture, name: string, sessionId: string = crypto.randomUUID()): JournalEntry {
  return {
    op: "open",
    sessionId,
    repositoryId: f.repository.id,
    repositoryPath: f.repositoryPath,
    path: join(f.folder, name),
    branch: `session/${name}`,
    createdBranch: true,
    createdWorktree: true,
    baseRef: "main",
    force: false,
    deleteBranch: false,
    session: null,
    pid: 1,
    startedAt: new Date().toISOString(),
  };
}

const conflict = (pattern: RegExp) => (error: unknown) =>
  error instanceof SessionError && error.kind === "Conflict" && pattern.test(error.message);

test("an open is refused while a killed open of the same folder or branch awaits reconcile", async () => {
  using f = await worktreeFixture();
  const journal = new Journal(join(f.worktreesRoot, ".journal"));
  const dead = killedOpen(f, "dark-mode");
  await journal.write(dead);
  const open = (worktreeName: string, branchName?: string) =>
    f.orchestrator.createSession({
      repositoryId: f.repository.id,
      title: "Dark mode",
      isWorktree: true,
      worktreeName,
      branchName,
    });
  await assert.rejects(open("dark-mode"), conflict(new RegExp(`session ${dead.sessionId}.*run reconcile`)));
  await assert.rejects(open("other", "session/dark-mode"), conflict(/unfinished open/));
  assert.deepEqual(extraWorktrees(f.repositoryPath), []);

  const report = await f.orchestrator.reconcile();
  assert.deepEqual(report.findings.map((x) => [x.kind, x.action]), [["unfinished-open", "undone"]]);
  const session = await open("dark-mode");
  assert.deepEqual(extraWorktrees(f.repositoryPath), [session.worktreePath!]);
});

test("reconcile keeps a live session's worktree, work, branch, row and secret named by a killed open", async () => {
  using f = await worktreeFixture();
  const live = await f.orchestrator.createSession({
    repositoryId: f.repository.id,
    title: "Dark mode",
    isWorktree: true,
    worktreeName: "dark-mode",
  });
  writeFileSync(join(live.worktreePath!, "work.txt"), "uncommitted work");
  // As if the killed open's entry had been written after the live open checked the journal.
  await new Journal(join(f.worktreesRoot, ".journal")).write(killedOpen(f, "dark-mode"));

  const report = await f.orchestrator.reconcile();
  assert.deepEqual(report.findings.map((x) => [x.kind, x.action]), [["unfinished-open", "undone"]]);
  assert.match(report.findings[0].detail, new RegExp(`belongs to session ${live.id}`));
  assert.equal(readFileSync(join(live.worktreePath!, "work.txt"), "utf8"), "uncommitted work");
  assert.deepEqual(extraWorktrees(f.repositoryPath), [live.worktreePath!]);
  assert.ok(branches(f.repositoryPath).includes("session/dark-mode"));
  assert.ok(await f.store.getSession(live.id));
  assert.equal((await f.chain.resolve(live.id))?.length, 32);
});

test("reconcile never deletes a folder of files that is not a worktree of the journaled repository", async () => {
  using f = await worktreeFixture();
  // For example another repository's worktree in a shared sessionsPath: not registered here.
  const path = join(f.folder, "shared");
  mkdirSync(path, { recursive: true });
  writeFileSync(join(path, "data.txt"), "someone's");
  await new Journal(join(f.worktreesRoot, ".journal")).write(killedOpen(f, "shared"));
  const report = await f.orchestrator.reconcile();
  assert.deepEqual(report.findings.map((x) => [x.kind, x.action]), [
    ["unfinished-open", "undone"],
    ["unknown-folder", "none"],
  ]);
  assert.match(report.findings[0].detail, /not a worktree of .* kept/);
  assert.equal(readFileSync(join(path, "data.txt"), "utf8"), "someone's");
});

test("an existing session id is refused before anything is journaled; reconcile never deletes another's row", async () => {
  using f = await worktreeFixture();
  const first = await f.orchestrator.createSession({
    repositoryId: f.repository.id,
    title: "first",
    isWorktree: true,
    worktreeName: "first",
  });
  const events: string[] = [];
  const lifecycle = f.orchestratorWith({
    onStep: (step) => {
      events.push(step);
    },
  });
  await assert.rejects(
    lifecycle.createSession({
      repositoryId: f.repository.id,
      title: "again",
      isWorktree: true,
      worktreeName: "again",
      sessionId: first.id,
    }),
    conflict(/already exists/),
  );
  assert.deepEqual(events, []);
  assert.ok(!existsSync(join(f.folder, "again")));

  // A killed open that reused the id (journaled before the duplicate was found, as before the fix).
  await new Journal(join(f.worktreesRoot, ".journal")).write(killedOpen(f, "again", first.id));
  const report = await f.orchestrator.reconcile();
  assert.deepEqual(report.findings.map((x) => [x.kind, x.action]), [["unfinished-open", "undone"]]);
  assert.ok(await f.store.getSession(first.id));
  assert.equal((await f.chain.resolve(first.id))?.length, 32);
  assert.equal(git(first.worktreePath!, "rev-parse", "--abbrev-ref", "HEAD"), "session/first");
});
