// Crash safety: processes killed between every pair of steps, then reconcile; the repository lock
// across processes; 20 opens at once from 4 processes; what reconcile repairs and what it only reports.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { CLOSE_STEPS, OPEN_STEPS } from "../../../src/platform/mod.ts";
import { acquireFileLock } from "../../../src/platform/_repository_lock.ts";
import {
  assertNothingLeft,
  branches,
  commitFile,
  extraWorktrees,
  foldersIn,
  git,
  makeRepository,
  runWorkerUntil,
  worktreeFixture,
} from "../../fixtures/git_fixtures.ts";
import { runScript, tempDir } from "../../fixtures/helpers.ts";

const worker = new URL("../../fixtures/worktree_worker.ts", import.meta.url).pathname;

test("an open killed after each step is undone by reconcile, leaving nothing behind", async () => {
  using f = await worktreeFixture();
  for (const step of OPEN_STEPS) {
    const name = `killed-${step.replace(":", "-")}`;
    const run = await runWorkerUntil(
      ["open-at", f.databasePath, f.worktreesRoot, f.keyHex, f.repository.id, step, name],
      `at ${step}`,
    );
    assert.ok(run.reached, `the child never reached ${step}: ${run.stderr}`);
    const dry = await f.orchestrator.reconcile({ dryRun: true });
    assert.deepEqual(dry.findings.map((x) => [x.kind, x.action]), [["unfinished-open", "none"]]);
    const report = await f.orchestrator.reconcile();
    assert.deepEqual(report.findings.map((x) => [x.kind, x.action]), [["unfinished-open", "undone"]], step);
    await assertNothingLeft(f);
    assert.equal(await f.store.getSessionSecret(report.findings[0].sessionId!), null);
    assert.deepEqual((await f.orchestrator.reconcile()).findings, []);
  }
});

test("a close killed after each step is finished by reconcile, keeping committed work", async () => {
  using f = await worktreeFixture();
  for (const step of CLOSE_STEPS) {
    const name = `closing-${step.replace(":", "-")}`;
    const session = await f.orchestrator.createSession({
      repositoryId: f.repository.id,
      title: "t",
      worktreeName: name,
      isWorktree: true,
    });
    const commit = commitFile(session.worktreePath!, "work.txt");
    const run = await runWorkerUntil(
      ["close-at", f.databasePath, f.worktreesRoot, f.keyHex, session.id, step, "deleteBranch"],
      `at ${step}`,
    );
    assert.ok(run.reached, `the child never reached ${step}: ${run.stderr}`);
    const report = await f.orchestrator.reconcile();
    assert.deepEqual(report.findings.map((x) => [x.kind, x.action]), [["unfinished-close", "finished"]], step);
    assert.equal(await f.store.getSession(session.id), null);
    assert.equal(await f.chain.resolve(session.id), null);
    assert.ok(!existsSync(session.worktreePath!));
    // The branch holds a commit that is nowhere else: deleteBranch without force keeps it.
    assert.equal(git(f.repositoryPath, "rev-parse", session.branchName!), commit);
    git(f.repositoryPath, "branch", "-D", session.branchName!);
    await assertNothingLeft(f);
  }
});

test("a lock held by a live process makes others wait (Conflict on timeout); once SIGKILLed it is taken over", async () => {
  using dir = tempDir();
  const file = join(dir.path, "repo.lock");
  const { spawn } = await import("node:child_process");
  const { runtimeArgv } = await import("../../fixtures/helpers.ts");
  const [command, ...rest] = runtimeArgv(worker, ["hold-lock", file]);
  const child = spawn(command, rest, { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve) => {
    let out = "";
    child.stdout!.on("data", (chunk) => {
      out += chunk;
      if (out.includes("locked")) resolve();
    });
  });
  await assert.rejects(
    acquireFileLock(file, { timeoutMs: 300 }),
    (error) => (error as { kind?: string }).kind === "Conflict",
  );
  const exited = new Promise((resolve) => child.on("close", resolve));
  child.kill("SIGKILL");
  await exited;
  (await acquireFileLock(file, { timeoutMs: 30_000 }))();
  // In one process, holders take turns instead of failing.
  const order: number[] = [];
  await Promise.all([1, 2, 3].map(async (n) => {
    const release = await acquireFileLock(file);
    order.push(n);
    await new Promise((resolve) => setTimeout(resolve, 5));
    order.push(n);
    release();
  }));
  for (let i = 0; i < order.length; i += 2) assert.equal(order[i], order[i + 1]);
});

