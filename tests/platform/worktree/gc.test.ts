// orchestrator.gc on real worktrees: what landed and is clean is deleted (a merged branch with
// it, a squashed one kept), what landed with uncommitted work or sat idle is archived with its work
// saved and restorable, unmerged work is kept, a dry run changes nothing, and what gc did not make
// is never looked at. Also the route and `slo gc`-facing parsing.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gcDecision, parseDuration } from "../../../src/gc.ts";
import { SessionError } from "../../../src/errors.ts";
import type { Session } from "../../../src/types.ts";
import { branches, commitFile, git, worktreeFixture } from "../../fixtures/git_fixtures.ts";

type Fixture = Awaited<ReturnType<typeof worktreeFixture>>;

// A session with one commit of its own, then landed into main as `how` says.
async function landed(f: Fixture, title: string, how: "merge" | "squash" | "none") {
  const session = await f.orchestrator.createSession({ repositoryId: f.repository.id, title, isWorktree: true });
  commitFile(session.worktreePath!, `${title}.txt`, `${title}\n`);
  if (how === "merge") git(f.repositoryPath, "merge", "-q", "--no-ff", "-m", `merge ${title}`, session.branchName!);
  if (how === "squash") {
    // Two commits: a squash of one commit is also a cherry-pick, and reads as one.
    commitFile(session.worktreePath!, `${title}-2.txt`, `${title}\n`);
    git(f.repositoryPath, "merge", "-q", "--squash", session.branchName!);
    git(f.repositoryPath, "commit", "-q", "-m", `squash ${title}`);
  }
  return session;
}

test("gc: landed and clean is deleted (a merged branch with it, a squashed one kept), landed and dirty archived, unmerged kept", async () => {
  using f = await worktreeFixture();
  const merged = await landed(f, "merged", "merge");
  const squashed = await landed(f, "squashed", "squash");
  const dirty = await landed(f, "dirty", "merge");
  writeFileSync(join(dirty.worktreePath!, "notes.txt"), "not committed\n");
  const open = await landed(f, "open", "none");
  const plain = await f.orchestrator.createSession({
    repositoryId: f.repository.id,
    title: "plain",
    isWorktree: false,
  });

  const report = await f.orchestrator.gc();
  assert.equal(report.dryRun, false);
  const byId = new Map(report.findings.map((finding) => [finding.sessionId, finding]));
  assert.equal(byId.has(plain.id), false, "a session without a worktree is not gc's");
  assert.deepEqual(
    [merged, squashed, dirty, open].map((s) => {
      const finding = byId.get(s.id)!;
      return [s.title, finding.action, finding.landed, finding.deleteBranch, finding.done, finding.error];
    }),
    [
      ["merged", "delete", "merged", true, true, null],
      ["squashed", "delete", "squash-merged", false, true, null],
      ["dirty", "archive", "merged", false, true, null],
      ["open", "keep", null, false, false, null],
    ],
  );
  assert.ok(report.reclaimedBytes > 0);

  // Merged: worktree and branch gone, its commit in main.
  assert.equal(await f.orchestrator.getSession(merged.id), null);
  assert.equal(existsSync(merged.worktreePath!), false);
  assert.equal(branches(f.repositoryPath).includes(merged.branchName!), false);
  // Squashed: the worktree gone, the branch kept, since its own commit is not in main.
  assert.equal(await f.orchestrator.getSession(squashed.id), null);
  assert.equal(existsSync(squashed.worktreePath!), false);
  assert.ok(branches(f.repositoryPath).includes(squashed.branchName!));
  // Dirty: archived, its uncommitted file saved and back on restore.
  assert.equal((await f.orchestrator.getSession(dirty.id))?.status, "archived");
  assert.equal(existsSync(dirty.worktreePath!), false);
  await f.orchestrator.restoreSession(dirty.id);
  assert.equal(readFileSync(join(dirty.worktreePath!, "notes.txt"), "utf8"), "not committed\n");
  // Open: untouched.
  assert.equal((await f.orchestrator.getSession(open.id))?.status, "active");
  assert.ok(existsSync(join(open.worktreePath!, "open.txt")));
});

