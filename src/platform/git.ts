/**
 * The git commands the worktree lifecycle needs, each one argument array with `--` before
 * paths and names. Names that could be read as options are refused before git runs.
 *
 * @module
 */

import { copyFile, mkdtemp, realpath, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { SessionError } from "../errors.ts";
import { branchNameProblem } from "../validation.ts";
import { gitMessage, type GitResult, type GitRunOptions, runGit, runGitChecked } from "./git_runner.ts";

/** Where git is and how it runs. */
export interface GitOptions {
  /** The git executable; `git` on `PATH` by default. */
  gitPath?: string;
  /**
   * Milliseconds before a git call is killed and fails with a `WorktreeCreation` error naming the
   * command; `DEFAULT_GIT_TIMEOUT_MS` (120 s) by default.
   */
  timeoutMs?: number;
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
  run(cwd: string, args: string[]): Promise<GitResult> {
    return runGit(args, { ...this.#options, cwd });
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
   * `WorktreeCreation`.
   */
  async addWorktree(repository: string, path: string, branch: string, base: string | null): Promise<void> {
    refuseOption(branch, "branch");
    if (base !== null) refuseOption(base, "base ref");
    const args = base === null
      ? ["worktree", "add", "--", path, branch]
      : ["worktree", "add", "-b", branch, "--", path, base];
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
      throw new SessionError("Conflict", `worktree ${path} was kept: it has modified or untracked files`, {
        cause,
        forceable: true,
      });
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

  /**
   * Saves everything in the worktree at `worktree` (changes to tracked files, staged changes and
   * untracked files; ignored files are left out, as `.gitignore` says) as a commit whose parent is
   * the worktree's HEAD, under `refs/session-snapshots/<sessionId>` (replacing an earlier snapshot
   * of that session), and returns that ref. The worktree's files, index and branch are not
   * touched: the work is staged in a copy of its index. No hook runs and the commit is not signed.
   * Used before a forced removal, so that removing never loses work; the snapshot also keeps the
   * branch's commits reachable if the branch is then deleted.
   *
   * To restore: `git worktree add --detach <folder> refs/session-snapshots/<id>` (or a checkout of it)
   * gives the files back; `git reset --soft HEAD~1` there turns the snapshot back into changes on
   * top of the original commit. To list and drop snapshots:
   * `git for-each-ref refs/session-snapshots/` and `git update-ref -d refs/session-snapshots/<id>`.
   */
  async snapshotWorktree(worktree: string, sessionId: string): Promise<string> {
    if (typeof sessionId !== "string" || !/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(sessionId)) {
      throw new SessionError("InvalidInput", `session id ${JSON.stringify(sessionId)} cannot name a snapshot ref`);
    }
    const where = await this.run(worktree, ["rev-parse", "--path-format=absolute", "--show-toplevel", "--git-dir"]);
    const [top, gitDir] = where.stdout.split("\n");
    // A folder inside some other checkout (or none) must not be snapshotted as if it were the worktree.
    if (
      where.code !== 0 || !gitDir || await realpath(top).catch(() => top) !== await realpath(worktree).catch(() => "")
    ) {
      throw new SessionError("InvalidInput", `${worktree} is not the top folder of a git worktree`, {
        cause: new Error(where.stderr),
      });
    }
    const headResult = await this.run(worktree, ["rev-parse", "--verify", "--quiet", "HEAD^{commit}"]);
    const head = headResult.code === 0 ? headResult.stdout.trim() : null; // null: no commit yet
    const temp = await mkdtemp(join(tmpdir(), "slo-snapshot-"));
    try {
      const env = { ...SNAPSHOT_IDENTITY, GIT_INDEX_FILE: join(temp, "index") };
      // Starting from a copy of the index keeps what is staged and lets git skip unchanged files.
      await copyFile(join(gitDir, "index"), env.GIT_INDEX_FILE).catch((error) => {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      });
      const action = `saving the work of ${worktree}`;
      await this.#checked(worktree, ["add", "--all"], action, env);
      const tree = (await this.#checked(worktree, ["write-tree"], action, env)).trim();
      const message = `Snapshot of session ${sessionId} before a forced close\n\nWorktree: ${worktree}\n`;
      const parent = head === null ? [] : ["-p", head];
      const commit =
        (await this.#checked(worktree, ["commit-tree", "--no-gpg-sign", ...parent, "-m", message, tree], action, env))
          .trim();
      const ref = `${SNAPSHOT_REF_PREFIX}${sessionId}`;
      await this.#checked(worktree, ["update-ref", "-m", "snapshot before a forced close", ref, commit], action);
      return ref;
    } finally {
      await rm(temp, { recursive: true, force: true });
    }
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
