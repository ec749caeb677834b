/**
 * Refusals at start, as the one line an operator reads. A server that cannot start (a taken port,
 * a data directory that is a file, a bad key) should say so in a sentence with what to do next,
 * not in a stack trace, whatever the runtime's error looks like.
 * Internal: not in the package's exports.
 *
 * @module
 */

import { errorMessage, SessionError } from "../errors.ts";

/** A refusal whose message is already the line to print (it names the cause and the way out). */
export class StartError extends Error {
  /** Wraps `cause` (when there is one) under an operator-facing `message`. */
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StartError";
  }
}

/** Where a listener was asked to listen, as the listeners take it. */
export interface ListenTarget {
  /** Interface to bind. */
  hostname?: string;
  /** TCP port. */
  port?: number;
  /** Unix domain socket path. */
  path?: string;
}

// Deno and Bun both set a POSIX `code` on these errors (Deno's also on its own error classes), so
// one reading serves both runtimes.
interface SystemError {
  code?: unknown;
  path?: unknown;
  syscall?: unknown;
  message?: unknown;
}

const FILE_REASONS: Record<string, string> = {
  EACCES: "permission denied",
  EPERM: "permission denied",
  ENOTDIR: "a part of the path is not a directory",
  EEXIST: "it exists and is not a directory",
  EISDIR: "it is a directory",
  ENOENT: "it does not exist",
  EROFS: "the file system is read-only",
  ENOSPC: "the disk is full",
  ELOOP: "too many symbolic links",
  ENAMETOOLONG: "the path is too long",
};

const oneLine = (text: string): string => text.replace(/\s+/g, " ").trim();

function messageOf(error: unknown): string {
  return oneLine(errorMessage(error) || String(error));
}

/**
 * Translates a listener's failure into a {@linkcode StartError} naming the address and the way
 * out: a taken port or socket, an address that is not this machine's, a host that does not
 * resolve, a socket folder that does not exist.
 */
export function listenFailure(error: unknown, target: ListenTarget): StartError {
  const { code, syscall } = (error ?? {}) as SystemError;
  const message = messageOf(error);
  if (target.path !== undefined) {
    const socket = `socket ${target.path}`;
    if (code === "EADDRINUSE") {
      return new StartError(`${socket} is already in use; pass another --socket or stop the other server`, {
        cause: error,
      });
    }
    if (code === "ENOENT") {
      return new StartError(`cannot create ${socket}: its folder does not exist`, { cause: error });
    }
    if (code === "EACCES" || code === "EPERM") {
      return new StartError(`cannot create ${socket}: permission denied`, { cause: error });
    }
    return new StartError(`cannot listen on ${socket}: ${message}`, { cause: error });
  }
  const hostname = target.hostname ?? "127.0.0.1";
  const port = target.port ?? 0;
  const where = `port ${port} on ${hostname}`;
  if (code === "EADDRINUSE") {
    return new StartError(`${where} is already in use; pass --port or stop the other server`, { cause: error });
  }
  if (code === "EADDRNOTAVAIL") {
    return new StartError(`cannot listen on ${hostname}: it is not an address of this machine; pass another --host`, {
      cause: error,
    });
  }
  if ((code === "EACCES" || code === "EPERM") && port > 0 && port < 1024) {
    return new StartError(`${where} needs privileges; pass --port 1024 or above`, { cause: error });
  }
  // Deno reports a name that does not resolve in words only; Bun as ENOENT from listen.
  if (
    /lookup address|name or service not known|getaddrinfo/i.test(message) || (code === "ENOENT" && syscall === "listen")
  ) {
    return new StartError(`cannot listen on ${hostname}: the name does not resolve; pass another --host`, {
      cause: error,
    });
  }
  return new StartError(`cannot listen on ${where}: ${message}`, { cause: error });
}

/**
 * The one line (no stack, no line break) that says why the server did not start: a
 * {@linkcode StartError}'s or a `SessionError`'s own message, a file system error's path and
 * reason, or else the error's message.
 */
export function describeStartFailure(error: unknown): string {
  if (error instanceof StartError || error instanceof SessionError) return oneLine(error.message);
  const { code, path } = (error ?? {}) as SystemError;
  if (typeof code === "string" && typeof path === "string") {
    return oneLine(`cannot use ${path}: ${FILE_REASONS[code] ?? messageOf(error)}`);
  }
  return `could not start: ${messageOf(error)}`;
}
