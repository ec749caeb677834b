// Issue 23, a pool of ready worktrees: a create from the default branch claims one (moved to the
// session's folder, its branch made there) instead of checking out every file, on real git; a dirty
// or stale entry is dropped and the create is cold; the pool refills after a claim and follows the
// base branch; a process killed while filling leaves nothing that reconcile does not remove.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { checkRepositorySettings, SessionOrchestrator } from "../../../mod.ts";
import { WorktreeLifecycle } from "../../../src/platform/mod.ts";
import { startTestApp } from "../../fixtures/http_fixture.ts";
import { asyncDeferred, tempDir } from "../../fixtures/helpers.ts";
import { apiCaller, serveProcess } from "../../fixtures/server_process.ts";
import {
  assertNothingLeft,
  commitFile,
  extraWorktrees,
  git,
  makeRepository,
  runWorkerUntil,
  type WorktreeFixture,
  worktreeFixture,
} from "../../fixtures/git_fixtures.ts";

function poolFolder(f: WorktreeFixture): string {
  return join(f.worktreesRoot, ".pool", f.repository.id);
}

// Ready worktrees (folders) of the pool, and their lease files.
function poolEntries(f: WorktreeFixture): { folders: string[]; leases: string[] } {
  let names: string[] = [];
  try {
    names = readdirSync(poolFolder(f));
  } catch {
    // No pool folder yet.
  }
  return {
    folders: names.filter((name) => !name.endsWith(".json")).sort(),
    leases: names.filter((name) => name.endsWith(".json")).sort(),
  };
}

async function pooled(
  f: WorktreeFixture,
  size: number,
): Promise<{ lifecycle: WorktreeLifecycle; orchestrator: SessionOrchestrator }> {
  const lifecycle = f.lifecycleWith({ pool: size, logError: () => {} });
  const orchestrator = new SessionOrchestrator({
    store: f.store,
    chain: f.chain,
    worktrees: lifecycle,
    repositorySettings: () => ({ include: [".env"] }),
  });
  assert.deepEqual(await orchestrator.repositoryPool(f.repository.id), { size, ready: 0 });
  await lifecycle.poolSettled();
  assert.deepEqual(await orchestrator.repositoryPool(f.repository.id), { size, ready: size });
  // Asking starts a fill that checks the entries against the base: settled, so that nothing of the
  // pool runs in the background while a test moves the base and creates.
  await lifecycle.poolSettled();
  return { lifecycle, orchestrator };
}

test("a pooled create gives a complete, clean worktree on its new branch at the base, with included files", async () => {
  using f = await worktreeFixture();
  commitFile(f.repositoryPath, "a.txt", "a\n");
  const base = commitFile(f.repositoryPath, "b.txt", "b\n");
  writeFileSync(join(f.repositoryPath, ".gitignore"), ".env\n");
  git(f.repositoryPath, "add", ".gitignore");
  git(f.repositoryPath, "commit", "-q", "-m", "ignores");
  const head = git(f.repositoryPath, "rev-parse", "HEAD").trim();
  assert.notEqual(head, base);
  writeFileSync(join(f.repositoryPath, ".env"), "SECRET=1\n");
  const { lifecycle, orchestrator } = await pooled(f, 1);
  const [entry] = poolEntries(f).folders;
  const session = await orchestrator.createSession({
    repositoryId: f.repository.id,
    title: "pooled",
    isWorktree: true,
  });
  const wt = session.worktreePath!;
  // The pool's entry is the session's worktree now: moved, not made anew (git keeps its record's name).
  assert.equal(existsSync(join(poolFolder(f), entry)), false);
  assert.match(readFileSync(join(wt, ".git"), "utf8"), new RegExp(`/worktrees/${entry}\n?$`));
  assert.equal(git(wt, "rev-parse", "HEAD").trim(), head);
  assert.equal(git(wt, "symbolic-ref", "--short", "HEAD").trim(), session.branchName);
  assert.equal(git(f.repositoryPath, "rev-parse", session.branchName!).trim(), head);
  assert.equal(git(wt, "status", "--porcelain", "--untracked-files=all"), "");
  assert.equal(readFileSync(join(wt, "b.txt"), "utf8"), "b\n");
  assert.equal(readFileSync(join(wt, ".env"), "utf8"), "SECRET=1\n");
  assert.deepEqual(session.included?.entries, [".env"]);
  assert.ok(extraWorktrees(f.repositoryPath).includes(wt));
  // Refilled in the background after the claim.
  await lifecycle.poolSettled();
  assert.deepEqual(await orchestrator.repositoryPool(f.repository.id), { size: 1, ready: 1 });
  assert.equal(poolEntries(f).folders.length, 1);
  assert.notEqual(poolEntries(f).folders[0], entry);
  await orchestrator.deleteSession(session.id, { deleteBranch: true });
  await lifecycle.stopPools();
  assert.deepEqual(poolEntries(f), { folders: [], leases: [] });
  await assertNothingLeft(f);
});

