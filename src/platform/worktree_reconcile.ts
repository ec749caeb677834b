/**
 * Repair after a crash: finishes or undoes journaled operations, then makes the store, git's
 * worktree registrations and the worktree folders agree, deleting only what is proven ours.
 *
 * @module
 */

import { existsSync, lstatSync, readdirSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { errorMessage, isSessionError } from "../errors.ts";
import type { ReconcileFinding, ReconcileReport } from "../lifecycle.ts";
import type { Repository, Session } from "../types.ts";
import type { RepositoryInfo } from "./git.ts";
import type { Journal, JournalEntry } from "./journal.ts";
import { finishClose, type StepContext, undoOpen } from "./worktree_steps.ts";
import { finishArchive, finishRestore, undoArchive, undoRestore } from "./worktree_archive.ts";

/** What reconcile needs from the lifecycle. */
export interface ReconcileContext extends StepContext {
  /** The journal of operations in progress. */
  journal: Journal;
  /** Only report. */
  dryRun: boolean;
  /** A repository's top level and common git dir. */
  repositoryInfo(path: string): Promise<RepositoryInfo>;
  /** Runs `work` under the repository's cross-process lock. */
  lock<T>(info: RepositoryInfo, work: () => Promise<T>): Promise<T>;
  /** Where a repository's worktrees go. */
  worktreesFolder(repository: Repository): string;
  /** The pool's part (under the repository's lock): removes its entries whose process is gone. */
  reconcilePool?(repository: Repository, info: RepositoryInfo, dryRun: boolean): Promise<ReconcileFinding[]>;
}

/** The finding kind of an unfinished operation. */
function unfinished(entry: JournalEntry): string {
  return `unfinished-${entry.op}`;
}

async function handleEntry(context: ReconcileContext, entry: JournalEntry, findings: ReconcileFinding[]) {
  const kind = unfinished(entry);
  const report = (action: string, detail: string) =>
    findings.push({ sessionId: entry.sessionId, path: entry.path, branch: entry.branch, kind, action, detail });
  if (entry.op === "archive" || entry.op === "restore") {
    await handlePhase(context, entry, report);
    return;
  }
  if (context.dryRun) {
    const [what, outcome] = entry.op === "open" ? ["an open", "undone"] : ["a close", "finished"];
    report("none", `${what} of session ${entry.sessionId} was interrupted; it would be ${outcome}`);
    return;
  }
  if (entry.op === "open") {
    const actions = await undoOpen(context, entry);
    await context.journal.remove(entry.sessionId);
    report(
      "undone",
      `undid an interrupted open: ${actions.map((a) => a.detail).join("; ") || "nothing had been made yet"}`,
    );
    return;
  }
  try {
    const result = await finishClose(context, entry);
    await context.journal.remove(entry.sessionId);
    const parts = [
      result.worktreeRemoved ? "removed the worktree" : null,
      result.session !== null ? "deleted the row" : null,
      "forgot the secret",
      result.branch.deleted
        ? `deleted the branch`
        : entry.deleteBranch
        ? `kept the branch: ${result.branch.keptReason}`
        : null,
    ].filter((part) => part !== null);
    report("finished", `finished an interrupted close: ${parts.join(", ")}`);
  } catch (error) {
    if (!isSessionError(error, "Conflict")) throw error;
    // The worktree now holds uncommitted work and the close was not forced: nothing was touched,
    // so the session stays whole, as if the close had been refused.
    await context.journal.remove(entry.sessionId);
    report(
      "abandoned",
      `an interrupted close was not finished because the worktree has uncommitted work: ${errorMessage(error)}`,
    );
  }
}

// An archive or a restore a killed process left: finished past its point of no return (an archive
// whose removal began, a restore whose row is active again), else undone, so that the session is
// whole either way: archived with its snapshot, or active with its work.
async function handlePhase(
  context: ReconcileContext,
  entry: JournalEntry,
  report: (action: string, detail: string) => void,
) {
  const row = await context.rows.current(entry.sessionId);
  const archive = entry.op === "archive";
  const finish = archive ? entry.removing === true && row !== null : row?.status === "active";
  if (context.dryRun) {
    report(
      "none",
      `${archive ? "an archive" : "a restore"} of session ${entry.sessionId} was interrupted; it would be ${
        finish ? "finished" : "undone"
      }`,
    );
    return;
  }
  if (archive && row?.status === "archived") {
    await context.journal.remove(entry.sessionId);
    report(
      "finished",
      `the interrupted archive of session ${entry.sessionId} had marked its row: nothing was left to do`,
    );
    return;
  }
  if (!archive && finish) {
    await finishRestore(context, entry);
    await context.journal.remove(entry.sessionId);
    report("finished", `finished an interrupted restore: the worktree and its work are back at ${entry.path}`);
    return;
  }
  if (archive && finish) {
    try {
      await finishArchive(context, entry);
    } catch (error) {
      if (!isSessionError(error, "Conflict")) throw error;
      // Work written since the worktree was found clean: never thrown away, so the session stays active.
      await undoArchive(context, entry);
      await context.journal.remove(entry.sessionId);
      report("abandoned", `an interrupted archive was not finished: ${errorMessage(error)}`);
      return;
    }
    await context.journal.remove(entry.sessionId);
    const saved = entry.snapshot ? `its work is in ${entry.snapshot.ref}` : "it had no uncommitted work";
    report(
      "finished",
      `finished an interrupted archive: removed the worktree (${saved}) and marked the session archived`,
    );
    return;
  }
  const actions = archive ? await undoArchive(context, entry) : await undoRestore(context, entry);
  await context.journal.remove(entry.sessionId);
  const done = actions.map((action) => action.detail).join("; ") || "nothing had been changed yet";
  report(
    "undone",
    archive
      ? `undid an interrupted archive before its removal began (${done}): the session stays active with its worktree`
      : `undid an interrupted restore (${done}): the session stays archived with its snapshot`,
  );
}

async function checkRepository(
  context: ReconcileContext,
  repository: Repository,
  sessions: Session[],
  info: RepositoryInfo,
  findings: ReconcileFinding[],
  journaled: Set<string>,
) {
  const { git, dryRun } = context;
  const entries = await git.listWorktrees(info.topLevel);
  const stale = entries.filter((entry) => entry.prunable !== null && entry.locked === null);
  for (const entry of stale) {
    // Only a record that a session row proves this lifecycle made is dropped (so that its worktree
    // can be recreated below); anyone else's, such as a user's worktree on an unmounted drive,
    // is reported and kept, and works again when its folder is back.
    const owner = sessions.find((session) =>
      session.createdWorktree && session.worktreePath !== null &&
      resolve(session.worktreePath) === resolve(entry.path) &&
      (entry.branch === null || entry.branch === session.branchName)
    );
    const journaledHere = journaled.has(resolve(entry.path));
    let action = "none";
    let detail = owner === undefined
      ? `git still lists the worktree ${entry.path}, whose folder is gone; nothing proves this lifecycle made it: kept`
      : `git still listed the worktree ${entry.path} of session ${owner.id}, whose folder is gone`;
    if (owner !== undefined && !journaledHere && !dryRun) {
      try {
        await git.forgetMissingWorktree(info.topLevel, entry.path);
        action = "pruned";
      } catch (error) {
        detail = `${detail}; its record could not be dropped: ${errorMessage(error)}`;
      }
    }
    findings.push({
      kind: "stale-registration",
      sessionId: owner?.id ?? null,
      path: entry.path,
      branch: entry.branch,
      action,
      detail,
    });
  }
  const registered = new Map(entries.filter((entry) => entry.prunable === null).map((e) => [resolve(e.path), e]));

  for (const session of sessions) {
    if (!session.isWorktree || session.worktreePath === null) continue;
    const path = resolve(session.worktreePath);
    if (journaled.has(path)) continue;
    if (session.status === "archived") {
      // Its folder is meant to be gone (never recreated here: a restore brings it back with its work).
      if (existsSync(path)) {
        findings.push({
          kind: "archived-folder-taken",
          sessionId: session.id,
          path,
          branch: session.branchName,
          action: "none",
          detail:
            `the folder of the archived session ${session.id} exists again; a restore is refused until it is moved`,
        });
      }
      continue;
    }
    if (existsSync(path)) {
      if (!registered.has(path)) {
        findings.push({
          kind: "unregistered-worktree",
          sessionId: session.id,
          path,
          branch: session.branchName,
          action: "none",
          detail: `the folder of session ${session.id} exists but git does not list it as a worktree`,
        });
      }
      continue;
    }
    if (!session.createdWorktree) {
      // The folder was the user's, not made by the lifecycle: putting a worktree there would invent one.
      findings.push({
        kind: "missing-worktree",
        sessionId: session.id,
        path,
        branch: session.branchName,
        action: "none",
        detail:
          `the folder of session ${session.id} is gone; it was not made by this lifecycle, so it is not recreated`,
      });
      continue;
    }
    const branch = session.branchName;
    const branchExists = branch !== null && await git.branchExists(info.topLevel, branch);
    const elsewhere = [...registered.values()].find((entry) => entry.branch === branch);
    if (!branchExists || elsewhere !== undefined || dryRun) {
      findings.push({
        kind: "missing-worktree",
        sessionId: session.id,
        path,
        branch,
        action: "none",
        detail: !branchExists
          ? `the worktree of session ${session.id} is gone and so is its branch ${branch}`
          : elsewhere !== undefined
          ? `the worktree of session ${session.id} is gone and its branch is checked out at ${elsewhere.path}`
          : `the worktree of session ${session.id} is gone; it would be recreated on ${branch}`,
      });
      continue;
    }
    try {
      await git.addWorktree(info.topLevel, path, branch!, null);
      findings.push({
        kind: "missing-worktree",
        sessionId: session.id,
        path,
        branch,
        action: "recreated",
        detail: `recreated the worktree of session ${session.id} on its branch ${branch}`,
      });
    } catch (error) {
      findings.push({
        kind: "missing-worktree",
        sessionId: session.id,
        path,
        branch,
        action: "none",
        detail: `could not recreate the worktree of session ${session.id}: ${errorMessage(error)}`,
      });
    }
  }

  const owned = new Set(
    sessions.map((session) => session.worktreePath).filter((p) => p !== null).map((p) => resolve(p!)),
  );
  const folder = context.worktreesFolder(repository);
  let names: string[] = [];
  try {
    names = readdirSync(folder);
  } catch {
    // No folder yet: nothing can be orphaned in it.
  }
  for (const name of names.sort()) {
    const path = join(folder, name);
    // A journaled folder was reported with its unfinished operation (it is still there on a dry run).
    if (owned.has(path) || journaled.has(path) || name === ".journal") continue;
    let isFolder: boolean;
    try {
      // lstat: a symlink (dangling or not) is not a worktree folder, and following one could fail.
      isFolder = lstatSync(path).isDirectory();
    } catch {
      continue; // Gone since it was listed.
    }
    if (!isFolder) {
      if (!registered.has(path)) {
        findings.push({
          kind: "unknown-entry",
          sessionId: null,
          path,
          branch: null,
          action: "none",
          detail: `${path} is not a folder and belongs to no session: kept`,
        });
      }
      continue;
    }
    const entry = registered.get(path);
    findings.push({
      kind: entry === undefined ? "unknown-folder" : "orphan-worktree",
      sessionId: null,
      path,
      branch: entry?.branch ?? null,
      action: "none",
      detail: entry === undefined
        ? `${path} belongs to no session and nothing proves it was made here: kept`
        : `${path} is a worktree of no session and nothing proves it was made here: kept`,
    });
  }
}

/** Runs a reconcile pass; see `WorktreeLifecycle.reconcile`. */
export async function reconcileWorktrees(context: ReconcileContext): Promise<ReconcileReport> {
  const findings: ReconcileFinding[] = [];
  for (const stray of await context.journal.abandonedTempFiles()) {
    if (!context.dryRun) await rm(stray, { force: true });
  }
  for (const listed of await context.journal.list()) {
    try {
      const info = await context.repositoryInfo(listed.repositoryPath);
      await context.lock(info, async () => {
        // Re-read under the lock: the operation may have been alive and finished while we waited.
        const entry = await context.journal.read(listed.sessionId);
        if (entry !== null) await handleEntry(context, entry, findings);
      });
    } catch (error) {
      findings.push({
        kind: unfinished(listed),
        sessionId: listed.sessionId,
        path: listed.path,
        branch: listed.branch,
        action: "none",
        detail: `could not repair (the journal is kept for the next run): ${errorMessage(error)}`,
      });
    }
  }
  // Only a dry run leaves entries behind; their folders are already reported above.
  const journaled = new Set((await context.journal.list()).map((entry) => resolve(entry.path)));
  // The rows give only this machine's sessions: another machine's folders are on its disk.
  for (const repository of await context.rows.repositories()) {
    const sessions = await context.rows.sessionsOf(repository.id);
    const usesWorktrees = repository.isGitRepository || sessions.some((session) => session.isWorktree);
    if (!usesWorktrees) continue;
    let info: RepositoryInfo;
    try {
      info = await context.repositoryInfo(repository.path);
    } catch (error) {
      if (sessions.some((session) => session.isWorktree)) {
        findings.push({
          kind: "repository-unavailable",
          sessionId: null,
          path: repository.path,
          branch: null,
          action: "none",
          detail: `cannot check the worktrees of repository ${repository.id}: ${errorMessage(error)}`,
        });
      }
      continue;
    }
    try {
      await context.lock(info, async () => {
        // Listed again under the lock, so a session opened or closed meanwhile is seen as it is now.
        const current = await context.rows.sessionsOf(repository.id);
        // The pool's first, so that its registrations are gone before the worktrees are checked.
        if (context.reconcilePool !== undefined) {
          findings.push(...await context.reconcilePool(repository, info, context.dryRun));
        }
        await checkRepository(context, repository, current, info, findings, journaled);
      });
    } catch (error) {
      // One broken repository must not stop the others from being checked (nor the server from starting).
      findings.push({
        kind: "repository-unavailable",
        sessionId: null,
        path: repository.path,
        branch: null,
        action: "none",
        detail: `could not check the worktrees of repository ${repository.id}: ${errorMessage(error)}`,
      });
    }
  }
  return { dryRun: context.dryRun, findings };
}
