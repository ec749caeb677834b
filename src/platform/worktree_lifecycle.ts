/**
 * The git and file-system side of sessions that own a real git worktree: open claims and makes the
 * worktree and branch and undoes them when a step fails; close removes only what the session
 * created; reconcile repairs what a killed process left. It plugs into the core's
 * `SessionOrchestrator` as its `worktrees` (a `WorktreePort`): the orchestrator owns the session's
 * life, its checks, its row, its secret and its events, and this module never sees the store, the
 * secret chain or the events.
 *
 * @module
 */

import { existsSync, realpathSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { errorMessage, isSessionError, SessionError } from "../errors.ts";
import { parseId, type SessionId } from "../ids.ts";
import type {
  ClosedSession,
  CloseSessionOptions,
  ReconcileOptions,
  ReconcileReport,
  WorktreeOpenRequest,
  WorktreePlan,
  WorktreePort,
  WorktreeRows,
} from "../lifecycle.ts";
import type { Repository, Session } from "../types.ts";
import { branchNameProblem, invalid, nowIso, requireHostId } from "../validation.ts";
import { defaultDataDir } from "./data_dir.ts";
import { Git, type RepositoryInfo } from "./git.ts";
import { Journal, type JournalEntry } from "./journal.ts";
import { withRepositoryLock } from "./_repository_lock.ts";
import { branchForWorktreeName, defaultWorktreeName } from "./worktree_names.ts";
import { refuseJournaled } from "./_worktree_ownership.ts";
import { reconcileWorktrees } from "./worktree_reconcile.ts";
import { finishClose, type StepContext, undoOpen } from "./worktree_steps.ts";

/** The points between steps where {@linkcode WorktreeLifecycleOptions.onStep} is called. */
export type LifecycleStep =
  | "open:journal"
  | "open:worktree"
  | "open:row"
  | "close:journal"
  | "close:remove"
  | "close:worktree"
  | "close:row"
  | "close:branch";

/** Every step of an open, in order; `open:row` writes the row and its sealed secret together. */
export const OPEN_STEPS: readonly LifecycleStep[] = ["open:journal", "open:worktree", "open:row"];
/**
 * Every step of a close that deletes its branch, in order; `close:row` removes the row and its secret.
 * Not listed: `close:remove`, reached only when the worktree is removed, right before git's removal
 * starts, once the journal records what a restart needs (the snapshot, or that the worktree was clean).
 */
export const CLOSE_STEPS: readonly LifecycleStep[] = ["close:journal", "close:worktree", "close:row", "close:branch"];

/** Options of {@linkcode WorktreeLifecycle}. */
export interface WorktreeLifecycleOptions {
  /**
   * Absolute folder for worktrees (`<worktreesRoot>/<repositoryId>/<worktreeName>`) and the journal;
   * `worktrees/` in the platform's data directory (see `defaultDataDir`) by default.
   */
  worktreesRoot?: string;
  /**
   * This machine's host id (see `resolveHostId`), for stores that several machines share: the
   * orchestrator records it on every worktree session opened here, and closes and repairs here
   * only the sessions recorded with it (or with none); closing another machine's is `Conflict`,
   * naming that machine, with nothing touched. `null` by default: nothing is recorded and every session is handled here.
   */
  hostId?: string | null;
  /** Prefix of default branch names; `session/` by default. */
  branchPrefix?: string;
  /** The git executable; `git` on `PATH` by default. */
  gitPath?: string;
  /** How long one git call may run before it is killed and the operation fails; 120 s by default. */
  gitTimeoutMs?: number;
  /** How long to wait for another process's lock on a repository; 120 s by default. */
  lockTimeoutMs?: number;
  /**
   * Test hook, called after each step once it is done (see {@linkcode LifecycleStep}); a rejection
   * fails the operation there, as a crash of that step would.
   */
  onStep?: (step: LifecycleStep, sessionId: SessionId) => Promise<void> | void;
}

function asSessionError(error: unknown, action: string): SessionError {
  if (error instanceof SessionError) return error;
  return new SessionError("WorktreeCreation", `${action} failed: ${errorMessage(error)}`, {
    cause: error,
  });
}

// The real location of `path`, which may not exist yet: its nearest existing ancestor resolved
// through symlinks, plus the rest. Used so a symlinked worktrees root cannot lead into the checkout.
function realLocation(path: string): string {
  let existing = path;
  while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
  return join(realpathSync(existing), relative(existing, path));
}

function isInside(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}

/**
 * The git-worktree implementation of the core's `WorktreePort`. Every change to a repository's
 * worktrees runs under that repository's cross-process lock, with its intent journaled first.
 * Plug it into a `SessionOrchestrator` as `worktrees`; sessions are then created, deleted and
 * repaired through the orchestrator, which alone touches their rows and secrets.
 *
 * @example A session on its own worktree and branch, in a throwaway repository
 * ```ts
 * import assert from "node:assert/strict";
 * import { execFileSync } from "node:child_process";
 * import { existsSync, mkdtempSync, rmSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { generateDatabaseKey, MemoryStore, SessionOrchestrator, SessionSecretChain } from "../../mod.ts";
 * import { WorktreeLifecycle } from "./worktree_lifecycle.ts";
 *
 * const root = mkdtempSync(join(tmpdir(), "slo-"));
 * const checkout = join(root, "app");
 * execFileSync("git", ["init", "-q", "-b", "main", checkout]);
 * execFileSync("git", ["-C", checkout, "-c", "user.name=me", "-c", "user.email=me@example.com", "commit", "-q", "--allow-empty", "-m", "start"]);
 *
 * const store = new MemoryStore();
 * const chain = new SessionSecretChain({ store, databaseKey: await generateDatabaseKey() });
 * const worktrees = new WorktreeLifecycle({ worktreesRoot: join(root, "worktrees") });
 * const orchestrator = new SessionOrchestrator({ store, chain, worktrees });
 * const repository = await orchestrator.createRepository({ path: checkout, name: "app", isGitRepository: true });
 *
 * const session = await orchestrator.createSession({ repositoryId: repository.id, title: "Dark mode", isWorktree: true });
 * assert.equal(session.worktreePath, join(root, "worktrees", repository.id, session.worktreeName!));
 * assert.match(session.branchName!, /^session\/dark-mode-[0-9a-f]{8}$/);
 * assert.ok(existsSync(session.worktreePath!));
 *
 * const closed = await orchestrator.deleteSession(session.id, { deleteBranch: true });
 * assert.equal(closed?.worktreeRemoved, true);
 * assert.equal(closed?.branchDeleted, true); // it made the branch, and the branch has no commits of its own
 * assert.equal(existsSync(session.worktreePath!), false);
 * rmSync(root, { recursive: true });
 * ```
 */
export class WorktreeLifecycle implements WorktreePort {
  readonly #root: string;
  readonly #prefix: string;
  readonly #git: Git;
  readonly #journal: Journal;
  readonly #lockTimeoutMs: number | undefined;
  readonly #onStep: WorktreeLifecycleOptions["onStep"];
  readonly #infos = new Map<string, RepositoryInfo>();
  readonly #hostId: string | null;

  /**
   * Composes git, the journal and the repository locks.
   *
   * @param options where worktrees go, this machine's host id, and how git runs
   */
  constructor(options: WorktreeLifecycleOptions) {
    const worktreesRoot = options.worktreesRoot ?? join(defaultDataDir(), "worktrees");
    if (typeof worktreesRoot !== "string" || !isAbsolute(worktreesRoot)) {
      invalid("worktreesRoot must be an absolute path");
    }
    this.#hostId = options.hostId === undefined || options.hostId === null
      ? null
      : requireHostId(options.hostId, "hostId");
    this.#root = resolve(worktreesRoot);
    this.#prefix = options.branchPrefix ?? "session/";
    if (this.#prefix !== "" && branchForWorktreeName(this.#prefix, "x") !== `${this.#prefix}x`) {
      invalid(`branchPrefix ${JSON.stringify(this.#prefix)} would not make valid branch names`);
    }
    this.#git = new Git({ gitPath: options.gitPath, timeoutMs: options.gitTimeoutMs });
    this.#journal = new Journal(join(this.#root, ".journal"));
    this.#lockTimeoutMs = options.lockTimeoutMs;
    this.#onStep = options.onStep;
  }

  /** The machine this lifecycle runs on, as recorded on its sessions; `null` when none was given. */
  get hostId(): string | null {
    return this.#hostId;
  }

  /** The folder that holds worktrees and the journal. */
  get worktreesRoot(): string {
    return this.#root;
  }

  /** The folder a repository's worktrees go in: its `sessionsPath`, else `<worktreesRoot>/<repositoryId>`. */
  worktreesFolder(repository: Repository): string {
    return resolve(repository.sessionsPath ?? join(this.#root, repository.id));
  }

  /**
   * Names a session's worktree: the folder name is the caller's or a slug of the title plus part
   * of the id, the branch the caller's or `<branchPrefix><worktreeName>`, and the folder
   * `<worktreesFolder>/<worktreeName>`. Nothing is checked or touched here: the orchestrator has
   * checked the caller's names, and the default ones are valid by construction.
   */
  plan(
    repository: Repository,
    names: { sessionId: SessionId; title: string; worktreeName?: string; branchName?: string },
  ): WorktreePlan {
    const worktreeName = names.worktreeName ?? defaultWorktreeName(names.title, names.sessionId);
    const branchName = names.branchName ?? branchForWorktreeName(this.#prefix, worktreeName);
    return { worktreeName, branchName, worktreePath: join(this.worktreesFolder(repository), worktreeName) };
  }

  #context(rows: WorktreeRows): StepContext {
    return { git: this.#git, journal: this.#journal, rows };
  }

  async #step(step: LifecycleStep, sessionId: SessionId): Promise<void> {
    if (this.#onStep !== undefined) await this.#onStep(step, sessionId);
  }

  /** The repository's top level and common git dir; cached per path while the checkout exists. */
  async #repositoryInfo(path: string): Promise<RepositoryInfo> {
    const cached = this.#infos.get(path);
    if (cached !== undefined && existsSync(cached.commonDir)) return cached;
    if (!existsSync(path)) invalid(`the repository folder ${path} does not exist`);
    const info = await this.#git.repositoryInfo(path);
    this.#infos.set(path, info);
    return info;
  }

  #lock<T>(info: RepositoryInfo, work: () => Promise<T>): Promise<T> {
    return withRepositoryLock(info.commonDir, work, { timeoutMs: this.#lockTimeoutMs });
  }

  /**
   * Opens a worktree session's worktree. Checks what git and the disk can tell before touching
   * anything (`InvalidInput` for a branch name git refuses, a path inside the checkout, a folder
   * that is not a git repository, a base that names no commit), then, under the repository's
   * lock, refuses an id, folder or branch the rows hold (`rows.refuseTaken`), one named by an
   * unfinished operation's journal entry, or one already on disk (`Conflict`), journals its
   * intent, adds the worktree, and has `commit` write the row with its sealed secret. When a step
   * fails the steps already done are undone and the error (a `SessionError`, the original as
   * `cause`) is thrown.
   */
  async open(
    request: WorktreeOpenRequest,
    rows: WorktreeRows,
    commit: (baseBranch: string | null) => Promise<Session>,
  ): Promise<Session> {
    const { repository, sessionId: id, useExistingBranch, baseRef } = request;
    // The folder as the row records it, so the journal and the row name it alike.
    const path = request.plan.worktreePath;
    const branch = request.plan.branchName;
    const info = await this.#repositoryInfo(repository.path);
    if (isInside(realLocation(path), realLocation(info.topLevel))) {
      invalid(`the worktree ${path} would be inside the checkout ${info.topLevel}; choose another worktreesRoot`);
    }
    // Read-only git calls: run side by side, before anything is made.
    const [base, , baseCommit] = await Promise.all([
      useExistingBranch ? null : baseRef ?? repository.defaultBranch ??
        this.#git.currentBranch(info.topLevel).then((b) => b ?? "HEAD"),
      this.#git.checkBranchName(info.topLevel, branch),
      // Any commit-ish git accepts (a branch, a tag, `HEAD~1`, a SHA), checked before the worktree exists.
      baseRef === null ? null : this.#git.resolveCommit(info.topLevel, baseRef),
    ]);
    if (baseRef !== null && baseCommit === null) {
      invalid(`baseRef ${JSON.stringify(baseRef)} does not name a commit in ${repository.name}`);
    }
    // What the session records as its base (for the merged check when its branch is deleted): the
    // ref as given when it reads as a ref name, else the commit it named (`HEAD~1` moves on).
    const recordedBase = baseCommit !== null && base !== null && branchNameProblem(base) !== null ? baseCommit : base;
    return await this.#lock(info, async () => {
      // Under the lock nothing of this repository changes meanwhile, so these checks hold until the journal is written.
      const claim = { repositoryId: repository.id, path, branch };
      // The rows' answer is awaited first, so a taken row is the error whatever else is wrong.
      const [taken, pending, exists] = await Promise.all([
        rows.refuseTaken(id, claim).then(() => null, (error: unknown) => ({ error })),
        this.#journal.list().catch((error) => {
          throw asSessionError(error, "reading the journal");
        }),
        this.#git.branchExists(info.topLevel, branch),
      ]);
      if (taken !== null) throw taken.error;
      refuseJournaled(pending, { sessionId: id, repositoryId: repository.id, info, path, branch });
      if (existsSync(path)) throw new SessionError("Conflict", `the folder ${path} already exists`);
      if (exists && !useExistingBranch) throw new SessionError("Conflict", `the branch ${branch} already exists`);
      if (!exists && useExistingBranch) invalid(`the branch ${branch} does not exist`);
      const entry: JournalEntry = {
        op: "open",
        sessionId: id,
        repositoryId: repository.id,
        repositoryPath: info.topLevel,
        path,
        branch,
        createdBranch: !useExistingBranch,
        createdWorktree: true,
        baseRef: recordedBase,
        force: false,
        deleteBranch: false,
        session: null,
        pid: process.pid,
        startedAt: nowIso(),
      };
      await this.#journal.write(entry);
      let rowWritten = false;
      let folderMade = false;
      let session: Session;
      try {
        await this.#step("open:journal", id);
        await mkdir(dirname(path), { recursive: true });
        // The leaf is made atomically (git accepts an empty folder): a folder that appeared since the
        // check above (another repository sharing this sessionsPath, whose lock is another) is not ours.
        await mkdir(path).catch((error) => {
          if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
          throw new SessionError("Conflict", `the folder ${path} already exists`, { cause: error });
        });
        folderMade = true;
        await this.#git.addWorktree(info.topLevel, path, branch, base);
        await this.#step("open:worktree", id);
        session = await commit(recordedBase);
        rowWritten = true;
        await this.#step("open:row", id);
      } catch (error) {
        const failure = asSessionError(error, "opening the session");
        // Left in place when the undo is incomplete, so that reconcile finishes it.
        await undoOpen(this.#context(rows), entry, { rowMayExist: rowWritten, worktreeMayExist: folderMade }).then(
          () => this.#journal.remove(id),
          () => {},
        );
        throw failure;
      }
      await this.#journal.remove(id);
      return session;
    });
  }

  /**
   * Closes a worktree session's worktree. A worktree with uncommitted or untracked changes is
   * kept unless `force`: then this throws `Conflict` and the session stays whole (row, secret,
   * worktree). Otherwise the worktree is removed (only when the session created it),
   * `rows.remove` deletes the row with its secret, and the branch is kept unless `deleteBranch`,
   * and even then only when the session created it and it has no commits missing from its base
   * and upstream (or `force`). When the repository's checkout no longer exists, the row is removed
   * and the worktree folder kept (`worktreeKeptReason`). `null` when the row was already gone.
   */
  async close(
    session: Session,
    repository: Repository | null,
    options: CloseSessionOptions,
    rows: WorktreeRows,
  ): Promise<ClosedSession | null> {
    const id = parseId(session.id, "session id");
    const force = options.force === true;
    const deleteBranch = options.deleteBranch === true;
    // The checkout is gone, or no longer a git repository: git cannot run there and the lock cannot
    // be taken, so the session is closed without touching its folder, which is kept rather than
    // deleted blindly.
    const unavailable = repository === null || !existsSync(repository.path)
      ? `the repository checkout ${repository?.path ?? ""} is gone`
      : null;
    let info: RepositoryInfo | null = null;
    let why = unavailable;
    if (why === null) {
      try {
        info = await this.#repositoryInfo(repository!.path);
      } catch (error) {
        if (!isSessionError(error, "InvalidInput")) throw error;
        why = `the repository checkout ${repository!.path} is no longer a git repository (${error.message})`;
      }
    }
    if (info === null) {
      const reason = `${why}, so git could not remove the worktree ${session.worktreePath} or the branch ` +
        `${session.branchName}: both were left as they are`;
      const deleted = await rows.remove(id);
      if (deleted === null) return null;
      return {
        session: deleted,
        worktreeRemoved: false,
        branchDeleted: false,
        branchKeptReason: deleteBranch ? reason : null,
        worktreeKeptReason: reason,
        snapshotRef: null,
      };
    }
    const checkout = info;
    return await this.#lock(checkout, async () => {
      const current = await rows.current(id);
      if (current === null) return null;
      const entry: JournalEntry = {
        op: "close",
        sessionId: id,
        repositoryId: current.repositoryId,
        repositoryPath: checkout.topLevel,
        path: current.worktreePath!,
        branch: current.branchName!,
        createdBranch: current.createdBranch,
        createdWorktree: current.createdWorktree,
        baseRef: current.baseBranch,
        force,
        deleteBranch,
        session: current,
        owned: await this.#ownership(checkout, current),
        pid: process.pid,
        startedAt: nowIso(),
      };
      await this.#journal.write(entry);
      let result;
      try {
        await this.#step("close:journal", id);
        result = await finishClose(this.#context(rows), entry, (step) => this.#step(step as LifecycleStep, id));
      } catch (error) {
        if (isSessionError(error, "Conflict")) {
          // Git kept the worktree before anything else was touched: the session is whole.
          await this.#journal.remove(id);
        }
        throw asSessionError(error, "closing the session");
      }
      await this.#journal.remove(id);
      if (result.session === null) return null;
      return {
        session: result.session,
        worktreeRemoved: result.worktreeRemoved,
        branchDeleted: result.branch.deleted,
        branchKeptReason: deleteBranch ? result.branch.keptReason : null,
        worktreeKeptReason: result.worktreeKeptReason,
        snapshotRef: result.snapshotRef,
      };
    });
  }

  // What proves the session's worktree and branch are this repository's: git's registration of
  // the worktree at the session's path, which a new clone or another repository at the same path
  // lacks, and the branch's tip now, the only commit the close may delete it at.
  async #ownership(info: RepositoryInfo, session: Session): Promise<{ registered: boolean; branchTip: string | null }> {
    const path = session.worktreePath === null ? null : resolve(session.worktreePath);
    const registered = path !== null &&
      (await this.#git.listWorktrees(info.topLevel)).some((entry) => resolve(entry.path) === path);
    const branch = session.branchName;
    const branchTip = registered && session.createdBranch && branch !== null
      ? await this.#git.resolveCommit(info.topLevel, `refs/heads/${branch}`)
      : null;
    return { registered, branchTip };
  }

  /**
   * Finishes or undoes what killed processes left, then checks every repository: the git record
   * of a worktree we made whose folder is gone is dropped (never anyone else's), a session whose folder is gone gets it back
   * on its branch (or is reported), and folders under the worktrees folders that no session
   * owns are reported, never deleted. With `dryRun` it only reports.
   */
  reconcile(options: ReconcileOptions, rows: WorktreeRows): Promise<ReconcileReport> {
    return reconcileWorktrees({
      ...this.#context(rows),
      dryRun: options.dryRun === true,
      repositoryInfo: (path) => this.#repositoryInfo(path),
      lock: (info, work) => this.#lock(info, work),
      worktreesFolder: (repository) => this.worktreesFolder(repository),
    });
  }
}
