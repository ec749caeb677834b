/**
 * The low-level layer: the seed's three functions that create a session, delete one, and store
 * its secret, each one store call with its checks. The `SessionOrchestrator` builds on them.
 *
 * @module
 */

import { SessionError, toStorageError } from "./errors.ts";
import { parseId, type RepositoryId, type SessionId } from "./ids.ts";
import { sessionDraft } from "./_session_draft.ts";
import type { SessionReader, SessionWriter } from "./store/store.ts";
import type { Session } from "./types.ts";
import { checkSessionSecret } from "./_records.ts";

/** What a caller gives to create a session. */
export interface CreateSessionParams {
  /** The repository the session works on; it must exist. */
  repositoryId: RepositoryId;
  /** Non-empty, at most 500 characters. */
  title: string;
  /** Which agent runs the session. */
  agentName?: string;
  /** The tracker issue it works on. */
  issueId?: string;
  /** That issue's title. */
  issueTitle?: string;
  /** That issue's URL (http or https). */
  issueUrl?: string;
  /** Whether the session has its own worktree; then a worktree path is required. */
  isWorktree: boolean;
  /** The worktree's folder name: one safe path segment. */
  worktreeName?: string;
  /** The worktree's branch: a name git accepts, not starting with `-`. */
  branchName?: string;
}

/**
 * Creates a session. The repository is checked first: when it is missing the call fails with
 * `RepositoryNotFound` and nothing is written. Bad input is `InvalidInput`, a taken id or worktree
 * path is `Conflict`, and a backend failure is `Storage` with the cause kept.
 *
 * @param store where the session is written
 * @param params what the session is
 * @param sessionId the id to use; a new UUID when absent
 * @param worktreePath the absolute path of the session's worktree; required when `params.isWorktree`
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createSession, MemoryStore } from "../mod.ts";
 *
 * const store = new MemoryStore();
 * const repository = await store.createRepository({ path: "/src/app", name: "app" });
 * const session = await createSession(store, {
 *   repositoryId: repository.id,
 *   title: "Fix the login bug",
 *   isWorktree: true,
 *   worktreeName: "fix-login",
 *   branchName: "session/fix-login",
 * }, undefined, "/data/worktrees/fix-login");
 * assert.equal(session.status, "active");
 * assert.equal(session.worktreePath, "/data/worktrees/fix-login");
 * await assert.rejects(
 *   createSession(store, { repositoryId: crypto.randomUUID(), title: "t", isWorktree: false }),
 *   { kind: "RepositoryNotFound" },
 * );
 * ```
 */
export async function createSession(
  store: SessionReader & Pick<SessionWriter, "createSession">,
  params: CreateSessionParams,
  sessionId?: SessionId,
  worktreePath?: string,
): Promise<Session> {
  const draft = sessionDraft(params, sessionId, worktreePath);
  try {
    if ((await store.getRepository(draft.repositoryId)) === null) {
      throw new SessionError("RepositoryNotFound", `no repository with id ${draft.repositoryId}`);
    }
    return await store.createSession(draft);
  } catch (error) {
    throw toStorageError(error, "creating a session");
  }
}

/**
 * Deletes a session in one atomic step and returns the deleted row: the caller's cleanup data
 * (worktree path, branch, what the lifecycle created). Its stored secret goes with it.
 * Returns `null` when the session did not exist; that is not an error. Of two concurrent
 * deletes of one session, exactly one gets it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createSession, deleteSession, MemoryStore } from "../mod.ts";
 *
 * const store = new MemoryStore();
 * const repository = await store.createRepository({ path: "/src/app", name: "app" });
 * const session = await createSession(store, { repositoryId: repository.id, title: "t", isWorktree: false });
 * const deleted = await deleteSession(store, session.id);
 * assert.deepEqual(deleted, session);
 * assert.equal(await deleteSession(store, session.id), null);
 * ```
 */
export async function deleteSession(
  store: Pick<SessionWriter, "deleteSession">,
  sessionId: SessionId,
): Promise<Session | null> {
  const id = parseId(sessionId, "session id");
  try {
    return await store.deleteSession(id);
  } catch (error) {
    throw toStorageError(error, "deleting a session");
  }
}

/**
 * Stores a session's secret, already encrypted by the caller, with the nonce it was sealed with
 * (12 bytes, AES-GCM). Replaces an earlier one. `SessionNotFound` when the session does not exist.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createSession, MemoryStore, storeSessionSecret } from "../mod.ts";
 *
 * const store = new MemoryStore();
 * const repository = await store.createRepository({ path: "/src/app", name: "app" });
 * const session = await createSession(store, { repositoryId: repository.id, title: "t", isWorktree: false });
 * const nonce = crypto.getRandomValues(new Uint8Array(12));
 * await storeSessionSecret(store, session.id, new Uint8Array(48), nonce);
 * assert.deepEqual((await store.getSessionSecret(session.id))?.nonce, nonce);
 * ```
 */
export async function storeSessionSecret(
  store: Pick<SessionWriter, "setSessionSecret">,
  sessionId: SessionId,
  encryptedSecret: Uint8Array,
  nonce: Uint8Array,
): Promise<void> {
  const secret = checkSessionSecret({ sessionId, encryptedSecret, nonce });
  try {
    await store.setSessionSecret(secret);
  } catch (error) {
    throw toStorageError(error, "storing a session secret");
  }
}