test("a dirty pool entry is dropped and the create is cold", async () => {
  using f = await worktreeFixture();
  const { lifecycle, orchestrator } = await pooled(f, 1);
  const [entry] = poolEntries(f).folders;
  writeFileSync(join(poolFolder(f), entry, "stray.txt"), "not ours to hand out\n");
  const session = await orchestrator.createSession({
    repositoryId: f.repository.id,
    title: "dirty",
    isWorktree: true,
  });
  assert.equal(existsSync(join(poolFolder(f), entry)), false, "the doubtful entry is gone");
  assert.doesNotMatch(readFileSync(join(session.worktreePath!, ".git"), "utf8"), new RegExp(entry));
  assert.equal(existsSync(join(session.worktreePath!, "stray.txt")), false);
  assert.equal(git(session.worktreePath!, "status", "--porcelain", "--untracked-files=all"), "");
  assert.equal(git(session.worktreePath!, "symbolic-ref", "--short", "HEAD").trim(), session.branchName);
  await orchestrator.deleteSession(session.id, { deleteBranch: true });
  await lifecycle.stopPools();
  await assertNothingLeft(f);
});

test("a stale pool entry (the base moved) is replaced, and the create starts at the new base", async () => {
  using f = await worktreeFixture();
  const { lifecycle, orchestrator } = await pooled(f, 1);
  const [entry] = poolEntries(f).folders;
  const moved = commitFile(f.repositoryPath, "new.txt", "new\n");
  const session = await orchestrator.createSession({
    repositoryId: f.repository.id,
    title: "stale",
    isWorktree: true,
  });
  assert.equal(git(session.worktreePath!, "rev-parse", "HEAD").trim(), moved);
  assert.equal(readFileSync(join(session.worktreePath!, "new.txt"), "utf8"), "new\n");
  assert.equal(existsSync(join(poolFolder(f), entry)), false);
  // The refill follows the base.
  await lifecycle.poolSettled();
  const [fresh] = poolEntries(f).folders;
  assert.equal(git(join(poolFolder(f), fresh), "rev-parse", "HEAD").trim(), moved);
  await orchestrator.deleteSession(session.id, { deleteBranch: true });
  await lifecycle.stopPools();
  await assertNothingLeft(f);
});

test("a pooled create whose open fails later is undone whole", async () => {
  using f = await worktreeFixture();
  const lifecycle = f.lifecycleWith({
    pool: 1,
    logError: () => {},
    onStep: (step) => {
      if (step === "open:include") throw new Error("boom");
    },
  });
  const orchestrator = new SessionOrchestrator({ store: f.store, chain: f.chain, worktrees: lifecycle });
  await lifecycle.pool(f.repository);
  await lifecycle.poolSettled();
  await assert.rejects(
    orchestrator.createSession({ repositoryId: f.repository.id, title: "fails", isWorktree: true }),
    /boom/,
  );
  await lifecycle.poolSettled();
  await lifecycle.stopPools();
  assert.deepEqual(poolEntries(f), { folders: [], leases: [] });
  await assertNothingLeft(f);
});

for (const step of ["pool:lease", "pool:added", "pool:ready"]) {
  test(`a process killed while filling its pool (at ${step}) leaves nothing after reconcile`, async () => {
    using f = await worktreeFixture();
    const result = await runWorkerUntil(
      ["pool-at", f.databasePath, f.worktreesRoot, f.keyHex, f.repository.id, step],
      `at ${step}`,
    );
    assert.ok(result.reached, result.stderr);
    assert.equal(poolEntries(f).leases.length, 1);
    const report = await f.orchestrator.reconcile();
    const found = report.findings.filter((finding) => finding.kind === "orphan-pool-worktree");
    assert.equal(found.length, 1, JSON.stringify(report.findings));
    assert.equal(found[0].action, "removed");
    assert.deepEqual(poolEntries(f), { folders: [], leases: [] });
    assert.equal(git(f.repositoryPath, "worktree", "list", "--porcelain").includes(".pool"), false);
    await assertNothingLeft(f);
  });
}

