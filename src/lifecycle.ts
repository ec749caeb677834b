/**
 * The shape of a worktree lifecycle: sessions that own a real git worktree. The orchestrator owns
 * each one's life (its checks, its row, its secret, its events); the git and file-system side
 * (`WorktreeLifecycle` in `./platform`) plugs into it as its `worktrees`, a {@linkcode WorktreePort}.
 * These interfaces are the contract between the two.
 *
 * @module
 */

import type { RepositoryId, SessionId } from "./ids.ts";
import type { CreateSessionParams } from "./operations.ts";
import type { IncludedFiles } from "./included_files.ts";
import type { WorktreeProgress } from "./progress.ts";
import type { Repository, Session } from "./types.ts";

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

/** What `archiveSession` kept of a worktree session whose folder it removed. */
export interface ArchivedSession {
  /** The session's row, now with status `archived`; its worktree path and branch stay recorded for a restore. */
  session: Session;
  /**
   * Where the worktree's uncommitted work (tracked, staged and untracked changes) was saved, a ref such as
   * `refs/session-snapshots/<session id>` (or `….<n>` after earlier snapshots); `null` when the worktree was clean.
   */
  snapshotRef: string | null;
  /** The branch, kept as it was. */
  branch: string;
  /** The commit the branch (and the worktree) was at. */
  head: string;
  /** Whether the worktree folder was removed (always, once an archive succeeds). */
  worktreeRemoved: boolean;
}

/** How a branch's work reached its base branch: see {@linkcode SessionGitStatus.landed}. */
export type LandedKind = "merged" | "squash-merged" | "cherry-picked";

/**
 * A worktree session's git state, as `sessionStatus` answers it. `ahead`, `behind` and `landed`
 * come from the repository's objects and refs alone; `dirty` and `diskBytes` from its folder.
 */
