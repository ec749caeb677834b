/**
 * The records a store writes, built from a caller's input: every field checked, every path in
 * normal form, timestamps set. The checked front (`CheckedSessionStore`) calls these, so every
 * driver gets records it can write as they are. Internal.
 *
 * @module
 */

import { newRepositoryId, parseId } from "./ids.ts";
import { checkSessionSetup } from "./setup.ts";
import { checkIncludedFiles } from "./included_files.ts";
import {
  checkPortList,
  invalid,
  optionalBoolean,
  optionalText,
  optionalUrl,
  requireHostId,
  requireRecord,
  requireText,
  requireTimestamp,
} from "./_field_checks.ts";
import { optionalAbsolutePath, requireAbsolutePath, requireWorktreeName } from "./_path_checks.ts";
import { requireBranchName } from "./branch_names.ts";
import { MAX_ENCRYPTED_SECRET_LENGTH, MAX_TITLE_LENGTH, NONCE_LENGTH } from "./limits.ts";
import {
  type NewRepository,
  type NewSession,
  type NewSessionSecret,
  type NewSessionToken,
  type Repository,
  type Session,
  SESSION_STATUSES,
  type SessionPatch,
  type SessionStatus,
  type StoredSessionToken,
} from "./types.ts";

function requireStatus(value: unknown): SessionStatus {
  if (!SESSION_STATUSES.includes(value as SessionStatus)) {
    invalid(`status must be one of ${SESSION_STATUSES.join(", ")}`);
  }
  return value as SessionStatus;
}

const REPOSITORY_FIELDS = [
  "id",
  "path",
  "name",
  "isGitRepository",
  "sessionsPath",
  "defaultBranch",
  "defaultRemote",
] as const;

/** Validates a `NewRepository` and returns the full record to store, timestamps set to `now`. */
export function buildRepository(input: NewRepository, now: string): Repository {
  const record = requireRecord(input, "repository", REPOSITORY_FIELDS);
  const defaultBranch = record.defaultBranch === undefined || record.defaultBranch === null
    ? null
    : requireBranchName(record.defaultBranch, "defaultBranch");
  const defaultRemote = optionalText(record.defaultRemote, "defaultRemote");
  if (
    defaultRemote !== null &&
    (defaultRemote.startsWith("-") || /\s/.test(defaultRemote))
  ) {
    invalid("defaultRemote must not start with '-' or contain whitespace");
  }
  return {
    id: record.id === undefined ? newRepositoryId() : parseId(record.id, "repository id"),
    path: requireAbsolutePath(record.path, "path"),
    name: requireText(record.name, "name"),
    isGitRepository: optionalBoolean(record.isGitRepository, "isGitRepository"),
    sessionsPath: optionalAbsolutePath(record.sessionsPath, "sessionsPath"),
    defaultBranch,
    defaultRemote,
    createdAt: now,
    updatedAt: now,
  };
}

/**
 * Validates a `NewSession` and returns the full record to store, timestamps set to `now`. With
 * `worktreePathPending`, a worktree session may lack its `worktreePath` (and names): the
 * orchestrator checks a caller's fields once, before a worktree lifecycle names the folder.
 */
export function buildSession(input: NewSession, now: string, options: { worktreePathPending?: boolean } = {}): Session {
  const isWorktree = input.isWorktree;
  if (typeof isWorktree !== "boolean") invalid("isWorktree must be a boolean");
  const worktreePath = optionalAbsolutePath(input.worktreePath, "worktreePath");
  if (isWorktree && worktreePath === null && options.worktreePathPending !== true) {
    invalid("a worktree session needs a worktreePath");
  }
  if (!isWorktree && worktreePath !== null) {
    invalid("worktreePath is only for worktree sessions");
  }
  const hostId = input.hostId === undefined || input.hostId === null ? null : requireHostId(input.hostId);
  if (!isWorktree && hostId !== null) invalid("hostId is only for worktree sessions");
  const optionalName = (value: unknown) =>
    value === undefined || value === null ? null : requireWorktreeName(value, "worktreeName");
  const optionalBranch = (value: unknown, field: string) =>
    value === undefined || value === null ? null : requireBranchName(value, field);
  return {
    id: parseId(input.id, "session id"),
    repositoryId: parseId(input.repositoryId, "repositoryId"),
    title: requireText(input.title, "title", MAX_TITLE_LENGTH),
    agentName: optionalText(input.agentName, "agentName"),
    issueId: optionalText(input.issueId, "issueId"),
    issueTitle: optionalText(input.issueTitle, "issueTitle", MAX_TITLE_LENGTH),
    issueUrl: optionalUrl(input.issueUrl, "issueUrl"),
    status: input.status === undefined ? "active" : requireStatus(input.status),
    isWorktree,
    worktreePath,
    worktreeName: optionalName(input.worktreeName),
    branchName: optionalBranch(input.branchName, "branchName"),
    baseBranch: optionalBranch(input.baseBranch, "baseBranch"),
    createdWorktree: optionalBoolean(input.createdWorktree, "createdWorktree"),
    createdBranch: optionalBoolean(input.createdBranch, "createdBranch"),
    hostId,
    ports: checkPortList(input.ports),
    setup: null,
    included: input.included === undefined || input.included === null ? null : checkIncludedFiles(input.included),
    parentSessionId: input.parentSessionId === undefined || input.parentSessionId === null
      ? null
      : parseId(input.parentSessionId, "parentSessionId"),
    createdAt: now,
    updatedAt: now,
    lastAccessedAt: now,
  };
}

