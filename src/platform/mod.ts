/**
 * Runtime parts: the default SQLite driver (`node:sqlite`), and, as they land, git worktrees and
 * the OS keychain, the default data directory and the server's token file. They use `node:*` built-ins, which work in Deno, Node and Bun.
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
export { APP_DIR_NAME, type DataDirContext, defaultDataDir } from "./data_dir.ts";
export { type ApiTokenFile, ensureApiToken, generateApiToken, TOKEN_FILE_NAME } from "./token_file.ts";
