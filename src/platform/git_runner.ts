/**
 * Runs git: argument arrays (never a shell), a fixed locale for parsing, no prompts, nothing
 * run from the repository's configuration, a timeout on every call, and bounded retries when
 * another process holds one of git's lock files.
 *
 * @module
 */

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { Buffer } from "node:buffer";
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import { SessionError } from "../errors.ts";
import {
  commandReach,
  type ConfigLocations,
  ConfigScanCache,
  HARDENING_CONFIG,
  HARDENING_ENV,
  plainGitDirectories,
} from "./git_guard.ts";

/** What a finished git command printed. */
export interface GitResult {
  /** Exit code; 0 is success. */
  code: number;
  /** Standard output, as text. */
  stdout: string;
  /** Standard error, as text. */
  stderr: string;
}

/**
 * How long a git call may run before it is killed in a repository of no tracked files: 120 s. The
 * default limit grows with the repository (see {@linkcode gitTimeoutFor}) unless
 * {@linkcode GitRunOptions.timeoutMs} sets one.
 */
export const DEFAULT_GIT_TIMEOUT_MS = 120_000;

/** What the default limit of a git call grows by per 10,000 tracked files: 30 s. */
export const GIT_TIMEOUT_MS_PER_10K_FILES = 30_000;

/**
 * The default limit of a git call in a repository of `trackedFiles` tracked files:
 * {@linkcode DEFAULT_GIT_TIMEOUT_MS} plus {@linkcode GIT_TIMEOUT_MS_PER_10K_FILES} per 10,000
 * files (a checkout of 100k files can take 40 s on a fast disk, several times that on a slow one).
 *
 * @example
 * ```ts
 * import { gitTimeoutFor } from "./git_runner.ts";
 *
 * console.log(gitTimeoutFor(0)); // 120000
 * console.log(gitTimeoutFor(100_000)); // 420000
 * ```
 */
export function gitTimeoutFor(trackedFiles: number): number {
  const files = Number.isFinite(trackedFiles) && trackedFiles > 0 ? trackedFiles : 0;
  return DEFAULT_GIT_TIMEOUT_MS + Math.ceil((files * GIT_TIMEOUT_MS_PER_10K_FILES) / 10_000);
}

// The entry count of each index file, with the size it had when read.
const indexCounts = new Map<string, { size: number; entries: number }>();

function indexEntries(path: string): number {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    return 0;
  }
  const known = indexCounts.get(path);
  if (known?.size === size) return known.entries;
  let entries = 0;
  try {
    // "DIRC", the version, then the number of entries: 32 bits each, big-endian.
    const header = new Uint8Array(12);
    const fd = openSync(path, "r");
    try {
      if (readSync(fd, header, 0, 12, 0) === 12 && String.fromCharCode(...header.subarray(0, 4)) === "DIRC") {
        entries = new DataView(header.buffer).getUint32(8);
      }
    } finally {
      closeSync(fd);
    }
  } catch {
    // Unreadable: counted as empty.
  }
  if (indexCounts.size >= 256) indexCounts.delete(indexCounts.keys().next().value!);
  indexCounts.set(path, { size, entries });
  return entries;
}

/**
 * How many files the repository git finds from `cwd` tracks, counted without running git: the
 * entry count in the header of its index (the worktree's own, or the main checkout's if that is
 * larger, since a new worktree checks out as much). 0 when there is no index to read (a bare
 * repository, or not a plain layout); read again only when the index's size changed.
 */
export function trackedFileCount(cwd: string): number {
  const dirs = plainGitDirectories(cwd);
  if (dirs === null) return 0;
  const own = indexEntries(join(dirs.gitDir, "index"));
  return dirs.gitDir === dirs.commonDir ? own : Math.max(own, indexEntries(join(dirs.commonDir, "index")));
}

