// A delete killed while `git worktree remove` is deleting the files: the snapshot a forced delete
// took is never replaced or lost (reconcile reuses the one the journal recorded), and a plain
// delete of a clean worktree is finished rather than mistaken for uncommitted work.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { git, runWorkerUntil, type WorktreeFixture, worktreeFixture } from "./git_fixtures.ts";
import { runtimeArgv } from "./helpers.ts";

const worker = new URL("./fixtures/worktree_worker.ts", import.meta.url).pathname;
const FOLDERS = 400;
const FILES_PER_FOLDER = 20;

/** Fills `worktree` with FOLDERS × FILES_PER_FOLDER small files; their relative paths. */
function manyFiles(worktree: string): string[] {
  const paths: string[] = [];
  for (let d = 0; d < FOLDERS; d++) {
    mkdirSync(join(worktree, `d${d}`));
    for (let f = 0; f < FILES_PER_FOLDER; f++) {
      const path = `d${d}/f${f}.txt`;
      writeFileSync(join(worktree, path), `${d}/${f}\n`);
      paths.push(path);
    }
  }
  return paths;
}

// The git process removing `worktree`, among the children of `parent` (any of its threads may
// have started it), found by its command line.
function removingGit(parent: number, worktree: string): number | null {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${parent}/task`);
  } catch {
    return null;
  }
  for (const task of tasks) {
    let children: string[];
    try {
      children = readFileSync(`/proc/${parent}/task/${task}/children`, "utf8").split(" ").filter(Boolean);
    } catch {
      continue;
    }
    for (const pid of children) {
      let args: string[];
      try {
        args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      } catch {
        continue;
      }
      const at = args.indexOf("worktree");
      if (at !== -1 && args[at + 1] === "remove" && args.includes(worktree)) return Number(pid);
    }
  }
  return null;
}

function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

/**
 * Runs a close of `sessionId` in a child process and SIGKILLs it, and the git process removing the
 * worktree, once that git has deleted part of the folder: as a crash of the machine (or of the whole
 * service, git included) in the middle of the removal would.
 */
async function killDuringRemoval(f: WorktreeFixture, sessionId: string, worktree: string, options: string) {
  const entries = readdirSync(worktree).length;
  const [command, ...rest] = runtimeArgv(worker, [
    "close-at",
    f.databasePath,
    f.worktreesRoot,
    f.keyHex,
    sessionId,
    "never",
    options,
  ]);
  const child = spawn(command, rest, { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr += chunk));
  let exited = false;
  const closed = new Promise((resolve) => child.on("close", () => resolve(exited = true)));
  let gitPid: number | null = null;
  // Bounded: the child snapshots thousands of files first (git add, write-tree) before it removes them.
  for (let round = 0; round < 300_000 && gitPid === null && !exited; round++) {
    gitPid = removingGit(child.pid!, worktree);
    if (gitPid === null) await new Promise((resolve) => setTimeout(resolve, 2));
  }
  assert.notEqual(gitPid, null, `no git worktree remove was seen: ${stderr}`);
  // Without yielding: as soon as the first of the FOLDERS top-level folders is gone.
  for (let round = 0; round < 10_000_000 && readdirSync(worktree).length >= entries; round++);
  process.kill(gitPid!, "SIGKILL");
  child.kill("SIGKILL");
  await closed;
  for (let round = 0; round < 100_000 && alive(gitPid!); round++) await tick();
  assert.equal(alive(gitPid!), false);
  const left = readdirSync(worktree).length;
  assert.ok(left > 0 && left < entries, `the removal was not cut short: ${left} of ${entries} entries left`);
}

function snapshotRefs(repository: string): string[] {
  return git(repository, "for-each-ref", "--format=%(refname)", "refs/session-snapshots/").split("\n").filter(Boolean);
}

function filesIn(repository: string, commit: string): string[] {
  return git(repository, "ls-tree", "-r", "--name-only", commit).split("\n").filter(Boolean).sort();
}

test("a forced delete killed in the middle of the removal keeps its full snapshot; reconcile finishes with it", async () => {
  const f = await worktreeFixture();
  try {
    const session = await f.orchestrator.createSession({
      repositoryId: f.repository.id,
      title: "t",
      worktreeName: "big",
      isWorktree: true,
    });
    const wt = session.worktreePath!;
    const expected = [...manyFiles(wt), "README.md"].sort();
    await killDuringRemoval(f, session.id, wt, "force,deleteBranch");
    // The journal names the snapshot taken before the removal began.
    const entry = JSON.parse(readFileSync(join(f.worktreesRoot, ".journal", `${session.id}.json`), "utf8"));
    const ref = `refs/session-snapshots/${session.id}`;
    assert.deepEqual(entry.snapshot, { ref, commit: git(f.repositoryPath, "rev-parse", ref) });

    const report = await f.orchestrator.reconcile();
    assert.deepEqual(report.findings.map((x) => [x.kind, x.action]), [["unfinished-close", "finished"]]);
    assert.ok(!existsSync(wt));
    assert.equal(await f.store.getSession(session.id), null);
    // One snapshot, the one taken before the removal, with every file; not one of the half-deleted folder.
    assert.deepEqual(snapshotRefs(f.repositoryPath), [ref]);
    assert.equal(git(f.repositoryPath, "rev-parse", ref), entry.snapshot.commit);
    assert.deepEqual(filesIn(f.repositoryPath, ref), expected);
    assert.deepEqual(git(f.repositoryPath, "worktree", "list", "--porcelain").match(/^worktree /gm)?.length, 1);
  } finally {
    f.cleanup();
  }
});

test("a forced delete resumed after its removal lost the folder's .git file reuses the recorded snapshot", async () => {
  const f = await worktreeFixture();
  try {
    const session = await f.orchestrator.createSession({
      repositoryId: f.repository.id,
      title: "t",
      worktreeName: "half",
      isWorktree: true,
    });
    const wt = session.worktreePath!;
    writeFileSync(join(wt, "work.txt"), "precious\n");
    const run = await runWorkerUntil(
      ["close-at", f.databasePath, f.worktreesRoot, f.keyHex, session.id, "close:remove", "force,deleteBranch"],
      "at close:remove",
    );
    assert.ok(run.reached, run.stderr);
    const ref = `refs/session-snapshots/${session.id}`;
    const commit = git(f.repositoryPath, "rev-parse", ref);
    // What a removal cut short leaves: some files gone, among them the link to the repository.
    rmSync(join(wt, ".git"));
    rmSync(join(wt, "work.txt"));
    const report = await f.orchestrator.reconcile();
    assert.deepEqual(report.findings.map((x) => [x.kind, x.action]), [["unfinished-close", "finished"]]);
    assert.ok(!existsSync(wt));
    assert.deepEqual(snapshotRefs(f.repositoryPath), [ref]);
    assert.equal(git(f.repositoryPath, "rev-parse", ref), commit);
    assert.equal(git(f.repositoryPath, "show", `${ref}:work.txt`), "precious");
    assert.equal(git(f.repositoryPath, "branch", "--list", session.branchName!), "");
    assert.deepEqual((await f.orchestrator.reconcile()).findings, []);
  } finally {
    f.cleanup();
  }
});

test("a plain delete of a clean worktree killed in the middle of the removal is finished by reconcile", async () => {
  const f = await worktreeFixture();
  try {
    const session = await f.orchestrator.createSession({
      repositoryId: f.repository.id,
      title: "t",
      worktreeName: "clean",
      isWorktree: true,
    });
    const wt = session.worktreePath!;
    manyFiles(wt);
    git(wt, "add", "--all");
    git(wt, "commit", "-q", "-m", "many files");
    const tip = git(wt, "rev-parse", "HEAD");
    await killDuringRemoval(f, session.id, wt, "deleteBranch");
    const report = await f.orchestrator.reconcile();
    assert.deepEqual(report.findings.map((x) => [x.kind, x.action]), [["unfinished-close", "finished"]]);
    assert.ok(!existsSync(wt));
    assert.equal(await f.store.getSession(session.id), null);
    // Its commit is on the branch only: kept, as a plain delete keeps it.
    assert.equal(git(f.repositoryPath, "rev-parse", session.branchName!), tip);
    assert.deepEqual(snapshotRefs(f.repositoryPath), []);
  } finally {
    f.cleanup();
  }
});

test("a plain delete cut short is finished only when nothing but tracked files is missing", async () => {
  const f = await worktreeFixture();
  try {
    for (const addWork of [false, true]) {
      const session = await f.orchestrator.createSession({
        repositoryId: f.repository.id,
        title: "t",
        worktreeName: `plain-${addWork}`,
        isWorktree: true,
      });
      const wt = session.worktreePath!;
      writeFileSync(join(wt, "tracked.txt"), "committed\n");
      git(wt, "add", "tracked.txt");
      git(wt, "commit", "-q", "-m", "tracked");
      const run = await runWorkerUntil(
        ["close-at", f.databasePath, f.worktreesRoot, f.keyHex, session.id, "close:remove", ""],
        "at close:remove",
      );
      assert.ok(run.reached, run.stderr);
      // The journal records that the worktree was clean when its removal began.
      const journal = join(f.worktreesRoot, ".journal", `${session.id}.json`);
      assert.equal(JSON.parse(readFileSync(journal, "utf8")).removalFromClean, true);
      rmSync(join(wt, "tracked.txt"));
      rmSync(join(wt, ".git"));
      if (addWork) writeFileSync(join(wt, "new.txt"), "written after the check\n");
      const report = await f.orchestrator.reconcile();
      assert.deepEqual(report.findings.map((x) => [x.kind, x.action]), [[
        "unfinished-close",
        addWork ? "abandoned" : "finished",
      ]]);
      if (addWork) {
        // New work is never thrown away: the session stays, its worktree linked again.
        assert.equal(readFileSync(join(wt, "new.txt"), "utf8"), "written after the check\n");
        assert.notEqual(await f.store.getSession(session.id), null);
        await f.orchestrator.deleteSession(session.id, { force: true });
        assert.equal(
          git(f.repositoryPath, "show", `refs/session-snapshots/${session.id}:new.txt`),
          "written after the check",
        );
      } else {
        assert.ok(!existsSync(wt));
        assert.equal(await f.store.getSession(session.id), null);
      }
    }
  } finally {
    f.cleanup();
  }
});