for (const step of ["open:worktree", "open:include"]) {
  test(`a process killed during a pooled create (at ${step}) leaves nothing after reconcile`, async () => {
    using f = await worktreeFixture();
    const result = await runWorkerUntil(
      ["pooled-open-at", f.databasePath, f.worktreesRoot, f.keyHex, f.repository.id, step, "claimed"],
      `at ${step}`,
    );
    assert.ok(result.reached, result.stderr);
    assert.match(result.stdout, /pool ready/);
    const path = join(f.folder, "claimed");
    // Claimed from the pool: git's record keeps the pool entry's name, not the folder's.
    assert.match(readFileSync(join(path, ".git"), "utf8"), /\/worktrees\/[0-9a-f-]{36}\s*$/);
    const report = await f.orchestrator.reconcile();
    assert.ok(report.findings.some((finding) => finding.kind === "unfinished-open"), JSON.stringify(report));
    assert.deepEqual(poolEntries(f), { folders: [], leases: [] });
    await assertNothingLeft(f);
  });
}

test("a pool registration whose lease and folder are gone (the pool folder deleted) is dropped by reconcile", async () => {
  using f = await worktreeFixture();
  const result = await runWorkerUntil(
    ["pool-at", f.databasePath, f.worktreesRoot, f.keyHex, f.repository.id, "pool:ready"],
    "at pool:ready",
  );
  assert.ok(result.reached, result.stderr);
  rmSync(join(f.worktreesRoot, ".pool"), { recursive: true, force: true });
  assert.equal(extraWorktrees(f.repositoryPath).length, 1);
  const report = await f.orchestrator.reconcile();
  assert.deepEqual(report.findings.map((finding) => [finding.kind, finding.action]), [
    ["orphan-pool-worktree", "removed"],
  ]);
  await assertNothingLeft(f);
});

test("without a pool nothing is made, and the size is 0", async () => {
  using f = await worktreeFixture();
  assert.deepEqual(await f.orchestrator.repositoryPool(f.repository.id), { size: 0, ready: 0 });
  await f.lifecycle.poolSettled();
  assert.equal(existsSync(join(f.worktreesRoot, ".pool")), false);
});

test("GET /v1/repositories/{id}/pool answers { size, ready }, and the server's stop removes the pool", async () => {
  using f = await worktreeFixture();
  const root = join(f.dir, "server-worktrees");
  let lifecycle: WorktreeLifecycle | null = null;
  await using t = await startTestApp({
    lifecycle: ({ hostId }) => (lifecycle = new WorktreeLifecycle({ hostId, worktreesRoot: root, pool: 2 })),
  });
  const created = await t.callJson("/v1/repositories", {
    method: "POST",
    json: { path: f.repositoryPath, name: "repo", isGitRepository: true },
  });
  assert.equal(created.status, 201);
  const first = await t.callJson(`/v1/repositories/${created.body.id}/pool`);
  assert.equal(first.status, 200);
  assert.equal(first.body.size, 2);
  await lifecycle!.poolSettled();
  assert.deepEqual((await t.callJson(`/v1/repositories/${created.body.id}/pool`)).body, { size: 2, ready: 2 });
  const missing = await t.callJson(`/v1/repositories/${crypto.randomUUID()}/pool`);
  assert.equal(missing.status, 404);
  assert.equal(missing.body.error.kind, "RepositoryNotFound");
  assert.equal(readdirSync(join(root, ".pool", created.body.id)).length, 4);
  await t.server.stop();
  assert.deepEqual(readdirSync(join(root, ".pool", created.body.id)), []);
  assert.deepEqual(extraWorktrees(f.repositoryPath), []);
});