/** How to run git. */
export interface GitRunOptions {
  /** The git executable; `git` (found on `PATH`) by default. */
  gitPath?: string;
  /** The folder git runs in (passed as `-C`). */
  cwd?: string;
  /** Retries of a transient lock error before giving up; 8 by default. */
  lockRetries?: number;
  /**
   * Milliseconds before git (and what it started) is killed and the call fails with a
   * `WorktreeCreation` error naming the command and the limit; by default
   * {@linkcode gitTimeoutFor} the repository's number of tracked files.
   */
  timeoutMs?: number;
  /** Extra environment variables for this call, such as `GIT_INDEX_FILE` for a temporary index. */
  env?: Record<string, string>;
  /** What git reads on its standard input (for example object ids for `cat-file --batch-check`); none by default. */
  input?: string;
  /**
   * Told each piece of git's error output as it comes (as text; a piece may end mid-line), for a
   * command's progress lines; the whole output is still in the result. It must not throw.
   */
  onStderr?: (text: string) => void;
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

function gitEnvironment(extra: Record<string, string> | undefined, overrides: Array<[string, string]>) {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !REPOSITORY_VARIABLES.includes(key)) env[key] = value;
  }
  // Messages are parsed, so they must not be translated.
  env.LC_ALL = "C";
  env.LANGUAGE = "C";
  Object.assign(env, HARDENING_ENV, extra);
  if (overrides.length > 0) {
    // Appended after any the caller's environment already sets, so that ours are read last.
    const first = Number.parseInt(env.GIT_CONFIG_COUNT ?? "0", 10) || 0;
    overrides.forEach(([key, value], i) => {
      env[`GIT_CONFIG_KEY_${first + i}`] = key;
      env[`GIT_CONFIG_VALUE_${first + i}`] = value;
    });
    env.GIT_CONFIG_COUNT = String(first + overrides.length);
  }
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

/** `git <args>` for messages, with arguments that need it quoted. */
export function describeGitCommand(args: readonly string[]): string {
  return ["git", ...args.map((arg) => /^[\w@%+=:,./^~{}-]+$/.test(arg) ? arg : JSON.stringify(arg))].join(" ");
}

function formatDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/**
 * The message of a git call killed at its limit: the command, the limit, where, and where the
 * limit came from (`trackedFiles` for the default limit, undefined for one the caller set).
 */
export function timeoutMessage(args: readonly string[], limitMs: number, cwd?: string, trackedFiles?: number): string {
  const where = cwd === undefined ? "" : ` in ${cwd}`;
  const why = trackedFiles === undefined
    ? "the limit set by timeoutMs (gitTimeoutMs)"
    : `the default limit for ${trackedFiles.toLocaleString("en-US")} tracked files: ${
      formatDuration(DEFAULT_GIT_TIMEOUT_MS)
    } plus ${formatDuration(GIT_TIMEOUT_MS_PER_10K_FILES)} per 10,000; gitTimeoutMs sets another`;
  return `${describeGitCommand(args)} timed out after ${formatDuration(limitMs)}${where}; it was killed (${why})`;
}

const MAX_OUTPUT = 64 * 1024 * 1024;
// setTimeout fires at once for a longer delay (it is a 32-bit count of milliseconds).
const MAX_TIMER_MS = 2 ** 31 - 1;

// Every process's parent, to find what a git process started: from /proc on Linux, else from `ps`.
async function parents(): Promise<Map<number, number>> {
  const table = new Map<number, number>();
  try {
    for (const name of readdirSync("/proc")) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const stat = readFileSync(`/proc/${name}/stat`, "utf8");
        // The name in parentheses may hold spaces: the fields after it are "state ppid ...".
        table.set(Number(name), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
      } catch {
        // Gone since it was listed.
      }
    }
    return table;
  } catch {
    const output = await new Promise<string>((resolve) =>
      execFile("ps", ["-A", "-o", "pid=,ppid="], (_error, stdout) => resolve(String(stdout ?? "")))
    );
    for (const line of output.split("\n")) {
      const [pid, ppid] = line.trim().split(/\s+/).map(Number);
      if (pid > 0) table.set(pid, ppid);
    }
    return table;
  }
}

function signal(pid: number, name: "SIGSTOP" | "SIGKILL"): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

/**
 * Kills `child` and every process it started. The tree is frozen first (SIGSTOP), so that nothing
 * in it starts more processes or loses its parent while it is looked up. Found only when needed,
 * rather than by giving git a process group of its own, which makes every spawn slower in Deno.
 * On Windows only git itself is killed.
 */
async function killTree(child: ChildProcess): Promise<void> {
  const pid = child.pid;
  if (pid === undefined || process.platform === "win32") {
    child.kill("SIGKILL");
    return;
  }
  const tree = new Set([pid]);
  for (let round = 0; round < 4; round++) {
    for (const member of tree) signal(member, "SIGSTOP");
    const table = await parents();
    const size = tree.size;
    for (let grew = true; grew;) {
      grew = false;
      for (const [member, parent] of table) {
        if (tree.has(parent) && !tree.has(member)) {
          tree.add(member);
          grew = true;
        }
      }
    }
    if (tree.size === size) break;
  }
  for (const member of tree) signal(member, "SIGKILL");
}

