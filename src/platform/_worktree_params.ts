/**
 * Internal to `WorktreeLifecycle`: the parameters of a worktree open (the folder name, branch and
 * path a session gets, and its row), all checked before git runs.
 *
 * @module
 */

import { join } from "node:path";
import type { WorktreeRequest } from "../lifecycle.ts";
import type { NewSession } from "../types.ts";
import {
  buildSession,
  invalid,
  MAX_TITLE_LENGTH,
  nowIso,
  requireBranchName,
  requireText,
  requireWorktreeName,
} from "../validation.ts";
import { branchForWorktreeName, defaultWorktreeName } from "./worktree_names.ts";

/** Everything an open needs, checked. */
export interface WorktreePlan {
  /** The session's row, as it will be written (`baseBranch` is filled in once the base is known). */
  draft: NewSession;
  /** The worktree's folder. */
  path: string;
  /** The worktree's branch. */
  branch: string;
  /** Whether `branch` is the user's existing branch rather than one the open creates. */
  useExistingBranch: boolean;
  /** The ref the caller asked the branch to start from, if any. */
  baseRef: string | null;
}

/**
 * Checks an open's parameters and works out the defaults: the folder name is a slug of the title
 * plus part of the id, the branch is `<branchPrefix><worktreeName>`, and the folder is
 * `<worktreesFolder>/<worktreeName>`. Bad input is `InvalidInput`, before anything is touched.
 */
export function planWorktree(request: WorktreeRequest, branchPrefix: string, worktreesFolder: string): WorktreePlan {
  const { sessionId: id, repository, params } = request;
  const title = requireText(params.title, "title", MAX_TITLE_LENGTH);
  const worktreeName = params.worktreeName === undefined
    ? defaultWorktreeName(title, id)
    : requireWorktreeName(params.worktreeName);
  const useExistingBranch = request.useExistingBranch === true;
  if (useExistingBranch && params.branchName === undefined) invalid("useExistingBranch needs a branchName");
  const branch = params.branchName === undefined
    ? requireBranchName(branchForWorktreeName(branchPrefix, worktreeName))
    : requireBranchName(params.branchName);
  let baseRef: string | null = null;
  if (request.baseRef !== undefined) {
    baseRef = requireText(request.baseRef, "baseRef");
    if (baseRef.startsWith("-") || /\s/.test(baseRef)) invalid(`baseRef ${JSON.stringify(baseRef)} is not a ref`);
  }
  const path = join(worktreesFolder, worktreeName);
  const draft: NewSession = {
    id,
    repositoryId: repository.id,
    title,
    agentName: params.agentName,
    issueId: params.issueId,
    issueTitle: params.issueTitle,
    issueUrl: params.issueUrl,
    isWorktree: true,
    worktreePath: path,
    worktreeName,
    branchName: branch,
    createdWorktree: true,
    createdBranch: !useExistingBranch,
  };
  // Every field of the row is checked now, so bad input never reaches git.
  buildSession(draft, nowIso());
  return { draft, path, branch, useExistingBranch, baseRef };
}
