/**
 * The undo of an open and the end of a close, shared by the lifecycle (after a failed step) and
 * by `reconcile` (after a killed process). Each probes what actually exists instead of trusting
 * how far the dead process got, and removes only what the journal proves was ours.
 *
 * @module
 */

import { existsSync } from "node:fs";
import { rmdir } from "node:fs/promises";
import { resolve } from "node:path";
import { dirtyWorktreeRefusal, errorMessage, isSessionError, SessionError } from "../errors.ts";
import type { WorktreeRows } from "../lifecycle.ts";
import type { Session } from "../types.ts";
import type { Git, WorktreeEntry } from "./git.ts";
import type { Journal, JournalEntry } from "./journal.ts";
import { dropArchive } from "./git_archive.ts";

/** What the shared steps need. */
export interface StepContext {
  /** Git. */
  git: Git;
  /** The journal, where a close records what it proved and saved before it removes anything. */
  journal: Journal;
  /** The orchestrator's view of the rows: who holds a folder or branch, and the row deletes. */
  rows: WorktreeRows;
}

/** One thing done (or deliberately not done) while undoing or finishing. */
export interface StepAction {
  /** Short machine-readable name, for example `worktree-removed`. */
  action: string;
  /** A sentence for people. */
  detail: string;
}

/** What a close did with the branch. */
export interface BranchOutcome {
  /** Whether it was deleted. */
  deleted: boolean;
  /** Why it was kept, or `null`. */
  keptReason: string | null;
}

/** The registered worktree at `path`, if git lists one. */
async function registeredAt(git: Git, repository: string, path: string) {
  const entries = await git.listWorktrees(repository);
  return entries.find((entry) => resolve(entry.path) === resolve(path)) ?? null;
}

/**
 * Deletes a branch the lifecycle created, unless it holds commits found on neither `base` nor its
 * upstream (then it is kept, with the reason), or `force` is given. With `tip`, only while the
 * branch still points at that commit (the one the session left).
 */
export async function deleteCreatedBranch(
  git: Git,
  repository: string,
  branch: string,
  base: string | null,
  force: boolean,
  tip?: string,
): Promise<BranchOutcome> {
  const missing = { deleted: false, keptReason: "the branch no longer exists" };
  if (!force) {
    const bases = base === null ? [] : [base];
    let unmerged: number | null;
    try {
      unmerged = bases.length === 0 ? null : await git.commitsNotOn(repository, branch, bases);
    } catch (error) {
      // Asked only now, so that the common case costs one git call.
      if (!(await git.branchExists(repository, branch))) return missing;
      throw error;
    }
    if (unmerged !== 0) {
      // Only when the base does not settle it is the upstream asked for: one git call fewer in the common case.
      const upstream = await git.upstreamOf(repository, branch);
      if (upstream !== null) unmerged = await git.commitsNotOn(repository, branch, [...bases, upstream]);
    }
    if (unmerged === null) {
      return {
        deleted: false,
        keptReason: `neither the base nor an upstream of ${branch} resolves, so nothing proves it is merged`,
      };
    }
    if (unmerged > 0) {
      return {
        deleted: false,
        keptReason: `${branch} has ${unmerged} commit(s) on neither ${base ?? "its base"} nor its upstream`,
      };
    }
  }
  try {
    if (tip !== undefined) {
      if (await git.deleteBranchAt(repository, branch, tip)) return { deleted: true, keptReason: null };
      if (!(await git.branchExists(repository, branch))) return missing;
      return {
        deleted: false,
        keptReason: `${branch} has moved since the session left it at ${tip}, so it is not the session's: kept`,
      };
    }
    await git.deleteBranch(repository, branch);
    return { deleted: true, keptReason: null };
  } catch (error) {
    if (!(await git.branchExists(repository, branch))) return missing;
    return { deleted: false, keptReason: errorMessage(error) };
  }
}

/** How far an undone open may have got, when the caller knows (reconcile does not: all `true`). */
export interface OpenProgress {
  /** The row may have been written (`false` skips the store, which may be down). */
  rowMayExist?: boolean;
  /** The open made its folder, so git may have added a worktree and a branch. */
  worktreeMayExist?: boolean;
}

// The other session, if any, whose row holds `entry`'s folder (any repository) or branch (its repository).
function otherOwner(rows: Session[], entry: JournalEntry, what: "path" | "branch"): Session | null {
  const target = resolve(entry.path);
  return rows.find((row) =>
    row.id !== entry.sessionId &&
    (what === "path"
      ? row.worktreePath !== null && resolve(row.worktreePath) === target
      : row.repositoryId === entry.repositoryId && row.branchName === entry.branch)
  ) ?? null;
}

/**
 * Undoes an open described by `entry`, whatever step it reached, removing only what is proven its
 * own: the row and secret of `entry.sessionId` only when that row's folder is the journaled one;
 * the worktree only when git lists it at the journaled path for the journaled repository (on the
 * journaled branch) and no other session's row holds that path; an unregistered folder only when
 * it is empty; and the branch, when the open created it, only when no other session's row holds it
 * and it has no commits beyond its base. Anything else is kept and reported.
 */