// Configured hooks (`hook.<name>.command`) exist from git 2.54 on. Before, a command that only
// writes refs or an index runs no hook that `core.hooksPath` does not already switch off, so it
// needs no configuration scan. Known per git executable; unknown counts as "has them".
const configuredHooks = new Map<string, Promise<boolean>>();

function hasConfiguredHooks(run: Invocation): Promise<boolean> {
  let known = configuredHooks.get(run.gitPath);
  if (known === undefined) {
    known = execOnce({ ...run, cwd: undefined }, ["--version"], []).then((result) => {
      const version = /git version (\d+)\.(\d+)/.exec(result.stdout);
      return version === null || Number(version[1]) > 2 || (Number(version[1]) === 2 && Number(version[2]) >= 54);
    }, () => {
      configuredHooks.delete(run.gitPath);
      return true;
    });
    configuredHooks.set(run.gitPath, known);
  }
  return known;
}

// The scan of each folder's configuration, kept while the files it read are unchanged.
const scans = new ConfigScanCache();

// Where each git executable reads its system configuration (keyed by executable and
// `$GIT_CONFIG_SYSTEM`); null when it cannot tell, and then no scan is cached.
const systemFiles = new Map<string, Promise<string | null>>();

function systemFile(run: Invocation, env: Record<string, string>): Promise<string | null> {
  const key = `${run.gitPath}\0${env.GIT_CONFIG_SYSTEM ?? ""}`;
  let known = systemFiles.get(key);
  if (known === undefined) {
    known = (async () => {
      // `git var GIT_CONFIG_SYSTEM` from git 2.42; before, the origin (or the error) of a system read.
      const plain = { ...run, cwd: undefined };
      const variable = await execOnce(plain, ["var", "GIT_CONFIG_SYSTEM"], []);
      if (variable.code === 0 && variable.stdout.trim() !== "") return variable.stdout.trim().split("\n")[0];
      const listed = await execOnce(plain, ["config", "--system", "--show-origin", "--list", "-z"], []);
      const origin = /^file:([^\0]+)\0/.exec(listed.stdout)?.[1];
      if (listed.code === 0 && origin !== undefined) return origin;
      return /unable to read config file '([^']+)'/.exec(listed.stderr)?.[1] ?? null;
    })().catch(() => null);
    known.then((file) => file === null && systemFiles.delete(key));
    systemFiles.set(key, known);
  }
  return known;
}

// The overrides of `run`'s folder: from the cache while every file the last scan read is unchanged.
async function scannedOverrides(run: Invocation): Promise<Array<[string, string]>> {
  const cwd = run.cwd ?? process.cwd();
  const env = gitEnvironment(run.env, []);
  // A temporary index changes nothing git reads as configuration; anything else might.
  delete env.GIT_INDEX_FILE;
  const environment = JSON.stringify([run.gitPath, ...Object.entries(env).sort(([a], [b]) => a < b ? -1 : 1)]);
  const locations: ConfigLocations = {
    // The legacy `$GIT_CONFIG` makes `git config` read another file: not cached.
    system: env.GIT_CONFIG === undefined ? await systemFile(run, env) : null,
    home: env.HOME ?? null,
    xdgConfigHome: env.XDG_CONFIG_HOME || undefined,
    globalOverride: env.GIT_CONFIG_GLOBAL || undefined,
    systemOverride: env.GIT_CONFIG_SYSTEM || undefined,
  };
  return await scans.overrides(
    cwd,
    (scanArgs, config) => execOnce(run, [...config.flatMap((setting) => ["-c", setting]), ...scanArgs], []),
    environment,
    locations,
  );
}

interface Invocation {
  gitPath: string;
  cwd: string | undefined;
  timeoutMs: number;
  /** The tracked files the default limit was computed from; undefined when the caller set the limit. */
  trackedFiles?: number;
  env: Record<string, string> | undefined;
}

