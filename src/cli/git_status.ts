/**
 * The git state of each session `slo list --git` shows: read from `GET /v1/sessions/{id}/status`
 * (one request per worktree session, a few at a time), and shown as the columns DIRTY, AHEAD,
 * BEHIND, LANDED and DISK: `-` for a session without a worktree, `?` where the server could not
 * answer for that session (the others still show).
 * Internal: the published surface is `./mod.ts` (the "./cli" export).
 *
 * @module
 */

import type { SessionGitStatus } from "../lifecycle.ts";
import type { Session } from "../types.ts";
import { answerError, type ApiClient } from "./client.ts";
import { type Column, formatBytes } from "./table.ts";

/** At most this many status requests are in flight at once (each runs git and walks a folder on the server). */
export const GIT_STATUS_CONCURRENCY = 4;

/**
 * One session's git state as `slo list --git --json` gives it in `gitStatus`: the server's answer;
 * `null` for a session without a worktree; or `{ error }` (the server's error kind, when it gave
 * one, and its message) when the server could not answer for this session.
 */
export type GitStatusOf = SessionGitStatus | null | { error: { kind: string | null; message: string } };

/** Whether `session` has a worktree, so a git state to read. */
export function hasWorktree(session: Session): boolean {
  return session.isWorktree && session.worktreePath !== null && session.branchName !== null;
}

/**
 * `work` for each item, with at most `limit` calls running at once; the results in the items'
 * order. A call that throws rejects the whole (give `work` its own `catch`).
 */
export async function mapWithLimit<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError("limit must be a whole number of at least 1");
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** One session's git state from the server, or what kept it from answering; `null` without a worktree. */
export async function readGitStatus(api: ApiClient, session: Session): Promise<GitStatusOf> {
  if (!hasWorktree(session)) return null;
  try {
    const response = await api.v1.sessions[":id"].status.$get({ param: { id: session.id } });
    if (response.status === 200) return await response.json();
    const error = await answerError(response);
    return { error: { kind: error.kind, message: error.message } };
  } catch (error) {
    return { error: { kind: null, message: error instanceof Error ? error.message : String(error) } };
  }
}

/**
 * The git state of every session, by id: at most {@linkcode GIT_STATUS_CONCURRENCY} requests at a
 * time, none for a session without a worktree.
 */
export async function readGitStatuses(
  api: ApiClient,
  sessions: readonly Session[],
  concurrency: number = GIT_STATUS_CONCURRENCY,
): Promise<Map<string, GitStatusOf>> {
  const statuses = await mapWithLimit(sessions, concurrency, (session) => readGitStatus(api, session));
  return new Map(sessions.map((session, i) => [session.id, statuses[i]]));
}

const known = <T>(value: T | null, text: (value: T) => string): string => (value === null ? "?" : text(value));

/**
 * The columns `--git` adds, from `statuses` (by session id): `-` for a session without a worktree,
 * `?` for one the server could not answer for, and for a value the server could not tell (a
 * missing folder, a branch gone).
 */
export function gitColumns(statuses: ReadonlyMap<string, GitStatusOf>): Column<Session>[] {
  const cell = (text: (status: SessionGitStatus) => string) => (session: Session) => {
    const status = statuses.get(session.id);
    if (status === undefined) return hasWorktree(session) ? "?" : "-";
    if (status === null) return "-";
    if ("error" in status) return "?";
    return text(status);
  };
  return [
    { header: "DIRTY", value: cell((s) => known(s.dirty, (dirty) => (dirty ? "yes" : "no"))) },
    { header: "AHEAD", value: cell((s) => known(s.ahead, String)), align: "right" },
    { header: "BEHIND", value: cell((s) => known(s.behind, String)), align: "right" },
    { header: "LANDED", value: cell((s) => s.landed ?? (s.ahead === null ? "?" : "no")) },
    { header: "DISK", value: cell((s) => formatBytes(s.diskBytes)), align: "right" },
  ];
}

/** The sessions' git state could not be read for some: one line for stderr naming them, or `null`. */
export function gitStatusNote(statuses: ReadonlyMap<string, GitStatusOf>, idOf: (id: string) => string): string | null {
  const failed = [...statuses].filter((entry): entry is [string, { error: { kind: string | null; message: string } }] =>
    entry[1] !== null && "error" in entry[1]
  );
  if (failed.length === 0) return null;
  return failed.map(([id, status]) => `git state of ${idOf(id)} unknown (?): ${status.error.message}`).join("\n");
}
