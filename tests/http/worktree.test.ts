// The HTTP routes over the real WorktreeLifecycle: a real server, real git repositories, real
// SQLite; the same wiring as `deno task serve`.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { WorktreeLifecycle } from "../../src/platform/mod.ts";
import { acquireFileLock, repositoryLockPath } from "../../src/platform/_repository_lock.ts";
import { branches, extraWorktrees, git, makeRepository } from "../fixtures/git_fixtures.ts";
import { startTestApp, type TestServer } from "../fixtures/http_fixture.ts";
import { asyncDisposable } from "../fixtures/disposable.ts";
import { tempDir } from "../fixtures/helpers.ts";

async function withWorktreeServer(
  run: (t: TestServer, repositoryPath: string, repositoryId: string) => Promise<void>,
  lockTimeoutMs?: number,
) {
  using repoDir = tempDir("slo-http-repo-");
  const repositoryPath = join(repoDir.path, "repo");
  makeRepository(repositoryPath);
  let worktreesRoot = "";
  await using t = await startTestApp({
    lifecycle: () => {
      worktreesRoot = join(repoDir.path, "worktrees");
      return new WorktreeLifecycle({ worktreesRoot, lockTimeoutMs });
    },
  });
  const created = await t.callJson("/v1/repositories", {
    method: "POST",
    json: { path: repositoryPath, name: "repo", isGitRepository: true },
  });
  assert.equal(created.status, 201);
  await run(t, repositoryPath, created.body.id);
}

