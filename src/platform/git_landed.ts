/**
 * Whether a branch's work is already in its base branch, and how far apart the two are, answered
 * from git's objects and refs alone: no command here reads or writes a worktree's files or index,
 * so it is safe on a worktree an agent is working in, and cheap enough to ask often.
 *
 * @module
 */

import { SessionError } from "../errors.ts";
import type { LandedKind } from "../lifecycle.ts";
import { branchNameProblem } from "../branch_names.ts";
import type { Git } from "./git.ts";
import { gitMessage, type GitResult } from "./git_runner.ts";

/** How a branch stands against its base. */
export interface BranchStanding {
  /** Commits on the branch that the base lacks. */
  ahead: number;
  /** Commits on the base that the branch lacks. */
  behind: number;
  /** How the branch's work reached the base, or `null` when it did not (or the branch has no work of its own). */
  landed: LandedKind | null;
}

function checked(result: GitResult, action: string): string {
  if (result.code === 0) return result.stdout;
  throw new SessionError("WorktreeCreation", `${action} failed: ${gitMessage(result)}`, {
    cause: new Error(result.stderr),
  });
}

const COMMIT_ID = /^[0-9a-f]{40,64}$/;

function commitId(value: string, what: string): string {
  if (!COMMIT_ID.test(value)) {
    throw new SessionError("InvalidInput", `${what} ${JSON.stringify(value)} is not a commit id`);
  }
  return value;
}

/**
 * The commit the local branch `branch` started at: the oldest entry of its reflog, which
 * `git branch`/`git worktree add -b` write when they make it. `null` when the reflog is gone
 * (expired, or reflogs are off), so that the caller knows nothing can be proven from it.
 */
async function startOf(git: Git, repository: string, branch: string): Promise<string | null> {
  const result = await git.run(repository, ["rev-list", "--walk-reflogs", `refs/heads/${branch}`, "--"]);
  if (result.code !== 0) return null;
  const lines = result.stdout.split("\n").filter((line) => COMMIT_ID.test(line));
  return lines.at(-1) ?? null;
}

/**
 * Whether the branch has work of its own although its tip is already on the base: a
 * fast-forward (or a rebase then fast-forward) moved the base onto commits the branch made,
 * while a branch nobody committed on sits where it started. Without a reflog, the tip's commit
 * time against `createdAt` (when the session began) decides: a commit older than the session
 * was not made in it.
 */
async function hasOwnWork(
  git: Git,
  repository: string,
  branch: string,
  tip: string,
  createdAt: string | null,
): Promise<boolean> {
  const start = await startOf(git, repository, branch);
  if (start !== null) return start !== tip;
  if (createdAt === null) return false;
  const printed = checked(
    await git.run(repository, ["rev-list", "-1", "--format=%ct", tip, "--"]),
    "reading a commit's time",
  );
  const time = Number(printed.trim().split("\n").at(-1));
  return Number.isFinite(time) && time * 1000 >= Date.parse(createdAt);
}

// Every commit of the branch since the merge base has an equal patch on the base (`git cherry`
// marks it `-`), and there is at least one.
async function allCherryPicked(git: Git, repository: string, base: string, tip: string): Promise<boolean> {
  const output = checked(await git.run(repository, ["cherry", base, tip]), "comparing patch ids");
  const marks = output.split("\n").filter((line) => line !== "").map((line) => line[0]);
  return marks.length > 0 && marks.every((mark) => mark === "-");
}

// Merge drivers are commands from the repository's configuration that `merge-tree` would run on a
// file both sides changed; when the repository defines any, the merge test is skipped rather than
// running one.
async function definesMergeDrivers(git: Git, repository: string): Promise<boolean> {
  const result = await git.run(repository, ["config", "--get-regexp", String.raw`^merge\..+\.driver$`]);
  return result.code !== 1;
}

// `merge-tree --write-tree` (git 2.38+) is what decides a squash best: when merging the branch
// into the base changes nothing, the branch's whole diff is in the base, even when the base
// changed the same files since. Known per git executable; `null` on an older git.
const mergeTreeSupport = new Map<Git, Promise<boolean>>();

function supportsMergeTree(git: Git, repository: string): Promise<boolean> {
  let known = mergeTreeSupport.get(git);
  if (known === undefined) {
    known = git.run(repository, ["--version"]).then((result) => {
      const version = /git version (\d+)\.(\d+)/.exec(result.stdout);
      return version !== null && (Number(version[1]) > 2 || (Number(version[1]) === 2 && Number(version[2]) >= 38));
    });
    mergeTreeSupport.set(git, known);
  }
  return known;
}

