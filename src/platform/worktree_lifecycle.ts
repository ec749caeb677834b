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
import { mkdir, rmdir } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { errorMessage, isSessionError, SessionError } from "../errors.ts";
import { parseId, type SessionId } from "../ids.ts";
import type {
  ArchivedSession,
  ClosedSession,
  CloseSessionOptions,
  ReconcileOptions,
  ReconcileReport,
  RepositoryPool,
  SessionGitStatus,
  SnapshotRecord,
  WorktreeOpenRequest,
  WorktreePlan,
  WorktreePort,
  WorktreeRows,
} from "../lifecycle.ts";
import type { Repository, Session } from "../types.ts";
import type { IncludedFiles } from "../included_files.ts";
import type { WorktreeProgress } from "../progress.ts";
import { branchNameProblem } from "../branch_names.ts";
import { invalid, requireHostId } from "../_field_checks.ts";
import { nowIso } from "../_clock.ts";
import { defaultDataDir } from "./data_dir.ts";
import {
  branchExistsFromFiles,
  Git,
  headFromFiles,
  registrationFromFiles,
  type RepositoryInfo,
  type WorktreeEntry,
} from "./git.ts";
import { Journal, type JournalEntry } from "./journal.ts";
import { withRepositoryLock } from "./_repository_lock.ts";
import { branchForWorktreeName, defaultWorktreeName } from "./worktree_names.ts";
import { refuseJournaled } from "./_worktree_ownership.ts";
import { reconcileWorktrees } from "./worktree_reconcile.ts";
import { finishClose, type StepContext, undoOpen } from "./worktree_steps.ts";
import { finishRestore, runArchive, runRestore, undoArchive, undoRestore } from "./worktree_archive.ts";
import { applyArchive, type ArchiveRecord, indexTree, readArchive, worktreeState } from "./git_archive.ts";
import { branchStanding } from "./git_landed.ts";
import { folderUsage } from "./disk_usage.ts";
import { includeFilesWith } from "./worktree_include.ts";
import { admitCheckout, DEFAULT_DISK_HEADROOM_BYTES } from "./disk_admission.ts";
import { type PoolLease, WorktreePool } from "./worktree_pool.ts";

/** The points between steps where {@linkcode WorktreeLifecycleOptions.onStep} is called. */
export type LifecycleStep =
  // A pool's fill (see `WorktreeLifecycleOptions.pool`): its lease written, its worktree
  // registered, its files checked out; called with the lease's id.
  | "pool:lease"
  | "pool:added"
  | "pool:ready"
  | "open:journal"
  | "open:worktree"
  | "open:changes"
  | "open:include"
  | "open:row"
  | "close:journal"
  | "close:remove"
  | "close:worktree"
  | "close:row"
  | "close:branch"
  | "archive:journal"
  | "archive:remove"
  | "archive:worktree"
  | "archive:row"
  | "restore:journal"
  | "restore:worktree"
  | "restore:changes"
  | "restore:row";

/**
 * Every step of an open, in order: `open:include` copies the checkout's ignored files that are
 * named for inclusion (see `includeFiles`), and `open:row` writes the row and its sealed secret together.
 */
export const OPEN_STEPS: readonly LifecycleStep[] = ["open:journal", "open:worktree", "open:include", "open:row"];
/**
 * Every step of a close that deletes its branch, in order; `close:row` removes the row and its secret.
 * Not listed: `close:remove`, reached only when the worktree is removed, right before git's removal
 * starts, once the journal records what a restart needs (the snapshot, or that the worktree was clean).
 */
export const CLOSE_STEPS: readonly LifecycleStep[] = ["close:journal", "close:worktree", "close:row", "close:branch"];
/**
 * Every step of a fork, in order: an open whose new worktree gets the source's work
 * (`open:changes`) before its row is written; until the row step a restart undoes it all.
 */
export const FORK_STEPS: readonly LifecycleStep[] = [
  "open:journal",
  "open:worktree",
  "open:changes",
  "open:include",
  "open:row",
];

/**
 * Every step of an archive, in order. `archive:remove` comes once the snapshot (when there is work)
 * and the archive record are journaled, right before git's removal starts: from there on, a
 * restart finishes the archive; before it, the archive is undone and the worktree was not touched.
 */
export const ARCHIVE_STEPS: readonly LifecycleStep[] = [
  "archive:journal",
  "archive:remove",
  "archive:worktree",
  "archive:row",
];
/**
 * Every step of a restore, in order: the worktree added on its branch, the archived work put back,
 * the row active again. Until the row step a restart undoes the restore (the archive stays whole);
 * after it, a restart finishes it.
 */
