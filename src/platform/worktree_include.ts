/**
 * Included files: what a new worktree gets of the main checkout's files that git ignores (`.env`,
 * local config), as `.worktreeinclude` at the checkout's top level and the operator's `include`
 * patterns name them. Only files git reports as ignored and untracked are candidates; an ignored
 * folder is copied only when a pattern names it (so `node_modules/x/.env` is not copied by `.env*`).
 * Nothing is overwritten, no symbolic link is followed (a link is copied as a link), file modes are
 * kept, and copy-on-write clones are used where the file system has them, with the bytes that were
 * provably cloned told apart from those copied.
 *
 * @module
 */

import { constants } from "node:fs";
import { chmod, copyFile, lstat, mkdir, readdir, readFile, readlink, rm, symlink, writeFile } from "node:fs/promises";
import { dirname, isAbsolute, join, resolve, sep } from "node:path";
import { SessionError } from "../errors.ts";
import type { IncludedFiles } from "../included_files.ts";
import { Git } from "./git.ts";

/** The file at a checkout's top level whose gitignore-style patterns name the files to include. */
export const WORKTREE_INCLUDE_FILE = ".worktreeinclude";

/** A `.worktreeinclude` bigger than this is refused: it is a list of patterns, not data. */
const MAX_INCLUDE_FILE_BYTES = 64 * 1024;

/** How many files are copied at once. */
const COPY_CONCURRENCY = 8;

// Errors that mean "this file system (or runtime) cannot clone": the copy falls back to bytes.
const NO_CLONE = new Set(["ENOTSUP", "EOPNOTSUPP", "EXDEV", "EINVAL", "ENOSYS", "ENOTTY", "ERR_FS_CP_EINVAL"]);

let cloneFlagHonoured: Promise<boolean> | null = null;

// Whether this runtime fails `COPYFILE_FICLONE_FORCE` where no clone can be made: tried once on a
// tmpfs (which has no reflinks). A runtime that ignores the flag copies there and succeeds, and
// then no success of it elsewhere proves a clone, so its bytes are all counted as copied.
function cloneIsProvable(): Promise<boolean> {
  cloneFlagHonoured ??= (async () => {
    const folder = "/dev/shm";
    const probe = join(folder, `slo-clone-probe-${crypto.randomUUID()}`);
    try {
      await writeFile(probe, "x", { flag: "wx" });
    } catch {
      return false;
    }
    try {
      await copyFile(probe, `${probe}.copy`, constants.COPYFILE_FICLONE_FORCE);
      return false;
    } catch {
      return true;
    } finally {
      await rm(probe, { force: true });
      await rm(`${probe}.copy`, { force: true });
    }
  })();
  return cloneFlagHonoured;
}

function errorCode(error: unknown): string | undefined {
  return (error as { code?: string } | null)?.code;
}

async function exists(path: string): Promise<boolean> {
  return await lstat(path).then(() => true, () => false);
}

/** What to include and where. */
export interface IncludeRequest {
  /** The main checkout's top level (git's `--show-toplevel`). */
  checkout: string;
  /** The new worktree's folder. */
  worktree: string;
  /** The operator's patterns for this repository (gitignore syntax), besides `.worktreeinclude`'s. */
  patterns: readonly string[];
  /** The git executable; `git` on `PATH` by default. */
  gitPath?: string;
}

// Copies into a worktree without ever writing outside it or over anything.
class Copier {
  readonly report: IncludedFiles = {
    entries: [],
    files: 0,
    links: 0,
    bytesCloned: 0,
    bytesCopied: 0,
    skipped: [],
  };
  readonly #checkout: string;
  readonly #worktree: string;
  readonly #provable: boolean;
  // Folders of the worktree checked (or made) as real folders, so each is looked at once.
  readonly #folders = new Map<string, Promise<boolean>>();

  constructor(checkout: string, worktree: string, provable: boolean) {
    this.#checkout = checkout;
    this.#worktree = worktree;
    this.#provable = provable;
  }