// `input` is written to git's standard input; without it git reads none (the configuration scans never get one).
// `onStderr` is told git's error output as it comes.
function execOnce(
  run: Invocation,
  args: string[],
  overrides: Array<[string, string]>,
  input?: string,
  onStderr?: (text: string) => void,
): Promise<GitResult> {
  const argv = [
    "--no-pager",
    ...HARDENING_CONFIG.flatMap((setting) => ["-c", setting]),
    ...(run.cwd === undefined ? [] : ["-C", run.cwd]),
    ...args,
  ];
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(run.gitPath, argv, {
        env: gitEnvironment(run.env, overrides),
        stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      });
    } catch (error) {
      reject(notStarted(run.gitPath, error));
      return;
    }
    if (input !== undefined) {
      // A git that exits before reading all of it closes the pipe: its exit code is the answer.
      child.stdin!.on("error", () => {});
      child.stdin!.end(input);
    }
    const stdout: Uint8Array[] = [];
    const stderr: Uint8Array[] = [];
    let size = 0;
    let settled = false;
    let exitCode: number | null = null;
    const finish = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      outcome();
    };
    const result = (code: number): GitResult => ({
      code,
      stdout: Buffer.concat(stdout).toString("utf8"),
      stderr: Buffer.concat(stderr).toString("utf8"),
    });
    const kill = () => killTree(child).catch(() => {});
    const collect = (into: Uint8Array[]) => (chunk: Uint8Array) => {
      size += chunk.length;
      if (size > MAX_OUTPUT) {
        kill();
        finish(() =>
          reject(new SessionError("WorktreeCreation", `${describeGitCommand(args)} printed more than 64 MiB`))
        );
        return;
      }
      into.push(chunk);
    };
    child.stdout!.on("data", collect(stdout));
    const collectStderr = collect(stderr);
    const decoder = onStderr === undefined ? null : new TextDecoder();
    child.stderr!.on("data", (chunk: Uint8Array) => {
      collectStderr(chunk);
      if (decoder !== null && !settled) onStderr!(decoder.decode(chunk, { stream: true }));
    });
    const timer = setTimeout(() => {
      // Settled before the kill, so that the exit the kill causes is not taken for git's answer.
      const exited = exitCode;
      finish(() =>
        // Git itself may have exited while something it started kept the output open: its answer stands.
        exited !== null ? resolve(result(exited)) : reject(
          new SessionError("WorktreeCreation", timeoutMessage(args, run.timeoutMs, run.cwd, run.trackedFiles)),
        )
      );
      kill();
    }, Math.min(run.timeoutMs, MAX_TIMER_MS));
    child.on("error", (error) => finish(() => reject(notStarted(run.gitPath, error))));
    child.on("exit", (code) => {
      exitCode = code ?? 128;
    });
    child.on("close", (code) => finish(() => resolve(result(code ?? exitCode ?? 128))));
  });
}

// The executable itself could not be started: not a git failure but a missing git.
function notStarted(gitPath: string, error: unknown): SessionError {
  const code = (error as NodeJS.ErrnoException)?.code;
  return new SessionError(
    "WorktreeCreation",
    code === "ENOENT"
      ? `git was not found (looked for ${JSON.stringify(gitPath)}); install git or set gitPath`
      : `git could not be started (${code}): ${(error as Error)?.message ?? error}`,
    { cause: error },
  );
}

/**
 * Runs `git [-C cwd] ...args` and returns what it printed, whatever its exit code. Every call
 * carries the settings that keep the repository's configuration from running code (see
 * `git_guard.ts`); a call that may run a hook or a filter first reads which ones the repository
 * configures and switches each off. Lock errors from a concurrent git process are retried with
 * exponential backoff and jitter (bounded). Git missing, or a call running longer than
 * `timeoutMs` (then git and what it started are killed), is a `WorktreeCreation` error naming
 * the command and the limit. The default limit grows with the repository's tracked files
 * ({@linkcode gitTimeoutFor}).
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
  const run: Invocation = {
    gitPath: options.gitPath ?? "git",
    cwd: options.cwd,
    timeoutMs: options.timeoutMs ?? 0,
    env: options.env,
  };
  if (options.timeoutMs === undefined) {
    run.trackedFiles = run.cwd === undefined ? 0 : trackedFileCount(run.cwd);
    run.timeoutMs = gitTimeoutFor(run.trackedFiles);
  }
  if (!Number.isFinite(run.timeoutMs) || run.timeoutMs <= 0) {
    throw new SessionError("InvalidInput", "the git timeout must be a positive number of milliseconds");
  }
  const reach = commandReach(args);
  const scan = reach === "filters" || (reach === "hooks" && await hasConfiguredHooks(run));
  const overrides = !scan ? [] : await scannedOverrides(run);
  const retries = options.lockRetries ?? 8;
  for (let attempt = 0;; attempt++) {
    const result = await execOnce(run, args, overrides, options.input, options.onStderr);
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
