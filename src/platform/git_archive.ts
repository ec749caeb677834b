/**
 * The git side of an archived worktree: what an archive records in the repository so that a
 * restore can put the worktree back exactly (its branch, the commit it had, what was staged and
 * the snapshot of everything else), and the two steps that read the worktree's state and write it
 * back. It lives in the repository, not in a store: it is kept with the commits it names, and a
 * store never has to learn git's objects.
 *
 * @module
 */

import { existsSync } from "node:fs";
import { copyFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { SessionError } from "../errors.ts";
import type { Git } from "./git.ts";
import { gitMessage, type GitResult } from "./git_runner.ts";

/** The namespace of the refs that record an archived session, one per session: `refs/session-archives/<id>`. */
export const ARCHIVE_REF_PREFIX = "refs/session-archives/";

// Who makes an archive record: fixed, as for snapshots, so that no configured identity is needed.
const ARCHIVE_IDENTITY = {
  GIT_AUTHOR_NAME: "session-lifecycle-orchestrator",
  GIT_AUTHOR_EMAIL: "session-lifecycle-orchestrator@localhost",
  GIT_COMMITTER_NAME: "session-lifecycle-orchestrator",
  GIT_COMMITTER_EMAIL: "session-lifecycle-orchestrator@localhost",
};

/**
 * What an archive recorded. In the repository it is one commit under `refs/session-archives/<id>`
 * whose tree is the worktree's index (what was staged), whose first parent is the commit the
 * worktree had, and whose second parent, when there was work to save, is the snapshot commit; the
 * message names the branch, the folder and the snapshot's ref. It keeps all three reachable
 * whatever happens to the branch, and it never lands on the branch.
 */
export interface ArchiveRecord {
  /** The archive commit itself. */
  commit: string;
  /** The commit the worktree's branch was at. */
  head: string;
  /** The tree of the worktree's index when it was archived. */
  indexTree: string;
  /** The snapshot of the worktree's work, or `null` when it was clean. */
  snapshot: { ref: string; commit: string } | null;
  /** The branch, as the archive recorded it. */
  branch: string;
}

/** What a worktree's git state says about whether it can be archived. */
export interface WorktreeState {
  /** The branch checked out (without `refs/heads/`), or `null` when HEAD is detached. */
  branch: string | null;
  /** The checked-out commit. */
  head: string;
  /** An operation git keeps state for in the worktree's git folder (a merge, a rebase…), which a removal would lose. */
  inProgress: string | null;
}

const IN_PROGRESS: Array<[string, string]> = [
  ["MERGE_HEAD", "a merge"],
  ["rebase-merge", "a rebase"],
  ["rebase-apply", "a rebase or git am"],
  ["CHERRY_PICK_HEAD", "a cherry-pick"],
  ["REVERT_HEAD", "a revert"],
  ["BISECT_LOG", "a bisect"],
];

function archiveRef(sessionId: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(sessionId)) {
    throw new SessionError("InvalidInput", `session id ${JSON.stringify(sessionId)} cannot name an archive ref`);
  }
  return `${ARCHIVE_REF_PREFIX}${sessionId}`;
}

function checked(result: GitResult, action: string): string {
  if (result.code === 0) return result.stdout;
  throw new SessionError("WorktreeCreation", `${action} failed: ${gitMessage(result)}`, {
    cause: new Error(result.stderr),
  });
}

// The worktree's own git folder (`.git/worktrees/<name>` of its repository).
async function gitDirOf(git: Git, worktree: string): Promise<string> {
  const dir = checked(await git.run(worktree, ["rev-parse", "--git-dir"]), `reading the git folder of ${worktree}`)
    .trim();
  return isAbsolute(dir) ? dir : resolve(worktree, dir);
}

/** The branch, commit and unfinished git operation of the worktree at `worktree`. */
export async function worktreeState(git: Git, worktree: string): Promise<WorktreeState> {
  const [symbolic, head, gitDir] = await Promise.all([
    git.run(worktree, ["symbolic-ref", "--quiet", "HEAD"]),
    git.run(worktree, ["rev-parse", "--verify", "--quiet", "HEAD^{commit}"]),
    gitDirOf(git, worktree),
  ]);
  if (head.code !== 0) {
    throw new SessionError("Conflict", `the worktree ${worktree} has no commit checked out, so it cannot be archived`);
  }
  const ref = symbolic.code === 0 ? symbolic.stdout.trim() : "";
  const found = IN_PROGRESS.find(([file]) => existsSync(join(gitDir, file)));
  return {
    branch: ref.startsWith("refs/heads/") ? ref.slice("refs/heads/".length) : null,
    head: head.stdout.trim(),
    inProgress: found?.[1] ?? null,
  };
}

/**
 * The tree of the worktree's index (what is staged), written from a copy of the index so that the
 * worktree's own index file is not touched. `Conflict` when the index has unresolved conflicts.
 */
