/**
 * Input checks shared by every store and the orchestrator, so that bad input is refused
 * the same way whatever the backend, before anything is written.
 *
 * Internal, but for `branchNameProblem`, `MAX_TITLE_LENGTH` and `NONCE_LENGTH`, which `mod.ts`
 * exports.
 *
 * @module
 */

import { SessionError } from "./errors.ts";
import { newRepositoryId, parseId } from "./ids.ts";
import {
  type ListPosition,
  type NewRepository,
  type NewSession,
  type NewSessionSecret,
  type Repository,
  type Session,
  SESSION_STATUSES,
  type SessionFilter,
  type SessionPatch,
  type SessionStatus,
} from "./types.ts";

/** Longest accepted session title, in UTF-16 code units. */
export const MAX_TITLE_LENGTH = 500;
/** Longest accepted short text field (names, ids, branch names). */
export const MAX_NAME_LENGTH = 255;
/** Longest accepted path or URL. */
export const MAX_PATH_LENGTH = 4096;
/** Nonce length of AES-GCM, the only sealing the chain uses. */
export const NONCE_LENGTH = 12;
/** Largest accepted encrypted secret. */
export const MAX_ENCRYPTED_SECRET_LENGTH = 1024;

// deno-lint-ignore no-control-regex
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

/** Throws `InvalidInput` with `message`: the one way every input check refuses. */
export function invalid(message: string): never {
  throw new SessionError("InvalidInput", message);
}

/** A required non-empty string of at most `max` characters, without control characters. */
export function requireText(
  value: unknown,
  field: string,
  max = MAX_NAME_LENGTH,
): string {
  if (typeof value !== "string") invalid(`${field} must be a string`);
  if (value.trim().length === 0) invalid(`${field} must not be empty`);
  if (value.length > max) invalid(`${field} must be at most ${max} characters`);
  if (CONTROL_CHARACTERS.test(value)) {
    invalid(`${field} must not contain control characters`);
  }
  return value;
}

/** Like {@linkcode requireText}, but `undefined` and `null` give `null`. */
export function optionalText(
  value: unknown,
  field: string,
  max = MAX_NAME_LENGTH,
): string | null {
  return value === undefined || value === null ? null : requireText(value, field, max);
}

function optionalBoolean(value: unknown, field: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== "boolean") invalid(`${field} must be a boolean`);
  return value;
}

/**
 * An absolute path without `.` or `..` segments (POSIX, or a Windows drive path).
 * The core never touches the file system; refusing relative and traversing paths here
 * keeps the platform layer from ever resolving them.
 */
export function requireAbsolutePath(value: unknown, field: string): string {
  const path = requireText(value, field, MAX_PATH_LENGTH);
  const isPosix = path.startsWith("/");
  const isWindows = /^[A-Za-z]:[\\/]/.test(path);
  if (!isPosix && !isWindows) invalid(`${field} must be an absolute path`);
  if (
    path.split(/[\\/]/).some((segment) => segment === "." || segment === "..")
  ) {
    invalid(`${field} must not contain "." or ".." segments`);
  }
  return path;
}

function optionalAbsolutePath(value: unknown, field: string): string | null {
  return value === undefined || value === null ? null : requireAbsolutePath(value, field);
}

