/**
 * The one error type of the library.
 *
 * @module
 */

/** Every way an operation can fail; `kind` is what callers branch on. */
export type SessionErrorKind =
  | "RepositoryNotFound"
  | "SessionNotFound"
  | "SnapshotNotFound"
  | "WorktreeCreation"
  | "Storage"
  | "Encryption"
  | "InvalidInput"
  | "Conflict"
  | "InsufficientStorage"
  | "Forbidden";

/** All error kinds, for validation and exhaustive mapping (for example to HTTP statuses). */
export const SESSION_ERROR_KINDS: readonly SessionErrorKind[] = [
  "RepositoryNotFound",
  "SessionNotFound",
  "SnapshotNotFound",
  "WorktreeCreation",
  "Storage",
  "Encryption",
  "InvalidInput",
  "Conflict",
  "InsufficientStorage",
  "Forbidden",
];

/**
 * What a refusal that `force` would override carries as data (see {@linkcode SessionError.details}):
 * a worktree kept because it holds uncommitted work. Adapters say how to pass `force` in their own
 * words (`?force=true`, `--force`).
 */
export interface ForceableRefusal {
  /** Always `true`: the same call with `force` goes through. */
  forceable: true;
  /** Whether the forced call would first save the work as a snapshot (`refs/session-snapshots/…`). */
  wouldSnapshot: boolean;
  /** The changed, staged and untracked paths, relative to the worktree: the first 100 of them. */
  dirtyPaths: string[];
  /** How many such paths there are in all. */
  dirtyPathCount: number;
}

/** At most this many paths are carried in a {@linkcode ForceableRefusal}'s `dirtyPaths`. */
export const MAX_DIRTY_PATHS = 100;

/**
 * The `Conflict` of a worktree that holds uncommitted work and was kept: forceable, with the
 * {@linkcode ForceableRefusal} a forced call would act on (a snapshot of `paths` first).
 */
export function dirtyWorktreeRefusal(message: string, paths: readonly string[], cause?: unknown): SessionError {
  return new SessionError("Conflict", message, {
    cause,
    details: {
      forceable: true,
      wouldSnapshot: true,
      dirtyPaths: paths.slice(0, MAX_DIRTY_PATHS),
      dirtyPathCount: paths.length,
    },
  });
}

/**
 * An error raised by the orchestrator, its stores and its platform parts.
 *
 * `Storage` and `Encryption` errors keep the underlying error as `cause`.
 *
 * @example Branch on the kind
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryStore, SessionError, storeSessionSecret } from "../mod.ts";
 *
 * try {
 *   await storeSessionSecret(new MemoryStore(), crypto.randomUUID(), new Uint8Array(48), new Uint8Array(12));
 *   assert.fail("an unknown session has no secret to store");
 * } catch (error) {
 *   assert.ok(error instanceof SessionError);
 *   assert.equal(error.kind, "SessionNotFound");
 * }
 * ```
 */
export class SessionError extends Error {
  /** What went wrong, as a stable machine-readable tag. */
  readonly kind: SessionErrorKind;

  /**
   * Makes an error of the given kind.
   *
   * @param kind what went wrong
   * @param message a human-readable explanation, safe to show to the caller
   * @param options `cause`: the underlying error, if any; `forceable`: whether `force` overrides this
   * refusal; `details`: what such a refusal carries (it makes the error `forceable`);
   * `retryAfterSeconds`: the failure is temporary, and the same call may succeed after that long
   */
  constructor(
    kind: SessionErrorKind,
    message: string,
    options?: { cause?: unknown; forceable?: boolean; details?: ForceableRefusal; retryAfterSeconds?: number },
  ) {
    super(message, options);
    this.name = "SessionError";
    this.kind = kind;
    this.details = options?.details === undefined
      ? null
      : { ...options.details, dirtyPaths: [...options.details.dirtyPaths] };
    this.forceable = options?.forceable === true || this.details !== null;
    const retry = options?.retryAfterSeconds;
    this.retryAfterSeconds = typeof retry === "number" && retry >= 0 ? Math.ceil(retry) : null;
  }

  /**
   * Whether the same call with `force` would go through (a worktree kept because it holds
   * uncommitted work): adapters tell their callers how to say `force` in their own terms.
   */
  readonly forceable: boolean;

  /**
   * What a refusal that `force` would override carries as data: whether the forced call would take
   * a snapshot, and of which paths. `null` for every other error (and for a forceable one whose
   * paths were not read).
   */
  readonly details: ForceableRefusal | null;

  /**
   * Set when the failure says nothing about the call itself, only that its store cannot serve it right
   * now (the database is away, or busy past a time bound: a lock, a statement, a free connection): the
   * same call may succeed if made again after this many whole seconds. `null` for every other failure.
   * The store decides it; adapters only render it (HTTP answers 503 with `Retry-After`).
   */
  readonly retryAfterSeconds: number | null;
}

/**
 * The seconds after which the call that failed with `error` may be tried again: the
 * `retryAfterSeconds` of the first {@linkcode SessionError} along `error`'s `cause` chain that has
 * one (a layer that wraps a store's failure keeps it as its cause), else `null`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { retryAfterOf, SessionError } from "../mod.ts";
 *
 * const busy = new SessionError("Storage", "reading a session failed", { retryAfterSeconds: 1 });
 * assert.equal(retryAfterOf(new SessionError("Storage", "resolving a secret failed", { cause: busy })), 1);
 * assert.equal(retryAfterOf(new SessionError("Storage", "disk full")), null);
 * ```
 */
export function retryAfterOf(error: unknown): number | null {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current !== null && typeof current === "object"; depth++) {
    if (current instanceof SessionError && current.retryAfterSeconds !== null) return current.retryAfterSeconds;
    current = (current as { cause?: unknown }).cause;
  }
  return null;
}

/** True when `error` is a {@linkcode SessionError}, optionally of the given kind. */
export function isSessionError(
  error: unknown,
  kind?: SessionErrorKind,
): error is SessionError {
  return error instanceof SessionError &&
    (kind === undefined || error.kind === kind);
}

/** The message of a thrown value: an error's `message`, or the value as text. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Passes a `SessionError` through and wraps anything else as a `Storage` error
 * that keeps the original as `cause` (and, given `retryAfterSeconds`, says the failure is temporary).
 */
export function toStorageError(
  error: unknown,
  action: string,
  options: { retryAfterSeconds?: number } = {},
): SessionError {
  if (error instanceof SessionError) return error;
  return new SessionError("Storage", `${action} failed: ${errorMessage(error)}`, {
    cause: error,
    retryAfterSeconds: options.retryAfterSeconds,
  });
}
