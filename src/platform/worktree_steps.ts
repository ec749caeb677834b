/**
 * The undo of an open and the end of a close, shared by the lifecycle (after a failed step) and
 * by `reconcile` (after a killed process). Each probes what actually exists instead of trusting
 * how far the dead process got, and removes only what the journal proves was ours.
 *
 * @module
 */

import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { resolve } from "node:path";
import { isSessionError, SessionError } from "../errors.ts";
import type { LifecycleEvents } from "../events.ts";
import type { SessionSecretChain } from "../secret_chain.ts";
import type { SessionStore } from "../store/store.ts";
import type { Session } from "../types.ts";
import type { Git } from "./git.ts";
import type { JournalEntry } from "./journal.ts";

/** What the shared steps need. */
export interface StepContext {
  /** Where sessions live. */
  store: SessionStore;
  /** Where their secrets live. */
  chain: SessionSecretChain;
  /** Where changes are announced. */
  events: LifecycleEvents | null;
  /** Git. */
  git: Git;
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

/** The message of an error, or the thrown value as text. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The registered worktree at `path`, if git lists one. */
async function registeredAt(git: Git, repository: string, path: string) {
  const entries = await git.listWorktrees(repository);
  return entries.find((entry) => resolve(entry.path) === resolve(path)) ?? null;
}

/**
 * Deletes a branch the lifecycle created, unless it holds commits found on neither `base` nor its
 * upstream (then it is kept, with the reason), or `force` is given.
 */
export async function deleteCreatedBranch(
  git: Git,
  repository: string,
  branch: string,
  base: string | null,
  force: boolean,
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
    await git.deleteBranch(repository, branch);
    return { deleted: true, keptReason: null };
  } catch (error) {
    if (!(await git.branchExists(repository, branch))) return missing;
    return { deleted: false, keptReason: messageOf(error) };
  }
}

/**
 * Undoes an open described by `entry`, whatever step it reached: forgets the secret, deletes the
 * row, removes the worktree at the journal's path (which did not exist when the open started, so
 * whatever is there now is ours) and deletes the branch when the open created it and it holds no
 * commits beyond its base. `rowMayExist: false` skips the store (for an open that failed before
 * writing the row, while the store may be down).
 */
export async function undoOpen(
  context: StepContext,
  entry: JournalEntry,
  rowMayExist = true,
): Promise<StepAction[]> {
  const { store, chain, git } = context;
  const actions: StepAction[] = [];
  const failures: unknown[] = [];
  if (rowMayExist) {
    try {
      await chain.forget(entry.sessionId);
      const row = await store.deleteSession(entry.sessionId);
      if (row !== null) {
        actions.push({ action: "row-deleted", detail: `deleted the row of session ${entry.sessionId}` });
      }
    } catch (error) {
      failures.push(error);
    }
  }
  try {
    const registered = await registeredAt(git, entry.repositoryPath, entry.path);
    if (registered !== null && (registered.branch === entry.branch || registered.branch === null)) {
      // Twice forced: git locks a worktree while `worktree add` runs, and a killed add leaves it locked.
      await git.removeWorktree(entry.repositoryPath, entry.path, 2);
      actions.push({ action: "worktree-removed", detail: `removed the worktree ${entry.path}` });
    } else if (registered === null && existsSync(entry.path)) {
      await rm(entry.path, { recursive: true, force: true });
      await git.pruneWorktrees(entry.repositoryPath);
      actions.push({ action: "folder-removed", detail: `removed the half-made folder ${entry.path}` });
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
      if (await git.branchExists(entry.repositoryPath, entry.branch)) {
        const outcome = await deleteCreatedBranch(git, entry.repositoryPath, entry.branch, entry.baseRef, false);
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
  if (failures.length > 0) {
    throw new SessionError(
      "WorktreeCreation",
      `undoing the open of session ${entry.sessionId} is incomplete: ${failures.map(messageOf).join("; ")}`,
      { cause: failures[0] },
    );
  }
  return actions;
}

/**
 * Finishes a close described by `entry`: removes the worktree (when the session created it;
 * without `force`, git keeps one with uncommitted or untracked work and this throws `Conflict`
 * before anything else is touched), deletes the row, forgets the secret, and deletes the branch
 * when asked and allowed. Returns the deleted row (`null` when it was already gone) and what
 * happened to the folder and the branch.
 */
export async function finishClose(
  context: StepContext,
  entry: JournalEntry,
  hook: (step: string) => Promise<void> = () => Promise.resolve(),
): Promise<{ session: Session | null; worktreeRemoved: boolean; branch: BranchOutcome }> {
  const { store, chain, git, events } = context;
  let worktreeRemoved = false;
  if (entry.createdWorktree) {
    if (existsSync(entry.path)) {
      try {
        await git.removeWorktree(entry.repositoryPath, entry.path, entry.force ? 1 : 0);
        worktreeRemoved = true;
      } catch (error) {
        // A folder git does not know as a worktree is not ours to delete; anything else stops the close.
        if (!/is not a working tree/.test(messageOf(error))) throw error;
      }
    } else {
      await git.pruneWorktrees(entry.repositoryPath);
    }
  }
  await hook("close:worktree");
  let session: Session | null;
  try {
    session = await store.deleteSession(entry.sessionId);
  } catch (error) {
    throw isSessionError(error) ? error : new SessionError("Storage", `deleting a session failed`, { cause: error });
  }
  await hook("close:row");
  await chain.forget(entry.sessionId, { rowDeleted: true });
  await hook("close:secret");
  let branch: BranchOutcome = { deleted: false, keptReason: null };
  if (entry.deleteBranch) {
    branch = entry.createdBranch
      ? await deleteCreatedBranch(git, entry.repositoryPath, entry.branch, entry.baseRef, entry.force)
      : { deleted: false, keptReason: `${entry.branch} was not created by this session` };
    await hook("close:branch");
  }
  if (session !== null) events?.emit({ type: "session.deleted", session });
  return { session, worktreeRemoved, branch };
}
