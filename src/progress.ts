/**
 * The progress of a session's create: transient events (never logged, never replayed) that say
 * which phase a create is in and, where known, how far along it is.
 *
 * @module
 */

import type { RepositoryId, SessionId } from "./ids.ts";

/**
 * The phases of a create, in order: `plan` (names and checks), `add` (`git worktree add`),
 * `checkout` (the worktree's files written: `done` of `total` tracked files), `include` (the
 * checkout's ignored files copied in), `row` (the session's row and sealed secret written) and
 * `setup` (the operator's setup commands started; their own state then streams as
 * `session.updated`).
 */
export type ProgressPhase = "plan" | "add" | "checkout" | "include" | "row" | "setup";

/** What a worktree port reports of its part of a create (see `WorktreeOpenRequest.onProgress`). */
export interface WorktreeProgress {
  /** The phase the open is in: only the port's own ones. */
  phase: "add" | "checkout" | "include";
  /** How much of the phase is done (files), when known. */
  done?: number;
  /** How much the phase has to do in all (files), when known. */
  total?: number;
  /** A sentence for people, when there is more to say. */
  detail?: string;
}

/**
 * A create's progress, as `GET /v1/events` streams it (`event: session.progress`, with no `id:`):
 * transient, so never written to an event log, never replayed on a resume, and seen only by the
 * process that makes the session. Several may come for one phase (its start, then its counts).
 */
export interface SessionProgressEvent {
  /** Always `session.progress`. */
  type: "session.progress";
  /** The session being created (its id is chosen before anything is made). */
  sessionId: SessionId;
  /** Its repository, so that a view of a repository can show the creates under way in it. */
  repositoryId: RepositoryId;
  /**
   * The session it is made under (`parentSessionId` of its create), or `null`: a scoped token's
   * event stream shows the progress of the creates under its session only.
   */
  parentSessionId: SessionId | null;
  /** The phase the create is in. */
  phase: ProgressPhase;
  /** How much of the phase is done, when known. */
  done?: number;
  /** How much the phase has to do in all, when known. */
  total?: number;
  /** A sentence for people, when there is more to say. */
  detail?: string;
}

/** An event that is delivered live only: never logged, never given an id, never replayed. */
export type TransientEvent = SessionProgressEvent;

/** The session a {@linkcode SessionProgressEvent} is about. */
export interface ProgressSubject {
  /** The session being created. */
  sessionId: SessionId;
  /** Its repository. */
  repositoryId: RepositoryId;
  /** The session it is made under, or `null`. */
  parentSessionId: SessionId | null;
}

/**
 * The `session.progress` event of `progress` for the session `subject` names, with only the
 * fields it has.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { progressEvent } from "./progress.ts";
 *
 * const subject = { sessionId: "s1", repositoryId: "r1", parentSessionId: null };
 * assert.deepEqual(progressEvent(subject, { phase: "checkout", done: 3, total: 10 }), {
 *   type: "session.progress",
 *   sessionId: "s1",
 *   repositoryId: "r1",
 *   parentSessionId: null,
 *   phase: "checkout",
 *   done: 3,
 *   total: 10,
 * });
 * ```
 */
export function progressEvent(
  subject: ProgressSubject,
  progress: { phase: ProgressPhase; done?: number; total?: number; detail?: string },
): SessionProgressEvent {
  return {
    type: "session.progress",
    sessionId: subject.sessionId,
    repositoryId: subject.repositoryId,
    parentSessionId: subject.parentSessionId,
    phase: progress.phase,
    ...(progress.done === undefined ? {} : { done: progress.done }),
    ...(progress.total === undefined ? {} : { total: progress.total }),
    ...(progress.detail === undefined ? {} : { detail: progress.detail }),
  };
}
