/**
 * Lists' filters and pages as the stores take them, and the one order every list returns. Internal.
 *
 * @module
 */

import { parseId } from "./ids.ts";
import { invalid, requireRecord, requireText, requireTimestamp } from "./_field_checks.ts";
import { requireAbsolutePath } from "./_path_checks.ts";
import {
  type ListPosition,
  type RepositoryFilter,
  SESSION_STATUSES,
  type SessionFilter,
  type SessionStatus,
} from "./types.ts";

/** Checks a list's `limit` and `after`, as the stores take them. */
export function checkPage(filter: { limit?: number; after?: ListPosition }): {
  limit: number | null;
  after: ListPosition | null;
} {
  const { limit, after } = filter;
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1)) {
    invalid("limit must be a whole number from 1");
  }
  if (after !== undefined) {
    if (typeof after !== "object" || after === null || typeof after.createdAt !== "string") {
      invalid("after must be a { createdAt, id } position");
    }
    // A position compares against stored ISO-8601 UTC strings, so it must be a time, in that same
    // form: otherwise text order and time order disagree, and a database with a timestamp column
    // would fail on it as a storage error instead.
    const createdAt = requireTimestamp(after.createdAt, "after.createdAt");
    return { limit: limit ?? null, after: { createdAt, id: parseId(after.id, "after.id") } };
  }
  return { limit: limit ?? null, after: null };
}

/** Checks a store's repository filter: known fields only, and a valid page. */
export function checkRepositoryFilter(filter: RepositoryFilter): {
  limit: number | null;
  after: ListPosition | null;
} {
  return checkPage(requireRecord(filter, "repository filter", ["limit", "after"]));
}

/** Checks a store's session filter: known fields, a real repository id and status, a valid page. */
export function checkSessionFilter(filter: SessionFilter): {
  repositoryId: string | null;
  status: SessionStatus | null;
  worktreePath: string | null;
  branchName: string | null;
  parentSessionId: string | null;
  limit: number | null;
  after: ListPosition | null;
} {
  const record = requireRecord(filter, "session filter", [
    "repositoryId",
    "status",
    "worktreePath",
    "branchName",
    "parentSessionId",
    "limit",
    "after",
  ]);
  const repositoryId = record.repositoryId === undefined ? null : parseId(record.repositoryId, "repositoryId");
  if (record.status !== undefined && !SESSION_STATUSES.includes(record.status as SessionStatus)) {
    invalid(`status must be one of ${SESSION_STATUSES.join(", ")}`);
  }
  // In the form the stores keep, so that an equal folder spelt otherwise is found.
  const worktreePath = record.worktreePath === undefined
    ? null
    : requireAbsolutePath(record.worktreePath, "worktreePath");
  const branchName = record.branchName === undefined ? null : requireText(record.branchName, "branchName");
  const parentSessionId = record.parentSessionId === undefined
    ? null
    : parseId(record.parentSessionId, "parentSessionId");
  return {
    repositoryId,
    status: (record.status as SessionStatus | undefined) ?? null,
    worktreePath,
    branchName,
    parentSessionId,
    ...checkPage(filter),
  };
}

/** Orders records as lists return them: by `createdAt`, then by `id`. */
export function comparePosition(a: ListPosition, b: ListPosition): number {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