const PATCH_FIELDS = [
  "title",
  "status",
  "agentName",
  "issueId",
  "issueTitle",
  "issueUrl",
  "lastAccessedAt",
  "setup",
] as const;

/** Validates a `SessionPatch`; returns only the fields it sets. */
export function checkSessionPatch(patch: SessionPatch): SessionPatch {
  const record = requireRecord(patch, "session patch", PATCH_FIELDS);
  const checked: SessionPatch = {};
  if ("title" in record) {
    checked.title = requireText(record.title, "title", MAX_TITLE_LENGTH);
  }
  if ("status" in record) checked.status = requireStatus(record.status);
  if ("agentName" in record) {
    checked.agentName = optionalText(record.agentName, "agentName");
  }
  if ("issueId" in record) {
    checked.issueId = optionalText(record.issueId, "issueId");
  }
  if ("issueTitle" in record) {
    checked.issueTitle = optionalText(
      record.issueTitle,
      "issueTitle",
      MAX_TITLE_LENGTH,
    );
  }
  if ("issueUrl" in record) {
    checked.issueUrl = optionalUrl(record.issueUrl, "issueUrl");
  }
  if ("lastAccessedAt" in record) {
    checked.lastAccessedAt = requireTimestamp(record.lastAccessedAt, "lastAccessedAt");
  }
  if ("setup" in record) checked.setup = record.setup === null ? null : checkSessionSetup(record.setup);
  return checked;
}

/** Validates a `NewSessionSecret`: a 12-byte nonce and a non-empty ciphertext of bounded size. */
export function checkSessionSecret(input: NewSessionSecret): NewSessionSecret {
  const sessionId = parseId(input.sessionId, "session id");
  if (!(input.encryptedSecret instanceof Uint8Array)) {
    invalid("encryptedSecret must be a Uint8Array");
  }
  if (!(input.nonce instanceof Uint8Array)) {
    invalid("nonce must be a Uint8Array");
  }
  if (
    input.encryptedSecret.length === 0 ||
    input.encryptedSecret.length > MAX_ENCRYPTED_SECRET_LENGTH
  ) {
    invalid(
      `encryptedSecret must be 1 to ${MAX_ENCRYPTED_SECRET_LENGTH} bytes`,
    );
  }
  if (input.nonce.length !== NONCE_LENGTH) {
    invalid(`nonce must be ${NONCE_LENGTH} bytes`);
  }
  return {
    sessionId,
    encryptedSecret: input.encryptedSecret.slice(),
    nonce: input.nonce.slice(),
  };
}

/**
 * Validates a `NewSessionToken` and returns the record to store with its hash, `createdAt` set to
 * `now`: `InvalidInput` for a bad id or a hash that is not 64 lower-case hex digits.
 */
export function buildSessionToken(
  input: NewSessionToken,
  now: string,
): StoredSessionToken {
  const record = requireRecord(input, "session token", ["id", "sessionId", "hash"]);
  const hash = checkTokenHash(record.hash);
  return {
    id: record.id === undefined ? newRepositoryId() : parseId(record.id, "token id"),
    sessionId: parseId(record.sessionId, "session id"),
    hash,
    createdAt: now,
    revokedAt: null,
  };
}

/** `InvalidInput` unless `hash` is a SHA-256 hash as 64 lower-case hex digits. */
export function checkTokenHash(hash: unknown): string {
  if (typeof hash !== "string" || !/^[0-9a-f]{64}$/.test(hash)) {
    invalid("a session token's hash must be 64 lower-case hex digits (SHA-256)");
  }
  return hash;
}
