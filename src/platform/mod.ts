/**
 * Runtime parts: the default SQLite driver (`bun:sqlite` under Bun, `node:sqlite` under Deno and Node),
 * the OS keychain, where the database key lives, the default data directory and the server's token
 * file. They use the runtimes' built-ins and npm packages that work in Deno, Node and Bun.
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

export {
  ClosableSqliteStore,
  openSqliteStore,
  type SqliteConnection,
  type SqliteDriverName,
  sqliteDriverName,
  sqliteSecretProbe,
} from "./sqlite.ts";
export { canonicalRepositoryPath } from "./repository_path.ts";
export { keychainWorks, openDefaultKeychain, OsKeychain, type OsKeychainOptions } from "./keychain.ts";
export type { Keychain } from "../keychain.ts";
export {
  DATABASE_KEY_ACCOUNT,
  DATABASE_KEY_CHECK_FILE,
  DATABASE_KEY_ENV,
  DATABASE_KEY_FILE,
  DATABASE_KEY_LOCK_FILE,
  resolveDatabaseKey,
  type ResolveDatabaseKeyOptions,
  type ResolvedDatabaseKey,
  type SealedSecretProbe,
  type SealedSecretSample,
  storeSecretProbe,
} from "./database_key.ts";
export { APP_DIR_NAME, type DataDirContext, defaultDataDir } from "./data_dir.ts";
export { type ApiTokenFile, ensureApiToken, generateApiToken, TOKEN_FILE_NAME } from "./token_file.ts";
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
