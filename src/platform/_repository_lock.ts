/**
 * Internal: a cross-process advisory lock per repository, so that processes changing one
 * repository's worktrees take turns, and a holder that dies releases it.
 *
 * Node, Deno and Bun have no portable `flock`, and a lock file holding a pid needs a
 * steal-if-dead step that races (two waiters can both decide the holder is dead, and pids are
 * reused). Instead the lock is an exclusive transaction on a small SQLite file (`node:sqlite`,
 * built into all three runtimes): SQLite takes a POSIX byte-range lock on the file, and the
 * kernel drops that lock the moment the holding process exits, however it exits. Waiters poll
 * with backoff and jitter instead of blocking, so the event loop keeps running; an in-process
 * queue keeps a process from polling against itself.
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { join } from "node:path";
import { errorMessage, SessionError } from "../errors.ts";
import { sleep } from "./git_runner.ts";

/** Options of {@linkcode acquireFileLock}. */
export interface LockOptions {
  /**
   * How long to wait for the lock, queued behind holders in this process and polling against
   * other processes alike, before failing with `Conflict`; 120 s by default.
   */
  timeoutMs?: number;
}

/** Releases a held lock; calling it twice is harmless. */
export type ReleaseLock = () => void;

const queues = new Map<string, Promise<void>>();

function timedOut(path: string, timeoutMs: number, cause?: unknown): SessionError {
  return new SessionError("Conflict", `timed out after ${timeoutMs} ms waiting for the lock ${path}`, { cause });
}

// Waits for this process's earlier holders of `key`, but no later than `deadline`: the timeout
// covers the time spent queued, not only the polling against other processes. A waiter that gives
// up still passes its turn on when the one before it leaves, so the queue behind it keeps moving.
async function enterQueue(key: string, deadline: number, timeoutMs: number): Promise<() => void> {
  const previous = queues.get(key) ?? Promise.resolve();
  let leave!: () => void;
  const turn = new Promise<void>((resolve) => (leave = resolve));
  const tail = previous.then(() => turn);
  queues.set(key, tail);
  const exit = () => {
    leave();
    if (queues.get(key) === tail) queues.delete(key);
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<true>((resolve) => {
    timer = setTimeout(() => resolve(true), Math.max(0, deadline - Date.now()));
  });
  const gaveUp = await Promise.race([previous.then(() => false as const), expired]);
  clearTimeout(timer);
  if (gaveUp) {
    exit();
    throw timedOut(key, timeoutMs);
  }
  return exit;
}

function isBusy(error: unknown): boolean {
  return /locked|busy/i.test(errorMessage(error));
}

/**
 * Takes the exclusive lock kept in the file at `path` (created when missing), waiting for other
 * holders in this and other processes. Resolves with the function that releases it.
 *
 * @example
 * ```ts
 * import { acquireFileLock } from "./_repository_lock.ts";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 *
 * const release = await acquireFileLock(join(tmpdir(), "example.lock"));
 * try {
 *   // change the repository's worktrees
 * } finally {
 *   release();
 * }
 * ```
 */
export async function acquireFileLock(path: string, options: LockOptions = {}): Promise<ReleaseLock> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const deadline = Date.now() + timeoutMs;
  const leaveQueue = await enterQueue(path, deadline, timeoutMs);
  let database: DatabaseSync | null = null;
  try {
    database = new DatabaseSync(path);
    database.exec("PRAGMA busy_timeout = 0");
    for (let attempt = 0;; attempt++) {
      try {
        database.exec("BEGIN EXCLUSIVE");
        break;
      } catch (error) {
        if (!isBusy(error)) throw error;
        if (Date.now() >= deadline) {
          throw timedOut(path, timeoutMs, error);
        }
        const backoff = Math.min(100, 2 * 2 ** Math.min(attempt, 6));
        await sleep(backoff / 2 + Math.random() * backoff);
      }
    }
  } catch (error) {
    database?.close();
    leaveQueue();
    if (error instanceof SessionError) throw error;
    throw new SessionError("WorktreeCreation", `cannot take the lock ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const held = database;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    try {
      // Nothing was written, so rolling back ends the transaction without touching the disk.
      held.exec("ROLLBACK");
    } finally {
      held.close();
      leaveQueue();
    }
  };
}

/** The lock file of the repository whose git common directory is `commonDir`. */
export function repositoryLockPath(commonDir: string): string {
  // Not named `*.lock`: inside the git directory that suffix is how git marks its own locks.
  return join(commonDir, "session-lifecycle-orchestrator.lockdb");
}

/**
 * Runs `work` while holding the lock of the repository whose git common directory is
 * `commonDir` (from `git rev-parse --git-common-dir`, so a repository and all its worktrees
 * share one lock).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mkdtempSync, rmSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { withRepositoryLock } from "./_repository_lock.ts";
 *
 * const commonDir = mkdtempSync(join(tmpdir(), "git-"));
 * assert.equal(await withRepositoryLock(commonDir, () => Promise.resolve(42)), 42);
 * rmSync(commonDir, { recursive: true });
 * ```
 */
export async function withRepositoryLock<T>(
  commonDir: string,
  work: () => Promise<T>,
  options: LockOptions = {},
): Promise<T> {
  const release = await acquireFileLock(repositoryLockPath(commonDir), options);
  try {
    return await work();
  } finally {
    release();
  }
}
