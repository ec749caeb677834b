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
import { checkSessionSetup } from "./setup.ts";
import { checkIncludedFiles } from "./included_files.ts";
import {
  type ListPosition,
  type NewRepository,
  type NewSession,
  type NewSessionSecret,
  type NewSessionToken,
  type Repository,
  type RepositoryFilter,
  type Session,
  SESSION_STATUSES,
  type SessionFilter,
  type SessionPatch,
  type SessionStatus,
  type StoredSessionToken,
} from "./types.ts";

/** Longest accepted session title, in UTF-16 code units. */
export const MAX_TITLE_LENGTH = 500;
/** Longest accepted short text field (names, ids), in UTF-16 code units. */
export const MAX_NAME_LENGTH = 255;
/** Longest accepted URL, in UTF-16 code units; paths are limited in bytes by {@linkcode MAX_PATH_BYTES}. */
export const MAX_PATH_LENGTH = 4096;
/**
 * Longest accepted absolute path, in UTF-8 bytes: file systems count bytes, and `PATH_MAX` is
 * 4096 on Linux.
 */
export const MAX_PATH_BYTES = 4096;
/**
 * Longest accepted worktree name, in UTF-8 bytes: it becomes one path segment, and most file
 * systems allow 255 bytes per segment (so 200 × "é" is too long although it is 200 characters).
 */
export const MAX_WORKTREE_NAME_BYTES = 255;
/**
 * Longest accepted branch name, in UTF-8 bytes. Git keeps loose refs as files under
 * `.git/refs/heads/`, so the name ends up in paths; 255 bytes keeps it portable and readable.
 */
export const MAX_BRANCH_NAME_BYTES = 255;
/**
 * Longest component (between `/`) of a branch name, in UTF-8 bytes: git writes `<component>.lock`
 * next to a loose ref while updating it, and that file name must still fit in 255 bytes.
 */
export const MAX_BRANCH_COMPONENT_BYTES = 250;
/** Nonce length of AES-GCM, the only sealing the chain uses. */
export const NONCE_LENGTH = 12;
/** Largest accepted encrypted secret. */
export const MAX_ENCRYPTED_SECRET_LENGTH = 1024;

// C0, DEL and C1 controls (Cc); format characters (Cf: zero-width spaces and joiners, bidirectional
// controls, the BOM, the soft hyphen, tag characters); line and paragraph separators; lone surrogates,
// which have no UTF-8 form. Each one is invisible or reorders what is shown, so two values that differ
// only by them would look alike.
const CONTROL_OR_FORMAT = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/u;
// Default-ignorable code points render as nothing (Hangul fillers, the combining grapheme joiner).
// Variation selectors are default-ignorable too, but they pick an emoji's look in a title ("❤️"), so
// free text keeps them; names refuse them (see NAME_INVISIBLE).
const TEXT_INVISIBLE = /(?!\p{Variation_Selector})\p{Default_Ignorable_Code_Point}/u;
// In a worktree or branch name nothing invisible at all is accepted: names are told apart by eye.
const NAME_INVISIBLE = /\p{Default_Ignorable_Code_Point}/u;

/** The code point as `U+XXXX`, for messages that must name an invisible character. */
function codePointLabel(character: string): string {
  return `U+${character.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
}

// Why `text` has a character no reader can see, or `null`.
function invisibleProblem(text: string, strict: boolean): string | null {
  const found = CONTROL_OR_FORMAT.exec(text) ?? TEXT_INVISIBLE.exec(text) ??
    (strict ? NAME_INVISIBLE.exec(text) : null);
  return found === null
    ? null
    : `it contains a control character or an invisible formatting character (${codePointLabel(found[0])})`;
}

/**
 * The length of `text` in UTF-8 bytes, which is what file systems and git count; a lone surrogate
 * counts as the 3 bytes of the replacement character it would be encoded as.
 *
 * @example
 * ```ts
 * import { utf8ByteLength } from "./validation.ts";
 *
 * console.log(utf8ByteLength("é".repeat(200))); // 400
 * ```
 */
export function utf8ByteLength(text: string): number {
  let bytes = 0;
  for (const character of text) {
    const code = character.codePointAt(0)!;
    bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
  }
  return bytes;
}

/** Longest accepted host id (see `Session.hostId`). */
export const MAX_HOST_ID_LENGTH = 128;

/**
 * A host id: 1 to {@linkcode MAX_HOST_ID_LENGTH} letters, digits, `.`, `_`, `:` and `-`, starting
 * with a letter or digit, so it reads plainly in a message and in a log.
 */
export function requireHostId(value: unknown, field = "hostId"): string {
  if (typeof value !== "string") invalid(`${field} must be a string`);
  if (!new RegExp(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,${MAX_HOST_ID_LENGTH - 1}}$`).test(value)) {
    invalid(
      `${field} must be 1 to ${MAX_HOST_ID_LENGTH} letters, digits, '.', '_', ':' or '-', starting with a letter or digit`,
    );
  }
  return value;
}