export const RESTORE_STEPS: readonly LifecycleStep[] = [
  "restore:journal",
  "restore:worktree",
  "restore:changes",
  "restore:row",
];

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
   * Free space a new worktree must leave beyond its checkout's files, or its open is refused with
   * `InsufficientStorage` before anything is made; 64 MiB by default.
   */
  diskHeadroomBytes?: number;
  /**
   * Test hook, called after each step once it is done (see {@linkcode LifecycleStep}); a rejection
   * fails the operation there, as a crash of that step would.
   */
  onStep?: (step: LifecycleStep, sessionId: SessionId) => Promise<void> | void;
  /**
   * Told what a new worktree got of the checkout's ignored files (see `includeFiles`), when it got
   * any: the server logs it.
   */
  onIncluded?: (sessionId: SessionId, included: IncludedFiles) => void;
  /**
   * How many ready worktrees to keep per repository at its default branch's commit (0 to 16; a
   * number for every repository, or a function of the repository, such as the operator's `pool`
   * setting): made in the background, each journaled as a lease under `<worktreesRoot>/.pool`, and
   * claimed by a create of a new branch from the default branch (no fork, no snapshot, no existing
   * branch, no `baseRef`), which then checks out no file. 0 (no pool) by default.
   */
  pool?: number | ((repository: Repository) => number);
  /** Told of failures in the background (a pool's fills); `console.error` by default. */
  logError?: (message: string, cause: unknown) => void;
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
  readonly #onIncluded: WorktreeLifecycleOptions["onIncluded"];
  readonly #infos = new Map<string, RepositoryInfo>();
  readonly #hostId: string | null;
  readonly #diskHeadroomBytes: number;
  readonly #pool: WorktreePool;
  readonly #logError: (message: string, cause: unknown) => void;

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
    const headroom = options.diskHeadroomBytes ?? DEFAULT_DISK_HEADROOM_BYTES;
    if (!Number.isSafeInteger(headroom) || headroom < 0) invalid("diskHeadroomBytes must be a whole number from 0");
    this.#diskHeadroomBytes = headroom;
    this.#onIncluded = options.onIncluded;
    const pool = options.pool ?? 0;
    if (typeof pool === "number" && (!Number.isInteger(pool) || pool < 0 || pool > 16)) {
      invalid("pool must be a whole number from 0 to 16");
    }
    const logError = options.logError ?? ((message: string, cause: unknown) => console.error(message, cause));
    this.#logError = logError;
    this.#pool = new WorktreePool({
      git: this.#git,
      dir: join(this.#root, ".pool"),
      size: typeof pool === "number" ? () => pool : pool,
      repositoryInfo: (path) => this.#repositoryInfo(path),
      lock: (info, work) => this.#lock(info, work),
      baseOf: async (repository, info) =>
        repository.defaultBranch ?? await this.#git.currentBranch(info.topLevel) ?? "HEAD",
      onStep: (step, leaseId) => this.#onStep?.(step, leaseId),
      logError,
    });
  }

  /**
   * The repository's pool of ready worktrees (see {@linkcode WorktreeLifecycleOptions.pool}): its
   * size and how many are ready. Starts filling it in the background when it is short; never waits.
   */
  pool(repository: Repository): Promise<RepositoryPool> {
    return Promise.resolve(this.#pool.status(repository));
  }

  /** Waits until no pool fill is under way (for tests and benchmarks that need the pool full). */
  poolSettled(): Promise<void> {
    return this.#pool.settled();
  }

  /**
   * Stops the pools: waits for the fills under way (starting no new git call), then removes every
   * ready worktree this lifecycle made, so no process, registration or folder is left behind.
   */
  stopPools(): Promise<void> {
    return this.#pool.stop();
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
    commit: (baseBranch: string | null, included: IncludedFiles | null) => Promise<Session>,
  ): Promise<Session> {
    const { repository, sessionId: id, useExistingBranch, baseRef } = request;
    const forkOf = request.forkOf ?? null;
    const fromSnapshot = request.fromSnapshot ?? null;
    const report = (progress: WorktreeProgress) => {
      try {
        request.onProgress?.(progress);
      } catch {
        // Progress is news for the caller: it never fails the open.
      }
    };
    // The folder as the row records it, so the journal and the row name it alike.
    const path = request.plan.worktreePath;
    const branch = request.plan.branchName;
    const info = await this.#repositoryInfo(repository.path);
    if (isInside(realLocation(path), realLocation(info.topLevel))) {
      invalid(`the worktree ${path} would be inside the checkout ${info.topLevel}; choose another worktreesRoot`);
    }
    // Read-only git calls: run side by side, before anything is made. A base taken from the
    // checkout's HEAD comes with its commit, from its files where they say it plainly, else from
    // one git process.
    const fromHead = !useExistingBranch && baseRef === null && (repository.defaultBranch ?? null) === null;
    const [head, , baseCommit] = await Promise.all([
      fromHead ? headFromFiles(info.topLevel) ?? this.#git.headBranchAndCommit(info.topLevel) : null,
      this.#git.checkBranchName(info.topLevel, branch),
      // Any commit-ish git accepts (a branch, a tag, `HEAD~1`, a SHA), checked before the worktree exists.
      baseRef === null ? null : this.#git.resolveCommit(info.topLevel, baseRef),
    ]);
    const base: string | null = useExistingBranch ? null : baseRef ?? repository.defaultBranch ?? head?.branch ??
      (await this.#git.currentBranch(info.topLevel) ?? "HEAD");
    if (baseRef !== null && baseCommit === null) {
      invalid(`baseRef ${JSON.stringify(baseRef)} does not name a commit in ${repository.name}`);
    }
    // What the checkout will write must fit, with room to spare, before anything is made.
    const start = baseCommit ?? (fromSnapshot === null && forkOf === null ? head?.commit : undefined) ??
      await this.#git.resolveCommit(
        info.topLevel,
        fromSnapshot ?? forkOf?.branchName ?? (useExistingBranch ? branch : base ?? "HEAD"),
      );
    // The files the checkout writes (from the same read of the tree), for its progress.
    let files: number | null = null;
    if (start !== null) {
      files = await admitCheckout(this.#git, {
        repository: info.topLevel,
        commit: start,
        folder: path,
        headroomBytes: this.#diskHeadroomBytes,
      });
    }
    // What the session records as its base (for the merged check when its branch is deleted): the
    // ref as given when it reads as a ref name, else the commit it named (`HEAD~1` moves on).
    // A fork compares its branch with the source's base, as the source does.
    const recordedBase = forkOf !== null
      ? forkOf.baseBranch ?? base
      : baseCommit !== null && base !== null && branchNameProblem(base) !== null
      ? baseCommit
      : base;
    // A plain create from the default branch may take a ready worktree from the pool.
    // A fork or a restore gets every file, since the work it carries may lie outside the cone (a
    // sparse checkout would not write it). A sparse create never takes a pool's worktree, which has
    // every file.
    const sparse = forkOf === null && fromSnapshot === null ? request.sparse ?? [] : [];
    const pooled = baseRef === null && !useExistingBranch && forkOf === null && fromSnapshot === null &&
      sparse.length === 0 && start !== null && this.#pool.enabled(repository);
    return await this.#lock(info, async () => {
      // Under the lock nothing of this repository changes meanwhile, so these checks hold until the journal is written.
      const claim = { repositoryId: repository.id, path, branch };
      // The rows' answer is awaited first, so a taken row is the error whatever else is wrong.
      const [taken, pending, exists] = await Promise.all([
        rows.refuseTaken(id, claim).then(() => null, (error: unknown) => ({ error })),
        this.#journal.list().catch((error) => {
          throw asSessionError(error, "reading the journal");
        }),
        // From the refs' files where they tell: a git process less for every create.
        branchExistsFromFiles(info.commonDir, branch) ?? this.#git.branchExists(info.topLevel, branch),
      ]);
      if (taken !== null) throw taken.error;
      refuseJournaled(pending, { sessionId: id, repositoryId: repository.id, info, path, branch });
      if (existsSync(path)) throw new SessionError("Conflict", `the folder ${path} already exists`);
      if (exists && !useExistingBranch) throw new SessionError("Conflict", `the branch ${branch} already exists`);
      if (!exists && useExistingBranch) invalid(`the branch ${branch} does not exist`);
      // Read under the lock, so the source's work is what it holds now: its snapshot (when it has
      // work) is its own, kept like every snapshot, and nothing of the source is changed.
      const seed: (Pick<ArchiveRecord, "head" | "indexTree" | "snapshot"> & { sessionId: SessionId }) | null =
        forkOf !== null
          ? { sessionId: forkOf.id, ...await this.#forkSeed(forkOf, info, rows) }
          : fromSnapshot !== null
          ? await this.#snapshotSeed(fromSnapshot, info)
          : null;
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
        ...(seed === null ? {} : { forkOf: seed }),
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
        // Asked for progress: added without its files, then checked out with git's counts read. One
        // registration either way, so a failure or a kill in between is undone as a failed add is.
        // Else in one git call, as it costs a process less.
        // A sparse create is always split: its cone is set between the add and the checkout, so the
        // files outside it are never written.
        const counted = request.onProgress !== undefined;
        const split = counted || sparse.length > 0;
        const claimed = pooled ? await this.#claimPooled(repository, info, start!, path, branch) : false;
        if (claimed) {
          report({ phase: "add", detail: "claimed a ready worktree from the pool" });
          if (files !== null) report({ phase: "checkout", done: files, total: files });
        } else {
          report({ phase: "add" });
          await this.#git.addWorktree(info.topLevel, path, branch, seed?.head ?? base, { checkout: !split });
          if (sparse.length > 0) await this.#git.setSparseCheckout(path, sparse);
        }
        if (split && !claimed && !counted) await this.#git.checkoutWorktree(path);
        if (counted && !claimed) {
          let written = 0;
          // The tree's count is every file: a sparse checkout writes fewer, and says how many itself.
          const total = sparse.length > 0 ? null : files;
          report({ phase: "checkout", done: 0, ...(total === null ? {} : { total }) });
          await this.#git.checkoutWorktree(path, (done, total) => {
            written = done;
            report({ phase: "checkout", done, total });
          });
          if (total !== null && written !== total) report({ phase: "checkout", done: total, total });
        }
        await this.#step("open:worktree", id);
        if (seed !== null) {
          await applyArchive(this.#git, path, seed);
          await this.#step("open:changes", id);
        }
        // After a fork's changes, so that the source's own work wins over the checkout's files.
        report({ phase: "include" });
        const included = await includeFilesWith(this.#git, {
          checkout: info.topLevel,
          worktree: path,
          patterns: request.include ?? [],
        });
        report({
          phase: "include",
          done: included.files + included.links,
          total: included.files + included.links,
          detail: `${included.files} files and ${included.links} links: ${included.bytesCloned} bytes cloned, ` +
            `${included.bytesCopied} bytes copied`,
        });
        const anyIncluded = included.entries.length > 0;
        if (anyIncluded) this.#onIncluded?.(id, included);
        await this.#step("open:include", id);
        session = await commit(recordedBase, anyIncluded ? included : null);
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

  // Under the lock, with the open journaled and its empty folder made: moves a ready pool worktree
  // at `commit` to `path` and creates the branch there. `false` (the folder still empty) when the
  // pool has none that is clean and still at `commit`, or its move fails (that entry is dropped):
  // the open then adds the worktree cold. Once moved, the worktree is the session's, and a failure
  // is undone as a failed add is (the journal names `path`).
  async #claimPooled(
    repository: Repository,
    info: RepositoryInfo,
    commit: string,
    path: string,
    branch: string,
  ): Promise<boolean> {
    const lease: PoolLease | null = await this.#pool.claim(repository, commit);
    if (lease === null) return false;
    // `git worktree move` wants no folder there (it would move into one): the empty folder made
    // above (which proved the path free) goes just before.
    await rmdir(path);
    try {
      await this.#git.moveWorktree(info.topLevel, lease.path, path);
    } catch (error) {
      this.#logError(`moving the pool worktree ${lease.path} to ${path} failed; creating it cold`, error);
      await this.#pool.discard(lease);
      await mkdir(path);
      this.#pool.warm(repository);
      return false;
    }
    await this.#pool.release(lease);
    await this.#git.createBranchHere(path, branch);
    return true;
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
      const [current, pending] = await Promise.all([rows.current(id), this.#journal.read(id)]);
      if (current === null) return null;
      if (pending !== null && pending.op !== "close") {
        // Its entry would be overwritten, and with it what reconcile needs to finish or undo that operation.
        throw new SessionError(
          "Conflict",
          `an unfinished ${pending.op} of session ${id} must be finished first (run reconcile) before its delete`,
        );
      }
      const archived = current.status === "archived";
      const archive = archived ? await readArchive(this.#git, checkout.topLevel, id) : null;
      const ownership = archived
        ? { owned: undefined, registered: undefined }
        : await this.#ownership(checkout, current, deleteBranch);
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
        owned: archived
          // Its worktree is gone: the archive record in this repository is the proof, and the
          // commit it recorded the only one its branch is deleted at.
          ? { registered: archive !== null, branchTip: archive?.head ?? null }
          : ownership.owned,
        ...(archived ? { archived, archive } : {}),
        pid: process.pid,
        startedAt: nowIso(),
      };
      await this.#journal.write(entry);
      let result;
      try {
        await this.#step("close:journal", id);
        result = await finishClose(
          this.#context(rows),
          entry,
          (step) => this.#step(step as LifecycleStep, id),
          ownership.registered,
        );
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

  /**
   * Archives a worktree session's worktree. Under the repository's lock it checks, before anything
   * is written, that the session is still active with no unfinished operation, that its worktree
   * is registered at its folder, on its branch, with no merge, rebase or the like in progress
   * (whose state a removal would lose) and no repository nested in it (which a restore could not
   * bring back whole): each is `Conflict`, with nothing touched. Then, journaled: the work is saved
   * under its own `refs/session-snapshots/` ref (none when the worktree is clean), the archive is
   * recorded under `refs/session-archives/<id>` (the commit it had, what was staged, the
   * snapshot), the worktree is removed and `rows.markArchived` marks the row. Ignored files and
   * empty folders are not kept, as in a snapshot. A failure before the removal began undoes the
   * archive (a snapshot already taken keeps its ref); one after it leaves the journal for
   * `reconcile` to finish.
   */
  async archive(session: Session, repository: Repository, rows: WorktreeRows): Promise<ArchivedSession> {
    const id = parseId(session.id, "session id");
    const info = await this.#repositoryInfo(repository.path);
    return await this.#lock(info, async () => {
      const current = await this.#currentFor(id, rows, "archive");
      if (current.status === "archived") throw new SessionError("Conflict", `session ${id} is already archived`);
      const path = resolve(current.worktreePath!);
      const branch = current.branchName!;
      await this.#refuseUnsaveable(current, info, "archive");
      const entry = this.#entry("archive", current, info, { archive: null });
      await this.#journal.write(entry);
      let result;
      try {
        await this.#step("archive:journal", id);
        result = await runArchive(this.#context(rows), entry, (step) => this.#step(step as LifecycleStep, id));
      } catch (error) {
        const failure = asSessionError(error, "archiving the session");
        const last = await this.#journal.read(id).catch(() => null);
        // Before its removal began, or refused by git before it deleted anything: the worktree is whole.
        if (
          last !== null && (!last.removing || (isSessionError(error, "Conflict") && existsSync(join(path, ".git"))))
        ) {
          await undoArchive(this.#context(rows), last).then(() => this.#journal.remove(id), () => {});
        }
        throw failure;
      }
      await this.#journal.remove(id);
      if (result.session === null) throw new SessionError("SessionNotFound", `session ${id} was deleted meanwhile`);
      const archive = result.entry.archive!;
      return {
        session: result.session,
        snapshotRef: archive.snapshot?.ref ?? null,
        branch,
        head: archive.head,
        worktreeRemoved: true,
      };
    });
  }

  /**
   * Restores an archived session's worktree. Under the repository's lock it checks, before anything
   * is written, that the session is still archived with no unfinished operation, that the
   * repository holds its archive record, that nothing is at its folder (`Conflict`: the folder is
   * taken), and that its branch exists, is checked out nowhere else and is still at the archived
   * commit (`Conflict` otherwise; a branch that moved is accepted only when the archive saved no
   * work, since there is then nothing to put back on top of it). Then, journaled: the worktree is
   * added back on its branch, the archived work is put back uncommitted (staged as staged,
   * untracked as untracked, byte for byte), `rows.markRestored` marks the row, and the archive
   * record is dropped; the snapshot's ref stays. A failure before the row step undoes the restore.
   */
  async restore(
    session: Session,
    repository: Repository,
    rows: WorktreeRows,
    options: { include?: readonly string[] } = {},
  ): Promise<Session> {
    const id = parseId(session.id, "session id");
    const info = await this.#repositoryInfo(repository.path);
    return await this.#lock(info, async () => {
      const current = await this.#currentFor(id, rows, "restore");
      if (current.status !== "archived") throw new SessionError("Conflict", `session ${id} is not archived`);
      const path = resolve(current.worktreePath!);
      const branch = current.branchName!;
      const [archive, tip, worktrees] = await Promise.all([
        readArchive(this.#git, info.topLevel, id),
        this.#git.resolveCommit(info.topLevel, `refs/heads/${branch}`),
        this.#git.listWorktrees(info.topLevel),
      ]);
      if (archive === null) {
        throw new SessionError(
          "Conflict",
          `${info.topLevel} holds no archive record of session ${id} (refs/session-archives/${id}), so it cannot be restored`,
        );
      }
      if (existsSync(path) || worktrees.some((entry) => resolve(entry.path) === path)) {
        throw new SessionError("Conflict", `the folder ${path} of session ${id} is taken: move it away, then restore`);
      }
      if (tip === null) {
        throw new SessionError(
          "Conflict",
          `the branch ${branch} of session ${id} no longer exists, so it cannot be restored`,
        );
      }
      const elsewhere = worktrees.find((entry) => entry.branch === branch);
      if (elsewhere !== undefined) {
        throw new SessionError("Conflict", `the branch ${branch} of session ${id} is checked out at ${elsewhere.path}`);
      }
      if (tip !== archive.head && archive.snapshot !== null) {
        throw new SessionError(
          "Conflict",
          `the branch ${branch} of session ${id} moved from ${archive.head} to ${tip} since it was archived, so its ` +
            `work (${archive.snapshot.ref}) cannot be put back on it unchanged: move the branch back to restore`,
        );
      }
      const entry = this.#entry("restore", current, info, { archive });
      await this.#journal.write(entry);
      let restored: Session;
      try {
        await this.#step("restore:journal", id);
        await mkdir(dirname(path), { recursive: true });
        await mkdir(path).catch((error) => {
          if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
          throw new SessionError("Conflict", `the folder ${path} of session ${id} is taken`, { cause: error });
        });
        restored = await runRestore(
          this.#context(rows),
          entry,
          (step) => this.#step(step as LifecycleStep, id),
          async (worktree) => {
            const included = await includeFilesWith(this.#git, {
              checkout: info.topLevel,
              worktree,
              patterns: options.include ?? [],
            });
            if (included.entries.length > 0) this.#onIncluded?.(id, included);
          },
        );
      } catch (error) {
        const failure = asSessionError(error, "restoring the session");
        const row = await rows.current(id).catch(() => undefined);
        if (row?.status === "active") {
          // The row step was committed: only the archive record is left to drop.
          await finishRestore(this.#context(rows), entry).then(() => this.#journal.remove(id), () => {});
          return row;
        }
        if (row !== undefined && !(isSessionError(error, "Conflict") && /is taken/.test(error.message))) {
          await undoRestore(this.#context(rows), entry).then(() => this.#journal.remove(id), () => {});
        } else if (row !== undefined) {
          await this.#journal.remove(id);
        }
        throw failure;
      }
      await this.#journal.remove(id);
      return restored;
    });
  }

  /**
   * A worktree session's git state. The base is the session's `baseBranch`, else the
   * repository's `defaultBranch`, else the branch its checkout has checked out. `ahead`, `behind`
   * and `landed` are read from refs and objects (see `branchStanding`); `dirty` is `git status` of
   * the worktree (or, archived, whether the archive saved work) and `diskBytes` its folder's size.
   * Takes no lock: it changes nothing, and a status read during a change is the state before or after it.
   */
  async status(session: Session, repository: Repository): Promise<SessionGitStatus> {
    const info = await this.#repositoryInfo(repository.path);
    const base = session.baseBranch ?? repository.defaultBranch ?? await this.#git.currentBranch(info.topLevel);
    const branch = session.branchName;
    const path = session.worktreePath === null ? null : resolve(session.worktreePath);
    const archived = session.status === "archived";
    const [standing, dirty, usage] = await Promise.all([
      branch === null || base === null ? null : branchStanding(this.#git, {
        repository: info.topLevel,
        branch,
        base,
        createdAt: session.createdAt,
      }),
      archived
        ? readArchive(this.#git, info.topLevel, session.id).then((record) =>
          record === null ? null : record.snapshot !== null
        )
        : path === null || !existsSync(join(path, ".git"))
        ? null
        : this.#git.worktreeChanges(path).then((changes) => !changes.clean),
      archived || path === null ? { bytes: 0, lastModifiedMs: null } : folderUsage(path),
    ]);
    return {
      dirty,
      ahead: standing?.ahead ?? null,
      behind: standing?.behind ?? null,
      landed: standing?.landed ?? null,
      diskBytes: usage.bytes,
      lastChangedAt: usage.lastModifiedMs === null ? null : new Date(usage.lastModifiedMs).toISOString(),
    };
  }

  // What an archive or a fork needs of a worktree to save its work whole, each a `Conflict`:
  // registered at its folder and there, on its branch, with no merge or the like in progress and no
  // repository nested in it (which a restore or a fork could not give back whole).
  async #refuseUnsaveable(current: Session, info: RepositoryInfo, what: "archive" | "fork"): Promise<void> {
    const id = current.id;
    const path = resolve(current.worktreePath!);
    const branch = current.branchName!;
    const registered = (await this.#git.listWorktrees(info.topLevel)).find((entry) => resolve(entry.path) === path);
    if (registered === undefined || !existsSync(path)) {
      throw new SessionError(
        "Conflict",
        `the worktree of session ${id} is missing from ${path} (run reconcile to recreate it), so there is nothing to ${what}`,
      );
    }
    const [state, nested] = await Promise.all([worktreeState(this.#git, path), this.#git.nestedRepositories(path)]);
    if (state.branch !== branch) {
      throw new SessionError(
        "Conflict",
        `the worktree of session ${id} has ${
          state.branch === null ? "a detached HEAD" : `${state.branch} checked out`
        }, ` +
          `not its branch ${branch}: check out ${branch} first, so that ${
            what === "archive" ? "a restore can put it back" : "the fork starts from it"
          }`,
      );
    }
    if (state.inProgress !== null) {
      throw new SessionError(
        "Conflict",
        `the worktree of session ${id} is in the middle of ${state.inProgress}: finish or abort it first`,
      );
    }
    if (nested.length > 0) {
      throw new SessionError(
        "Conflict",
        `the worktree of session ${id} holds the repository ${nested[0]} (nested at ${join(path, nested[0])}), ` +
          `which ${what === "archive" ? "an archive" : "a fork"} cannot give back whole: move it out, or commit and ` +
          "push its work and remove it",
      );
    }
  }

  // What a fork copies of its source, read under the lock: an active source's commit, staged index
  // and work (saved as a snapshot of the source's own when there is any), or what an archived
  // source's archive saved. `Conflict` when the source is gone, busy, or cannot be saved whole.
  async #forkSeed(
    source: Session,
    info: RepositoryInfo,
    rows: WorktreeRows,
  ): Promise<Pick<ArchiveRecord, "head" | "indexTree" | "snapshot">> {
    const current = await this.#currentFor(source.id, rows, "fork");
    if (current.repositoryId !== source.repositoryId) {
      throw new SessionError("Conflict", `session ${source.id} moved to another repository meanwhile`);
    }
    if (current.status === "archived") {
      const archive = await readArchive(this.#git, info.topLevel, current.id);
      if (archive === null) {
        throw new SessionError(
          "Conflict",
          `${info.topLevel} holds no archive record of session ${current.id}, so there is nothing to fork from`,
        );
      }
      return { head: archive.head, indexTree: archive.indexTree, snapshot: archive.snapshot };
    }
    await this.#refuseUnsaveable(current, info, "fork");
    const path = resolve(current.worktreePath!);
    const [changes, index, head] = await Promise.all([
      this.#git.worktreeChanges(path),
      indexTree(this.#git, path),
      this.#git.resolveCommit(path, "HEAD"),
    ]);
    if (head === null) throw new SessionError("Conflict", `the worktree ${path} has no commit checked out`);
    const snapshot = changes.clean ? null : await this.#git.saveWorktree(path, current.id, "a fork");
    return { head, indexTree: index, snapshot };
  }

  // What a restore of a snapshot into a new session copies, read under the lock: the commit the
  // snapshot's worktree had, its files, and what was staged when its archive record still says so
  // (else nothing staged: a forced close's snapshot does not record it).
  async #snapshotSeed(
    ref: string,
    info: RepositoryInfo,
  ): Promise<{ sessionId: SessionId } & Pick<ArchiveRecord, "head" | "indexTree" | "snapshot">> {
    const found = (await this.#git.listSnapshotRefs(info.topLevel)).find((snapshot) => snapshot.ref === ref);
    if (found === undefined) throw new SessionError("SnapshotNotFound", `${info.topLevel} has no snapshot ${ref}`);
    if (found.head === null) {
      throw new SessionError("Conflict", `the snapshot ${ref} has no commit it was taken on, so it cannot be restored`);
    }
    const archive = await readArchive(this.#git, info.topLevel, found.sessionId).catch(() => null);
    const index = archive !== null && archive.snapshot?.commit === found.commit && archive.head === found.head
      ? archive.indexTree
      : await this.#git.resolveTree(info.topLevel, found.head);
    return {
      sessionId: found.sessionId,
      head: found.head,
      indexTree: index,
      snapshot: { ref: found.ref, commit: found.commit },
    };
  }

  /**
   * Every session snapshot the repository keeps, oldest first, with why each was taken (from its
   * subject), how many paths it changed and their total size. Read-only, no lock.
   */
  async snapshots(repository: Repository): Promise<SnapshotRecord[]> {
    const info = await this.#repositoryInfo(repository.path);
    const refs = await this.#git.listSnapshotRefs(info.topLevel);
    return refs.map(({ ref, sessionId, commit, head, createdAt, subject, changedPaths, bytes }) => ({
      ref,
      sessionId,
      commit,
      head,
      createdAt,
      subject,
      reason: / before (.+)$/.exec(subject)?.[1] ?? null,
      changedPaths,
      bytes,
    }));
  }

  /**
   * Deletes the given snapshot refs under the repository's lock, each only while it still names
   * its commit (a ref that moved or went meanwhile is left as it is); answers the refs deleted.
   */
  async dropSnapshots(
    repository: Repository,
    snapshots: ReadonlyArray<{ ref: string; commit: string }>,
  ): Promise<string[]> {
    const info = await this.#repositoryInfo(repository.path);
    return await this.#lock(info, async () => {
      const dropped: string[] = [];
      for (const { ref, commit } of snapshots) {
        if (await this.#git.deleteSnapshotRef(info.topLevel, ref, commit)) dropped.push(ref);
      }
      return dropped;
    });
  }

  // The session's row under the lock, refused when gone or held by an unfinished operation.
  async #currentFor(id: SessionId, rows: WorktreeRows, what: string): Promise<Session> {
    const [current, pending] = await Promise.all([
      rows.current(id),
      this.#journal.read(id).catch((error) => {
        throw asSessionError(error, "reading the journal");
      }),
    ]);
    if (current === null) throw new SessionError("SessionNotFound", `no session with id ${id}`);
    if (pending !== null) {
      throw new SessionError(
        "Conflict",
        `an unfinished ${pending.op} of session ${id} must be finished first (run reconcile) before its ${what}`,
      );
    }
    return current;
  }

  #entry(op: JournalEntry["op"], session: Session, info: RepositoryInfo, more: Partial<JournalEntry>): JournalEntry {
    return {
      op,
      sessionId: session.id,
      repositoryId: session.repositoryId,
      repositoryPath: info.topLevel,
      path: resolve(session.worktreePath!),
      branch: session.branchName!,
      createdBranch: session.createdBranch,
      createdWorktree: session.createdWorktree,
      baseRef: session.baseBranch,
      force: false,
      deleteBranch: false,
      session,
      pid: process.pid,
      startedAt: nowIso(),
      ...more,
    };
  }

  // What proves the session's worktree and branch are this repository's: git's registration of
  // the worktree at the session's path, which a new clone or another repository at the same path
  // lacks, and, when the close deletes the branch, its tip now, the only commit it may be deleted
  // at. The registration is read from git's own files where they show it plainly, else from
  // `git worktree list`; either way it is also what the close's removal starts from
  // (`finishClose`), read once.
  async #ownership(
    info: RepositoryInfo,
    session: Session,
    deleteBranch: boolean,
  ): Promise<{ owned: { registered: boolean; branchTip: string | null }; registered: WorktreeEntry | null }> {
    const path = session.worktreePath === null ? null : resolve(session.worktreePath);
    const registered = path === null ? null : registrationFromFiles(info.commonDir, path) ??
      (await this.#git.listWorktrees(info.topLevel)).find((entry) => resolve(entry.path) === path) ?? null;
    const branch = session.branchName;
    // On the branch, the worktree's HEAD is the branch's tip, read with the registration.
    const branchTip = deleteBranch && registered !== null && session.createdBranch && branch !== null
      ? (registered.branch === branch ? registered.head : null) ??
        await this.#git.resolveCommit(info.topLevel, `refs/heads/${branch}`)
      : null;
    return { owned: { registered: registered !== null, branchTip }, registered };
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
      reconcilePool: (repository, info, dryRun) => this.#pool.reconcile(repository, info, dryRun),
    });
  }
}