test("the lock timeout also covers the wait behind a holder in the same process", async () => {
  using dir = tempDir();
  const file = join(dir.path, "repo.lock");
  const release = await acquireFileLock(file);
  // Before the fix the queue had no deadline: this waited for as long as the holder held on.
  const waited = acquireFileLock(file, { timeoutMs: 100 });
  let bound: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    waited.then(() => "acquired", (error) => (error as { kind?: string }).kind),
    // A bound of the wait, far past the 100 ms: without a deadline it would wait for good.
    new Promise((resolve) => (bound = setTimeout(() => resolve("still waiting"), 30_000))),
  ]);
  clearTimeout(bound);
  assert.equal(outcome, "Conflict");
  // A waiter behind the one that gave up still gets its turn once the holder leaves.
  const next = acquireFileLock(file, { timeoutMs: 5000 });
  release();
  (await next)();
  (await acquireFileLock(file, { timeoutMs: 1000 }))();
});

test("20 sessions opened at once from 4 processes on one repository all succeed", async () => {
  using f = await worktreeFixture();
  const runs = await Promise.all(
    [0, 1, 2, 3].map(() =>
      runScript(worker, ["open-many", f.databasePath, f.worktreesRoot, f.keyHex, f.repository.id, "5"])
    ),
  );
  const ids: string[] = [];
  for (const run of runs) {
    assert.equal(run.code, 0, run.stderr);
    ids.push(...JSON.parse(run.stdout.trim()));
  }
  assert.equal(new Set(ids).size, 20);
  const sessions = await f.store.listSessions();
  assert.equal(sessions.length, 20);
  assert.deepEqual(extraWorktrees(f.repositoryPath), sessions.map((s) => s.worktreePath!).sort());
  assert.equal(branches(f.repositoryPath).length, 21);
  for (const session of sessions) assert.equal((await f.chain.resolve(session.id))?.length, 32);
  await Promise.all(sessions.map((s) => f.orchestrator.deleteSession(s.id, { deleteBranch: true })));
  await assertNothingLeft(f);
});

test("reconcile recreates a deleted worktree on its branch, prunes stale registrations, reports strangers", async () => {
  using f = await worktreeFixture();
  const session = await f.orchestrator.createSession({
    repositoryId: f.repository.id,
    title: "t",
    worktreeName: "gone",
    isWorktree: true,
  });
  const commit = commitFile(session.worktreePath!, "kept.txt");
  rmSync(session.worktreePath!, { recursive: true });
  // A folder and a worktree nobody can prove we made.
  mkdirSync(join(f.folder, "stranger"));
  writeFileSync(join(f.folder, "stranger", "data.txt"), "someone's");
  git(f.repositoryPath, "worktree", "add", "-q", "-b", "user/own", "--", join(f.folder, "users-own"), "main");

  const dry = await f.orchestrator.reconcile({ dryRun: true });
  assert.deepEqual(dry.findings.map((x) => [x.kind, x.action]), [
    ["stale-registration", "none"],
    ["missing-worktree", "none"],
    ["unknown-folder", "none"],
    ["orphan-worktree", "none"],
  ]);
  assert.ok(!existsSync(session.worktreePath!));

  const report = await f.orchestrator.reconcile();
  assert.deepEqual(report.findings.map((x) => [x.kind, x.action]), [
    ["stale-registration", "pruned"],
    ["missing-worktree", "recreated"],
    ["unknown-folder", "none"],
    ["orphan-worktree", "none"],
  ]);
  assert.equal(git(session.worktreePath!, "rev-parse", "HEAD"), commit);
  assert.equal(readFileSync(join(session.worktreePath!, "kept.txt"), "utf8"), "x\n");
  assert.equal(readFileSync(join(f.folder, "stranger", "data.txt"), "utf8"), "someone's");
  assert.ok(existsSync(join(f.folder, "users-own")));
  assert.deepEqual(foldersIn(f.folder), [
    join(f.folder, "gone"),
    join(f.folder, "stranger"),
    join(f.folder, "users-own"),
  ]);

  // A session whose folder and branch are both gone is reported, not invented.
  rmSync(session.worktreePath!, { recursive: true });
  git(f.repositoryPath, "worktree", "prune");
  git(f.repositoryPath, "branch", "-D", session.branchName!);
  const lost = await f.orchestrator.reconcile();
  assert.ok(
    lost.findings.some((x) => x.kind === "missing-worktree" && x.action === "none" && x.sessionId === session.id),
  );
});