// Characters Windows refuses in file names; refused everywhere so a session moves between machines.
const UNPORTABLE_FILE_CHARACTERS = /[<>:"/\\|?*]/;

/**
 * One safe path segment for a worktree folder: no separators, no `.`/`..`, no leading `-` or `.`,
 * no control or Windows-reserved characters, no trailing dot or space. Spaces and non-ASCII letters are fine.
 */
export function requireWorktreeName(
  value: unknown,
  field = "worktreeName",
): string {
  const name = requireText(value, field);
  if (name !== name.trim()) {
    invalid(`${field} must not start or end with whitespace`);
  }
  if (UNPORTABLE_FILE_CHARACTERS.test(name)) {
    invalid(`${field} must be one path segment without <>:"/\\|?*`);
  }
  if (name.startsWith("-")) invalid(`${field} must not start with "-"`);
  if (name.startsWith(".")) invalid(`${field} must not start with "."`);
  if (name.endsWith(".")) invalid(`${field} must not end with "."`);
  return name;
}

/**
 * A branch name git accepts (`git check-ref-format --branch` rules), refusing anything that
 * could be read as an option. Checked here in full so that a bad name never reaches git.
 */
export function requireBranchName(
  value: unknown,
  field = "branchName",
): string {
  const name = requireText(value, field);
  const reason = branchNameProblem(name);
  if (reason) {
    invalid(
      `${field} ${JSON.stringify(name)} is not a valid branch name: ${reason}`,
    );
  }
  return name;
}

/** Why git would refuse `name` as a branch, or `null` when it is fine. */
export function branchNameProblem(name: string): string | null {
  if (name.startsWith("-")) return 'it starts with "-"';
  if (name === "HEAD" || name === "@") return "it is reserved";
  if (/[\s~^:?*[\\]/.test(name) || CONTROL_CHARACTERS.test(name)) {
    return "it contains whitespace, a control character or one of ~^:?*[\\";
  }
  if (name.includes("..")) return 'it contains ".."';
  if (name.includes("@{")) return 'it contains "@{"';
  if (name.startsWith("/") || name.endsWith("/") || name.includes("//")) {
    return "it has an empty path component";
  }
  if (name.endsWith(".")) return 'it ends with "."';
  for (const component of name.split("/")) {
    if (component.startsWith(".")) return 'a component starts with "."';
    if (component.endsWith(".lock")) return 'a component ends with ".lock"';
  }
  return null;
}

function requireStatus(value: unknown): SessionStatus {
  if (!SESSION_STATUSES.includes(value as SessionStatus)) {
    invalid(`status must be one of ${SESSION_STATUSES.join(", ")}`);
  }
  return value as SessionStatus;
}

function optionalUrl(value: unknown, field: string): string | null {
  const text = optionalText(value, field, MAX_PATH_LENGTH);
  if (text === null) return null;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    invalid(`${field} must be an absolute URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    invalid(`${field} must be an http or https URL`);
  }
  return text;
}

/** Checks `value` is a plain object and names no field outside `allowed`. */
export function requireRecord(
  value: unknown,
  what: string,
  allowed: readonly string[],
): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    invalid(`${what} must be an object`);
  }
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      invalid(`${what} has an unknown field ${JSON.stringify(key)}`);
    }
  }
  return value as Record<string, unknown>;
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

/** Validates a `NewSession` and returns the full record to store, timestamps set to `now`. */
export function buildSession(input: NewSession, now: string): Session {
  const isWorktree = input.isWorktree;
  if (typeof isWorktree !== "boolean") invalid("isWorktree must be a boolean");
  const worktreePath = optionalAbsolutePath(input.worktreePath, "worktreePath");
  if (isWorktree && worktreePath === null) {
    invalid("a worktree session needs a worktreePath");
  }
  if (!isWorktree && worktreePath !== null) {
    invalid("worktreePath is only for worktree sessions");
  }
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
    const at = requireText(record.lastAccessedAt, "lastAccessedAt");
    if (Number.isNaN(Date.parse(at))) {
      invalid("lastAccessedAt must be an ISO-8601 timestamp");
    }
    checked.lastAccessedAt = new Date(at).toISOString();
  }
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
    return { limit: limit ?? null, after: { createdAt: after.createdAt, id: parseId(after.id, "after.id") } };
  }
  return { limit: limit ?? null, after: null };
}

/** Checks a store's session filter: known fields, a real repository id and status, a valid page. */
export function checkSessionFilter(filter: SessionFilter): {
  repositoryId: string | null;
  status: SessionStatus | null;
  limit: number | null;
  after: ListPosition | null;
} {
  const record = requireRecord(filter, "session filter", ["repositoryId", "status", "limit", "after"]);
  const repositoryId = record.repositoryId === undefined ? null : parseId(record.repositoryId, "repositoryId");
  if (record.status !== undefined && !SESSION_STATUSES.includes(record.status as SessionStatus)) {
    invalid(`status must be one of ${SESSION_STATUSES.join(", ")}`);
  }
  return { repositoryId, status: (record.status as SessionStatus | undefined) ?? null, ...checkPage(filter) };
}

/** Orders records as lists return them: by `createdAt`, then by `id`. */
export function comparePosition(a: ListPosition, b: ListPosition): number {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** The current time as an ISO-8601 UTC string. */
export function nowIso(): string {
  return new Date().toISOString();
}
