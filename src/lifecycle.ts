/**
 * The shape of a worktree lifecycle: sessions that own a real git worktree. The implementation
 * (git, the file system, cross-process locks) lives in `./platform`; this interface lets the HTTP
 * adapter and users depend on the behaviour without a runtime import.
 *
 * @module
 */

import type { SessionId } from "./ids.ts";
import type { CreateSessionParams } from "./orchestrator.ts";
import type { Session } from "./types.ts";

/** What `open` takes: the create parameters plus where the worktree's branch comes from. */
export interface OpenSessionParams extends CreateSessionParams {
  /** The id to use; a new UUID when absent. */
  sessionId?: SessionId;
  /** The ref a new branch starts from; the repository's default branch (or `HEAD`) when absent. */
  baseRef?: string;
  /**
   * Check out `branchName`, which must already exist, instead of creating it. Such a branch is
   * the user's: it is recorded as not created by us and never deleted.
   */
  useExistingBranch?: boolean;
}

/** Options of `close`. */
export interface CloseSessionOptions {
  /** Throw away uncommitted or untracked changes, and delete a branch even with unmerged commits. */
  force?: boolean;
  /** Delete the branch too, when the lifecycle created it (kept by default). */
  deleteBranch?: boolean;
}

/** What `close` did. */
export interface ClosedSession {
  /** The deleted session row: the caller's cleanup data. */
  session: Session;
  /** Whether the worktree folder was removed. */
  worktreeRemoved: boolean;
  /** Whether the branch was deleted. */
  branchDeleted: boolean;
  /** Why the branch was kept when deletion was asked for, else `null`. */
  branchKeptReason: string | null;
  /** Why the worktree folder was kept, when that is not the plain outcome (for example its repository is gone). */
  worktreeKeptReason?: string | null;
}

/** Options of `reconcile`. */
export interface ReconcileOptions {
  /** Only report; change nothing. */
  dryRun?: boolean;
}

/** One thing `reconcile` found, and what it did about it. */
export interface ReconcileFinding {
  /** What was found, for example `orphan-worktree`, `missing-worktree`, `unfinished-open`. */
  kind: string;
  /** The session concerned, if any. */
  sessionId: SessionId | null;
  /** The folder concerned, if any. */
  path: string | null;
  /** The branch concerned, if any. */
  branch: string | null;
  /** What was done: `none` under `dryRun` or when nothing could be proven. */
  action: string;
  /** A sentence for people. */
  detail: string;
}

/** The result of `reconcile`. */
export interface ReconcileReport {
  /** Whether this was a dry run. */
  dryRun: boolean;
  /** Every finding, in the order handled. */
  findings: ReconcileFinding[];
}

/** Sessions that own a git worktree: open, close, and repair after a crash. */
export interface SessionLifecycle {
  /** Creates the worktree, branch, row and secret, undoing the steps already done when one fails. */
  open(params: OpenSessionParams): Promise<Session>;
  /** Deletes the row, removes the worktree and forgets the secret; `null` when the session did not exist. */
  close(sessionId: SessionId, options?: CloseSessionOptions): Promise<ClosedSession | null>;
  /** Finishes or undoes what a killed process left. */
  reconcile(options?: ReconcileOptions): Promise<ReconcileReport>;
}