/**
 * Whether the branch's combined change since the merge base is already in the base. With
 * `merge-tree`: merging the branch into the base yields the base's own tree. Without it (an older
 * git, or merge drivers configured): every path the branch changed has, on the base, exactly the
 * content the branch gave it; that misses a squash the base has since changed further.
 */
async function squashed(git: Git, repository: string, base: string, tip: string, mergeBase: string): Promise<boolean> {
  // A branch whose commits undo each other brings nothing: there is no work that could have landed.
  const changed = await git.run(repository, ["diff-tree", "--quiet", "-r", mergeBase, tip, "--"]);
  if (changed.code === 0) return false;
  if (await supportsMergeTree(git, repository) && !await definesMergeDrivers(git, repository)) {
    const merged = await git.run(repository, [
      "-c",
      "merge.renormalize=false",
      "merge-tree",
      "--write-tree",
      "--no-messages",
      base,
      tip,
    ]);
    // 1 is a conflict: the branch's change is not (all) in the base.
    if (merged.code === 1) return false;
    const tree = checked(merged, "test-merging the branch").split("\n")[0];
    const baseTree = checked(await git.run(repository, ["rev-parse", `${base}^{tree}`]), "reading a tree").trim();
    return tree === baseTree;
  }
  const listed = checked(
    await git.run(repository, ["diff-tree", "-r", "-z", "--name-only", "--no-renames", mergeBase, tip, "--"]),
    "listing the branch's changes",
  );
  const paths = listed.split("\0").filter((path) => path !== "");
  // Those paths alike on the base and the branch tip (absent from both counts as alike), in
  // batches that keep each command line short; the paths are never read as pathspec magic.
  for (let i = 0; i < paths.length; i += 500) {
    const same = await git.run(
      repository,
      ["diff-tree", "--quiet", "-r", "--no-renames", base, tip, "--", ...paths.slice(i, i + 500)],
      { GIT_LITERAL_PATHSPECS: "1" },
    );
    if (same.code === 1) return false;
    checked(same, "comparing the branch's changes with the base");
  }
  return true;
}

/** What {@linkcode branchStanding} compares. */
export interface StandingQuery {
  /** The repository's checkout (any folder git runs in for it). */
  repository: string;
  /** The local branch, without `refs/heads/`. */
  branch: string;
  /** The base: a ref (`main`, `origin/main`) or a commit id, as a session row records it. */
  base: string;
  /** When the branch's session began, for a branch whose reflog is gone; `null` when unknown. */
  createdAt?: string | null;
}

/**
 * How `branch` stands against `base`: commits ahead and behind, and whether its work landed.
 * Checked in this order: `merged` (its tip is on the base, and it has commits of its own: a
 * branch that is where it started is never landed), `cherry-picked` (every commit of it since the
 * merge base has one with an equal patch id on the base), `squash-merged` (its whole change since
 * the merge base is already in the base). `null` when the branch or the base does not resolve.
 * Names come from session rows: each is checked, and none can reach git as an option.
 */
export async function branchStanding(git: Git, query: StandingQuery): Promise<BranchStanding | null> {
  const { repository, branch, base } = query;
  const problem = branchNameProblem(branch);
  if (problem !== null) throw new SessionError("InvalidInput", `branch ${JSON.stringify(branch)}: ${problem}`);
  // Any ref or commit id, as the session recorded it; resolveCommit passes it after
  // `--end-of-options`, so it is only ever a name.
  const [tipRef, baseRef] = await Promise.all([
    git.resolveCommit(repository, `refs/heads/${branch}`),
    git.resolveCommit(repository, base),
  ]);
  if (tipRef === null || baseRef === null) return null;
  const tip = commitId(tipRef, "branch tip");
  const baseCommit = commitId(baseRef, "base");
  const counts = checked(
    await git.run(repository, ["rev-list", "--left-right", "--count", `${baseCommit}...${tip}`, "--"]),
    "counting commits",
  ).trim().split(/\s+/).map(Number);
  const [behind, ahead] = counts;
  const standing = (landed: LandedKind | null): BranchStanding => ({ ahead, behind, landed });
  if (ahead === 0) {
    return standing(await hasOwnWork(git, repository, branch, tip, query.createdAt ?? null) ? "merged" : null);
  }
  const mergeBase = await git.run(repository, ["merge-base", baseCommit, tip]);
  // Unrelated histories: nothing of the branch can be in the base.
  if (mergeBase.code === 1) return standing(null);
  const fork = commitId(checked(mergeBase, "finding the merge base").trim(), "merge base");
  if (await allCherryPicked(git, repository, baseCommit, tip)) return standing("cherry-picked");
  if (await squashed(git, repository, baseCommit, tip, fork)) return standing("squash-merged");
  return standing(null);
}