  #skip(path: string, reason: string): void {
    this.report.skipped.push({ path, reason });
  }

  // Whether the worktree's folder `relative` is a real folder (made when missing, with the mode of
  // the checkout's), every ancestor too: a link or a file on the way means the copy would land
  // somewhere else, so it is not made.
  #folder(relative: string): Promise<boolean> {
    if (relative === "" || relative === ".") return Promise.resolve(true);
    let known = this.#folders.get(relative);
    if (known === undefined) {
      known = (async () => {
        if (!await this.#folder(dirname(relative))) return false;
        const target = join(this.#worktree, relative);
        const found = await lstat(target).catch(() => null);
        if (found !== null) return found.isDirectory() && !found.isSymbolicLink();
        const source = await lstat(join(this.#checkout, relative)).catch(() => null);
        try {
          await mkdir(target);
        } catch (error) {
          // Made meanwhile by another copy of this run: look again.
          const again = await lstat(target).catch(() => null);
          if (again === null) throw error;
          return again.isDirectory() && !again.isSymbolicLink();
        }
        if (source !== null && source.isDirectory()) await chmod(target, source.mode & 0o7777);
        return true;
      })();
      this.#folders.set(relative, known);
    }
    return known;
  }

  // Copies one entry of the checkout (a file, a link, or a folder with all it holds).
  async copy(relative: string): Promise<void> {
    const source = join(this.#checkout, relative);
    const stat = await lstat(source).catch(() => null);
    if (stat === null) return this.#skip(relative, "gone from the checkout while copying");
    if (stat.isDirectory()) {
      if (!await this.#folder(relative)) return this.#skip(relative, "a link or file is in its way in the worktree");
      const names = await readdir(source);
      await eachLimited(names.sort(), COPY_CONCURRENCY, (name) => this.copy(join(relative, name)));
      return;
    }
    if (!stat.isFile() && !stat.isSymbolicLink()) return this.#skip(relative, "not a file, folder or link");
    if (!await this.#folder(dirname(relative))) {
      return this.#skip(relative, "a link or file is in its way in the worktree");
    }
    const target = join(this.#worktree, relative);
    if (stat.isSymbolicLink()) {
      try {
        await symlink(await readlink(source), target);
      } catch (error) {
        if (await exists(target)) return this.#skip(relative, "already in the worktree");
        throw error;
      }
      this.report.links++;
      return;
    }
    const cloned = await this.#copyFile(source, target, relative);
    if (cloned === null) return;
    await chmod(target, stat.mode & 0o7777);
    this.report.files++;
    if (cloned && this.#provable) this.report.bytesCloned += stat.size;
    else this.report.bytesCopied += stat.size;
  }

  // A clone where the file system makes one, else a copy; never over an existing file. Whether it
  // was a clone, or `null` when the file was already there.
  async #copyFile(source: string, target: string, relative: string): Promise<boolean | null> {
    const exclusive = constants.COPYFILE_EXCL;
    try {
      await copyFile(source, target, exclusive | constants.COPYFILE_FICLONE_FORCE);
      return true;
    } catch (error) {
      // Deno's "already exists" has no code: look at the disk instead.
      if (await exists(target)) {
        if (!NO_CLONE.has(errorCode(error) ?? "")) {
          this.#skip(relative, "already in the worktree");
          return null;
        }
      } else if (!NO_CLONE.has(errorCode(error) ?? "")) throw error;
    }
    try {
      await copyFile(source, target, exclusive);
    } catch (error) {
      if (await exists(target)) {
        this.#skip(relative, "already in the worktree");
        return null;
      }
      throw error;
    }
    return false;
  }
}

async function eachLimited<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++]);
  });
  await Promise.all(runners);
}

function nulSeparated(text: string): string[] {
  return text.split("\0").filter((entry) => entry !== "");
}

