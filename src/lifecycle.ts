/**
 * The shape of a worktree lifecycle: sessions that own a real git worktree. The implementation
 * (git, the file system, cross-process locks) lives in `./platform` and plugs into the core's
 * `SessionOrchestrator` as its `worktrees`; these interfaces are the contract between the two.
 *
 * @module
 */

import type { SessionId } from "./ids.ts";
import type { CreateSessionParams } from "./operations.ts";
import type { NewSession, Repository, Session } from "./types.ts";

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
  /**
   * Where a forced close saved the worktree's work before throwing it away (a ref such as
   * `refs/session-snapshots/<session id>`), else `null`.
   */
  snapshotRef?: string | null;
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

/**
 * The steps of a session's life that belong to the orchestrator, handed to a
 * {@linkcode SessionLifecycle} so that a worktree session's row, secret and events are made by the
 * same code as a plain session's.
 */
export interface LifecycleSteps {
  /**
   * Writes the session's row together with a newly made sealed secret, in one store transaction:
   * after any crash there is either the whole session or nothing. Announces nothing; the
   * orchestrator announces the session once the lifecycle's `openWorktree` has returned it.
   */
  commit(draft: NewSession): Promise<Session>;
  /**
   * Deletes the session's row (its sealed secret goes with it, atomically), announces
   * `session.deleted` once that is committed, and forgets the secret's other copies (a failure
   * there is logged, not thrown, since the delete is done). `null` when there was no such row.
   */
  remove(sessionId: SessionId): Promise<Session | null>;
}

/** What the orchestrator asks a lifecycle to open: checked parameters and the session's repository. */
export interface WorktreeRequest {
  /** The new session's id, already checked. */
  sessionId: SessionId;
  /** The session's repository, which exists. */
  repository: Repository;
  /** The caller's parameters, `isWorktree: true`, with the common fields already checked. */
  params: CreateSessionParams;
  /** The ref a new branch starts from, if the caller named one. */
  baseRef?: string;
  /** Check out the existing `params.branchName` instead of creating it. */
  useExistingBranch?: boolean;
}

/**
 * Sessions that own a git worktree, as the orchestrator drives them: the lifecycle does the git
 * and file-system work around the orchestrator's {@linkcode LifecycleSteps}, undoing its own steps
 * when one fails.
 */
export interface SessionLifecycle {
  /** Makes the worktree and branch, then `steps.commit`s the row and secret; undoes all of it when a step fails. */
  openWorktree(request: WorktreeRequest, steps: LifecycleSteps): Promise<Session>;
  /**
   * Removes what the session made (never uncommitted work without `force`: `Conflict`, and the
   * session stays whole) and `steps.remove`s the row; `null` when the row was already gone.
   */
  closeWorktree(session: Session, options: CloseSessionOptions, steps: LifecycleSteps): Promise<ClosedSession | null>;
  /** Finishes or undoes what a killed process left, using `steps` for what it deletes. */
  reconcileWorktrees(options: ReconcileOptions, steps: LifecycleSteps): Promise<ReconcileReport>;
}