test("an interrupted close whose worktree gained uncommitted work is abandoned, the work kept", async () => {
  using f = await worktreeFixture();
  const session = await f.orchestrator.createSession({
    repositoryId: f.repository.id,
    title: "t",
    worktreeName: "busy",
    isWorktree: true,
  });
  const run = await runWorkerUntil(
    ["close-at", f.databasePath, f.worktreesRoot, f.keyHex, session.id, "close:journal", ""],
    "at close:journal",
  );
  assert.ok(run.reached);
  writeFileSync(join(session.worktreePath!, "new.txt"), "fresh work");
  const report = await f.orchestrator.reconcile();
  assert.deepEqual(report.findings.map((x) => [x.kind, x.action]), [["unfinished-close", "abandoned"]]);
  assert.equal(readFileSync(join(session.worktreePath!, "new.txt"), "utf8"), "fresh work");
  assert.ok(await f.store.getSession(session.id));
  assert.equal((await f.chain.resolve(session.id))?.length, 32);
});

test("a dangling symlink or an unlockable repository is reported; reconcile still checks the rest", async () => {
  using f = await worktreeFixture();
  using other = tempDir("slo-wt-other-");
  const session = await f.orchestrator.createSession({
    repositoryId: f.repository.id,
    title: "t",
    worktreeName: "live",
    isWorktree: true,
  });
  symlinkSync(join(f.dir, "nowhere"), join(f.folder, "dangling"));
  mkdirSync(join(f.folder, "stranger"));
  // A second repository whose lock cannot be taken (a folder where the lock file goes).
  const brokenPath = join(other.path, "broken");
  makeRepository(brokenPath);
  mkdirSync(join(brokenPath, ".git", "session-lifecycle-orchestrator.lockdb"));
  const broken = await f.store.createRepository({ path: brokenPath, name: "broken", isGitRepository: true });

  const report = await f.orchestrator.reconcile();
  const found = report.findings.map((x) => [x.kind, x.path, x.action]);
  assert.deepEqual(found.filter(([kind]) => kind !== "repository-unavailable"), [
    ["unknown-entry", join(f.folder, "dangling"), "none"],
    ["unknown-folder", join(f.folder, "stranger"), "none"],
  ]);
  assert.deepEqual(found.filter(([kind]) => kind === "repository-unavailable"), [
    ["repository-unavailable", broken.path, "none"],
  ]);
  assert.ok(existsSync(session.worktreePath!));
  assert.ok(lstatSync(join(f.folder, "dangling")).isSymbolicLink());
});

test("reconcile never recreates a worktree the lifecycle did not make", async () => {
  using f = await worktreeFixture();
  git(f.repositoryPath, "branch", "feature");
  const path = join(f.dir, "users-own-checkout");
  const session = await f.store.createSession({
    id: crypto.randomUUID(),
    repositoryId: f.repository.id,
    title: "adopted",
    isWorktree: true,
    worktreePath: path,
    worktreeName: "users-own-checkout",
    branchName: "feature",
    createdWorktree: false,
    createdBranch: false,
  });
  const report = await f.orchestrator.reconcile();
  assert.deepEqual(report.findings.map((x) => [x.kind, x.sessionId, x.action]), [
    ["missing-worktree", session.id, "none"],
  ]);
  assert.match(report.findings[0].detail, /not made by this lifecycle/);
  assert.ok(!existsSync(path));
  assert.deepEqual(extraWorktrees(f.repositoryPath), []);
});

test("reconcile deletes only journal temp files whose writer is dead or that are old", async () => {
  using f = await worktreeFixture();
  const journal = join(f.worktreesRoot, ".journal");
  mkdirSync(journal, { recursive: true });
  const id = crypto.randomUUID();
  const deadPid = spawnSync("git", ["--version"]).pid!;
  const file = (pid: number | null) =>
    join(journal, `${id}.${pid === null ? "" : `${pid}.`}${crypto.randomUUID()}.tmp`);
  const dead = file(deadPid);
  const live = file(process.ppid); // a live writer in another process, about to rename its file
  const legacy = file(null);
  const old = file(process.ppid);
  for (const path of [dead, live, legacy, old]) writeFileSync(path, "{}");
  const longAgo = new Date(Date.now() - 11 * 60 * 1000);
  utimesSync(old, longAgo, longAgo);

  await f.orchestrator.reconcile({ dryRun: true });
  assert.ok([dead, live, legacy, old].every((path) => existsSync(path)));
  await f.orchestrator.reconcile();
  assert.deepEqual([dead, live, legacy, old].map((path) => existsSync(path)), [false, true, true, false]);
});
