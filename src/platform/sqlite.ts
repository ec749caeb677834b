/**
 * The default SQLite connection: `node:sqlite`, built into Deno, Node and Bun.
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { closeSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import { SqliteStore, type SqliteStoreOptions } from "../store/sqlite_store.ts";
import { toStorageError } from "../errors.ts";

/**
 * Opens (creating when needed) the SQLite file at `path`, or `":memory:"`, and returns a
 * {@linkcode SqliteStore} over it, migrated and in WAL mode. The parent folder is created.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { openSqliteStore } from "./sqlite.ts";
 *
 * const store = openSqliteStore(":memory:");
 * assert.deepEqual(await store.listSessions(), []);
 * store.close();
 * ```
 */
export function openSqliteStore(
  path: string,
  options: SqliteStoreOptions = {},
): ClosableSqliteStore {
  let database: DatabaseSync;
  try {
    if (path !== ":memory:") {
      mkdirSync(dirname(path), { recursive: true });
      // Made owner-only before SQLite opens it; SQLite gives its -wal and -shm files the same mode.
      closeSync(openSync(path, "a", 0o600));
    }
    database = new DatabaseSync(path);
  } catch (error) {
    throw toStorageError(error, `opening ${path}`);
  }
  return new ClosableSqliteStore(database, options);
}

/** A {@linkcode SqliteStore} that owns its `node:sqlite` connection and can close it. */
export class ClosableSqliteStore extends SqliteStore {
  readonly #connection: DatabaseSync;

  /**
   * Wraps a connection that this store closes.
   *
   * @param database the connection this store owns
   * @param options busy timeout
   */
  constructor(database: DatabaseSync, options: SqliteStoreOptions = {}) {
    super(database, options);
    this.#connection = database;
  }

  /** Closes the connection; the store is unusable afterwards. Closing twice is harmless. */
  close(): void {
    if (this.#connection.isOpen) this.#connection.close();
  }
}