export async function undoOpen(
  context: StepContext,
  entry: JournalEntry,
  progress: OpenProgress = {},
): Promise<StepAction[]> {
  const { rows: sessionRows, git } = context;
  const rowMayExist = progress.rowMayExist ?? true;
  const worktreeMayExist = progress.worktreeMayExist ?? true;
  const actions: StepAction[] = [];
  const failures: unknown[] = [];
  if (rowMayExist) {
    try {
      // The orchestrator deletes the row (and every copy of its secret) only when it is the journaled one.
      const done = await sessionRows.discardOpened(entry.sessionId, resolve(entry.path));
      if (done !== null) actions.push(done);
    } catch (error) {
      failures.push(error);
    }
  }
  if (!worktreeMayExist) return finish(entry, actions, failures);
  let rows: Session[];
  try {
    // Which other sessions hold the journaled folder or branch (a later open may have reused the names).
    rows = await sessionRows.holding({
      repositoryId: entry.repositoryId,
      path: resolve(entry.path),
      branch: entry.branch,
    });
  } catch (error) {
    failures.push(error);
    return finish(entry, actions, failures);
  }
  try {
    const owner = otherOwner(rows, entry, "path");
    const registered = await registeredAt(git, entry.repositoryPath, entry.path);
    if (owner !== null) {
      actions.push({ action: "none", detail: `${entry.path} belongs to session ${owner.id}: kept` });
    } else if (registered !== null && (registered.branch === entry.branch || registered.branch === null)) {
      // Twice forced: git locks a worktree while `worktree add` runs, and a killed add leaves it locked.
      await git.removeWorktree(entry.repositoryPath, entry.path, 2);
      actions.push({ action: "worktree-removed", detail: `removed the worktree ${entry.path}` });
    } else if (registered === null && existsSync(entry.path)) {
      // Not a worktree of the journaled repository, so nothing proves its contents are ours: only
      // the empty folder the open made is removed, never a tree of files.
      try {
        await rmdir(entry.path);
        actions.push({ action: "folder-removed", detail: `removed the empty folder ${entry.path}` });
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== "ENOTEMPTY" && code !== "EEXIST" && code !== "ENOTDIR") throw error;
        actions.push({
          action: "none",
          detail: `${entry.path} is not a worktree of ${entry.repositoryPath} and not an empty folder: kept`,
        });
      }
    } else if (registered !== null) {
      actions.push({
        action: "none",
        detail: `${entry.path} has branch ${registered.branch}, not ${entry.branch}: not ours, kept`,
      });
    }
  } catch (error) {
    failures.push(error);
  }
  if (entry.createdBranch) {
    try {
      const owner = otherOwner(rows, entry, "branch");
      if (owner !== null) {
        actions.push({ action: "branch-kept", detail: `${entry.branch} belongs to session ${owner.id}: kept` });
      } else if (await git.branchExists(entry.repositoryPath, entry.branch)) {
        // A fork's branch starts at its source's commit, whose commits its base may lack: it is the
        // fork's while it still points there (those commits stay on the source's branch).
        const outcome = entry.forkOf
          ? await deleteCreatedBranch(git, entry.repositoryPath, entry.branch, entry.baseRef, true, entry.forkOf.head)
          : await deleteCreatedBranch(git, entry.repositoryPath, entry.branch, entry.baseRef, false);
        actions.push(
          outcome.deleted
            ? { action: "branch-deleted", detail: `deleted the branch ${entry.branch}` }
            : { action: "branch-kept", detail: outcome.keptReason ?? "" },
        );
      }
    } catch (error) {
      failures.push(error);
    }
  }
  return finish(entry, actions, failures);
}

function finish(entry: JournalEntry, actions: StepAction[], failures: unknown[]): StepAction[] {
  if (failures.length > 0) {
    throw new SessionError(
      "WorktreeCreation",
      `undoing the open of session ${entry.sessionId} is incomplete: ${failures.map(errorMessage).join("; ")}`,
      { cause: failures[0] },
    );
  }
  return actions;
}

/**
 * Finishes a close described by `entry`: removes the worktree (when the session created it and
 * this repository registers it at the session's path; without `force`, one with uncommitted or
 * untracked work is kept and this throws `Conflict` before anything else is touched; with
 * `force`, its work is first saved as a snapshot commit under its own ref in
 * `refs/session-snapshots/`, recorded in the journal before the removal starts, and a failure to
 * save stops the close), removes the row and its secret, and deletes the branch when asked and
 * allowed. A close finished again after a crash reuses the recorded snapshot and never takes
 * another of the half-deleted folder; a plain close whose removal was cut short after the journal
 * recorded the worktree clean is finished too. When the folder is already gone, only git's record
 * of this one worktree is dropped, never another's. Returns the deleted row (`null` when it was
 * already gone), what happened to the folder and the branch, and the snapshot's ref (`null` when
 * none was made). `registration` is git's record of the worktree (or `null`: none) when the caller
 * has just read it under the same lock; without it (a close finished again) it is read here.
 */