test("http+git: POST makes a real worktree on a new branch, DELETE removes it and, asked, the branch", async () => {
  await withWorktreeServer(async (t, repositoryPath, repositoryId) => {
    const created = await t.callJson("/v1/sessions", {
      method: "POST",
      json: { repositoryId, title: "Dark mode", isWorktree: true, worktreeName: "dark mode ü" },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const session = created.body;
    assert.ok(session.worktreePath.endsWith(`/${repositoryId}/dark mode ü`));
    assert.equal(session.createdWorktree, true);
    assert.equal(session.createdBranch, true);
    assert.equal(git(session.worktreePath, "rev-parse", "--abbrev-ref", "HEAD"), session.branchName);
    assert.deepEqual(extraWorktrees(repositoryPath), [session.worktreePath]);
    assert.equal(git(repositoryPath, "status", "--porcelain"), "");
    // The secret was provisioned with the session.
    assert.equal((await t.callJson(`/v1/sessions/${session.id}/secret`)).status, 200);

    const closed = await t.callJson(`/v1/sessions/${session.id}?deleteBranch=true`, { method: "DELETE" });
    assert.equal(closed.status, 200, JSON.stringify(closed.body));
    assert.equal(closed.body.worktreeRemoved, true);
    assert.equal(closed.body.worktreeKeptReason, null);
    assert.equal(closed.body.branchDeleted, true);
    assert.ok(!existsSync(session.worktreePath));
    assert.deepEqual(extraWorktrees(repositoryPath), []);
    assert.deepEqual(branches(repositoryPath), ["main"]);
    assert.equal((await t.callJson(`/v1/sessions/${session.id}`)).status, 404);
  });
});

test("http+git: a dirty worktree is 409 and kept; ?force=true removes it", async () => {
  await withWorktreeServer(async (t, repositoryPath, repositoryId) => {
    const { body: session } = await t.callJson("/v1/sessions", {
      method: "POST",
      json: { repositoryId, title: "Work", isWorktree: true, worktreeName: "work" },
    });
    writeFileSync(join(session.worktreePath, "notes.txt"), "unsaved work\n");
    const refused = await t.callJson(`/v1/sessions/${session.id}`, { method: "DELETE" });
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error.kind, "Conflict");
    assert.match(refused.body.error.message, /retry with \?force=true \(a snapshot of 1 changed path is kept first/);
    assert.doesNotMatch(refused.body.error.message, /--force/);
    assert.deepEqual(refused.body.error.details, {
      forceable: true,
      wouldSnapshot: true,
      dirtyPaths: ["notes.txt"],
      dirtyPathCount: 1,
    });
    assert.ok(existsSync(join(session.worktreePath, "notes.txt")));
    assert.equal((await t.callJson(`/v1/sessions/${session.id}`)).status, 200);
    assert.equal((await t.callJson(`/v1/sessions/${session.id}/secret`)).status, 200);

    const forced = await t.callJson(`/v1/sessions/${session.id}?force=true`, { method: "DELETE" });
    assert.equal(forced.status, 200);
    assert.ok(!existsSync(session.worktreePath));
    // The branch is kept by default.
    assert.deepEqual(branches(repositoryPath), ["main", session.branchName].sort());
  });
});

test("http+git: bad names are refused before git runs, and an existing branch is 409", async () => {
  await withWorktreeServer(async (t, repositoryPath, repositoryId) => {
    for (const worktreeName of ["--upload-pack=evil", "-b", "../../x", "/etc/passwd"]) {
      const response = await t.callJson("/v1/sessions", {
        method: "POST",
        json: { repositoryId, title: "x", isWorktree: true, worktreeName },
      });
      assert.equal(response.status, 400, worktreeName);
    }
    git(repositoryPath, "branch", "taken");
    const taken = await t.callJson("/v1/sessions", {
      method: "POST",
      json: { repositoryId, title: "x", isWorktree: true, worktreeName: "taken-wt", branchName: "taken" },
    });
    assert.equal(taken.status, 409);
    assert.deepEqual(extraWorktrees(repositoryPath), []);
    assert.deepEqual((await t.callJson("/v1/sessions")).body.sessions, []);
  });
});

test("http+git: POST /v1/reconcile reports on a dry run and repairs a deleted worktree otherwise", async () => {
  await withWorktreeServer(async (t, repositoryPath, repositoryId) => {
    const { body: session } = await t.callJson("/v1/sessions", {
      method: "POST",
      json: { repositoryId, title: "Lost", isWorktree: true, worktreeName: "lost" },
    });
    rmSync(session.worktreePath, { recursive: true, force: true });
    const stray = join(session.worktreePath, "..", "not-ours");
    mkdirSync(stray);

    const dry = await t.callJson("/v1/reconcile?dryRun=true", { method: "POST" });
    assert.equal(dry.status, 200);
    assert.equal(dry.body.dryRun, true);
    assert.ok(dry.body.findings.every((f: { action: string }) => f.action === "none"));
    assert.ok(dry.body.findings.some((f: { kind: string }) => f.kind === "missing-worktree"));
    assert.ok(!existsSync(session.worktreePath));

    const real = await t.callJson("/v1/reconcile", { method: "POST" });
    assert.equal(real.status, 200);
    const missing = real.body.findings.find((f: { kind: string }) => f.kind === "missing-worktree");
    assert.equal(missing.action, "recreated");
    assert.ok(existsSync(join(session.worktreePath, "README.md")));
    assert.equal(git(session.worktreePath, "rev-parse", "--abbrev-ref", "HEAD"), session.branchName);
    // A folder nothing proves we made is reported and kept.
    const unknown = real.body.findings.find((f: { path: string | null }) => f.path === stray);
    assert.equal(unknown.action, "none");
    assert.ok(existsSync(stray));
    assert.equal(git(repositoryPath, "status", "--porcelain"), "");
  });
});

test("http+git: a session whose repository checkout is gone still closes, keeping its folder and saying why", async () => {
  await withWorktreeServer(async (t, repositoryPath, repositoryId) => {
    const { body: session } = await t.callJson("/v1/sessions", {
      method: "POST",
      json: { repositoryId, title: "Orphaned", isWorktree: true, worktreeName: "orphaned" },
    });
    rmSync(repositoryPath, { recursive: true, force: true });
    const closed = await t.callJson(`/v1/sessions/${session.id}`, { method: "DELETE" });
    assert.equal(closed.status, 200, JSON.stringify(closed.body));
    assert.equal(closed.body.worktreeRemoved, false);
    assert.match(closed.body.worktreeKeptReason, /./);
    assert.ok(existsSync(session.worktreePath));
    assert.equal((await t.callJson(`/v1/repositories/${repositoryId}`, { method: "DELETE" })).status, 200);
  });
});

test("http+git: only a refusal that force overrides points to ?force=true; a busy repository does not", async () => {
  await withWorktreeServer(async (t, repositoryPath, repositoryId) => {
    const { body: session } = await t.callJson("/v1/sessions", {
      method: "POST",
      json: { repositoryId, title: "Busy", isWorktree: true, worktreeName: "busy" },
    });
    // Another process holds the repository's lock for longer than this server waits.
    {
      await using _lock = asyncDisposable(
        await acquireFileLock(repositoryLockPath(join(repositoryPath, ".git"))),
        (release) => release(),
      );
      const refused = await t.callJson(`/v1/sessions/${session.id}`, { method: "DELETE" });
      assert.equal(refused.status, 409);
      assert.equal(refused.body.error.kind, "Conflict");
      assert.doesNotMatch(refused.body.error.message, /force/);
      assert.equal(refused.body.error.forceable, undefined);
    }
    writeFileSync(join(session.worktreePath, "notes.txt"), "unsaved work\n");
    const dirty = await t.callJson(`/v1/sessions/${session.id}`, { method: "DELETE" });
    assert.equal(dirty.status, 409);
    assert.equal(dirty.body.error.forceable, true);
    assert.match(dirty.body.error.message, /retry with \?force=true/);
    const forced = await t.callJson(`/v1/sessions/${session.id}?force=true`, { method: "DELETE" });
    assert.equal(forced.status, 200);
    assert.equal(forced.body.snapshotRef, `refs/session-snapshots/${session.id}`);
  }, 300);
});