// The checkout's `.worktreeinclude`, when it is a plain file of a sane size (a link is not followed).
async function includeFileOf(checkout: string): Promise<string | null> {
  const path = join(checkout, WORKTREE_INCLUDE_FILE);
  const stat = await lstat(path).catch(() => null);
  if (stat === null || !stat.isFile()) return null;
  if (stat.size > MAX_INCLUDE_FILE_BYTES) {
    throw new SessionError(
      "InvalidInput",
      `${path} is over ${MAX_INCLUDE_FILE_BYTES / 1024} KiB; it should hold patterns, one per line`,
    );
  }
  return await readFile(path, "utf8");
}

/*
 * The entries to copy: paths relative to the checkout, folders (copied whole) ending in `/`. git
 * lists what it ignores and does not track, an ignored folder as one entry; a file is taken when
 * the patterns match it, a folder only when they match the folder itself, so that `.env*` does not
 * reach into `node_modules/`.
 */
async function includedEntries(git: Git, checkout: string, patterns: readonly string[]): Promise<string[]> {
  const includeFile = await includeFileOf(checkout);
  if (includeFile === null && patterns.length === 0) return [];
  // Loaded on first use, so that `./platform` loads in a script outside the checkout (whose deno.json
  // maps npm packages) until a repository has something to include.
  const { default: ignore } = await import("ignore");
  const matcher = ignore();
  if (includeFile !== null) matcher.add(includeFile);
  matcher.add([...patterns]);
  const result = await git.run(checkout, [
    "ls-files",
    "-z",
    "--others",
    "--ignored",
    "--exclude-standard",
    "--directory",
  ]);
  if (result.code !== 0) {
    throw new SessionError("WorktreeCreation", `listing the files to include failed: ${result.stderr.trim()}`);
  }
  return nulSeparated(result.stdout).filter((entry) => matcher.ignores(entry)).sort();
}

/**
 * Copies into `worktree` the main checkout's ignored, untracked files that `.worktreeinclude` or
 * `patterns` name, and says what was copied. An empty report (no entries) when nothing is named.
 *
 * @example Only an ignored file that is named is copied
 * ```ts
 * import assert from "node:assert/strict";
 * import { execFileSync } from "node:child_process";
 * import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { includeFiles } from "./worktree_include.ts";
 *
 * const root = mkdtempSync(join(tmpdir(), "slo-"));
 * const checkout = join(root, "app");
 * execFileSync("git", ["init", "-q", checkout]);
 * writeFileSync(join(checkout, ".gitignore"), ".env\n*.log\n");
 * writeFileSync(join(checkout, ".env"), "TOKEN=1\n");
 * writeFileSync(join(checkout, "debug.log"), "noise\n");
 * const worktree = join(root, "worktree");
 * execFileSync("mkdir", [worktree]);
 *
 * const report = await includeFiles({ checkout, worktree, patterns: [".env"] });
 * assert.deepEqual(report.entries, [".env"]);
 * assert.ok(existsSync(join(worktree, ".env")));
 * assert.equal(existsSync(join(worktree, "debug.log")), false);
 * rmSync(root, { recursive: true });
 * ```
 */
export function includeFiles(request: IncludeRequest): Promise<IncludedFiles> {
  return includeFilesWith(new Git({ gitPath: request.gitPath }), request);
}

/** {@linkcode includeFiles} with the caller's git runner (its timeout): the lifecycle's step. */
export async function includeFilesWith(git: Git, request: IncludeRequest): Promise<IncludedFiles> {
  const checkout = resolve(request.checkout);
  const worktree = resolve(request.worktree);
  const entries = await includedEntries(git, checkout, request.patterns);
  const copier = new Copier(checkout, worktree, entries.length > 0 && await cloneIsProvable());
  copier.report.entries = entries;
  for (const entry of entries) {
    const relative = entry.endsWith("/") ? entry.slice(0, -1) : entry;
    // git lists paths inside the top level; anything else is not copied.
    if (relative === "" || isAbsolute(relative) || relative.split(/[\\/]/).includes("..")) continue;
    await copier.copy(relative.split("/").join(sep));
  }
  return copier.report;
}
