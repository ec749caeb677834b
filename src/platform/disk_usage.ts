/**
 * How much disk a folder takes: what `du` reports, walked without following symlinks, so that a
 * worktree's link into a large shared folder counts as the link only.
 *
 * @module
 */

import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";

// How many entries are looked at at once: enough to keep the disk busy, few enough that a folder
// of a million files does not open a million handles or starve the event loop.
const BATCH = 64;

/**
 * Bytes the folder (or file) at `path` takes on disk: the allocated blocks of every entry under
 * it (`blocks * 512`, or the size where the file system reports no blocks), a file with several
 * hard links counted once, symlinks counted as themselves and never followed. Entries that vanish
 * while it walks are skipped; a `path` that does not exist takes 0 bytes.
 *
 * @example
 * ```ts
 * import { diskUsage } from "./disk_usage.ts";
 *
 * console.log(await diskUsage("/tmp/does-not-exist")); // 0
 * ```
 */
export async function diskUsage(path: string): Promise<number> {
  return (await folderUsage(path)).bytes;
}

/** What {@linkcode folderUsage} found. */
export interface FolderUsage {
  /** Bytes on disk, as {@linkcode diskUsage} counts them. */
  bytes: number;
  /** The latest modification time of any entry under the folder (ms since the epoch), or `null` when it does not exist. */
  lastModifiedMs: number | null;
}

/**
 * {@linkcode diskUsage} and, from the same walk, when anything under the folder last changed:
 * the newest modification time of its entries (a folder's own time changes when a file in it is
 * made, renamed or removed), symlinks by their own time.
 *
 * @example
 * ```ts
 * import { folderUsage } from "./disk_usage.ts";
 *
 * console.log(await folderUsage("/tmp/does-not-exist")); // { bytes: 0, lastModifiedMs: null }
 * ```
 */
export async function folderUsage(path: string): Promise<FolderUsage> {
  const seen = new Set<string>();
  let total = 0;
  let lastModifiedMs: number | null = null;
  const measure = async (entry: string): Promise<string | null> => {
    const stat = await lstat(entry).catch(() => null);
    if (stat === null) return null;
    if (lastModifiedMs === null || stat.mtimeMs > lastModifiedMs) lastModifiedMs = stat.mtimeMs;
    const key = `${stat.dev}:${stat.ino}`;
    if (stat.nlink > 1 && stat.ino !== 0) {
      if (seen.has(key)) return null;
      seen.add(key);
    }
    total += typeof stat.blocks === "number" && Number.isFinite(stat.blocks) ? stat.blocks * 512 : stat.size;
    return stat.isDirectory() ? entry : null;
  };
  const folders: string[] = [];
  const top = await measure(path);
  if (top !== null) folders.push(top);
  while (folders.length > 0) {
    const folder = folders.pop()!;
    const names = await readdir(folder).catch(() => [] as string[]);
    for (let i = 0; i < names.length; i += BATCH) {
      const found = await Promise.all(names.slice(i, i + BATCH).map((name) => measure(join(folder, name))));
      for (const sub of found) if (sub !== null) folders.push(sub);
    }
  }
  return { bytes: total, lastModifiedMs };
}
