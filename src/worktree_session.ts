/**
 * The one rule for whether a session has a worktree that a delete must close first.
 *
 * @module
 */

import type { Session } from "./types.ts";

/**
 * Whether deleting `session` must first close a worktree: it is a worktree session with its folder
 * and branch recorded. A session without them (a plain one, or a worktree session whose lifecycle
 * never named its folder) is deleted as a row alone. A store's `deletePlainSession` removes only
 * the sessions for which this is `false`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { hasWorktreeToClose } from "../mod.ts";
 *
 * assert.equal(hasWorktreeToClose({ isWorktree: false, worktreePath: null, branchName: null }), false);
 * assert.equal(hasWorktreeToClose({ isWorktree: true, worktreePath: "/w/a", branchName: "a" }), true);
 * ```
 */
export function hasWorktreeToClose(session: Pick<Session, "isWorktree" | "worktreePath" | "branchName">): boolean {
  return session.isWorktree && session.worktreePath !== null && session.branchName !== null;
}