test("stopping the pools while a fill runs waits for it and leaves nothing behind", async () => {
  using f = await worktreeFixture();
  const lifecycle = f.lifecycleWith({ pool: 3, logError: () => {} });
  assert.deepEqual(await lifecycle.pool(f.repository), { size: 3, ready: 0 });
  await lifecycle.stopPools();
  assert.deepEqual(poolEntries(f), { folders: [], leases: [] });
  assert.deepEqual(extraWorktrees(f.repositoryPath), []);
  // A stopped pool makes nothing more, and a create is cold.
  assert.deepEqual(await lifecycle.pool(f.repository), { size: 0, ready: 0 });
  const orchestrator = new SessionOrchestrator({ store: f.store, chain: f.chain, worktrees: lifecycle });
  const session = await orchestrator.createSession({
    repositoryId: f.repository.id,
    title: "cold",
    isWorktree: true,
  });
  await lifecycle.poolSettled();
  assert.deepEqual(poolEntries(f), { folders: [], leases: [] });
  await orchestrator.deleteSession(session.id, { deleteBranch: true });
  await assertNothingLeft(f);
});

test("two creates at once with a pool of one: one claims, the other is cold, both whole", async () => {
  using f = await worktreeFixture();
  const { lifecycle, orchestrator } = await pooled(f, 1);
  const [entry] = poolEntries(f).folders;
  const sessions = await Promise.all(
    ["one", "two"].map((title) =>
      orchestrator.createSession({ repositoryId: f.repository.id, title, isWorktree: true })
    ),
  );
  const claimed = sessions.filter((session) =>
    readFileSync(join(session.worktreePath!, ".git"), "utf8").includes(`/worktrees/${entry}`)
  );
  assert.equal(claimed.length, 1);
  for (const session of sessions) {
    assert.equal(git(session.worktreePath!, "symbolic-ref", "--short", "HEAD").trim(), session.branchName);
    assert.equal(git(session.worktreePath!, "status", "--porcelain", "--untracked-files=all"), "");
  }
  for (const session of sessions) await orchestrator.deleteSession(session.id, { deleteBranch: true });
  await lifecycle.poolSettled();
  await lifecycle.stopPools();
  await assertNothingLeft(f);
});

test("the operator's pool setting is a whole number from 0 to 16", () => {
  assert.deepEqual(checkRepositorySettings({ pool: 4 }, "app"), { pool: 4 });
  assert.deepEqual(checkRepositorySettings({ pool: 0 }, "app"), { pool: 0 });
  for (const bad of [17, -1, 1.5, "2", null]) {
    assert.throws(() => checkRepositorySettings({ pool: bad }, "app"), /app\.pool must be a whole number from 0 to 16/);
  }
  assert.throws(() => new WorktreeLifecycle({ worktreesRoot: "/tmp/x", pool: 17 }), /pool must be a whole number/);
});

test("the server keeps the pool its config file names, a create claims from it, and a stop removes it", async () => {
  using dir = tempDir("slo-pool-server-");
  const repo = join(dir.path, "app");
  makeRepository(repo);
  const data = join(dir.path, "data");
  const config = join(dir.path, "config.json");
  writeFileSync(config, JSON.stringify({ repositories: { [repo]: { pool: 1 } } }));
  const server = serveProcess(["--port", "0", "--data-dir", data, "--config", config]);
  {
    await using _stopped = asyncDeferred(async () => {
      server.signal("SIGTERM");
      await server.closed;
    });
    const url = await server.url;
    const call = apiCaller(url, data);
    const repository = (await call("POST", "/v1/repositories", { path: repo, name: "app" })).body;
    // Asked until the background fill is done (no timing: each answer is read as it comes).
    let pool = (await call("GET", `/v1/repositories/${repository.id}/pool`)).body;
    assert.equal(pool.size, 1);
    while (pool.ready < 1) pool = (await call("GET", `/v1/repositories/${repository.id}/pool`)).body;
    const created = await call("POST", "/v1/sessions", { repositoryId: repository.id, title: "x", isWorktree: true });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.match(readFileSync(join(created.body.worktreePath, ".git"), "utf8"), /\/worktrees\/[0-9a-f-]{36}\s*$/);
    assert.equal(git(created.body.worktreePath, "symbolic-ref", "--short", "HEAD").trim(), created.body.branchName);
  }
  // Only the session's worktree is left: the refilled pool entry went with the stop.
  assert.equal(extraWorktrees(repo).length, 1);
  const pools = join(data, "worktrees", ".pool");
  for (const name of existsSync(pools) ? readdirSync(pools) : []) {
    assert.deepEqual(readdirSync(join(pools, name)), []);
  }
});
