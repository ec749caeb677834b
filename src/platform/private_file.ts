/**
 * Private files written whole: a reader sees the old content or the new, never a torn or readable
 * half. One module for the token, the database key and its check, the journal and the discovery
 * file. Internal: not part of the published API.
 *
 * @module
 */

import { closeSync, fsyncSync, linkSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { open, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import process from "node:process";

/**
 * The temp file a write goes through: beside its target, named `<target>.<pid>.<random>.tmp`, so
 * that a cleanup can tell a dead writer's leftover (its pid is gone) from a live writer's file.
 */
export function tempPathFor(path: string): string {
  return `${path}.${process.pid}.${crypto.randomUUID()}.tmp`;
}

/**
 * Writes `text` to `path` with mode 0600 through a temp file. `"replace"` renames over any
 * existing file; `"create"` publishes with `link()`, which fails when the name exists, so of two
 * processes creating the file at once exactly one wins: it returns `false` for the loser, whose
 * text was not written.
 */
export function writePrivateFileSync(path: string, text: string, mode: "replace" | "create" = "replace"): boolean {
  const temp = tempPathFor(path);
  const descriptor = openSync(temp, "wx", 0o600);
  try {
    writeSync(descriptor, text);
    fsyncSync(descriptor);
  } finally {
    closeSync(descriptor);
  }
  try {
    if (mode === "replace") {
      renameSync(temp, path);
      return true;
    }
    try {
      linkSync(temp, path);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw error;
    }
  } finally {
    rmSync(temp, { force: true });
  }
}

/**
 * Writes `text` to `path` (mode 0600) durably: the temp file is fsynced, renamed over the old one,
 * and the folder fsynced, so that after a crash the file is the old content or the new one.
 */
export async function writeDurableFile(path: string, text: string): Promise<void> {
  const temp = tempPathFor(path);
  try {
    const handle = await open(temp, "wx", 0o600);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  try {
    const folder = await open(dirname(path), "r");
    try {
      await folder.sync();
    } finally {
      await folder.close();
    }
  } catch {
    // Some platforms cannot fsync a folder; the rename is still atomic there.
  }
}
