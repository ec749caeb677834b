/**
 * The default SQLite connection: each runtime's fastest built-in driver, `bun:sqlite` under Bun and
 * `node:sqlite` elsewhere (Deno, Node).
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { closeSync, existsSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import { SqliteStore, type SqliteStoreOptions } from "../store/sqlite_store.ts";
import type { SqliteDatabase } from "../store/sqlite_driver.ts";
import { toStorageError } from "../errors.ts";
import { requireAbsolutePath } from "../_path_checks.ts";
import type { BackupOptions, StoreBackup } from "../store/store.ts";
import type { SealedSecretProbe, SealedSecretSample } from "./database_key.ts";
import { isBun } from "./_runtime.ts";
import { writeSqliteBackup } from "./_sqlite_backup.ts";

/**
 * A connection {@linkcode ClosableSqliteStore} owns: `node:sqlite`'s `DatabaseSync` or
 * `bun:sqlite`'s `Database`.
 */
export interface SqliteConnection extends SqliteDatabase {
  /** Closes the connection (`bun:sqlite` is told to finalize its statements and close at once). */
  close(throwOnError?: boolean): void;
  /** `node:sqlite` only: whether the connection is still open. */
  readonly isOpen?: boolean;
}

/** The built-in driver {@linkcode openSqliteStore} uses in this runtime. */
export type SqliteDriverName = "bun:sqlite" | "node:sqlite";

type BunDatabase = new (path: string, options?: { readonly?: boolean }) => SqliteConnection;

let bunDatabase: BunDatabase | undefined;

// Loaded synchronously, and only under Bun, through `import.meta.require`: a static import would make
// Deno's type check (and every other runtime) try to resolve the `bun:` specifier.
function bunSqlite(): BunDatabase {
  if (bunDatabase === undefined) {
    const meta = import.meta as ImportMeta & { require(id: string): { Database: BunDatabase } };
    bunDatabase = meta.require("bun:sqlite").Database;
  }
  return bunDatabase;
}

/**
 * The built-in driver {@linkcode openSqliteStore} uses in this runtime: `bun:sqlite` under Bun,
 * `node:sqlite` elsewhere.
 *
 * @example
 * ```ts
 * import { sqliteDriverName } from "./sqlite.ts";
 *
 * console.log(sqliteDriverName()); // "node:sqlite" under Deno
 * ```
 */
export function sqliteDriverName(): SqliteDriverName {
  return isBun ? "bun:sqlite" : "node:sqlite";
}

// Opens a connection with this runtime's driver; both create the file when it is missing (unless read-only).
function openConnection(path: string, readOnly = false): SqliteConnection {
  if (isBun) {
    const Database = bunSqlite();
    return readOnly ? new Database(path, { readonly: true }) : new Database(path);
  }
  return new DatabaseSync(path, { readOnly });
}

/**
 * Opens (creating when needed) the SQLite file at `path`, or `":memory:"`, and returns a
 * {@linkcode SqliteStore} over it, migrated and in WAL mode. The parent folder is created. The
 * connection uses the runtime's fastest built-in driver (see {@linkcode sqliteDriverName}):
 * `bun:sqlite` under Bun, `node:sqlite` under Deno and Node.
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
  let database: SqliteConnection;
  try {
    if (path !== ":memory:") {
      mkdirSync(dirname(path), { recursive: true });
      // Made owner-only before SQLite opens it; SQLite gives its -wal and -shm files the same mode.
      closeSync(openSync(path, "a", 0o600));
    }
    database = openConnection(path);
  } catch (error) {
    throw toStorageError(error, `opening ${path}`);
  }
  try {
    return new ClosableSqliteStore(database, options);
  } catch (error) {
    closeQuietly(database);
    throw error;
  }
}

/**
 * A {@linkcode SqliteStore} that owns its connection (`node:sqlite` or `bun:sqlite`), can close it,
 * and can write a consistent backup of its file while it is in use ({@linkcode ClosableSqliteStore.backup}).
 */
export class ClosableSqliteStore extends SqliteStore {
  readonly #connection: SqliteConnection;
  #closed = false;

  /**
   * Wraps a connection that this store closes.
   *
   * @param database the connection this store owns
   * @param options busy timeout
   */
  constructor(database: SqliteConnection, options: SqliteStoreOptions = {}) {
    super(database, options);
    this.#connection = database;
  }

  /**
   * Writes a consistent copy of the database to `destination` (an absolute path in a folder that
   * exists) while the store is in use, with every committed change, also those still only in the
   * write-ahead log, which a copy of the main file alone lacks. It is made by `VACUUM INTO` a temp
   * file beside the destination (mode 0600), checked with `PRAGMA integrity_check`, synced, and only
   * then given its name. An existing file is `Conflict` unless `overwrite`; a missing folder, a
   * folder, and the live database's own files (`-wal`, `-shm` too) are `InvalidInput`. Whatever
   * fails, nothing is left at the destination. `SessionOrchestrator.backup` checks the path first.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { mkdtempSync, rmSync } from "node:fs";
   * import { tmpdir } from "node:os";
   * import { join } from "node:path";
   * import { openSqliteStore } from "./sqlite.ts";
   *
   * const dir = mkdtempSync(join(tmpdir(), "slo-backup-"));
   * const store = openSqliteStore(join(dir, "sessions.db"));
   * await store.createRepository({ path: "/src/app", name: "app" });
   * const backup = await store.backup(join(dir, "copy.db"));
   * assert.equal(backup.repositories, 1);
   * assert.equal(backup.integrity, "ok");
   * store.close();
   * rmSync(dir, { recursive: true });
   * ```
   */
  backup(destination: string, options: BackupOptions = {}): Promise<StoreBackup> {
    try {
      const path = requireAbsolutePath(destination, "backup path");
      return Promise.resolve(writeSqliteBackup(this.#connection, path, options, (file) => openConnection(file, true)));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Closes the connection; the store is unusable afterwards. Closing twice is harmless. */
  close(): void {
    if (this.#closed || this.#connection.isOpen === false) return;
    this.#closed = true;
    this.closeEventLog();
    // `bun:sqlite`'s plain close() leaves the file open until its statements are garbage collected;
    // close(true) finalizes them and closes now. `node:sqlite` ignores the argument.
    this.#connection.close(true);
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
  let database: SqliteConnection;
  try {
    database = openConnection(path, true);
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
      : (database.prepare("SELECT session_id, encrypted_secret, nonce FROM session_secrets LIMIT 1").get() as
        | Record<string, unknown>
        | null
        | undefined) ?? null;
    if (row === null) return null;
    return {
      sessionId: String(row.session_id),
      encryptedSecret: new Uint8Array(row.encrypted_secret as Uint8Array),
      nonce: new Uint8Array(row.nonce as Uint8Array),
    };
  } catch (error) {
    throw toStorageError(error, `reading a sealed secret from ${path}`);
  } finally {
    closeQuietly(database);
  }
}

function closeQuietly(database: SqliteConnection): void {
  try {
    database.close(true);
  } catch {
    // Closing is cleanup after the error being reported, which says more.
  }
}