test("gc: a dry run reports the same decisions and changes nothing", async () => {
  using f = await worktreeFixture();
  const merged = await landed(f, "merged", "merge");
  const dirty = await landed(f, "dirty", "merge");
  writeFileSync(join(dirty.worktreePath!, "notes.txt"), "x\n");
  const before = { branches: branches(f.repositoryPath), rows: await f.orchestrator.listSessions() };
  const report = await f.orchestrator.gc({ dryRun: true });
  assert.equal(report.dryRun, true);
  assert.deepEqual(report.findings.map((x) => [x.title, x.action, x.done]), [
    ["merged", "delete", false],
    ["dirty", "archive", false],
  ]);
  assert.ok(report.reclaimedBytes > 0, "what it would free");
  assert.deepEqual(branches(f.repositoryPath), before.branches);
  assert.deepEqual(await f.orchestrator.listSessions(), before.rows);
  assert.ok(existsSync(merged.worktreePath!) && existsSync(join(dirty.worktreePath!, "notes.txt")));
});

test("gc: a session idle past the limit is archived with its work; within the limit it is kept", async () => {
  using f = await worktreeFixture();
  const session = await f.orchestrator.createSession({
    repositoryId: f.repository.id,
    title: "idle",
    isWorktree: true,
  });
  writeFileSync(join(session.worktreePath!, "draft.txt"), "work in progress\n");
  const kept = await f.orchestrator.gc({ idleMs: 3_600_000 });
  assert.deepEqual(kept.findings.map((x) => x.action), ["keep"]);
  // Time passes: the file's change and the row's last access are both older than 1 ms now.
  const since = Date.now();
  while (Date.now() - since < 5) await new Promise((resolve) => setTimeout(resolve, 1));
  const report = await f.orchestrator.gc({ idleMs: 1 });
  assert.deepEqual(report.findings.map((x) => [x.action, x.done]), [["archive", true]]);
  assert.match(report.findings[0].reason, /^idle since /);
  assert.equal((await f.orchestrator.getSession(session.id))?.status, "archived");
  await f.orchestrator.restoreSession(session.id);
  assert.equal(readFileSync(join(session.worktreePath!, "draft.txt"), "utf8"), "work in progress\n");
});

test("gc: a worktree the user brought (not made here) and an existing branch are never deleted", async () => {
  using f = await worktreeFixture();
  git(f.repositoryPath, "branch", "theirs");
  const session = await f.orchestrator.createSession({
    repositoryId: f.repository.id,
    title: "theirs",
    isWorktree: true,
    branchName: "theirs",
    useExistingBranch: true,
  });
  commitFile(session.worktreePath!, "theirs.txt");
  git(f.repositoryPath, "merge", "-q", "--no-ff", "-m", "merge theirs", "theirs");
  const report = await f.orchestrator.gc();
  // Merged and clean: the worktree goes, but the branch was the user's, so it stays.
  assert.deepEqual(report.findings.map((x) => [x.action, x.landed, x.deleteBranch, x.done]), [
    ["delete", "merged", false, true],
  ]);
  assert.ok(branches(f.repositoryPath).includes("theirs"));
});

test("gc: the decision and duration rules", () => {
  const now = Date.parse("2026-06-10T00:00:00Z");
  const session = {
    status: "active",
    createdBranch: true,
    lastAccessedAt: "2026-06-01T00:00:00Z",
  } as Session;
  const status = {
    dirty: false,
    ahead: 1,
    behind: 0,
    landed: null,
    diskBytes: 10,
    lastChangedAt: "2026-06-09T00:00:00Z",
  } as const;
  // Idle is measured from the later of the two: the file changed a day ago.
  assert.equal(gcDecision(session, status, now, parseDuration("2d")).action, "keep");
  assert.equal(gcDecision(session, status, now, parseDuration("12h")).action, "archive");
  assert.equal(gcDecision(session, { ...status, dirty: null }, now, undefined).action, "keep");
  // An archived session is deleted only when landed and clean; never archived again.
  const archived = { ...session, status: "archived" } as Session;
  assert.equal(gcDecision(archived, { ...status, landed: "merged" }, now, undefined).action, "delete");
  assert.equal(gcDecision(archived, { ...status, landed: "merged", dirty: true }, now, undefined).action, "keep");
  assert.equal(gcDecision(archived, status, now, parseDuration("1ms")).action, "keep");
  assert.equal(parseDuration("7d"), 7 * 86_400_000);
  assert.equal(parseDuration("500ms"), 500);
  for (const bad of ["", "7", "d", "-1d", "1.5h", "0s", "7 days", "99999999999999999w"]) {
    assert.throws(
      () => parseDuration(bad, "idle"),
      (error) => error instanceof SessionError && error.kind === "InvalidInput",
    );
  }
});
