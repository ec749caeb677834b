/**
 * Sessions that own a real git worktree: open makes the worktree, branch, row and secret and undoes
 * them when a step fails; close removes only what the session created; reconcile repairs what a
 * killed process left.
 *
 * @module
 */

import { existsSync, realpathSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { isSessionError, SessionError, toStorageError } from "../errors.ts";
import type { LifecycleEvents } from "../events.ts";
import { newSessionId, parseId, type SessionId } from "../ids.ts";
import type {
  ClosedSession,
  CloseSessionOptions,
  OpenSessionParams,
  ReconcileOptions,
  ReconcileReport,
  SessionLifecycle,
} from "../lifecycle.ts";
import { CREATE_SESSION_FIELDS, createSession, deleteSession } from "../orchestrator.ts";
import type { SessionSecretChain } from "../secret_chain.ts";
import type { SessionStore } from "../store/store.ts";
import type { Repository, Session } from "../types.ts";
import {
  buildSession,
  invalid,
  MAX_TITLE_LENGTH,
  nowIso,
  requireBranchName,
  requireRecord,
  requireText,
  requireWorktreeName,
} from "../validation.ts";
import { defaultDataDir } from "./data_dir.ts";
import { Git, type RepositoryInfo } from "./git.ts";
import { Journal, type JournalEntry } from "./journal.ts";
import { withRepositoryLock } from "./repository_lock.ts";
import { branchForWorktreeName, defaultWorktreeName } from "./worktree_names.ts";
import { reconcileWorktrees } from "./worktree_reconcile.ts";
import { finishClose, forgetDeleted, type StepContext, undoOpen } from "./worktree_steps.ts";

/** The points between steps where {@linkcode WorktreeLifecycleOptions.onStep} is called. */
export type LifecycleStep =
  | "open:journal"
  | "open:worktree"
  | "open:row"
  | "open:secret"
  | "close:journal"
  | "close:worktree"
  | "close:row"
  | "close:secret"
  | "close:branch";

/** Every step of an open, in order. */
export const OPEN_STEPS: readonly LifecycleStep[] = ["open:journal", "open:worktree", "open:row", "open:secret"];
/** Every step of a close that deletes its branch, in order. */
export const CLOSE_STEPS: readonly LifecycleStep[] = [
  "close:journal",
  "close:worktree",
  "close:row",
  "close:secret",
  "close:branch",
];

/** Options of {@linkcode WorktreeLifecycle}. */
export interface WorktreeLifecycleOptions {
  /** Where sessions and repositories live. */
  store: SessionStore;
  /** Where session secrets live; its store is usually `store`. */
  chain: SessionSecretChain;
  /** Where `session.created` and `session.deleted` are announced. */
  events?: LifecycleEvents;
  /**
   * Absolute folder for worktrees (`<worktreesRoot>/<repositoryId>/<worktreeName>`) and the journal;
   * `worktrees/` in the platform's data directory (see `defaultDataDir`) by default.
   */
  worktreesRoot?: string;
  /** Prefix of default branch names; `session/` by default. */
  branchPrefix?: string;
  /** The git executable; `git` on `PATH` by default. */
  gitPath?: string;
  /** How long to wait for another process's lock on a repository; 120 s by default. */
  lockTimeoutMs?: number;
  /**
   * Test hook, called after each step once it is done (see {@linkcode LifecycleStep}); a rejection
   * fails the operation there, as a crash of that step would.
   */
  onStep?: (step: LifecycleStep, sessionId: SessionId) => Promise<void> | void;
  /**
   * Told about failures that do not fail the operation, such as a secret that could not be
   * forgotten after its session was deleted; `console.error` by default.
   */
  logError?: (message: string, cause: unknown) => void;
}

const OPEN_FIELDS = [...CREATE_SESSION_FIELDS, "sessionId", "baseRef", "useExistingBranch"] as const;

function asSessionError(error: unknown, action: string): SessionError {
  if (error instanceof SessionError) return error;
  return new SessionError("WorktreeCreation", `${action} failed: ${(error as Error)?.message ?? error}`, {
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
 * The git-worktree implementation of {@linkcode SessionLifecycle}. Every change to a repository's
 * worktrees runs under that repository's cross-process lock, with its intent journaled first.
 *
 * @example
 * ```ts
 * import { generateDatabaseKey, MemoryStore, SessionSecretChain } from "../../mod.ts";
 * import { WorktreeLifecycle } from "./worktree_lifecycle.ts";
 *
 * const store = new MemoryStore();
 * const chain = new SessionSecretChain({ store, databaseKey: await generateDatabaseKey() });
 * const lifecycle = new WorktreeLifecycle({ store, chain, worktreesRoot: "/var/lib/slo/worktrees" });
 * const repository = await store.createRepository({ path: "/src/app", name: "app", isGitRepository: true });
 * try {
 *   const session = await lifecycle.open({ repositoryId: repository.id, title: "Add dark mode", isWorktree: true });
 *   console.log(session.worktreePath, session.branchName);
 *   await lifecycle.close(session.id, { deleteBranch: true });
 * } catch (error) {
 *   console.log((error as Error).message); // /src/app is not a git repository here
 * }
 * ```
 */
export class WorktreeLifecycle implements SessionLifecycle {
  readonly #store: SessionStore;
  readonly #chain: SessionSecretChain;
  readonly #events: LifecycleEvents | null;
  readonly #root: string;
  readonly #prefix: string;
  readonly #git: Git;
  readonly #journal: Journal;
  readonly #lockTimeoutMs: number | undefined;
  readonly #onStep: WorktreeLifecycleOptions["onStep"];
  readonly #logError: (message: string, cause: unknown) => void;
  readonly #infos = new Map<string, RepositoryInfo>();

  /**
   * Composes the store, git and the secret chain.
   *
   * @param options the store, the secret chain, where worktrees go, and how git runs
   */
  constructor(options: WorktreeLifecycleOptions) {
    const worktreesRoot = options.worktreesRoot ?? join(defaultDataDir(), "worktrees");
    if (typeof worktreesRoot !== "string" || !isAbsolute(worktreesRoot)) {
      invalid("worktreesRoot must be an absolute path");
    }
    this.#store = options.store;
    this.#chain = options.chain;
    this.#events = options.events ?? null;
    this.#root = resolve(worktreesRoot);
    this.#prefix = options.branchPrefix ?? "session/";
    if (this.#prefix !== "" && branchForWorktreeName(this.#prefix, "x") !== `${this.#prefix}x`) {
      invalid(`branchPrefix ${JSON.stringify(this.#prefix)} would not make valid branch names`);
    }
    this.#git = new Git({ gitPath: options.gitPath });
    this.#journal = new Journal(join(this.#root, ".journal"));
    this.#lockTimeoutMs = options.lockTimeoutMs;
    this.#onStep = options.onStep;
    this.#logError = options.logError ?? ((message, cause) => console.error(message, cause));
  }

  /** The folder that holds worktrees and the journal. */
  get worktreesRoot(): string {
    return this.#root;
  }

  /** The folder a repository's worktrees go in: its `sessionsPath`, else `<worktreesRoot>/<repositoryId>`. */
  worktreesFolder(repository: Repository): string {
    return resolve(repository.sessionsPath ?? join(this.#root, repository.id));
  }

  get #context(): StepContext {
    return { store: this.#store, chain: this.#chain, events: this.#events, git: this.#git, logError: this.#logError };
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

  async #repository(id: string): Promise<Repository> {
    const repository = await this.#store.getRepository(id).catch((error) => {
      throw toStorageError(error, "reading a repository");
    });
    if (repository === null) throw new SessionError("RepositoryNotFound", `no repository with id ${id}`);
    return repository;
  }

  /**
   * `Conflict` when the id, the folder or the branch is already someone's: a session row (any
   * repository's, for the folder; this repository's, for the branch), or a journal entry left by an
   * operation that did not finish, whose undo by `reconcile` would otherwise remove what this open makes.
   */
  async #refuseTaken(id: SessionId, repositoryId: string, info: RepositoryInfo, path: string, branch: string) {
    const [existing, rows, pending] = await Promise.all([
      this.#store.getSession(id),
      this.#store.listSessions(),
      this.#journal.list(),
    ]).catch((error) => {
      throw toStorageError(error, "checking for existing sessions");
    });
    if (existing !== null) throw new SessionError("Conflict", `a session with id ${id} already exists`);
    const target = resolve(path);
    const owner = rows.find((row) =>
      (row.worktreePath !== null && resolve(row.worktreePath) === target) ||
      (row.repositoryId === repositoryId && row.branchName === branch)
    );
    if (owner !== undefined) {
      throw new SessionError(
        "Conflict",
        `session ${owner.id} already holds the folder ${path} or the branch ${branch}`,
      );
    }
    const unfinished = pending.find((entry) =>
      entry.sessionId === id || resolve(entry.path) === target ||
      ((entry.repositoryId === repositoryId || entry.repositoryPath === info.topLevel) && entry.branch === branch)
    );
    if (unfinished !== undefined) {
      throw new SessionError(
        "Conflict",
        `an unfinished ${unfinished.op} of session ${unfinished.sessionId} holds the id, the folder ${path} or the branch ${branch}; run reconcile`,
      );
    }
  }

  /**
   * Opens a session. For a worktree session: checks everything it can before touching git
   * (`InvalidInput` for a bad name, a path inside the checkout, a folder that is not a git
   * repository; `RepositoryNotFound`), then, under the repository's lock, refuses an existing
   * session id, folder or branch, one held by another session's row, or one named by an unfinished
   * operation's journal entry (`Conflict`), journals its intent, adds the worktree, writes the row and
   * provisions the secret. When a step fails the steps already done are undone and the error
   * (a `SessionError`, the original as `cause`) is thrown.
   */
  async open(params: OpenSessionParams): Promise<Session> {
    const checked = requireRecord(params, "session parameters", OPEN_FIELDS) as unknown as OpenSessionParams;
    const id = checked.sessionId === undefined ? newSessionId() : parseId(checked.sessionId, "session id");
    if (checked.useExistingBranch !== undefined && typeof checked.useExistingBranch !== "boolean") {
      invalid("useExistingBranch must be a boolean");
    }
    if (checked.isWorktree !== true) {
      if (checked.baseRef !== undefined || checked.useExistingBranch) {
        invalid("baseRef and useExistingBranch are only for worktree sessions");
      }
      return await this.#openPlain(checked, id);
    }
    const repository = await this.#repository(parseId(checked.repositoryId, "repositoryId"));
    const title = requireText(checked.title, "title", MAX_TITLE_LENGTH);
    const worktreeName = checked.worktreeName === undefined
      ? defaultWorktreeName(title, id)
      : requireWorktreeName(checked.worktreeName);
    const useExisting = checked.useExistingBranch === true;
    if (useExisting && checked.branchName === undefined) invalid("useExistingBranch needs a branchName");
    const branch = checked.branchName === undefined
      ? requireBranchName(branchForWorktreeName(this.#prefix, worktreeName))
      : requireBranchName(checked.branchName);
    if (checked.baseRef !== undefined) {
      const base = requireText(checked.baseRef, "baseRef");
      if (base.startsWith("-") || /\s/.test(base)) invalid(`baseRef ${JSON.stringify(base)} is not a ref`);
    }
    const path = join(this.worktreesFolder(repository), worktreeName);
    // Every field of the row is checked now, so bad input never reaches git.
    const draft = {
      id,
      repositoryId: repository.id,
      title,
      agentName: checked.agentName,
      issueId: checked.issueId,
      issueTitle: checked.issueTitle,
      issueUrl: checked.issueUrl,
      isWorktree: true,
      worktreePath: path,
      worktreeName,
      branchName: branch,
      createdWorktree: true,
      createdBranch: !useExisting,
    };
    buildSession(draft, nowIso());

    const info = await this.#repositoryInfo(repository.path);
    if (isInside(realLocation(path), realLocation(info.topLevel))) {
      invalid(`the worktree ${path} would be inside the checkout ${info.topLevel}; choose another worktreesRoot`);
    }
    // Both are read-only git calls: run side by side.
    const [base] = await Promise.all([
      useExisting ? null : checked.baseRef ?? repository.defaultBranch ??
        this.#git.currentBranch(info.topLevel).then((b) => b ?? "HEAD"),
      this.#git.checkBranchName(info.topLevel, branch),
    ]);
    return await this.#lock(info, async () => {
      // Under the lock nothing of this repository changes meanwhile, so these checks hold until the journal is written.
      // Independent reads (the store and journal, and git's refs): side by side.
      const [, exists] = await Promise.all([
        this.#refuseTaken(id, repository.id, info, path, branch),
        this.#git.branchExists(info.topLevel, branch),
      ]);
      if (existsSync(path)) throw new SessionError("Conflict", `the folder ${path} already exists`);
      if (exists && !useExisting) throw new SessionError("Conflict", `the branch ${branch} already exists`);
      if (!exists && useExisting) invalid(`the branch ${branch} does not exist`);
      const entry: JournalEntry = {
        op: "open",
        sessionId: id,
        repositoryId: repository.id,
        repositoryPath: info.topLevel,
        path,
        branch,
        createdBranch: !useExisting,
        createdWorktree: true,
        baseRef: base,
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
        session = await this.#store.createSession({ ...draft, baseBranch: base }).catch((error) => {
          throw toStorageError(error, "writing the session row");
        });
        rowWritten = true;
        await this.#step("open:row", id);
        await this.#chain.provision(id);
        await this.#step("open:secret", id);
      } catch (error) {
        const failure = asSessionError(error, "opening the session");
        // Left in place when the undo is incomplete, so that reconcile finishes it.
        await undoOpen(this.#context, entry, { rowMayExist: rowWritten, worktreeMayExist: folderMade }).then(
          () => this.#journal.remove(id),
          () => {},
        );
        throw failure;
      }
      await this.#journal.remove(id);
      this.#events?.emit({ type: "session.created", session });
      return session;
    });
  }

  async #openPlain(params: OpenSessionParams, id: SessionId): Promise<Session> {
    const { sessionId: _id, baseRef: _base, useExistingBranch: _existing, ...create } = params;
    const session = await createSession(this.#store, create, id);
    try {
      await this.#chain.provision(id);
    } catch (error) {
      await this.#chain.forget(id).catch(() => {});
      await deleteSession(this.#store, id).catch(() => {});
      throw asSessionError(error, "provisioning the session secret");
    }
    this.#events?.emit({ type: "session.created", session });
    return session;
  }

  /**
   * Closes a session. A worktree with uncommitted or untracked changes is kept unless `force`:
   * then this throws `Conflict` and the session stays whole (row, secret, worktree). Otherwise
   * the worktree is removed (only when the session created it), the row deleted and returned,
   * the secret forgotten. The branch is kept unless `deleteBranch`, and even then only when the
   * session created it and it has no commits missing from its base and upstream (or `force`).
   * When the repository's checkout no longer exists, the row is deleted and the secret forgotten,
   * and the worktree folder is kept (`worktreeKeptReason`). The row's deletion is announced as soon
   * as it is committed; a secret that cannot be forgotten afterwards is logged (`logError`), not
   * thrown. `null` when the session does not exist.
   */
  async close(sessionId: SessionId, options: CloseSessionOptions = {}): Promise<ClosedSession | null> {
    const id = parseId(sessionId, "session id");
    const force = options.force === true;
    const deleteBranch = options.deleteBranch === true;
    const session = await this.#store.getSession(id).catch((error) => {
      throw toStorageError(error, "reading a session");
    });
    if (session === null) return null;
    if (!session.isWorktree || session.worktreePath === null || session.branchName === null) {
      return await this.#closeWithoutGit(id, deleteBranch ? "the session has no worktree branch" : null, null);
    }
    const repository = await this.#repository(session.repositoryId);
    if (!existsSync(repository.path)) {
      // The checkout is gone, so git cannot run and the lock cannot be taken: the session is closed
      // without touching its folder, which is kept rather than deleted blindly.
      const reason = `the repository checkout ${repository.path} is gone, so git could not remove it`;
      return await this.#closeWithoutGit(id, deleteBranch ? reason : null, reason);
    }
    const info = await this.#repositoryInfo(repository.path);
    return await this.#lock(info, async () => {
      const current = await this.#store.getSession(id).catch((error) => {
        throw toStorageError(error, "reading a session");
      });
      if (current === null) return null;
      const entry: JournalEntry = {
        op: "close",
        sessionId: id,
        repositoryId: current.repositoryId,
        repositoryPath: info.topLevel,
        path: current.worktreePath!,
        branch: current.branchName!,
        createdBranch: current.createdBranch,
        createdWorktree: current.createdWorktree,
        baseRef: current.baseBranch,
        force,
        deleteBranch,
        session: current,
        pid: process.pid,
        startedAt: nowIso(),
      };
      await this.#journal.write(entry);
      let result;
      try {
        await this.#step("close:journal", id);
        result = await finishClose(this.#context, entry, (step) => this.#step(step as LifecycleStep, id));
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
      };
    });
  }

  // Deletes the row, announces it, then forgets the secret (a failure there is logged, not thrown).
  async #closeWithoutGit(
    id: SessionId,
    branchKeptReason: string | null,
    worktreeKeptReason: string | null,
  ): Promise<ClosedSession | null> {
    const deleted = await deleteSession(this.#store, id);
    if (deleted !== null) this.#events?.emit({ type: "session.deleted", session: deleted });
    await forgetDeleted(this.#context, id);
    if (deleted === null) return null;
    return { session: deleted, worktreeRemoved: false, branchDeleted: false, branchKeptReason, worktreeKeptReason };
  }

  /**
   * Finishes or undoes what killed processes left, then checks every repository: worktree
   * registrations whose folder is gone are pruned, a session whose folder is gone gets it back
   * on its branch (or is reported), and folders under the worktrees folders that no session
   * owns are reported, never deleted. With `dryRun` it only reports.
   */
  reconcile(options: ReconcileOptions = {}): Promise<ReconcileReport> {
    return reconcileWorktrees({
      ...this.#context,
      journal: this.#journal,
      dryRun: options.dryRun === true,
      repositoryInfo: (path) => this.#repositoryInfo(path),
      lock: (info, work) => this.#lock(info, work),
      worktreesFolder: (repository) => this.worktreesFolder(repository),
    });
  }
}