export async function finishClose(
  context: StepContext,
  entry: JournalEntry,
  hook: (step: string) => Promise<void> = () => Promise.resolve(),
  registration?: WorktreeEntry | null,
): Promise<{
  session: Session | null;
  worktreeRemoved: boolean;
  worktreeKeptReason: string | null;
  branch: BranchOutcome;
  snapshotRef: string | null;
}> {
  const { git, journal } = context;
  let current = entry;
  const record = async (patch: Partial<JournalEntry>) => {
    current = { ...current, ...patch };
    await journal.write(current);
  };
  let worktreeRemoved = false;
  let worktreeKeptReason: string | null = null;
  // An archived session's work is in its archive's snapshot, which stays; it has no folder to remove.
  let snapshotRef: string | null = entry.archive?.snapshot?.ref ?? null;
  if (entry.createdWorktree && entry.archived !== true) {
    const registered = registration !== undefined
      ? registration
      : await registeredAt(git, entry.repositoryPath, entry.path);
    if (existsSync(entry.path)) {
      if (registered !== null) {
        // A removal killed half-way may have deleted the folder's `.git` file, after which git
        // refuses to touch the folder: put back the link git made, when the journal shows the
        // removal had begun.
        if (current.snapshot || current.removalFromClean) {
          await git.restoreWorktreeLink(entry.repositoryPath, entry.path);
        }
        if (entry.force) {
          // Taken once: a close finished again reuses it rather than snapshotting what is left.
          if (!current.snapshot) await record({ snapshot: await git.saveWorktree(entry.path, entry.sessionId) });
          snapshotRef = current.snapshot!.ref;
        } else if (current.removalFromClean !== true) {
          const changes = await git.worktreeChanges(entry.path);
          if (!changes.clean) {
            throw dirtyWorktreeRefusal(
              `worktree ${entry.path} was kept: it has modified or untracked files`,
              changes.paths,
            );
          }
          await record({ removalFromClean: true });
        }
      }
      if (registered !== null) await hook("close:remove");
      try {
        await git.removeWorktree(entry.repositoryPath, entry.path, entry.force ? 1 : 0);
        worktreeRemoved = true;
      } catch (error) {
        if (/is not a working tree/.test(errorMessage(error))) {
          // A folder git does not know as a worktree is not ours to delete.
          worktreeKeptReason = `${entry.path} is not a worktree of ${entry.repositoryPath}, so it was kept`;
        } else if (
          current.removalFromClean === true && isSessionError(error, "Conflict") && error.forceable &&
          (await git.worktreeChanges(entry.path)).deletionsOnly
        ) {
          // Clean when the removal began, and only missing files since: what a killed removal leaves.
          await git.removeWorktree(entry.repositoryPath, entry.path, 1);
          worktreeRemoved = true;
        } else {
          throw error;
        }
      }
    } else if (
      // Dropped only when it is the journaled one (its branch) and not locked: a lock asks for the
      // record to be kept while its folder is away, as `git worktree prune` would respect too.
      registered !== null && registered.locked === null &&
      (registered.branch === entry.branch || registered.branch === null)
    ) {
      await git.forgetMissingWorktree(entry.repositoryPath, registered.path);
    }
  }
  await hook("close:worktree");
  // The row and its sealed secret go in one step, announced as soon as that is committed, so that
  // nothing failing later hides it; the secret's other copies are forgotten with it.
  const session = await context.rows.remove(entry.sessionId);
  if (entry.archive) {
    // The record only served a restore, which can no longer come; the snapshot keeps the work.
    await dropArchive(git, entry.repositoryPath, entry.sessionId, entry.archive.commit);
  }
  await hook("close:row");
  let branch: BranchOutcome = { deleted: false, keptReason: null };
  if (entry.deleteBranch) {
    const owned = entry.owned;
    branch = !entry.createdBranch
      ? { deleted: false, keptReason: `${entry.branch} was not created by this session` }
      : entry.archived === true && owned !== undefined && !owned.registered
      ? {
        deleted: false,
        keptReason: `${entry.repositoryPath} holds no archive record of the session (a different repository now), ` +
          `so nothing proves its ${entry.branch} is the session's: kept`,
      }
      : owned !== undefined && !owned.registered
      ? {
        deleted: false,
        keptReason: `${entry.repositoryPath} does not register the session's worktree (a different repository ` +
          `now, or its record was pruned), so nothing proves its ${entry.branch} is the session's: kept`,
      }
      : owned !== undefined && owned.branchTip === null
      ? { deleted: false, keptReason: "the branch no longer exists" }
      : await deleteCreatedBranch(
        git,
        entry.repositoryPath,
        entry.branch,
        entry.baseRef,
        entry.force,
        owned?.branchTip ?? undefined,
      );
    await hook("close:branch");
  }
  return { session, worktreeRemoved, worktreeKeptReason, branch, snapshotRef };
}
