/**
 * Runtime parts: the default SQLite driver (`node:sqlite`), and, as they land, git worktrees and
 * the OS keychain. They use `node:*` built-ins, which work in Deno, Node and Bun.
 *
 * @example
 * ```ts
 * import { openSqliteStore } from "./mod.ts";
 * import { createSession } from "../../mod.ts";
 *
 * const store = openSqliteStore(":memory:");
 * const repository = await store.createRepository({ path: "/src/app", name: "app" });
 * await createSession(store, { repositoryId: repository.id, title: "t", isWorktree: false });
 * store.close();
 * ```
 *
 * @module
 */

export { ClosableSqliteStore, openSqliteStore } from "./sqlite.ts";
export { type GitResult, type GitRunOptions, isTransientLockError, runGit } from "./git_runner.ts";
export { Git, type GitOptions, parseWorktreeList, type RepositoryInfo, type WorktreeEntry } from "./git.ts";
export {
  acquireFileLock,
  type LockOptions,
  type ReleaseLock,
  repositoryLockPath,
  withRepositoryLock,
} from "./repository_lock.ts";
export { Journal, type JournalEntry } from "./journal.ts";
export { branchForWorktreeName, defaultWorktreeName } from "./worktree_names.ts";
export {
  CLOSE_STEPS,
  type LifecycleStep,
  OPEN_STEPS,
  WorktreeLifecycle,
  type WorktreeLifecycleOptions,
} from "./worktree_lifecycle.ts";
