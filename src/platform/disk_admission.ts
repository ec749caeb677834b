/**
 * Disk admission for a new worktree: before anything is made, the free space where the worktree
 * goes is compared with what its checkout will write (the size of every file git tracks at the
 * commit it starts from), so that a create is refused with a clear message instead of filling the
 * disk half way and failing there.
 *
 * @module
 */

import { existsSync } from "node:fs";
import { statfs } from "node:fs/promises";
import { dirname } from "node:path";
import { SessionError } from "../errors.ts";
import type { Git } from "./git.ts";

/** Room kept free beyond a checkout's files by default (git's index and the like): 64 MiB. */
export const DEFAULT_DISK_HEADROOM_BYTES = 64 * 1024 * 1024;

const MIB = 1024 * 1024;

// The tracked size and file count of each commit already measured: a commit's tree never changes.
const trackedBytes = new Map<string, { bytes: number; files: number }>();

function mebibytes(bytes: number): string {
  return `${(bytes / MIB).toFixed(bytes < 10 * MIB ? 1 : 0)} MiB`;
}

// The size of every file git tracks at `commit` (a resolved commit id), read from the tree without
// touching any file.
async function trackedSize(git: Git, repository: string, commit: string): Promise<{ bytes: number; files: number }> {
  const known = trackedBytes.get(commit);
  if (known !== undefined) return known;
  const result = await git.run(repository, ["ls-tree", "-r", "-l", "-z", "--full-tree", commit]);
  if (result.code !== 0) {
    throw new SessionError("WorktreeCreation", `measuring the checkout of ${commit} failed: ${result.stderr.trim()}`);
  }
  let bytes = 0;
  let files = 0;
  for (const entry of result.stdout.split("\0")) {
    // `<mode> <type> <object> <size>\t<path>`; a submodule's size is `-`.
    const size = /^\d+ blob \S+ +(\d+)\t/.exec(entry)?.[1];
    if (size === undefined) continue;
    bytes += Number(size);
    files++;
  }
  const measured = { bytes, files };
  trackedBytes.set(commit, measured);
  return measured;
}

/**
 * Refuses, with `InsufficientStorage` and nothing written, a worktree at `folder` whose checkout of
 * `commit` would not fit in the free space there with `headroomBytes` to spare. Answers the
 * number of files the checkout writes (blobs and links; a submodule is not one).
 */
export async function admitCheckout(
  git: Git,
  options: { repository: string; commit: string; folder: string; headroomBytes: number },
): Promise<number> {
  let existing = options.folder;
  while (!existsSync(existing) && dirname(existing) !== existing) existing = dirname(existing);
  const [{ bytes: needed, files }, space] = await Promise.all([
    trackedSize(git, options.repository, options.commit),
    statfs(existing),
  ]);
  const free = Number(space.bavail) * Number(space.bsize);
  if (free < needed + options.headroomBytes) {
    throw new SessionError(
      "InsufficientStorage",
      `not enough free disk space for the worktree: its checkout needs ${mebibytes(needed)} plus ` +
        `${mebibytes(options.headroomBytes)} to spare, and ${existing} has ${mebibytes(free)} free; free some ` +
        `space (slo gc cleans up finished sessions) or put worktrees on another disk`,
    );
  }
  return files;
}
