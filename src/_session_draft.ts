/**
 * Internal to the create paths (`createSession` and the orchestrator): the store input for a new
 * session, built from what a caller gave.
 *
 * @module
 */

import { newSessionId, parseId, type SessionId } from "./ids.ts";
import type { CreateSessionParams } from "./operations.ts";
import type { NewSession } from "./types.ts";
import { requireRecord } from "./_field_checks.ts";

/** The fields `createSession` accepts; anything else in its params is `InvalidInput`. */
export const CREATE_SESSION_FIELDS: readonly (keyof CreateSessionParams)[] = [
  "repositoryId",
  "title",
  "agentName",
  "issueId",
  "issueTitle",
  "issueUrl",
  "isWorktree",
  "worktreeName",
  "branchName",
];

/**
 * The store input for a new session: `params` checked for unknown fields, and the ids parsed.
 * The other fields are checked by the store (`buildSession`), before it writes anything.
 */
export function sessionDraft(params: CreateSessionParams, sessionId?: SessionId, worktreePath?: string): NewSession {
  const checked = requireRecord(params, "session parameters", CREATE_SESSION_FIELDS) as unknown as CreateSessionParams;
  return {
    id: sessionId === undefined ? newSessionId() : parseId(sessionId, "session id"),
    repositoryId: parseId(checked.repositoryId, "repositoryId"),
    title: checked.title,
    agentName: checked.agentName,
    issueId: checked.issueId,
    issueTitle: checked.issueTitle,
    issueUrl: checked.issueUrl,
    isWorktree: checked.isWorktree,
    worktreePath,
    worktreeName: checked.worktreeName,
    branchName: checked.branchName,
  };
}
