/**
 * The default SQLite connection: `node:sqlite`, built into Deno, Node and Bun.
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { closeSync, existsSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import { SqliteStore, type SqliteStoreOptions } from "../store/sqlite_store.ts";
import { toStorageError } from "../errors.ts";
import type { SealedSecretProbe, SealedSecretSample } from "./database_key.ts";

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

/**
 * A `SealedSecretProbe` for `resolveDatabaseKey` over the SQLite file at `path`: one sealed secret
 * of the store (`SELECT … FROM session_secrets LIMIT 1`), or `null` when the file, its schema or
 * any secret is missing yet. The file is opened read-only for that one query and closed, so it can
 * run before the store is opened; nothing is created.
 *
 * @example
 * ```ts ignore
 * import { resolveDatabaseKey } from "./database_key.ts";
 * import { sqliteSecretProbe } from "./sqlite.ts";
 *
 * const { key } = await resolveDatabaseKey({
 *   dataDir: "/var/lib/slo",
 *   probe: sqliteSecretProbe("/var/lib/slo/sessions.db"),
 * });
 * ```
 */
export function sqliteSecretProbe(path: string): SealedSecretProbe {
  return () => {
    try {
      return Promise.resolve(readSealedSecret(path));
    } catch (error) {
      return Promise.reject(error);
    }
  };
}

function readSealedSecret(path: string): SealedSecretSample | null {
  if (path === ":memory:" || !existsSync(path)) return null;
  let database: DatabaseSync;
  try {
    database = new DatabaseSync(path, { readOnly: true });
  } catch (error) {
    throw toStorageError(error, `opening ${path}`);
  }
  try {
    // A file the store never migrated has no table yet, and so no secret.
    // (Drivers answer "no row" as undefined or null.)
    const table = database.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'session_secrets'")
      .get() ?? null;
    const row = table === null
      ? null
      : database.prepare("SELECT session_id, encrypted_secret, nonce FROM session_secrets LIMIT 1").get() ?? null;
    if (row === null) return null;
    return {
      sessionId: String(row.session_id),
      encryptedSecret: new Uint8Array(row.encrypted_secret as Uint8Array),
      nonce: new Uint8Array(row.nonce as Uint8Array),
    };
  } catch (error) {
    throw toStorageError(error, `reading a sealed secret from ${path}`);
  } finally {
    database.close();
  }
}
