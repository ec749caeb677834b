/**
 * The steps of an archive and a restore after their checks, shared by the lifecycle (in the
 * process that started them) and by `reconcile` (after a killed process). Each phase has one point
 * of no return, recorded in the journal: before it, undoing leaves the session as it was (active
 * with its work, or archived with its snapshot); after it, the phase is finished.
 *
 * @module
 */

import { existsSync } from "node:fs";
import { rmdir } from "node:fs/promises";
import { resolve } from "node:path";
import { errorMessage, SessionError } from "../errors.ts";
import type { Session } from "../types.ts";
import { applyArchive, dropArchive, indexTree, writeArchive } from "./git_archive.ts";
import type { JournalEntry } from "./journal.ts";
import type { StepAction, StepContext } from "./worktree_steps.ts";

/** A hook called between steps (the lifecycle's `onStep`). */
export type StepHook = (step: string) => Promise<void>;

const noHook: StepHook = () => Promise.resolve();

async function registeredAt(context: StepContext, repository: string, path: string) {
  const entries = await context.git.listWorktrees(repository);
  return entries.find((entry) => resolve(entry.path) === resolve(path)) ?? null;
}

/**
 * Runs an archive journaled as `entry` from its start: saves the worktree's work (when there is
 * any) under its own snapshot ref, records the archive commit, journals that the removal begins,
 * removes the worktree, and marks the row archived. A clean worktree is removed without force, so
 * work written since it was found clean makes git refuse (`Conflict`), and nothing is lost.
 */
export async function runArchive(
  context: StepContext,
  entry: JournalEntry,
  hook: StepHook = noHook,
): Promise<{ session: Session | null; entry: JournalEntry }> {
  const { git, journal } = context;
  let current = entry;
  const record = async (patch: Partial<JournalEntry>) => {
    current = { ...current, ...patch };
    await journal.write(current);
  };
  const session = entry.session!;
  const [changes, index, head] = await Promise.all([
    git.worktreeChanges(entry.path),
    indexTree(git, entry.path),
    git.resolveCommit(entry.path, "HEAD"),
  ]);
  if (head === null) throw new SessionError("Conflict", `the worktree ${entry.path} has no commit checked out`);
  if (!changes.clean) {
    // Recorded at once: a retried archive, or a finished one, names this snapshot and no other.
    await record({ snapshot: await git.saveWorktree(entry.path, entry.sessionId, "an archive") });
  }
  const snapshot = current.snapshot ?? null;
  const fields = { head, indexTree: index, snapshot, branch: session.branchName! };
  const commit = await writeArchive(git, entry.repositoryPath, entry.sessionId, fields, entry.path);
  await record({ archive: { commit, ...fields }, removing: true, removalFromClean: snapshot === null });
  await hook("archive:remove");
  return await finishArchive(context, current, hook);
}

/**
 * Finishes an archive whose removal may have begun (`entry.removing`): removes what is left of the
 * worktree (with force when its work is in the recorded snapshot; a clean one only when nothing
 * but tracked files is missing, else `Conflict`), drops git's record of it when the folder is
 * gone, and marks the row archived.
 */
export async function finishArchive(
  context: StepContext,
  entry: JournalEntry,
  hook: StepHook = noHook,
): Promise<{ session: Session | null; entry: JournalEntry }> {
  const { git } = context;
  const registered = await registeredAt(context, entry.repositoryPath, entry.path);
  if (existsSync(entry.path) && registered !== null) {
    // A removal killed half-way may have deleted the folder's `.git` file: put back git's link.
    await git.restoreWorktreeLink(entry.repositoryPath, entry.path);
    if (entry.snapshot) {
      await git.removeWorktree(entry.repositoryPath, entry.path, 1);
    } else {
      try {
        await git.removeWorktree(entry.repositoryPath, entry.path, 0);
      } catch (error) {
        // Clean when the removal began, and only missing files since: what a killed removal leaves.
        if (
          !(error instanceof SessionError && error.forceable && (await git.worktreeChanges(entry.path)).deletionsOnly)
        ) {
          throw error;
        }
        await git.removeWorktree(entry.repositoryPath, entry.path, 1);
      }
    }
  } else if (existsSync(entry.path)) {
    throw new SessionError(
      "Conflict",
      `${entry.path} is no longer a worktree of ${entry.repositoryPath}, so the archive cannot remove it`,
    );
  } else if (registered !== null && registered.locked === null) {
    await git.forgetMissingWorktree(entry.repositoryPath, registered.path);
  }
  await hook("archive:worktree");
  const session = await context.rows.markArchived(entry.sessionId);
  await hook("archive:row");
  return { session, entry };
}