/** Throws `InvalidInput` with `message`: the one way every input check refuses. */
export function invalid(message: string): never {
  throw new SessionError("InvalidInput", message);
}

/**
 * A required non-empty string of at most `max` characters (UTF-16 code units), without control
 * characters or invisible formatting characters (zero-width spaces and joiners, bidirectional
 * controls, the BOM, C1 controls, lone surrogates), so that two accepted values never differ only
 * by something a reader cannot see.
 */
export function requireText(
  value: unknown,
  field: string,
  max = MAX_NAME_LENGTH,
): string {
  if (typeof value !== "string") invalid(`${field} must be a string`);
  if (value.trim().length === 0) invalid(`${field} must not be empty`);
  if (value.length > max) invalid(`${field} must be at most ${max} characters`);
  const problem = invisibleProblem(value, false);
  if (problem !== null) invalid(`${field} must not contain control or invisible characters: ${problem}`);
  return value;
}

// A name shown to people and used by the file system or git: at most `maxBytes` UTF-8 bytes, in NFC
// (a precomposed "é" and "e" + U+0301 look alike and, on macOS, name one folder), nothing invisible.
function requireName(value: unknown, field: string, maxBytes: number): string {
  const name = requireText(value, field, MAX_PATH_LENGTH);
  const bytes = utf8ByteLength(name);
  if (bytes > maxBytes) invalid(`${field} must be at most ${maxBytes} bytes in UTF-8, got ${bytes}`);
  const problem = invisibleProblem(name, true);
  if (problem !== null) invalid(`${field} must not contain control or invisible characters: ${problem}`);
  if (name !== name.normalize("NFC")) invalid(`${field} must be in Unicode normalization form C (NFC)`);
  return name;
}

/** Like {@linkcode requireText}, but `undefined` and `null` give `null`. */
export function optionalText(
  value: unknown,
  field: string,
  max = MAX_NAME_LENGTH,
): string | null {
  return value === undefined || value === null ? null : requireText(value, field, max);
}

/** The most ports one session may hold. */
export const MAX_SESSION_PORTS = 16;

/**
 * A list of ports as a store keeps it: distinct whole numbers from 1 to 65535, at most
 * {@linkcode MAX_SESSION_PORTS} of them, returned ascending; absent is none.
 */
export function checkPortList(value: unknown, field = "ports"): number[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) invalid(`${field} must be an array of port numbers`);
  if (value.length > MAX_SESSION_PORTS) invalid(`${field} may hold at most ${MAX_SESSION_PORTS} ports`);
  for (const port of value) {
    if (typeof port !== "number" || !Number.isSafeInteger(port) || port < 1 || port > 65535) {
      invalid(`${field} must hold whole numbers from 1 to 65535, not ${JSON.stringify(port)}`);
    }
  }
  const sorted = [...new Set(value as number[])].sort((a, b) => a - b);
  if (sorted.length !== value.length) invalid(`${field} must not name a port twice`);
  return sorted;
}

function optionalBoolean(value: unknown, field: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== "boolean") invalid(`${field} must be a boolean`);
  return value;
}

/**
 * An absolute path (POSIX, or a Windows drive path) at most {@linkcode MAX_PATH_BYTES} UTF-8 bytes
 * long, returned in its lexical normal form: duplicate separators, a trailing separator and `.`
 * segments are dropped (and a Windows path gets `\` separators and an upper-case drive letter), so
 * `/tmp//r1/` and `/tmp/./r1` are both `/tmp/r1`. `..` segments are refused rather than resolved:
 * the core never touches the file system, and `/a/link/..` is not `/a` when `link` is a symbolic
 * link (the platform's `canonicalRepositoryPath` resolves such paths against the disk).
 */
export function requireAbsolutePath(value: unknown, field: string): string {
  const text = requireText(value, field, MAX_PATH_BYTES);
  if (utf8ByteLength(text) > MAX_PATH_BYTES) invalid(`${field} must be at most ${MAX_PATH_BYTES} bytes in UTF-8`);
  const path = lexicalNormalPath(text);
  if (path === null) invalid(`${field} must be an absolute path`);
  // A backslash-separated ".." is refused on POSIX too: the same text traverses on Windows.
  if (path.split(/[\\/]/).some((segment) => segment === "..")) {
    invalid(`${field} must not contain ".." segments`);
  }
  return path;
}

