/**
 * Internal to `WorktreeLifecycle`: the journal's part of an open's claim, checked under the
 * repository's lock before it journals anything (the rows' part is the orchestrator's).
 *
 * @module
 */

import { resolve } from "node:path";
import { SessionError } from "../errors.ts";
import type { SessionId } from "../ids.ts";
import type { RepositoryInfo } from "./git.ts";
import type { JournalEntry } from "./journal.ts";

/**
 * `Conflict` when the id, the folder or the branch is named by a journal entry left by an
 * operation that did not finish, whose undo by `reconcile` would otherwise remove what this open makes.
 */
export function refuseJournaled(
  pending: JournalEntry[],
  claim: { sessionId: SessionId; repositoryId: string; info: RepositoryInfo; path: string; branch: string },
): void {
  const { sessionId: id, repositoryId, info, path, branch } = claim;
  const target = resolve(path);
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
