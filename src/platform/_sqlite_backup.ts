/**
 * Internal: a consistent copy of a live SQLite database, as `ClosableSqliteStore.backup` writes it.
 * A copy of the main file alone misses every change still in the write-ahead log (all of them,
 * until a checkpoint), so the copy is made by SQLite itself: `VACUUM INTO` a temp file beside the
 * destination, in one read transaction (other connections' writers go on; the copy is the database as
 * of its start).
 * The temp file is checked (`PRAGMA integrity_check`, on a connection of its own), synced, and only
 * then put in place: with `link()` when nothing may be replaced (so a file that appears meanwhile is
 * never overwritten), with `rename()` when it may. Whatever fails, the temp file goes and the
 * destination is as it was.
 *
 * @module
 */

import {
  closeSync,
  fsyncSync,
  linkSync,
  openSync,
  realpathSync,
  renameSync,
  rmSync,
  type Stats,
  statSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { SessionError, toStorageError } from "../errors.ts";
import type { SqliteDatabase } from "../store/sqlite_driver.ts";
import type { BackupOptions, StoreBackup } from "../store/store.ts";
import { tempPathFor } from "./private_file.ts";

/** A read-only connection to a file, closed by the caller: what the copy is checked through. */
export type OpenReadOnly = (path: string) => SqliteDatabase & { close(throwOnError?: boolean): void };

// The files SQLite keeps beside a database; replacing one under a live connection would corrupt it.
const COMPANION_SUFFIXES = ["", "-wal", "-shm", "-journal"];

/**
 * Writes a checked copy of `database` (its `main` schema) to `destination`, an absolute path in the
 * lexical normal form the orchestrator checked. See the module's description for how.
 */
export function writeSqliteBackup(
  database: SqliteDatabase,
  destination: string,
  options: BackupOptions,
  openReadOnly: OpenReadOnly,
): StoreBackup {
  const folder = dirname(destination);
  const folderStat = statOrNull(folder);
  if (folderStat === null) throw invalid(`the folder ${folder} does not exist; make it first`);
  if (!folderStat.isDirectory()) throw invalid(`${folder} is not a folder`);
  const existing = statOrNull(destination);
  if (existing?.isDirectory()) throw invalid(`${destination} is a folder; name the backup file inside it`);
  refuseLiveFiles(database, destination);
  if (existing !== null && options.overwrite !== true) {
    throw exists(destination);
  }

  const temp = tempPathFor(join(folder, `.${basename(destination)}`));
  try {
    // Made first, owner-only and exclusively: VACUUM INTO fills an empty file and keeps its mode.
    try {
      closeSync(openSync(temp, "wx", 0o600));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "EACCES" || code === "EPERM" || code === "EROFS") {
        throw invalid(`cannot write in the folder ${folder}: ${(error as Error).message}`);
      }
      throw error;
    }
    database.prepare("VACUUM INTO ?").run(temp);
    const counts = checkCopy(temp, openReadOnly);
    syncFile(temp);
    place(temp, destination, options.overwrite === true);
    syncFolder(folder);
    return { path: destination, bytes: statSync(destination).size, ...counts, integrity: "ok" };
  } catch (error) {
    throw toStorageError(error, `writing a backup to ${destination}`);
  } finally {
    for (const suffix of COMPANION_SUFFIXES) rmSync(`${temp}${suffix}`, { force: true });
  }
}

function invalid(message: string): SessionError {
  return new SessionError("InvalidInput", message);
}

function exists(destination: string): SessionError {
  return new SessionError(
    "Conflict",
    `a file exists at ${destination}; a backup replaces one only when asked to overwrite`,
  );
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return null;
    throw toStorageError(error, `reading ${path}`);
  }
}

// The destination, with its folder's symbolic links resolved, must not be the live database or one
// of the files SQLite keeps beside it: replacing those would destroy what is being copied.
function refuseLiveFiles(database: SqliteDatabase, destination: string): void {
  const main = (database.prepare("PRAGMA database_list").all() as { name: string; file: string }[])
    .find((entry) => entry.name === "main")?.file ?? "";
  if (main === "") return; // An in-memory database has no file to collide with.
  const live = realpathOr(main);
  const targets = new Set([join(realpathOr(dirname(destination)), basename(destination)), realpathOr(destination)]);
  for (const suffix of COMPANION_SUFFIXES) {
    if (targets.has(`${live}${suffix}`)) {
      throw invalid(`${destination} is the live database's own file; write the backup elsewhere`);
    }
  }
}

function realpathOr(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

// The copy as a new server would open it: whole (integrity_check says "ok") and what it holds.
function checkCopy(path: string, openReadOnly: OpenReadOnly): { sessions: number; repositories: number } {
  const copy = openReadOnly(path);
  try {
    const rows = copy.prepare("PRAGMA integrity_check").all() as Record<string, unknown>[];
    const verdict = rows.map((row) => String(Object.values(row)[0]));
    if (verdict.length !== 1 || verdict[0] !== "ok") {
      throw new SessionError("Storage", `the copy failed SQLite's integrity check: ${verdict.slice(0, 5).join("; ")}`);
    }
    const counts = copy.prepare(
      "SELECT (SELECT count(*) FROM sessions) AS sessions, (SELECT count(*) FROM repositories) AS repositories",
    ).get() as { sessions: number | bigint; repositories: number | bigint };
    return { sessions: Number(counts.sessions), repositories: Number(counts.repositories) };
  } finally {
    copy.close(true);
  }
}

function syncFile(path: string): void {
  const descriptor = openSync(path, "r+");
  try {
    fsyncSync(descriptor);
  } finally {
    closeSync(descriptor);
  }
}

// Puts the checked copy at its name: `link()` fails when the name exists, so a file that appeared
// since the check is never replaced; `rename()` replaces, when asked to.
function place(temp: string, destination: string, overwrite: boolean): void {
  if (overwrite) return renameSync(temp, destination);
  try {
    linkSync(temp, destination);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw exists(destination);
    // A file system without hard links: the name was free a moment ago.
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "EMLINK") throw error;
    if (statOrNull(destination) !== null) throw exists(destination);
    renameSync(temp, destination);
  }
}

// Makes the new name itself durable; a file system that cannot sync a folder still has the file.
function syncFolder(folder: string): void {
  try {
    const descriptor = openSync(folder, "r");
    try {
      fsyncSync(descriptor);
    } finally {
      closeSync(descriptor);
    }
  } catch {
    // see above
  }
}
