/**
 * The git commands the worktree lifecycle needs, each one argument array with `--` before
 * paths and names. Names that could be read as options are refused before git runs.
 *
 * @module
 */

import { existsSync, readFileSync } from "node:fs";
import { copyFile, mkdtemp, readdir, readFile, realpath, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { isAbsolute, join, relative, resolve } from "node:path";
import { dirtyWorktreeRefusal, errorMessage, isSessionError, SessionError } from "../errors.ts";
import { branchNameProblem } from "../branch_names.ts";
import { plainCommonDir, plainGitDirectories } from "./git_guard.ts";
import { CheckoutProgressReader } from "./_checkout_progress.ts";
import { gitMessage, type GitResult, type GitRunOptions, runGit, runGitChecked } from "./git_runner.ts";

/** Where git is and how it runs. */
export interface GitOptions {
  /** The git executable; `git` on `PATH` by default. */
  gitPath?: string;
  /**
   * Milliseconds before a git call is killed and fails with a `WorktreeCreation` error naming the
   * command and the limit; by default 120 s plus 30 s per 10,000 tracked files (`gitTimeoutFor`).
   */
  timeoutMs?: number;
}

// False only when the repository's config file surely has no `branch.<name>` section: its name
// is nowhere in the file (a name with a quote or backslash is written escaped, so it always counts).
function mayHaveBranchSection(repository: string, name: string): boolean {
  const commonDir = plainCommonDir(repository);
  if (commonDir === null || /["\\]/.test(name)) return true;
  try {
    return readFileSync(join(commonDir, "config"), "utf8").toLowerCase().includes(name.toLowerCase());
  } catch {
    return true;
  }
}

// Branch names whose validity `branchNameProblem` decides alone (see `checkBranchName`).
const PLAIN_BRANCH_NAME = /^[A-Za-z0-9._/-]+$/;

/**
 * The worktree registered at `path` in the repository whose common git directory is `commonDir`,
 * read from git's own files without running git: `<path>/.git` names `<commonDir>/worktrees/<id>`,
 * whose `gitdir` names `<path>/.git` back (what `git worktree list` reads), with its HEAD and,
 * when the branch is a loose ref, the commit it points at. `null` whenever the files do not show
 * that plainly (a relative or missing link, refs in a reftable, a HEAD of another form): then only
 * git's own listing can tell, so a `null` is never an answer that the worktree is not registered.
 */
export function registrationFromFiles(commonDir: string, path: string): WorktreeEntry | null {
  const read = (file: string) => {
    try {
      return readFileSync(file, "utf8");
    } catch {
      return null;
    }
  };
  const link = /^gitdir: (\/[^\n]*)\n?$/.exec(read(join(path, ".git")) ?? "")?.[1];
  if (link === undefined) return null;
  const gitDir = resolve(link);
  if (resolve(gitDir, "..") !== resolve(commonDir, "worktrees") || existsSync(join(commonDir, "reftable"))) return null;
  // As git lists it: the file's text without trailing white space and `/.git`.
  const back = (read(join(gitDir, "gitdir")) ?? "").trimEnd();
  if (!isAbsolute(back) || !back.endsWith("/.git") || resolve(back.slice(0, -5)) !== resolve(path)) return null;
  const head = (read(join(gitDir, "HEAD")) ?? "").trimEnd();
  const locked = read(join(gitDir, "locked"));
  const entry = {
    path: back.slice(0, -5),
    bare: false,
    locked: locked === null ? null : locked.trimEnd(),
    prunable: null,
  };
  if (/^[0-9a-f]{40,64}$/.test(head)) return { ...entry, head, branch: null, detached: true };
  const branch = /^ref: refs\/heads\/(.+)$/.exec(head)?.[1];
  if (branch === undefined || branch === ".invalid") return null;
  const tip = (read(join(commonDir, "refs", "heads", branch)) ?? "").trimEnd();
  return { ...entry, head: /^[0-9a-f]{40,64}$/.test(tip) ? tip : null, branch, detached: false };
}

/**
 * Whether the local branch `name` exists, read from the refs' files of the repository whose common
 * git directory is `commonDir` without running git: a loose ref names a commit, or `packed-refs` lists it,
 * or (neither, with refs kept in files) it does not exist. `null` whenever the files cannot say that
 * plainly (refs in a reftable, a folder or no readable ref where the loose ref would be, an
 * unreadable `packed-refs`): then only git can tell.
 */
export function branchExistsFromFiles(commonDir: string, name: string): boolean | null {
  if (existsSync(join(commonDir, "reftable"))) return null;
  const ref = `refs/heads/${name}`;
  try {
    const loose = readFileSync(join(commonDir, ...ref.split("/")), "utf8");
    // A symbolic or unreadable ref may or may not count for git.
    return /^[0-9a-f]{40,64}\n?$/.test(loose) ? true : null;
  } catch (error) {
    // Only a missing file says "not loose"; a folder there or a file on the way is for git to judge.
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") return null;
  }
  const packed = packedRefs(commonDir);
  return packed === null ? null : packed.has(ref);
}

// The refs `packed-refs` lists, each with its object id (`peeled`: the file gives the commit a tag
// points at on the next line); an empty map when there is no such file, `null` when it cannot be read.
function packedRefs(commonDir: string): Map<string, { id: string; peeled: boolean }> | null {
  let text: string;
  try {
    text = readFileSync(join(commonDir, "packed-refs"), "utf8");
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ENOENT" ? new Map() : null;
  }
  const refs = new Map<string, { id: string; peeled: boolean }>();
  let last: { id: string; peeled: boolean } | null = null;
  for (const line of text.split("\n")) {
    const entry = /^([0-9a-f]{40,64}) (\S+)$/.exec(line);
    if (entry !== null) refs.set(entry[2], last = { id: entry[1], peeled: false });
    else if (line.startsWith("^") && last !== null) last.peeled = true;
  }
  return refs;
}

/**
 * The checkout's HEAD read from its git files, as {@linkcode Git.headBranchAndCommit} answers it:
 * the branch as `git symbolic-ref --short HEAD` names it (`"HEAD"` when detached) and the commit.
 * Answered only where the files leave no doubt: a plain layout with refs in files, HEAD on a branch
 * whose short name no tag or other ref shadows, its commit in a loose ref or `packed-refs`. `null`
 * otherwise (then git is asked), never a guess.
 */
export function headFromFiles(checkout: string): { branch: string; commit: string } | null {
  const dirs = plainGitDirectories(checkout);
  if (dirs === null || existsSync(join(dirs.commonDir, "reftable"))) return null;
  const read = (file: string) => {
    try {
      return readFileSync(file, "utf8");
    } catch {
      return null;
    }
  };
  const head = (read(join(dirs.gitDir, "HEAD")) ?? "").trimEnd();
  if (/^[0-9a-f]{40,64}$/.test(head)) return { branch: "HEAD", commit: head };
  const branch = /^ref: refs\/heads\/(\S+)$/.exec(head)?.[1];
  if (branch === undefined || branch === ".invalid" || branchNameProblem(branch) !== null) return null;
  const packed = packedRefs(dirs.commonDir);
  if (packed === null) return null;
  // Git shortens `refs/heads/<b>` to `<b>` only when no ref it would try first (`<b>`,
  // `refs/<b>`, `refs/tags/<b>`) exists: any trace of one, and git says.
  const shadows = [`refs/${branch}`, `refs/tags/${branch}`];
  const shadowFiles = [
    join(dirs.gitDir, branch),
    join(dirs.commonDir, branch),
    ...shadows.map((ref) => join(dirs.commonDir, ref)),
  ];
  if (shadows.some((ref) => packed.has(ref)) || shadowFiles.some((file) => existsSync(file))) return null;
  const loose = read(join(dirs.commonDir, "refs", "heads", branch));
  if (loose !== null) return /^[0-9a-f]{40,64}\n?$/.test(loose) ? { branch, commit: loose.trimEnd() } : null;
  const entry = packed.get(`refs/heads/${branch}`);
  // No ref at all is an unborn branch: git says what that means.
  return entry === undefined || entry.peeled ? null : { branch, commit: entry.id };
}

/** The namespace of the refs that keep a worktree's work saved by {@linkcode Git.snapshotWorktree}. */
export const SNAPSHOT_REF_PREFIX = "refs/session-snapshots/";

// Who made a snapshot commit. Fixed, so that a repository or machine without a configured
// identity cannot make the snapshot (and with it the forced close) fail.
const SNAPSHOT_IDENTITY = {
  GIT_AUTHOR_NAME: "session-lifecycle-orchestrator",
  GIT_AUTHOR_EMAIL: "session-lifecycle-orchestrator@localhost",
  GIT_COMMITTER_NAME: "session-lifecycle-orchestrator",
  GIT_COMMITTER_EMAIL: "session-lifecycle-orchestrator@localhost",
};

/** A saved snapshot: its own ref under {@linkcode SNAPSHOT_REF_PREFIX} and the commit it names. */
export interface Snapshot {
  /** `refs/session-snapshots/<session id>`, or `….<n>` for a session's n-th snapshot. */
  ref: string;
  /** The snapshot commit. */
  commit: string;
}

/** One snapshot ref as {@linkcode Git.listSnapshotRefs} reads it. */
export interface SnapshotRef {
  /** `refs/session-snapshots/<session id>` or `….<n>`. */
  ref: string;
  /** The session whose worktree it saved. */
  sessionId: string;
  /** Which of the session's snapshots it is: 1 for the first. */
  number: number;
  /** The snapshot commit. */
  commit: string;
  /** Its first parent: the commit the worktree had checked out (`null` when it had none). */
  head: string | null;
  /** When it was made (ISO-8601 UTC, whole seconds). */
  createdAt: string;
  /** The first line of its message: `Snapshot of session <id> before <reason>`. */
  subject: string;
  /** How many paths it changes against `head`. */
  changedPaths: number;
  /**
   * The total size in bytes of the files it changed, as the snapshot holds them (regular files and
   * symbolic links; a deleted path counts 0, and so does a nested repository's gitlink).
   */
  bytes: number;
}

// The name of a session's snapshot ref after the prefix: `<uuid>` or `<uuid>.<n>`.
const SNAPSHOT_NAME =
  /^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})(?:\.([1-9][0-9]{0,8}))?$/;

// How deep repositories nested in a worktree (and in them) are followed before a snapshot gives up.
const MAX_NESTING = 8;

function nestedConflict(worktree: string, path: string, why: string, cause?: unknown): SessionError {
  return new SessionError(
    "Conflict",
    `the repository nested at ${path} in ${worktree} cannot be saved (${why}), so the worktree was kept: ` +
      "move it out of the worktree, or commit and push its work, and delete it",
    { cause },
  );
}

/** One entry of `git worktree list --porcelain -z`. */
export interface WorktreeEntry {
  /** Absolute path of the worktree folder. */
  path: string;
  /** The checked-out commit, or `null` for a bare entry. */
  head: string | null;
  /** The checked-out branch without `refs/heads/`, or `null` when detached or bare. */
  branch: string | null;
  /** Whether this is the bare repository entry. */
  bare: boolean;
  /** Whether HEAD is detached. */
  detached: boolean;
  /** The lock reason (possibly empty) when locked, else `null`. */
  locked: string | null;
  /** Why git would prune it (its folder is gone), else `null`. */
  prunable: string | null;
}

/** The identity of a repository as git sees it. */
export interface RepositoryInfo {
  /** The checkout's top-level folder. */
  topLevel: string;
  /** The shared git directory of the repository and all its worktrees (absolute). */
  commonDir: string;
}

function refuseOption(value: string, field: string): void {
  if (value.startsWith("-")) {
    throw new SessionError("InvalidInput", `${field} ${JSON.stringify(value)} must not start with "-"`);
  }
  // deno-lint-ignore no-control-regex
  if (value.length === 0 || /[\u0000-\u001f\u007f]/.test(value)) {
    throw new SessionError("InvalidInput", `${field} must be non-empty text without control characters`);
  }
}

/**
 * Parses the NUL-separated output of `git worktree list --porcelain -z`.
 *
 * @example
 * ```ts
 * import { parseWorktreeList } from "./git.ts";
 *
 * const entries = parseWorktreeList("worktree /r\0HEAD abc\0branch refs/heads/main\0\0");
 * console.log(entries[0].branch); // "main"
 * ```
 */
export function parseWorktreeList(output: string): WorktreeEntry[] {
  const entries: WorktreeEntry[] = [];
  let current: WorktreeEntry | null = null;
  for (const field of output.split("\0")) {
    if (field === "") {
      if (current !== null) entries.push(current);
      current = null;
      continue;
    }
    const space = field.indexOf(" ");
    const key = space === -1 ? field : field.slice(0, space);
    const value = space === -1 ? "" : field.slice(space + 1);
    if (key === "worktree") {
      if (current !== null) entries.push(current);
      current = {
        path: value,
        head: null,
        branch: null,
        bare: false,
        detached: false,
        locked: null,
        prunable: null,
      };
      continue;
    }
    if (current === null) continue;
    if (key === "HEAD") current.head = value;
    else if (key === "branch") current.branch = value.replace(/^refs\/heads\//, "");
    else if (key === "bare") current.bare = true;
    else if (key === "detached") current.detached = true;
    else if (key === "locked") current.locked = value;
    else if (key === "prunable") current.prunable = value;
  }
  if (current !== null) entries.push(current);
  return entries;
}

// The records of `diff-tree -r -z --raw` (`:<old mode> <new mode> <old id> <new id> <status>\0<path>\0`,
// renames off): each changed path with its new side's mode and object.
function parseRawDiff(output: string): Array<{ path: string; mode: string; object: string }> {
  const fields = output.split("\0");
  const changes: Array<{ path: string; mode: string; object: string }> = [];
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const [, mode, , object] = fields[i].split(" ");
    if (mode === undefined || object === undefined) continue;
    changes.push({ path: fields[i + 1], mode, object });
  }
  return changes;
}

/**
 * Git operations on one repository's worktrees and branches.
 *
 * @example
 * ```ts
 * import { Git } from "./git.ts";
 *
 * const git = new Git();
 * const info = await git.repositoryInfo(".").catch(() => null);
 * if (info) console.log((await git.listWorktrees(info.topLevel)).length);
 * ```
 */
export class Git {
  readonly #options: GitRunOptions;

  /**
   * A git runner; nothing runs until a method is called.
   *
   * @param options where git is and how long a call may take
   */
  constructor(options: GitOptions = {}) {
    this.#options = { gitPath: options.gitPath ?? "git", timeoutMs: options.timeoutMs };
  }

  /**
   * Runs git in `cwd`, whatever its exit code; hardened like every call (see `runGit`): nothing
   * from the repository's configuration runs, and the call has a timeout.
   */
  run(cwd: string, args: string[], env?: Record<string, string>): Promise<GitResult> {
    return runGit(args, { ...this.#options, cwd, env });
  }

  #checked(cwd: string, args: string[], action: string, env?: Record<string, string>): Promise<string> {
    return runGitChecked(args, action, { ...this.#options, cwd, env });
  }

  /**
   * The top-level folder and the common git directory of the repository at `path`;
   * `InvalidInput` when `path` is not inside a git checkout.
   */
  async repositoryInfo(path: string): Promise<RepositoryInfo> {
    const result = await this.run(path, ["rev-parse", "--path-format=absolute", "--show-toplevel", "--git-common-dir"]);
    const lines = result.stdout.split("\n").filter((line) => line !== "");
    if (result.code !== 0 || lines.length !== 2) {
      // The message is the caller's answer (a 400): it says what is wrong in our words; git's own
      // output, which can name other paths, stays in the cause.
      const message = /dubious ownership/.test(result.stderr)
        ? `${path} is owned by another user, so git refuses to work in it (see git's safe.directory)`
        : `${path} is not a git repository`;
      throw new SessionError("InvalidInput", message, { cause: new Error(result.stderr) });
    }
    const commonDir = isAbsolute(lines[1]) ? lines[1] : resolve(path, lines[1]);
    return { topLevel: lines[0], commonDir };
  }

  /**
   * The checkout's HEAD in one git process: the branch as {@linkcode currentBranch} names it
   * (`"HEAD"` when detached) and the commit it is at. `null` when HEAD names no commit yet (an
   * unborn branch) or git's answer is not the plain one (then ask the two questions apart).
   */
  async headBranchAndCommit(repository: string): Promise<{ branch: string; commit: string } | null> {
    // `--abbrev-ref=loose` shortens as `symbolic-ref --short` does (`heads/main` when a tag
    // `main` exists too), so the name resolves to the very commit printed with it.
    const result = await this.run(repository, ["rev-parse", "HEAD^{commit}", "--abbrev-ref=loose", "HEAD"]);
    const lines = result.stdout.split("\n").filter((line) => line !== "");
    if (result.code !== 0 || lines.length !== 2 || !/^[0-9a-f]{40,64}$/.test(lines[0])) return null;
    return { commit: lines[0], branch: lines[1] };
  }

  /** The branch checked out in the main checkout, or `null` when HEAD is detached. */
  async currentBranch(repository: string): Promise<string | null> {
    const result = await this.run(repository, ["symbolic-ref", "--quiet", "--short", "HEAD"]);
    return result.code === 0 ? result.stdout.trim() || null : null;
  }

  /**
   * Refuses `name` unless it is a branch name git accepts: our own check first (so nothing that
   * looks like an option reaches git), then `git check-ref-format --branch`.
   */
  async checkBranchName(repository: string, name: string): Promise<void> {
    const problem = branchNameProblem(name);
    if (problem !== null) {
      throw new SessionError("InvalidInput", `${JSON.stringify(name)} is not a valid branch name: ${problem}`);
    }
    // A name of letters, digits, `.`, `_`, `-` and `/` that passed the check above meets every
    // rule of git's (none of them is about these characters): git would only say yes.
    if (PLAIN_BRANCH_NAME.test(name)) return;
    const result = await this.run(repository, ["check-ref-format", "--branch", name]);
    if (result.code !== 0) {
      throw new SessionError(
        "InvalidInput",
        `${JSON.stringify(name)} is not a valid branch name: git check-ref-format refuses it`,
        { cause: new Error(result.stderr) },
      );
    }
  }

  /** Whether the local branch `name` exists. */
  async branchExists(repository: string, name: string): Promise<boolean> {
    refuseOption(name, "branch");
    const result = await this.run(repository, ["show-ref", "--verify", "--quiet", "--", `refs/heads/${name}`]);
    return result.code === 0;
  }

  /**
   * Adds a worktree at `path`: on a new branch `branch` made from `base`, or, when `base` is
   * `null`, on the existing branch `branch`. Git's refusals become `Conflict` (the branch or the
   * folder exists, the branch is checked out elsewhere), `InvalidInput` (a bad name or base) or
   * `WorktreeCreation`. With `checkout: false` no file is written yet (see {@linkcode checkoutWorktree}).
   */
  async addWorktree(
    repository: string,
    path: string,
    branch: string,
    base: string | null,
    options: { checkout?: boolean } = {},
  ): Promise<void> {
    refuseOption(branch, "branch");
    if (base !== null) refuseOption(base, "base ref");
    const flags = options.checkout === false ? ["--no-checkout"] : [];
    const args = base === null
      ? ["worktree", "add", ...flags, "--", path, branch]
      : ["worktree", "add", ...flags, "-b", branch, "--", path, base];
    const result = await this.run(repository, args);
    if (result.code === 0) return;
    const message = gitMessage(result);
    const cause = new Error(result.stderr);
    // Refusals are the caller's answers (409, 400): told in our words, since git's output can name
    // other worktrees' paths; it stays in the cause. A failure (500) keeps it in the message, which the
    // HTTP adapter logs and does not send.
    const refusal = /already checked out|already used by worktree/.test(message)
      ? ["Conflict", `the branch ${branch} is checked out in another worktree`] as const
      : /is already locked/.test(message)
      ? ["Conflict", "a locked worktree is registered there"] as const
      : /already exists/.test(message)
      ? ["Conflict", `the branch ${branch} or the folder already exists`] as const
      : /not a valid branch name/.test(message)
      ? ["InvalidInput", `${JSON.stringify(branch)} is not a valid branch name`] as const
      : /not a valid object name|invalid reference|not a commit/.test(message)
      ? ["InvalidInput", `${JSON.stringify(base ?? branch)} is not a commit`] as const
      : null;
    if (refusal !== null) throw new SessionError(refusal[0], `cannot add worktree ${path}: ${refusal[1]}`, { cause });
    throw new SessionError("WorktreeCreation", `git worktree add ${path} failed: ${message}`, { cause });
  }

  /**
   * Adds a worktree at `path` with a detached HEAD at `commit` and no file written yet (a pool's
   * entry, see `WorktreeLifecycleOptions.pool`): `git worktree add --detach --no-checkout`.
   */
  async addDetachedWorktree(repository: string, path: string, commit: string): Promise<void> {
    refuseOption(commit, "commit");
    await this.#checked(
      repository,
      ["-c", "checkout.workers=0", "worktree", "add", "--detach", "--no-checkout", "--", path, commit],
      `adding the pool worktree ${path}`,
    );
  }

  /**
   * Moves the worktree at `from` to `to` (`git worktree move`), whose folder must not exist;
   * its registration follows it.
   */
  async moveWorktree(repository: string, from: string, to: string): Promise<void> {
    await this.#checked(repository, ["worktree", "move", "--", from, to], `moving the worktree ${from} to ${to}`);
  }

  /**
   * Creates the branch `branch` at the worktree's HEAD and checks it out there (`git switch -c`),
   * writing no file; `Conflict` when the branch exists.
   */
  async createBranchHere(worktree: string, branch: string): Promise<void> {
    refuseOption(branch, "branch");
    const result = await this.run(worktree, ["switch", "--no-guess", "-c", branch]);
    if (result.code === 0) return;
    const message = gitMessage(result);
    if (/already exists/.test(message)) {
      throw new SessionError("Conflict", `the branch ${branch} already exists`, { cause: new Error(result.stderr) });
    }
    throw new SessionError("WorktreeCreation", `creating the branch ${branch} in ${worktree} failed: ${message}`, {
      cause: new Error(result.stderr),
    });
  }

  /**
   * Writes the files of the commit a worktree added with `checkout: false` has at `HEAD` (what
   * `git worktree add` itself does after adding one), submodules not recursed into, reporting
   * each new count of files written (`done` of `total`) as git's progress gives it.
   */
  async checkoutWorktree(
    path: string,
    onProgress?: (done: number, total: number) => void,
    options: { parallel?: boolean } = {},
  ): Promise<void> {
    const reader = onProgress === undefined ? null : new CheckoutProgressReader(onProgress);
    // `checkout.workers=0`: one worker per core (git's parallel checkout).
    const parallel = options.parallel === true ? ["-c", "checkout.workers=0"] : [];
    const result = await runGit([...parallel, "checkout", "-f", "--progress", "--no-recurse-submodules"], {
      ...this.#options,
      cwd: path,
      // Every count from the first file, not only after git's default two seconds.
      env: { GIT_PROGRESS_DELAY: "0" },
      ...(reader === null ? {} : { onStderr: (text: string) => reader.push(text) }),
    });
    if (result.code === 0) return;
    throw new SessionError("WorktreeCreation", `checking out the worktree ${path} failed: ${gitMessage(result)}`, {
      cause: new Error(result.stderr),
    });
  }

  /**
   * Sets the worktree at `path` (added with no file written yet) to check out only `directories`,
   * in cone mode: `git sparse-checkout set --cone -- <directories>`. In a linked worktree git turns
   * `extensions.worktreeConfig` on in the repository's shared config and keeps the sparse settings in
   * that worktree's own `config.worktree`, so the main checkout and the other worktrees stay full.
   */
  async setSparseCheckout(path: string, directories: readonly string[]): Promise<void> {
    for (const directory of directories) refuseOption(directory, "sparse directory");
    await this.#checked(
      path,
      ["sparse-checkout", "set", "--cone", "--", ...directories],
      `setting the sparse directories of the worktree ${path}`,
    );
  }

  /**
   * Removes the worktree at `path`. Without `force`, git itself refuses a worktree with modified
   * or untracked files (checked and removed in one step, so nothing written in between is lost):
   * that is `Conflict`. `force` twice also removes a locked worktree.
   */
  async removeWorktree(repository: string, path: string, force: 0 | 1 | 2 = 0): Promise<void> {
    const flags = force === 0 ? [] : force === 1 ? ["--force"] : ["--force", "--force"];
    const result = await this.run(repository, ["worktree", "remove", ...flags, "--", path]);
    if (result.code === 0) return;
    const message = gitMessage(result);
    const cause = new Error(result.stderr);
    // As in addWorktree: a refusal in our words, git's output in the cause.
    if (/modified or untracked files/.test(message)) {
      const text = `worktree ${path} was kept: it has modified or untracked files`;
      const changes = await this.worktreeChanges(path).catch(() => null);
      if (changes === null) throw new SessionError("Conflict", text, { cause, forceable: true });
      throw dirtyWorktreeRefusal(text, changes.paths, cause);
    }
    if (/locked working tree|is locked/.test(message)) {
      throw new SessionError("Conflict", `worktree ${path} was kept: it is locked`, { cause });
    }
    throw new SessionError("WorktreeCreation", `git worktree remove ${path} failed: ${message}`, { cause });
  }

  /** Deletes the local branch `name` (`git branch -D`). */
  async deleteBranch(repository: string, name: string): Promise<void> {
    refuseOption(name, "branch");
    await this.#checked(repository, ["branch", "-D", "--", name], `deleting branch ${name}`);
  }

  /**
   * Deletes the local branch `name` only while it points at `tip` (one atomic compare-and-delete),
   * then drops its `branch.<name>` configuration as `git branch -D` does. `false` when the branch
   * points elsewhere or is gone, and nothing was deleted.
   */
  async deleteBranchAt(repository: string, name: string, tip: string): Promise<boolean> {
    refuseOption(name, "branch");
    if (!/^[0-9a-f]{40,64}$/.test(tip)) {
      throw new SessionError("InvalidInput", `${JSON.stringify(tip)} is not a commit id`);
    }
    const result = await this.run(repository, ["update-ref", "-d", `refs/heads/${name}`, tip]);
    if (result.code !== 0) {
      if ((await this.resolveCommit(repository, `refs/heads/${name}`)) !== tip) return false;
      throw new SessionError("WorktreeCreation", `deleting branch ${name} failed: ${gitMessage(result)}`, {
        cause: new Error(result.stderr),
      });
    }
    // Exit code 128 (no such section) is fine: the branch had no configuration. Git rewrites the
    // file even then, which would make the next call scan the configuration again, so the
    // removal is skipped when the repository's own file (the only one it edits) cannot hold one.
    if (mayHaveBranchSection(repository, name)) {
      await this.run(repository, ["config", "--remove-section", `branch.${name}`]);
    }
    return true;
  }

  /** Every worktree of the repository, the main checkout first. */
  async listWorktrees(repository: string): Promise<WorktreeEntry[]> {
    const output = await this.#checked(repository, ["worktree", "list", "--porcelain", "-z"], "listing worktrees");
    return parseWorktreeList(output);
  }

  /**
   * Drops git's record of the one worktree at `path`, whose folder is gone. Unlike
   * `git worktree prune`, which drops every such record, it leaves the worktrees of others alone
   * (a user's worktree on an unmounted drive works again when the drive is back). It is a
   * `git worktree remove` without force, so if the folder came back meanwhile git removes it only
   * when it holds no uncommitted work, and refuses (`Conflict`) otherwise.
   */
  async forgetMissingWorktree(repository: string, path: string): Promise<void> {
    await this.removeWorktree(repository, path, 0);
  }

  /**
   * The commit that `ref` names, as a full object id, or `null` when it names none: any
   * commit-ish (`main`, `HEAD~1`, a tag, an abbreviated or full id, `origin/main`). The ref is
   * passed after `--end-of-options`, so a value such as `--output=x` is only ever a name that
   * does not resolve. Empty text or control characters are `InvalidInput`.
   */
  async resolveCommit(repository: string, ref: string): Promise<string | null> {
    // deno-lint-ignore no-control-regex
    if (typeof ref !== "string" || ref === "" || /[\u0000-\u001f\u007f]/.test(ref)) {
      throw new SessionError("InvalidInput", "a ref must be non-empty text without control characters");
    }
    const result = await this.run(repository, [
      "rev-parse",
      "--verify",
      "--quiet",
      "--end-of-options",
      `${ref}^{commit}`,
    ]);
    if (result.code === 0) return result.stdout.trim();
    // 1 is "does not resolve" (or names no commit); 128 (not a repository) is a failure to report.
    if (result.code === 1) return null;
    throw new SessionError("WorktreeCreation", `resolving ${JSON.stringify(ref)} failed: ${gitMessage(result)}`, {
      cause: new Error(result.stderr),
    });
  }

  /** The tree of the commit `commit` (a full id); `InvalidInput` when it names no commit. */
  async resolveTree(repository: string, commit: string): Promise<string> {
    if (!/^[0-9a-f]{40,64}$/.test(commit)) {
      throw new SessionError("InvalidInput", `${JSON.stringify(commit)} is not a commit id`);
    }
    const result = await this.run(repository, ["rev-parse", "--verify", "--quiet", `${commit}^{tree}`]);
    if (result.code !== 0) throw new SessionError("InvalidInput", `${commit} names no commit`);
    return result.stdout.trim();
  }

  /**
   * Saves everything in the worktree at `worktree` (changes to tracked files, staged changes and
   * untracked files; ignored files are left out, as `.gitignore` says) as a commit whose first
   * parent is the worktree's HEAD, under a ref of its own that nothing ever moves:
   * `refs/session-snapshots/<sessionId>` for a session's first snapshot, `…/<sessionId>.2`,
   * `….3` for later ones (each ref is created only if it does not exist, so a snapshot never hides
   * another). Returns the ref and the commit. The worktree's files, index and branch are not
   * touched: the work is staged in a copy of its index. No hook runs and the commit is not signed.
   * Used before a forced removal, so that removing never loses work; the snapshot also keeps the
   * branch's commits reachable if the branch is then deleted.
   *
   * A repository nested in the worktree (made by `git init` or `git clone` there, or a submodule)
   * is saved too, since the removal deletes its history with its files: its own work is saved the
   * same way, as a commit whose parents are its HEAD and the tips of all its refs (named in the
   * commit's message), that commit and its history are copied into this repository (a bundle,
   * no transport), the snapshot's tree records it as a gitlink at the nested repository's path,
   * and the snapshot lists it as a further parent, so that it stays reachable. A nested
   * repository that cannot be saved (unreadable, shallow, nested too deep) is a `Conflict` naming
   * it, and nothing is saved.
   *
   * To restore: `git worktree add --detach <folder> refs/session-snapshots/<id>` (or a checkout of it)
   * gives the files back; `git reset --soft HEAD~1` there turns the snapshot back into changes on
   * top of the original commit. To list and drop snapshots:
   * `git for-each-ref refs/session-snapshots/` and `git update-ref -d refs/session-snapshots/<id>`.
   *
   * `reason` ends the commit's first line and the ref's log message ("before <reason>").
   */
  async saveWorktree(worktree: string, sessionId: string, reason = "a forced close"): Promise<Snapshot> {
    if (typeof sessionId !== "string" || !/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(sessionId)) {
      throw new SessionError("InvalidInput", `session id ${JSON.stringify(sessionId)} cannot name a snapshot ref`);
    }
    const temp = await mkdtemp(join(tmpdir(), "slo-snapshot-"));
    try {
      const commit = await this.#saveTree(worktree, sessionId, temp, 0, worktree, reason);
      const ref = await this.#createSnapshotRef(worktree, sessionId, commit, reason);
      return { ref, commit };
    } finally {
      await rm(temp, { recursive: true, force: true });
    }
  }

  /**
   * The repositories nested in the worktree at `worktree` that a snapshot would save as gitlinks:
   * untracked ones (made by `git init` or `git clone` there) and tracked submodules that have a
   * repository, as paths relative to the worktree.
   */
  nestedRepositories(worktree: string): Promise<string[]> {
    return this.#nestedRepositories(worktree, {}, `looking for repositories nested in ${worktree}`);
  }

  /** {@linkcode Git.saveWorktree}, answering only the ref it made. */
  async snapshotWorktree(worktree: string, sessionId: string): Promise<string> {
    return (await this.saveWorktree(worktree, sessionId)).ref;
  }

  // The snapshot commit of the work tree `folder` (the session's worktree at depth 0, a nested
  // repository below), made in folder's own repository.
  async #saveTree(
    folder: string,
    sessionId: string,
    temp: string,
    depth: number,
    top: string,
    reason: string,
  ): Promise<string> {
    const nestedName = relative(top, folder);
    const where = await this.run(folder, ["rev-parse", "--path-format=absolute", "--show-toplevel", "--git-dir"]);
    const [topLevel, gitDir] = where.stdout.split("\n");
    // A folder inside some other checkout (or none) must not be snapshotted as if it were the worktree.
    if (
      where.code !== 0 || !gitDir ||
      await realpath(topLevel).catch(() => topLevel) !== await realpath(folder).catch(() => "")
    ) {
      if (depth === 0) {
        throw new SessionError("InvalidInput", `${folder} is not the top folder of a git worktree`, {
          cause: new Error(where.stderr),
        });
      }
      throw nestedConflict(top, nestedName, "git cannot read it", new Error(where.stderr));
    }
    if (depth > 0) {
      // Its history stops at commits it does not have: copied into the repository, it would leave
      // commits there whose parents are missing, which breaks `git gc` of the user's repository.
      const shallow = await this.run(folder, ["rev-parse", "--is-shallow-repository"]);
      if (shallow.code !== 0 || shallow.stdout.trim() !== "false") {
        throw nestedConflict(top, nestedName, "it is a shallow clone, whose history is incomplete");
      }
    }
    const headResult = await this.run(folder, ["rev-parse", "--verify", "--quiet", "HEAD^{commit}"]);
    const head = headResult.code === 0 ? headResult.stdout.trim() : null; // null: no commit yet
    const index = join(temp, `index-${depth}-${crypto.randomUUID()}`);
    const env = { ...SNAPSHOT_IDENTITY, GIT_INDEX_FILE: index };
    // Starting from a copy of the index keeps what is staged and lets git skip unchanged files.
    await copyFile(join(gitDir, "index"), index).catch((error) => {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    });
    const action = `saving the work of ${folder}`;
    const nested = await this.#nestedRepositories(folder, env, action);
    if (nested.length > 0 && depth >= MAX_NESTING) {
      throw nestedConflict(top, relative(top, join(folder, nested[0])), `it is nested more than ${MAX_NESTING} deep`);
    }
    const saved: Array<{ path: string; commit: string }> = [];
    for (const path of nested) {
      const inner = join(folder, path);
      let commit: string;
      try {
        commit = await this.#saveTree(inner, sessionId, temp, depth + 1, top, reason);
        await this.#copyCommit(inner, folder, commit, temp);
      } catch (error) {
        if (isSessionError(error, "Conflict")) throw error;
        throw nestedConflict(top, relative(top, inner), errorMessage(error), error);
      }
      saved.push({ path, commit });
    }
    // The nested repositories are recorded below as gitlinks to their snapshots: `add` would
    // record their HEAD (or fail when they have no commit yet).
    const exclusions = saved.map(({ path }) => `:(exclude,literal)${path}`);
    await this.#checked(folder, ["add", "--all", "--", ".", ...exclusions], action, env);
    if (saved.length > 0) {
      const entries = saved.flatMap(({ path, commit }) => ["--cacheinfo", `160000,${commit},${path}`]);
      await this.#checked(folder, ["update-index", "--add", "--replace", ...entries], action, env);
    }
    const tree = (await this.#checked(folder, ["write-tree"], action, env)).trim();
    const parents = head === null ? [] : [head];
    let message: string;
    if (depth === 0) {
      message = `Snapshot of session ${sessionId} before ${reason}\n\nWorktree: ${folder}\n`;
    } else {
      // Everything the nested repository had committed stays reachable from its snapshot; the
      // message keeps the names.
      const refs = await this.#refTips(folder, action);
      for (const tip of await this.#independent(folder, refs.map(([commit]) => commit), action)) {
        if (!parents.includes(tip)) parents.push(tip);
      }
      message = `Snapshot of the nested repository ${nestedName} of session ${sessionId}\n\n` +
        `Refs:\n${refs.map(([commit, name]) => `${commit} ${name}\n`).join("")}`;
    }
    for (const { commit } of saved) if (!parents.includes(commit)) parents.push(commit);
    const parentArgs = parents.flatMap((parent) => ["-p", parent]);
    return (await this.#checked(
      folder,
      ["commit-tree", "--no-gpg-sign", ...parentArgs, "-m", message, tree],
      action,
      env,
    ))
      .trim();
  }

  // The repositories nested in the work tree at `folder` that a snapshot must save: untracked ones
  // (`ls-files` shows them as `path/`) and tracked gitlinks (submodules) that have a repository.
  async #nestedRepositories(folder: string, env: Record<string, string>, action: string): Promise<string[]> {
    const [others, staged] = await Promise.all([
      this.#checked(folder, ["ls-files", "-z", "--others", "--exclude-standard"], action, env),
      this.#checked(folder, ["ls-files", "-z", "--stage"], action, env),
    ]);
    const found = new Set<string>();
    for (const path of others.split("\0")) {
      if (path.endsWith("/")) found.add(path.slice(0, -1));
    }
    for (const line of staged.split("\0")) {
      const tab = line.indexOf("\t");
      if (!line.startsWith("160000 ") || tab === -1) continue;
      const path = line.slice(tab + 1);
      if (existsSync(join(folder, path, ".git"))) found.add(path);
    }
    return [...found].sort();
  }

  // Every ref of the repository at `folder` that names a commit (tags peeled), as [commit, name].
  async #refTips(folder: string, action: string): Promise<Array<[string, string]>> {
    const output = await this.#checked(
      folder,
      ["for-each-ref", "--format=%(objectname) %(objecttype) %(*objectname) %(*objecttype) %(refname)"],
      action,
    );
    const tips: Array<[string, string]> = [];
    for (const line of output.split("\n")) {
      const match = /^(\S+) (\S+) (\S*) (\S*) (.+)$/.exec(line);
      if (match === null) continue;
      if (match[2] === "commit") tips.push([match[1], match[5]]);
      else if (match[4] === "commit") tips.push([match[3], match[5]]);
    }
    return tips;
  }

  // The commits among `commits` that are no ancestor of another: the fewest parents that keep all reachable.
  async #independent(folder: string, commits: string[], action: string): Promise<string[]> {
    const unique = [...new Set(commits)];
    if (unique.length < 2) return unique;
    const output = await this.#checked(folder, ["merge-base", "--independent", ...unique], action);
    return output.split("\n").filter((line) => line !== "");
  }

  // Copies `commit` and its history from the repository at `from` into the one at `into`, through
  // a bundle file: no transport, nothing of either repository's configuration runs.
  async #copyCommit(from: string, into: string, commit: string, temp: string): Promise<void> {
    const id = crypto.randomUUID();
    const ref = `${SNAPSHOT_REF_PREFIX}transfer-${id}`;
    const bundle = join(temp, `${id}.bundle`);
    const action = `copying the nested repository ${from}`;
    // A bundle names its commits by refs: a short-lived one, dropped once the bundle is written.
    await this.#checked(from, ["update-ref", ref, commit, ""], action);
    try {
      await this.#checked(from, ["bundle", "create", "--quiet", bundle, ref], action);
    } finally {
      await this.run(from, ["update-ref", "-d", ref, commit]);
    }
    await this.#checked(into, ["bundle", "unbundle", bundle], action);
    await rm(bundle, { force: true });
  }

  // Creates a new ref for `commit` under the session's snapshot names, never moving an existing one.
  async #createSnapshotRef(cwd: string, sessionId: string, commit: string, reason: string): Promise<string> {
    const base = `${SNAPSHOT_REF_PREFIX}${sessionId}`;
    const action = `saving the snapshot of session ${sessionId}`;
    for (let attempt = 0; attempt < 100; attempt++) {
      const taken = await this.sessionSnapshots(cwd, sessionId);
      const next = taken.length === 0 ? 1 : Math.max(...taken.map((snapshot) => snapshot.number)) + 1;
      const ref = next === 1 ? base : `${base}.${next}`;
      // The empty old value: created only if it does not exist, so a concurrent snapshot is never overwritten.
      const result = await this.run(cwd, ["update-ref", "-m", `snapshot before ${reason}`, ref, commit, ""]);
      if (result.code === 0) return ref;
      if ((await this.resolveCommit(cwd, ref)) === null) {
        throw new SessionError("WorktreeCreation", `${action} failed: ${gitMessage(result)}`, {
          cause: new Error(result.stderr),
        });
      }
    }
    throw new SessionError("WorktreeCreation", `${action} failed: no free snapshot ref`);
  }

  /**
   * The snapshots of one session, oldest first: `refs/session-snapshots/<sessionId>` (number 1) and
   * `refs/session-snapshots/<sessionId>.<n>`, with the commit each names.
   */
  async sessionSnapshots(
    repository: string,
    sessionId: string,
  ): Promise<Array<{ ref: string; commit: string; number: number }>> {
    refuseOption(sessionId, "session id");
    const output = await this.#checked(
      repository,
      ["for-each-ref", "--format=%(objectname) %(refname)", "--", `${SNAPSHOT_REF_PREFIX}`],
      "listing snapshots",
    );
    const base = `${SNAPSHOT_REF_PREFIX}${sessionId}`;
    const snapshots: Array<{ ref: string; commit: string; number: number }> = [];
    for (const line of output.split("\n")) {
      const space = line.indexOf(" ");
      if (space === -1) continue;
      const ref = line.slice(space + 1);
      const number = ref === base ? 1 : ref.startsWith(`${base}.`) ? Number(ref.slice(base.length + 1)) : NaN;
      if (Number.isInteger(number) && number > 0) snapshots.push({ ref, commit: line.slice(0, space), number });
    }
    return snapshots.sort((a, b) => a.number - b.number);
  }

  /**
   * What `git status` reports in the worktree at `worktree` (untracked files, not ignored ones),
   * as `XY` codes: `clean` when nothing, `deletionsOnly` when every change is a tracked file
   * missing from the folder (what a removal that was stopped half-way leaves of a clean worktree).
   */
  async worktreeChanges(worktree: string): Promise<{ clean: boolean; deletionsOnly: boolean; paths: string[] }> {
    const output = await this.#checked(
      worktree,
      ["status", "--porcelain", "-z", "--untracked-files=all", "--ignore-submodules=none"],
      `checking ${worktree} for changes`,
    );
    const codes: string[] = [];
    const paths: string[] = [];
    const fields = output.split("\0");
    for (let i = 0; i < fields.length; i++) {
      const field = fields[i];
      if (field.length < 4) continue;
      const code = field.slice(0, 2);
      codes.push(code);
      paths.push(field.slice(3));
      // A rename or copy is followed by the path it came from, a field of its own.
      if (/[RC]/.test(code)) i++;
    }
    return { clean: codes.length === 0, deletionsOnly: codes.every((code) => code === " D"), paths };
  }

  /**
   * Every snapshot ref of the repository (under {@linkcode SNAPSHOT_REF_PREFIX}) that names a
   * session's snapshot (`<session id>` or `<session id>.<n>`, the id a UUID), oldest first: the
   * commit, its first parent (the commit the worktree had), when it was made, its subject, how
   * many paths it changes against that parent, and the total size of the files it changed. Reads
   * objects only (one `diff-tree` per snapshot, one `cat-file --batch-check` for all of them), no
   * checkout. The short-lived refs of a snapshot being written are left out.
   */
  async listSnapshotRefs(repository: string): Promise<SnapshotRef[]> {
    const output = await this.#checked(
      repository,
      [
        "for-each-ref",
        "--sort=committerdate",
        "--format=%(objectname)%00%(parent)%00%(committerdate:unix)%00%(refname)%00%(subject)",
        "--",
        SNAPSHOT_REF_PREFIX,
      ],
      "listing snapshots",
    );
    const snapshots: SnapshotRef[] = [];
    // Per snapshot, the blobs of the files it changed (their new side), sized together below.
    const blobs: string[][] = [];
    for (const line of output.split("\n")) {
      const [commit, parents, seconds, ref, subject] = line.split("\0");
      if (ref === undefined || subject === undefined) continue;
      const match = SNAPSHOT_NAME.exec(ref.slice(SNAPSHOT_REF_PREFIX.length));
      if (!ref.startsWith(SNAPSHOT_REF_PREFIX) || match === null) continue;
      const parent = parents.split(" ").find((p) => p !== "") ?? null;
      const diff = await this.#checked(
        repository,
        parent === null
          ? ["diff-tree", "-r", "-z", "--raw", "--no-renames", "--root", "--no-commit-id", commit]
          : ["diff-tree", "-r", "-z", "--raw", "--no-renames", "--no-commit-id", parent, commit],
        "listing snapshots",
      );
      const changes = parseRawDiff(diff);
      blobs.push(changes.flatMap(({ mode, object }) => /^1[02]0[0-7]{3}$/.test(mode) ? [object] : []));
      snapshots.push({
        ref,
        sessionId: match[1].toLowerCase(),
        number: match[2] === undefined ? 1 : Number(match[2]),
        commit,
        head: parent,
        createdAt: new Date(Number(seconds) * 1000).toISOString(),
        subject,
        changedPaths: changes.length,
        bytes: 0,
      });
    }
    const all = blobs.flat();
    if (all.length > 0) {
      const sizes = (await runGitChecked(["cat-file", "--batch-check=%(objectsize)"], "listing snapshots", {
        ...this.#options,
        cwd: repository,
        input: all.map((object) => `${object}\n`).join(""),
      })).split("\n").map(Number);
      let next = 0;
      blobs.forEach((objects, i) => {
        for (let k = 0; k < objects.length; k++) {
          const size = sizes[next++];
          if (Number.isSafeInteger(size)) snapshots[i].bytes += size;
        }
      });
    }
    return snapshots;
  }

  /**
   * Deletes the snapshot ref `ref` only while it names `commit` (one atomic compare-and-delete);
   * whether it was deleted. Only refs under {@linkcode SNAPSHOT_REF_PREFIX} are touched.
   */
  async deleteSnapshotRef(repository: string, ref: string, commit: string): Promise<boolean> {
    if (!ref.startsWith(SNAPSHOT_REF_PREFIX) || SNAPSHOT_NAME.exec(ref.slice(SNAPSHOT_REF_PREFIX.length)) === null) {
      throw new SessionError("InvalidInput", `${JSON.stringify(ref)} is not a snapshot ref`);
    }
    if (!/^[0-9a-f]{40,64}$/.test(commit)) {
      throw new SessionError("InvalidInput", `${JSON.stringify(commit)} is not a commit id`);
    }
    const result = await this.run(repository, ["update-ref", "-m", "snapshot pruned", "-d", ref, commit]);
    return result.code === 0;
  }

  /**
   * Puts back the `.git` file of the registered worktree at `path` when its folder exists but the
   * file is gone (a `git worktree remove` killed half-way deletes it among the others, and git then
   * refuses to touch the folder). Only when this repository registers a worktree whose `gitdir`
   * file names `<path>/.git`: the link written is the one git wrote. Whether it was needed.
   */
  async restoreWorktreeLink(repository: string, path: string): Promise<boolean> {
    const link = join(path, ".git");
    if (!existsSync(path) || existsSync(link)) return false;
    const { commonDir } = await this.repositoryInfo(repository);
    const admin = join(commonDir, "worktrees");
    let names: string[];
    try {
      names = await readdir(admin);
    } catch {
      return false;
    }
    const targets = new Set([resolve(link), join(await realpath(path), ".git")]);
    for (const name of names) {
      const gitdir = await readFile(join(admin, name, "gitdir"), "utf8").catch(() => null);
      if (gitdir === null || !targets.has(resolve(admin, name, gitdir.trim()))) continue;
      await writeFile(link, `gitdir: ${join(admin, name)}\n`, { flag: "wx" });
      return true;
    }
    return false;
  }

  /** The branch's upstream as a full ref, or `null` when it has none. */
  async upstreamOf(repository: string, branch: string): Promise<string | null> {
    refuseOption(branch, "branch");
    const output = await this.#checked(
      repository,
      ["for-each-ref", "--format=%(upstream)", "--", `refs/heads/${branch}`],
      "reading the upstream",
    );
    return output.trim() || null;
  }

  /**
   * How many commits of `branch` are on none of `others` (refs that do not resolve are skipped),
   * or `null` when none of `others` resolves, so nothing can be proven.
   */
  async commitsNotOn(repository: string, branch: string, others: string[]): Promise<number | null> {
    refuseOption(branch, "branch");
    for (const other of others) refuseOption(other, "ref");
    const count = (refs: string[]) =>
      this.run(repository, ["rev-list", "--count", `refs/heads/${branch}`, "--not", ...refs, "--"]);
    // One git call in the common case; only when a ref does not resolve are they checked one by one.
    let result = await count(others);
    if (result.code !== 0) {
      const existing: string[] = [];
      for (const other of others) {
        const commit = await this.resolveCommit(repository, other);
        if (commit !== null) existing.push(commit);
      }
      if (existing.length === 0) return null;
      result = await count(existing);
      if (result.code !== 0) {
        throw new SessionError("WorktreeCreation", `counting the commits of ${branch} failed: ${gitMessage(result)}`);
      }
    }
    return Number(result.stdout.trim());
  }
}