// The lexical normal form of an absolute path, or `null` for a relative one. On POSIX only "/"
// separates (a backslash is an ordinary file-name character there); on Windows both do.
function lexicalNormalPath(path: string): string | null {
  if (path.startsWith("/")) {
    return `/${path.split("/").filter((segment) => segment !== "" && segment !== ".").join("/")}`;
  }
  if (/^[A-Za-z]:[\\/]/.test(path)) {
    const segments = path.slice(3).split(/[\\/]/).filter((segment) => segment !== "" && segment !== ".");
    return `${path[0].toUpperCase()}:\\${segments.join("\\")}`;
  }
  return null;
}

function optionalAbsolutePath(value: unknown, field: string): string | null {
  return value === undefined || value === null ? null : requireAbsolutePath(value, field);
}

// Characters Windows refuses in file names; refused everywhere so a session moves between machines.
const UNPORTABLE_FILE_CHARACTERS = /[<>:"/\\|?*]/;

/**
 * One safe path segment for a worktree folder: at most {@linkcode MAX_WORKTREE_NAME_BYTES} UTF-8
 * bytes, in NFC, no separators, no `.`/`..`, no leading `-` or `.`, no control, invisible or
 * Windows-reserved characters, no trailing dot or space. Spaces and non-ASCII letters are fine.
 */
export function requireWorktreeName(
  value: unknown,
  field = "worktreeName",
): string {
  const name = requireName(value, field, MAX_WORKTREE_NAME_BYTES);
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
 * could be read as an option, anything invisible, names not in NFC, and names over
 * {@linkcode MAX_BRANCH_NAME_BYTES} bytes (or a component over {@linkcode MAX_BRANCH_COMPONENT_BYTES}).
 * Checked here in full so that a bad name never reaches git.
 */
export function requireBranchName(
  value: unknown,
  field = "branchName",
): string {
  const name = requireName(value, field, MAX_BRANCH_NAME_BYTES);
  const reason = branchNameProblem(name);
  if (reason) {
    invalid(
      `${field} ${JSON.stringify(name)} is not a valid branch name: ${reason}`,
    );
  }
  return name;
}

/**
 * Why `name` is refused as a branch (git would refuse it, it could be read as an option, it has an
 * invisible character, it is not in NFC, or it is too long in bytes), or `null` when it is fine.
 */
export function branchNameProblem(name: string): string | null {
  if (name.startsWith("-")) return 'it starts with "-"';
  if (name === "HEAD" || name === "@") return "it is reserved";
  const invisible = invisibleProblem(name, true);
  if (invisible !== null) return invisible;
  if (/[\s~^:?*[\\]/.test(name)) return "it contains whitespace or one of ~^:?*[\\";
  if (name !== name.normalize("NFC")) return "it is not in Unicode normalization form C (NFC)";
  if (utf8ByteLength(name) > MAX_BRANCH_NAME_BYTES) return `it is longer than ${MAX_BRANCH_NAME_BYTES} bytes in UTF-8`;
  if (name.includes("..")) return 'it contains ".."';
  if (name.includes("@{")) return 'it contains "@{"';
  if (name.startsWith("/") || name.endsWith("/") || name.includes("//")) {
    return "it has an empty path component";
  }
  if (name.endsWith(".")) return 'it ends with "."';
  for (const component of name.split("/")) {
    if (component.startsWith(".")) return 'a component starts with "."';
    if (component.endsWith(".lock")) return 'a component ends with ".lock"';
    if (utf8ByteLength(component) > MAX_BRANCH_COMPONENT_BYTES) {
      return `a component is longer than ${MAX_BRANCH_COMPONENT_BYTES} bytes in UTF-8`;
    }
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
  limit: number | null;
  after: ListPosition | null;
} {
  const record = requireRecord(filter, "session filter", [
    "repositoryId",
    "status",
    "worktreePath",
    "branchName",
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
  return {
    repositoryId,
    status: (record.status as SessionStatus | undefined) ?? null,
    worktreePath,
    branchName,
    ...checkPage(filter),
  };
}

/** Orders records as lists return them: by `createdAt`, then by `id`. */
export function comparePosition(a: ListPosition, b: ListPosition): number {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * A time as the stores keep it: an ISO-8601 UTC string with milliseconds, in the years 0000 to
 * 9999, which every backend stores and orders alike (the same rule in every store, not only the
 * one whose column type refuses the rest).
 */
export function requireTimestamp(value: unknown, field: string): string {
  const text = requireText(value, field);
  const time = Date.parse(text);
  if (Number.isNaN(time)) invalid(`${field} must be an ISO-8601 timestamp`);
  const iso = new Date(time).toISOString();
  if (!/^\d{4}-/.test(iso)) invalid(`${field} must be in the years 0000 to 9999`);
  return iso;
}

/** The current time as an ISO-8601 UTC string. */
export function nowIso(): string {
  return new Date().toISOString();
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
