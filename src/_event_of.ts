/**
 * Internal: the event each announced change makes, from the record the write returned. The
 * orchestrator announces these, and the SQLite event log writes them with the change (the Postgres
 * log builds the same JSON in SQL; tests/postgres/events.test.ts holds the two together).
 *
 * @module
 */

import type { LifecycleEvent } from "./events.ts";
import type { Repository, Session } from "./types.ts";

/** `repository.created`. */
export const repositoryCreated = (repository: Repository): LifecycleEvent => ({
  type: "repository.created",
  repository,
});
/** `repository.deleted`. */
export const repositoryDeleted = (repository: Repository): LifecycleEvent => ({
  type: "repository.deleted",
  repository,
});
/** `session.created`. */
export const sessionCreated = (session: Session): LifecycleEvent => ({ type: "session.created", session });
/** `session.updated`. */
export const sessionUpdated = (session: Session): LifecycleEvent => ({ type: "session.updated", session });
/** `session.deleted`. */
export const sessionDeleted = (session: Session): LifecycleEvent => ({ type: "session.deleted", session });
/** `session.archived`: the row after `archiveSession` marked it, its folder removed. */
export const sessionArchived = (session: Session): LifecycleEvent => ({ type: "session.archived", session });
/** `session.restored`: the row after `restoreSession` made it active again, its worktree back. */
export const sessionRestored = (session: Session): LifecycleEvent => ({ type: "session.restored", session });
/** `session.secret.stored`. */
export const secretStored = (sessionId: string): LifecycleEvent => ({ type: "session.secret.stored", sessionId });