/**
 * Undoes an archive that had not begun its removal: the worktree was never touched, so only the
 * archive record is dropped (a snapshot already taken keeps its ref: snapshots are never lost).
 */
export async function undoArchive(context: StepContext, entry: JournalEntry): Promise<StepAction[]> {
  const actions: StepAction[] = [];
  if (entry.archive) {
    if (await dropArchive(context.git, entry.repositoryPath, entry.sessionId, entry.archive.commit)) {
      actions.push({ action: "archive-dropped", detail: `dropped the archive record of session ${entry.sessionId}` });
    }
  }
  if (entry.snapshot) {
    actions.push({ action: "snapshot-kept", detail: `kept the snapshot ${entry.snapshot.ref}` });
  }
  return actions;
}

/**
 * Runs a restore journaled as `entry` (its `archive` the record to restore) from its start: makes
 * the folder (atomically: one that appeared since the checks is `Conflict`), adds the worktree on
 * its branch, puts the archived work back, marks the row active, and drops the archive record.
 */
export async function runRestore(
  context: StepContext,
  entry: JournalEntry,
  hook: StepHook = noHook,
  include: (worktree: string) => Promise<void> = async () => {},
): Promise<Session> {
  const { git } = context;
  const archive = entry.archive!;
  await git.addWorktree(entry.repositoryPath, entry.path, entry.branch, null);
  await hook("restore:worktree");
  await applyArchive(git, entry.path, archive);
  // The checkout's included files, which the archive did not keep (they are ignored), come back
  // after the archived work, so that none of it is overwritten.
  await include(entry.path);
  await hook("restore:changes");
  const session = await context.rows.markRestored(entry.sessionId);
  if (session === null) throw new SessionError("SessionNotFound", `session ${entry.sessionId} was deleted meanwhile`);
  await hook("restore:row");
  await finishRestore(context, entry);
  return session;
}

/** Finishes a restore whose row is active again: its archive record, now stale, is dropped. */
export async function finishRestore(context: StepContext, entry: JournalEntry): Promise<void> {
  if (entry.archive) await dropArchive(context.git, entry.repositoryPath, entry.sessionId, entry.archive.commit);
}

/**
 * Undoes a restore whose row is still archived: removes the worktree it added (only when git lists
 * it at the journaled folder on the journaled branch; its files are copies of the archive, which
 * stays) or the empty folder it made. A folder that is neither is kept, and this throws.
 */
export async function undoRestore(context: StepContext, entry: JournalEntry): Promise<StepAction[]> {
  const { git } = context;
  const registered = await registeredAt(context, entry.repositoryPath, entry.path);
  if (registered !== null && (registered.branch === entry.branch || registered.branch === null)) {
    // Twice forced: a killed `worktree add` leaves its worktree locked.
    await git.removeWorktree(entry.repositoryPath, entry.path, 2);
    return [{ action: "worktree-removed", detail: `removed the partly restored worktree ${entry.path}` }];
  }
  if (registered === null && existsSync(entry.path)) {
    try {
      await rmdir(entry.path);
      return [{ action: "folder-removed", detail: `removed the empty folder ${entry.path}` }];
    } catch (error) {
      throw new SessionError(
        "Conflict",
        `${entry.path} is not a worktree of ${entry.repositoryPath} and not an empty folder, so the restore ` +
          `cannot be undone there: ${errorMessage(error)}`,
        { cause: error },
      );
    }
  }
  return [];
}
