/**
 * The command line's exit codes and its one error type.
 *
 * @module
 */

import type { ForceableRefusal } from "../errors.ts";

/** The exit codes of `slo`, by meaning. Documented in `slo --help` and the README. */
export const EXIT_CODES: {
  /** Done. */
  readonly ok: 0;
  /** Anything else: a server error, a refused token, a file that cannot be read. */
  readonly failure: 1;
  /** Invalid input: a bad flag or argument, an ambiguous id prefix, a request the server refused (400). */
  readonly invalidInput: 2;
  /** No such session or repository (404, or no id starting with the prefix). */
  readonly notFound: 3;
  /** A conflict: a dirty worktree, a path or name in use, a repository that still has sessions (409). */
  readonly conflict: 4;
  /** No server to talk to: none running, a stale discovery file, or nothing answering at the URL. */
  readonly unreachable: 5;
} = {
  ok: 0,
  failure: 1,
  invalidInput: 2,
  notFound: 3,
  conflict: 4,
  unreachable: 5,
};

/** The name of an exit code. */
export type ExitReason = Exclude<keyof typeof EXIT_CODES, "ok">;

/** Options of a {@linkcode CliError}. */
export interface CliErrorOptions {
  /** A second line: what to do about it. */
  hint?: string;
  /** The server's error kind (`SessionNotFound`, `Conflict`, …), when the server answered. */
  kind?: string;
  /** The underlying error. */
  cause?: unknown;
  /** Whether the server said `force` would override this refusal. */
  forceable?: boolean;
  /** What the server said a forced call would act on (a worktree's uncommitted work). */
  details?: ForceableRefusal | null;
}

/**
 * A failure the command line reports as one line (`error: …`, and a `hint: …` when there is a way
 * out) and an exit code by its reason.
 *
 * @example
 * ```ts
 * import { CliError, EXIT_CODES } from "./errors.ts";
 *
 * const error = new CliError("notFound", "no session id starts with 3f1c");
 * console.log(error.exitCode === EXIT_CODES.notFound); // true
 * ```
 */
export class CliError extends Error {
  /** Why it failed; picks the exit code. */
  readonly reason: ExitReason;
  /** What to do about it, or `null`. */
  readonly hint: string | null;
  /** The server's error kind, or `null` when the server did not answer with one. */
  readonly kind: string | null;
  /** Whether the server said `force` would override this refusal. */
  readonly forceable: boolean;
  /** What the server said a forced call would act on, or `null`. */
  readonly details: ForceableRefusal | null;

  /** A failure for `reason`, with a message to show as it is. */
  constructor(reason: ExitReason, message: string, options: CliErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "CliError";
    this.reason = reason;
    this.hint = options.hint ?? null;
    this.kind = options.kind ?? null;
    this.details = options.details ?? null;
    this.forceable = options.forceable === true || this.details !== null;
  }

  /** The process exit code for {@linkcode CliError.reason}. */
  get exitCode(): number {
    return EXIT_CODES[this.reason];
  }
}
