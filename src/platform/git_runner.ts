/**
 * Runs git: argument arrays (never a shell), a fixed locale for parsing, no prompts, and bounded
 * retries when another process holds one of git's lock files.
 *
 * @module
 */

import { execFile } from "node:child_process";
import { SessionError } from "../errors.ts";

/** What a finished git command printed. */
export interface GitResult {
  /** Exit code; 0 is success. */
  code: number;
  /** Standard output, as text. */
  stdout: string;
  /** Standard error, as text. */
  stderr: string;
}

/** How to run git. */
export interface GitRunOptions {
  /** The git executable; `git` (found on `PATH`) by default. */
  gitPath?: string;
  /** The folder git runs in (passed as `-C`). */
  cwd?: string;
  /** Retries of a transient lock error before giving up; 8 by default. */
  lockRetries?: number;
}

// Variables that would make git ignore `-C` and act on another repository, for example when the
// library runs inside a git hook.
const REPOSITORY_VARIABLES = [
  "GIT_DIR",
  "GIT_WORK_TREE",
  "GIT_INDEX_FILE",
  "GIT_COMMON_DIR",
  "GIT_OBJECT_DIRECTORY",
  "GIT_NAMESPACE",
  "GIT_PREFIX",
];

function gitEnvironment(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !REPOSITORY_VARIABLES.includes(key)) env[key] = value;
  }
  // Messages are parsed, so they must not be translated; and nothing may wait for a password.
  env.LC_ALL = "C";
  env.LANGUAGE = "C";
  env.GIT_TERMINAL_PROMPT = "0";
  return env;
}

/**
 * True when git failed only because another process holds one of its lock files (`index.lock`,
 * `config.lock`, a ref's `.lock`): worth retrying, never worth deleting the lock.
 *
 * @example
 * ```ts
 * import { isTransientLockError } from "./git_runner.ts";
 *
 * console.log(isTransientLockError("fatal: Unable to create '/r/.git/index.lock': File exists.")); // true
 * console.log(isTransientLockError("fatal: a branch named 'x' already exists")); // false
 * ```
 */
export function isTransientLockError(stderr: string): boolean {
  // A directory/file clash between refs also says "cannot lock ref", but it never clears by itself.
  if (/exists; cannot create|reference already exists|but expected/.test(stderr)) return false;
  return /Unable to create '[^']*\.lock': File exists/.test(stderr) ||
    /cannot lock ref/.test(stderr) ||
    /could not lock config file/.test(stderr) ||
    /Another git process seems to be running/.test(stderr);
}

/** Resolves after `ms` milliseconds; shared by the retry and lock-polling loops. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function execOnce(gitPath: string, args: string[]): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    execFile(
      gitPath,
      args,
      { env: gitEnvironment(), maxBuffer: 64 * 1024 * 1024, encoding: "utf8" },
      (error, stdout, stderr) => {
        if (error && typeof (error as NodeJS.ErrnoException).code === "string") {
          // The executable itself could not be started: not a git failure but a missing git.
          const code = (error as NodeJS.ErrnoException).code;
          reject(
            new SessionError(
              "WorktreeCreation",
              code === "ENOENT"
                ? `git was not found (looked for ${JSON.stringify(gitPath)}); install git or set gitPath`
                : `git could not be started (${code}): ${error.message}`,
              { cause: error },
            ),
          );
          return;
        }
        const exit = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code: exit, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

/**
 * Runs `git [-C cwd] ...args` and returns what it printed, whatever its exit code. Lock errors
 * from a concurrent git process are retried with exponential backoff and jitter (bounded); git
 * missing is a `WorktreeCreation` error.
 *
 * @example
 * ```ts
 * import { runGit } from "./git_runner.ts";
 *
 * const { code, stdout } = await runGit(["--version"]);
 * if (code === 0) console.log(stdout.trim());
 * ```
 */
export async function runGit(args: string[], options: GitRunOptions = {}): Promise<GitResult> {
  const gitPath = options.gitPath ?? "git";
  const fullArgs = options.cwd === undefined ? args : ["-C", options.cwd, ...args];
  const retries = options.lockRetries ?? 8;
  for (let attempt = 0;; attempt++) {
    const result = await execOnce(gitPath, fullArgs);
    if (result.code === 0 || attempt >= retries || !isTransientLockError(result.stderr)) return result;
    const backoff = Math.min(500, 25 * 2 ** attempt);
    await sleep(backoff / 2 + Math.random() * backoff);
  }
}

/** The first line of git's error output, without the `fatal: ` prefix, for messages. */
export function gitMessage(result: GitResult): string {
  const line = result.stderr.split("\n").map((l) => l.trim()).filter((l) => /^(fatal|error):/.test(l))[0] ??
    result.stderr.trim().split("\n")[0] ?? "";
  return line.replace(/^(fatal|error):\s*/, "") || `git exited with code ${result.code}`;
}

/** Like {@linkcode runGit}, but a non-zero exit is a `WorktreeCreation` error naming `action`. */
export async function runGitChecked(args: string[], action: string, options: GitRunOptions = {}): Promise<string> {
  const result = await runGit(args, options);
  if (result.code !== 0) {
    throw new SessionError("WorktreeCreation", `${action} failed: ${gitMessage(result)}`, {
      cause: new Error(result.stderr),
    });
  }
  return result.stdout;
}