export async function indexTree(git: Git, worktree: string): Promise<string> {
  const index = checked(
    await git.run(worktree, ["rev-parse", "--path-format=absolute", "--git-path", "index"]),
    `finding the index of ${worktree}`,
  ).trim();
  const temp = await mkdtemp(join(tmpdir(), "slo-index-"));
  try {
    const copy = join(temp, "index");
    await copyFile(index, copy).catch((error) => {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    });
    const result = await git.run(worktree, ["write-tree"], { GIT_INDEX_FILE: copy });
    if (result.code !== 0 && /unmerged|conflict/i.test(result.stderr)) {
      throw new SessionError("Conflict", `the worktree ${worktree} has unresolved conflicts: resolve them first`);
    }
    return checked(result, `reading the index of ${worktree}`).trim();
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}

/**
 * Writes the archive commit of a session (see {@linkcode ArchiveRecord}) and points
 * `refs/session-archives/<sessionId>` at it. The ref is a record, not a snapshot: a later archive
 * of the same session replaces it (its snapshot keeps a ref of its own).
 */
export async function writeArchive(
  git: Git,
  repository: string,
  sessionId: string,
  record: Omit<ArchiveRecord, "commit">,
  worktree: string,
): Promise<string> {
  const ref = archiveRef(sessionId);
  const parents = [record.head, ...(record.snapshot === null ? [] : [record.snapshot.commit])];
  const message = `Archive of session ${sessionId}\n\nBranch: ${record.branch}\nWorktree: ${worktree}\n` +
    `Snapshot: ${record.snapshot?.ref ?? "none"}\n`;
  const action = `recording the archive of session ${sessionId}`;
  const commit = checked(
    await git.run(
      repository,
      ["commit-tree", "--no-gpg-sign", ...parents.flatMap((parent) => ["-p", parent]), "-m", message, record.indexTree],
      ARCHIVE_IDENTITY,
    ),
    action,
  ).trim();
  checked(await git.run(repository, ["update-ref", "-m", "archive", ref, commit]), action);
  return commit;
}

/** The archive record of a session in `repository`, or `null` when there is none. */
export async function readArchive(git: Git, repository: string, sessionId: string): Promise<ArchiveRecord | null> {
  const ref = archiveRef(sessionId);
  const commit = await git.resolveCommit(repository, ref);
  if (commit === null) return null;
  const body = checked(
    await git.run(repository, ["cat-file", "commit", commit]),
    `reading the archive of ${sessionId}`,
  );
  const end = body.indexOf("\n\n");
  const headers = body.slice(0, end === -1 ? body.length : end).split("\n");
  const message = end === -1 ? "" : body.slice(end + 2);
  const tree = headers.find((line) => line.startsWith("tree "))?.slice(5);
  const parents = headers.filter((line) => line.startsWith("parent ")).map((line) => line.slice(7));
  const branch = /^Branch: (.+)$/m.exec(message)?.[1];
  const snapshotRef = /^Snapshot: (.+)$/m.exec(message)?.[1];
  if (tree === undefined || parents.length === 0 || branch === undefined || snapshotRef === undefined) {
    throw new SessionError("WorktreeCreation", `${ref} is not an archive record this library wrote`);
  }
  const snapshot = snapshotRef === "none" || parents.length < 2 ? null : { ref: snapshotRef, commit: parents[1] };
  return { commit, head: parents[0], indexTree: tree, snapshot, branch };
}

/** Drops a session's archive record, only while it is still `commit`; whether it was dropped. */
export async function dropArchive(git: Git, repository: string, sessionId: string, commit: string): Promise<boolean> {
  const result = await git.run(repository, ["update-ref", "-d", archiveRef(sessionId), commit]);
  return result.code === 0;
}

/**
 * Puts an archive's snapshot back into the worktree at `worktree`, which was just added on the
 * archived commit: its files become the snapshot's (untracked ones included, byte for byte, with
 * their modes), then its index becomes the archived index, so that what was staged is staged,
 * what was changed is changed and what was untracked is untracked again. HEAD and the branch are
 * not moved: the snapshot commit never lands on the branch. Nothing to do for a clean archive.
 */
export async function applyArchive(
  git: Git,
  worktree: string,
  record: Pick<ArchiveRecord, "indexTree" | "snapshot">,
): Promise<void> {
  // A clean worktree's index was its commit's tree: the checkout already gave it back (and on a
  // branch that moved since, the old index would read as changes).
  if (record.snapshot === null) return;
  const action = `restoring the archived work into ${worktree}`;
  checked(await git.run(worktree, ["read-tree", "--reset", "-u", record.snapshot.commit]), action);
  checked(await git.run(worktree, ["read-tree", record.indexTree]), action);
  // Fresh stat data, so that the next `git status` does not read every file again. A nonzero exit
  // only says that some files differ from the index, as they should.
  await git.run(worktree, ["update-index", "-q", "--refresh"]);
}
