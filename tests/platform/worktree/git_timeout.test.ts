// Every git call has a timeout: a call that runs too long is killed, with what it started, and
// fails with an error that names the command. The slow git is a real executable: a wrapper
// script that hangs on `worktree add` and hands every other command to git.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SessionError } from "../../../mod.ts";
import { Git } from "../../../src/platform/git.ts";
import {
  DEFAULT_GIT_TIMEOUT_MS,
  gitTimeoutFor,
  runGit,
  timeoutMessage,
  trackedFileCount,
} from "../../../src/platform/git_runner.ts";
import { git, makeRepository } from "../../fixtures/git_fixtures.ts";
import { tempDir } from "../../fixtures/helpers.ts";

// Whether the process `pid` has ended (a zombie has: nothing of it runs any more).
function ended(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

test("a git call that runs too long is killed with its children and names the command", async () => {
  using dir = tempDir("slo-timeout-");
  const repo = join(dir.path, "repo");
  makeRepository(repo);
  const pidFile = join(dir.path, "sleeper.pid");
  const wrapper = join(dir.path, "slow-git");
  writeFileSync(
    wrapper,
    `#!/bin/sh\nfor arg in "$@"; do\n  if [ "$arg" = add ]; then sleep 600 & echo $! > '${pidFile}'; wait; exit 1; fi\ndone\nexec git "$@"\n`,
    { mode: 0o755 },
  );
  const slow = new Git({ gitPath: wrapper, timeoutMs: 300 });
  const path = join(dir.path, "wt");
  await assert.rejects(slow.addWorktree(repo, path, "session/slow", "main"), (error) => {
    assert.ok(error instanceof SessionError);
    assert.equal(error.kind, "WorktreeCreation");
    assert.match(
      error.message,
      /^git worktree add -b session\/slow -- \S+\/wt main timed out after 300ms in \S+\/repo; it was killed \(the limit set by timeoutMs \(gitTimeoutMs\)\)$/,
    );
    return true;
  });
  // What git started dies with it (Linux shows it in /proc; elsewhere this part is skipped).
  const sleeper = Number(readFileSync(pidFile, "utf8"));
  if (existsSync("/proc/self/stat")) {
    for (let i = 0; i < 200 && !ended(sleeper); i++) await new Promise((resolve) => setTimeout(resolve, 25));
    assert.ok(ended(sleeper), "the process git started is still running");
  }
  // Other commands go through to git and finish as usual.
  assert.equal(await slow.branchExists(repo, "main"), true);
  const { code, stdout } = await runGit(["--version"], { gitPath: wrapper, timeoutMs: 30_000 });
  assert.equal(code, 0);
  assert.match(stdout, /^git version/);
});

test("the timeout has a default and must be a positive number", async () => {
  assert.equal(DEFAULT_GIT_TIMEOUT_MS, 120_000);
  for (const timeoutMs of [0, -1, Number.NaN, Infinity]) {
    await assert.rejects(
      runGit(["--version"], { timeoutMs }),
      (error) => error instanceof SessionError && error.kind === "InvalidInput",
    );
  }
});

test("the default limit grows with the repository's tracked files", () => {
  assert.equal(gitTimeoutFor(0), DEFAULT_GIT_TIMEOUT_MS);
  assert.equal(gitTimeoutFor(10_000), 150_000);
  assert.equal(gitTimeoutFor(40_000), 240_000);
  assert.equal(gitTimeoutFor(100_000), 420_000);
  assert.equal(gitTimeoutFor(5), 120_015);
  for (const nonsense of [-1, Number.NaN]) assert.equal(gitTimeoutFor(nonsense), DEFAULT_GIT_TIMEOUT_MS);
  let previous = 0;
  for (const files of [0, 1, 999, 10_000, 10_001, 250_000, 2_000_000]) {
    assert.ok(gitTimeoutFor(files) > previous || files === 0);
    previous = gitTimeoutFor(files);
  }
});

test("the tracked files are counted from the index, in every folder of the repository", () => {
  using dir = tempDir("slo-timeout-count-");
  const repo = join(dir.path, "repo");
  makeRepository(repo);
  assert.equal(trackedFileCount(repo), 1);
  for (const name of ["a", "b", "c"]) writeFileSync(join(repo, `${name}.txt`), name);
  git(repo, "add", "--all");
  assert.equal(trackedFileCount(repo), 4);
  const worktree = join(dir.path, "wt");
  git(repo, "worktree", "add", "-q", "--no-checkout", "-b", "wt", "--", worktree, "main");
  // A worktree not checked out yet counts what the main checkout holds: as much will be checked out.
  assert.equal(trackedFileCount(worktree), 4);
  assert.equal(trackedFileCount(join(dir.path)), 0);
});

test("a timeout's message names the command, the limit and where the limit came from", () => {
  assert.equal(
    timeoutMessage(["worktree", "add", "--", "/w x"], 420_000, "/repo", 100_000),
    'git worktree add -- "/w x" timed out after 420s in /repo; it was killed (the default limit for 100,000 ' +
      "tracked files: 120s plus 30s per 10,000; gitTimeoutMs sets another)",
  );
  assert.equal(
    timeoutMessage(["status"], 1500),
    "git status timed out after 1500ms; it was killed (the limit set by timeoutMs (gitTimeoutMs))",
  );
});
