/**
 * One server per data directory: a server holds an exclusive lock on `<dataDir>/server.lock` for
 * its whole life, so a second server on the same data directory is refused every time, even when
 * both start at the same moment. The lock is an exclusive SQLite transaction (see
 * `acquireFileLock`): the kernel drops it the moment the holder exits, however it exits, so a
 * crash never leaves a data directory locked, and no pid is ever compared (pids are reused after
 * a reboot, and a killed process may linger unreaped).
 * Internal: not in the package's exports.
 *
 * @module
 */

import { join, resolve } from "node:path";
import { acquireFileLock, type ReleaseLock } from "../platform/_repository_lock.ts";
import { SessionError } from "../errors.ts";
import { processExists, readDiscoveryFile } from "./discovery.ts";
import { StartError } from "./start_error.ts";

// Far above the microseconds two racing starts hold each other up; short enough for a refusal.
const LOCK_WAIT_MS = 1000;

/** The lock file's name inside the data directory. */
export const DATA_DIR_LOCK_FILE_NAME = "server.lock";

/**
 * Takes the data directory's lock, which must already exist, or refuses with a `StartError` that
 * names the server holding it (from its discovery file, when it has written one). Resolves with the
 * function that releases the lock; a stopped server calls it last.
 *
 * @example
 * ```ts ignore
 * import { lockDataDir } from "./data_dir_lock.ts";
 *
 * const release = await lockDataDir("/var/lib/slo");
 * try {
 *   // open the database, serve
 * } finally {
 *   release();
 * }
 * ```
 */
export async function lockDataDir(dataDir: string): Promise<ReleaseLock> {
  const path = join(dataDir, DATA_DIR_LOCK_FILE_NAME);
  try {
    // A short wait only: a holder is a running server, which does not let go until it stops. But
    // not none: two starts taking the lock at the same moment can each meet the other's shared
    // lock on the way to an exclusive one and both be refused; a retry lets exactly one through.
    return await acquireFileLock(path, { timeoutMs: LOCK_WAIT_MS });
  } catch (error) {
    if (error instanceof SessionError && error.kind === "Conflict") {
      throw new StartError(
        `a server is already running on data directory ${resolve(dataDir)} (${holder(dataDir)}); ` +
          `stop it or pass another --data-dir`,
        { cause: error },
      );
    }
    throw new StartError(`cannot lock data directory ${resolve(dataDir)}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

// The holder as its discovery file names it. A file whose process is gone was left by an earlier
// crash: the holder is then a server still starting, which has not written its own yet.
function holder(dataDir: string): string {
  const read = readDiscoveryFile(dataDir);
  if (read.state === "found" && processExists(read.record.pid)) {
    return `pid ${read.record.pid}, ${read.record.url}`;
  }
  return "it is still starting";
}