export interface SessionGitStatus {
  /**
   * Whether the worktree holds uncommitted changes or untracked files (ignored files do not
   * count). For an archived session: whether its archive saved such work. `null` when it cannot
   * be told (the folder is missing, or an archived session's record is gone).
   */
  dirty: boolean | null;
  /** Commits on the branch that its base lacks; `null` when the branch or the base does not resolve. */
  ahead: number | null;
  /** Commits on the base that the branch lacks; `null` as for `ahead`. */
  behind: number | null;
  /**
   * Whether the branch's work is already in its base (the session's `baseBranch`, else the
   * repository's default branch), and how: `merged` (its tip is on the base), `cherry-picked`
   * (each of its commits has an equal patch on the base), `squash-merged` (its whole change since
   * the merge base is in the base). `null` when it is not, when the branch has no commits of its
   * own (an untouched session is never landed), or when the branch or the base does not resolve.
   */
  landed: LandedKind | null;
  /** Bytes the worktree folder takes on disk (allocated blocks, symlinks not followed); 0 when it is gone. */
  diskBytes: number;
  /**
   * When anything in the worktree folder last changed (the newest modification time under it,
   * ISO-8601 UTC), or `null` when the folder is gone (an archived session): with the row's
   * `lastAccessedAt`, what tells how long a session has been idle.
   */
  lastChangedAt: string | null;
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

/** Where a worktree session's parts go, as a {@linkcode WorktreePort} names them: nothing is made yet. */
export interface WorktreePlan {
  /** The worktree folder's name: the caller's, else one cut from the title and the id. */
  worktreeName: string;
  /** The worktree's branch: the caller's, else `<branchPrefix><worktreeName>`. */
  branchName: string;
  /** The worktree's folder (absolute). */
  worktreePath: string;
}

/** What the orchestrator asks a {@linkcode WorktreePort} to open: every field already checked. */
export interface WorktreeOpenRequest {
  /** The new session's id. */
  sessionId: SessionId;
  /** The session's repository, as the store has it. */
  repository: Repository;
  /** Where the worktree and branch go (from the port's `plan`). */
  plan: WorktreePlan;
  /** The ref a new branch starts from, if the caller named one; `null` for the repository's default branch. */
  baseRef: string | null;
  /** Check out the existing `plan.branchName` instead of creating it. */
  useExistingBranch: boolean;
  /**
   * A fork: the session whose worktree the new one copies (`baseRef` is then `null` and
   * `useExistingBranch` `false`). The new branch starts at the source's commit and the new worktree
   * gets the source's uncommitted work (staged as staged, untracked as untracked); the source is
   * left as it was. An archived source gives what its archive saved.
   */
  forkOf?: Session | null;
  /**
   * The operator's patterns (gitignore syntax) of the main checkout's ignored files to copy into
   * the new worktree, besides those its `.worktreeinclude` names; none by default.
   */
  include?: readonly string[];
  /**
   * The operator's cone-mode directories (see `RepositorySettings.sparse`): the new worktree checks
   * out only them (and the files of the top level and their parent folders), set before any file is
   * written; all files when absent or empty.
   */
  sparse?: readonly string[];
  /**
   * A restore of a snapshot into the new session: the snapshot ref (under `refs/session-snapshots/`,
   * checked by the orchestrator) whose work the new worktree gets (`baseRef` is then `null`,
   * `useExistingBranch` `false`, `forkOf` `null`). The new branch starts at the commit the snapshot's
   * worktree had, and the worktree holds the snapshot's files as uncommitted changes (untracked
   * files untracked; staged as staged when the snapshot's archive record still says what was).
   * `SnapshotNotFound` when the repository has no such ref.
   */
  fromSnapshot?: string | null;
  /**
   * Told each phase of the port's part of the open as it starts and, where known, how far it is
   * (`add`, `checkout` with files done of the tracked total, `include` with the files copied): the
   * orchestrator turns it into `session.progress` events, and gives it only while someone listens
   * to them. It must not throw; the port never touches the events itself. Without it the port
   * need not read any counts.
   */
  onProgress?: (progress: WorktreeProgress) => void;
}

/** One snapshot a repository keeps (see {@linkcode WorktreePort.snapshots}). */
export interface SnapshotRecord {
  /** `refs/session-snapshots/<session id>`, or `….<n>` for the session's n-th snapshot. */
  ref: string;
  /** The session whose worktree it saved. */
  sessionId: SessionId;
  /** The snapshot commit. */
  commit: string;
  /** The commit the worktree had checked out (the snapshot's first parent), or `null`. */
  head: string | null;
  /** When it was taken (ISO-8601 UTC). */
  createdAt: string;
  /** The first line of the snapshot commit's message. */
  subject: string;
  /** Why it was taken (`a forced close`, `an archive`, `a fork`), from its subject; `null` when it does not say. */
  reason: string | null;
  /** How many paths the saved work changes against `head`. */
  changedPaths: number;
  /**
   * The total size in bytes of the files the saved work changed, as the snapshot holds them
   * (regular files and symbolic links; deleted paths and nested repositories' gitlinks count 0).
   */
  bytes: number;
}

/** The folder and branch an open claims, or an undo finds. */
export interface WorktreeClaim {
  /** The session's repository. */
  repositoryId: RepositoryId;
  /** The worktree folder. */
  path: string;
  /** The worktree's branch. */
  branch: string;
}

/**
 * What a {@linkcode WorktreePort} may learn of the sessions' rows, and the two deletes it may ask
 * for, at the points of its git and file-system work where they belong (under the repository's
 * lock, with the journal written). The orchestrator implements it: the port never sees the store,
 * the secret chain or the events, and every rule about rows (who holds a folder, which sessions
 * are this machine's, what deleting one means) is the orchestrator's.
 */
export interface WorktreeRows {
  /** The session's row now, or `null`. */
  current(sessionId: SessionId): Promise<Session | null>;
  /**
   * Up to two sessions of each kind whose rows hold the folder (any repository's) or the branch
   * (in its repository); `claim.path` is absolute and normalized, as the port makes paths.
   */
  holding(claim: WorktreeClaim): Promise<Session[]>;
  /**
   * An open's claim, made under the repository's lock: `Conflict` when a session has the id, or
   * another session's row holds the folder or the branch.
   */
  refuseTaken(sessionId: SessionId, claim: WorktreeClaim): Promise<void>;
  /** Every repository. */
  repositories(): Promise<Repository[]>;
  /** The sessions of a repository whose worktrees are this machine's to repair. */
  sessionsOf(repositoryId: RepositoryId): Promise<Session[]>;
  /**
   * Deletes the session's row with its sealed secret, announces `session.deleted`, and forgets
   * the secret's other copies (a failure there is logged, not thrown): a close's row step.
   * `null` when there was no such row.
   */
  remove(sessionId: SessionId): Promise<Session | null>;
  /**
   * Undoes an open's row: deletes the session's row (with its secret, every copy) only when it
   * records the folder `path` (absolute and normalized), since a row with this id and another folder is not the open's.
   * What was done, or `null` when there was no row.
   */
  discardOpened(sessionId: SessionId, path: string): Promise<{ action: "row-deleted" | "none"; detail: string } | null>;
  /**
   * An archive's row step, once the worktree is gone: sets the session's status to `archived` and
   * announces `session.archived`. A row already archived is returned unchanged (nothing announced
   * again); `null` when there is no row.
   */
  markArchived(sessionId: SessionId): Promise<Session | null>;
  /**
   * A restore's row step, once the worktree is back with its work: sets the status back to
   * `active` and announces `session.restored`. A row that is not archived is returned unchanged;
   * `null` when there is no row.
   */
  markRestored(sessionId: SessionId): Promise<Session | null>;
}

/**
 * The git and file-system side of worktree sessions, which the orchestrator drives (the
 * platform's `WorktreeLifecycle` is one): it names folders and branches, claims and makes them
 * under the repository's lock with its intent journaled, removes and restores them, and undoes
 * its own steps when one fails. Whatever concerns a session's row it asks of the orchestrator
 * through {@linkcode WorktreeRows} and the `commit` of each open.
 */
export interface WorktreePort {
  /** This machine's host id, recorded on the sessions it opens; `null` when none was configured. */
  readonly hostId: string | null;
  /**
   * Where a session's worktree and branch go. `title` is checked; a given `worktreeName` or
   * `branchName` is kept as given (the orchestrator checks it with the rest of the row).
   */
  plan(
    repository: Repository,
    names: { sessionId: SessionId; title: string; worktreeName?: string; branchName?: string },
  ): WorktreePlan;
  /**
   * Claims the folder and branch (`Conflict` when one is taken: `rows.holding`, the journal, the
   * disk), journals the intent, makes the worktree and branch (for a fork, from the source's commit
   * with its work copied in: see {@linkcode WorktreeOpenRequest.forkOf}), copies in the checkout's
   * included files, then has `commit` write the row with the base it recorded and what was included
   * (`null` when nothing was); undoes all of it (the row through `rows.discardOpened`) when a step fails.
   */
  open(
    request: WorktreeOpenRequest,
    rows: WorktreeRows,
    commit: (baseBranch: string | null, included: IncludedFiles | null) => Promise<Session>,
  ): Promise<Session>;
  /**
   * Removes what the session made (never uncommitted work without `force`: `Conflict`, and the
   * session stays whole) and `rows.remove`s the row; `null` when the row was already gone.
   * `repository` is the session's, `null` when its row is gone.
   */
  close(
    session: Session,
    repository: Repository | null,
    options: CloseSessionOptions,
    rows: WorktreeRows,
  ): Promise<ClosedSession | null>;
  /**
   * Archives the session's worktree: under the repository's lock, with its intent journaled, saves
   * its work as a snapshot (when there is any), records the archive in the repository, removes the
   * folder and git's record of it, and has `rows.markArchived` mark the row; the branch, the row
   * and the secret stay. `Conflict`, with nothing touched, when the worktree cannot be archived
   * whole (it is missing, on another branch, mid-merge, or holds a nested repository). Undone when
   * a step before the removal fails.
   */
  archive(session: Session, repository: Repository, rows: WorktreeRows): Promise<ArchivedSession>;
  /**
   * Restores an archived session's worktree: under the repository's lock, with its intent
   * journaled, adds the worktree back at its folder on its branch at the archived commit, puts
   * the snapshot's changes back uncommitted (staged as staged, untracked as untracked), copies in the
   * checkout's included files again (`options.include`, as an open does; the archive kept none), and has
   * `rows.markRestored` mark the row. `Conflict`, with nothing changed, when the folder is taken,
   * the branch is gone or checked out elsewhere, or the branch moved while there is work to put
   * back. Undone when a step fails. The snapshot's ref stays.
   */
  restore(
    session: Session,
    repository: Repository,
    rows: WorktreeRows,
    options?: { include?: readonly string[] },
  ): Promise<Session>;
  /**
   * The session's git state (see {@linkcode SessionGitStatus}): read-only, no lock, and nothing of
   * the worktree's files is touched for `ahead`, `behind` or `landed`. An archived session's
   * `dirty` comes from its archive record, and its `diskBytes` is 0.
   */
  status(session: Session, repository: Repository): Promise<SessionGitStatus>;
  /**
   * Every session snapshot the repository keeps, oldest first (read-only, no lock). Refs under
   * `refs/session-snapshots/` that name no session's snapshot are left out.
   */
  snapshots(repository: Repository): Promise<SnapshotRecord[]>;
  /**
   * Deletes the given snapshot refs, each only while it still names its commit, under the
   * repository's lock; answers the refs it deleted. Which ones may go is the orchestrator's
   * decision, made before this is called.
   */
  dropSnapshots(repository: Repository, snapshots: ReadonlyArray<{ ref: string; commit: string }>): Promise<string[]>;
  /** Finishes or undoes what a killed process left, then checks every repository's worktrees against `rows`. */
  reconcile(options: ReconcileOptions, rows: WorktreeRows): Promise<ReconcileReport>;
  /**
   * The repository's pool of ready worktrees, when the port keeps one: its size and how many are
   * ready; a port may start filling it then, in the background. Absent: no pool.
   */
  pool?(repository: Repository): Promise<RepositoryPool>;
  /** Stops the pools' background work and removes what they made (the server calls it as it stops). */
  stopPools?(): Promise<void>;
}

/** A repository's pool of ready worktrees (see {@linkcode WorktreePort.pool}). */
export interface RepositoryPool {
  /** How many ready worktrees the operator asked for (0: no pool). */
  size: number;
  /** How many are ready now. */
  ready: number;
}
