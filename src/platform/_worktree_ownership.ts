/**
 * Internal to `WorktreeLifecycle`: who holds a session id, a worktree folder or a branch; the
 * checks an open makes under the repository's lock before it journals anything.
 *
 * @module
 */

import { resolve } from "node:path";
import { SessionError, toStorageError } from "../errors.ts";
import type { SessionId } from "../ids.ts";
import type { SessionReader } from "../store/store.ts";
import type { RepositoryInfo } from "./git.ts";
import type { Journal } from "./journal.ts";

/**
 * `Conflict` when the id, the folder or the branch is already someone's: a session row (any
 * repository's, for the folder; this repository's, for the branch), or a journal entry left by an
 * operation that did not finish, whose undo by `reconcile` would otherwise remove what this open makes.
 */
export async function refuseTaken(
  store: SessionReader,
  journal: Journal,
  claim: { sessionId: SessionId; repositoryId: string; info: RepositoryInfo; path: string; branch: string },
): Promise<void> {
  const { sessionId: id, repositoryId, info, path, branch } = claim;
  // Three indexed lookups: their cost does not grow with the number of sessions.
  const [existing, [inFolder], [onBranch], pending] = await Promise.all([
    store.getSession(id),
    store.listSessions({ worktreePath: resolve(path), limit: 1 }),
    store.listSessions({ repositoryId, branchName: branch, limit: 1 }),
    journal.list(),
  ]).catch((error) => {
    throw toStorageError(error, "checking for existing sessions");
  });
  if (existing !== null) throw new SessionError("Conflict", `a session with id ${id} already exists`);
  const target = resolve(path);
  const owner = inFolder ?? onBranch;
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
