/**
 * Internal to `WorktreeLifecycle` (not exported from `./platform`): the intent journal, one small
 * file per operation in progress, written durably before the first file-system step and removed
 * when the operation (or its undo) is complete. A file left behind means a process died midway; `reconcile` reads it to finish or
 * undo exactly what was started, and it is the proof that a folder or branch was ours.
 *
 * @module
 */

import { mkdir, readdir, readFile, rm, stat } from "node:fs/promises";
import { writeDurableFile } from "./private_file.ts";
import { join } from "node:path";
import type { Session } from "../types.ts";
import type { Snapshot } from "./git.ts";
import { processExists } from "./_process.ts";
import type { ArchiveRecord } from "./git_archive.ts";

/** What an operation in progress intends to do. */
export interface JournalEntry {
  /**
   * `open` creates the worktree, branch, row and secret; `close` removes them; `archive` saves the
   * worktree's work and removes its folder, keeping the branch, row and secret; `restore` puts an
   * archived worktree back.
   */
  op: "open" | "close" | "archive" | "restore";
  /** The session concerned. */
  sessionId: string;
  /** Its repository. */
  repositoryId: string;
  /** The repository's checkout, where git runs. */
  repositoryPath: string;
  /** The worktree folder. */
  path: string;
  /** The worktree's branch. */
  branch: string;
  /** Whether the operation creates (open) or created (close) the branch. */
  createdBranch: boolean;
  /** Whether the operation creates or created the worktree folder. */
  createdWorktree: boolean;
  /** The ref a created branch starts from. */
  baseRef: string | null;
  /** Close only: whether uncommitted work and unmerged commits may be thrown away. */
  force: boolean;
  /** Close only: whether the branch is to be deleted. */
  deleteBranch: boolean;
  /** Close only: the session row as it was before the close. */
  session: Session | null;
  /**
   * Close only: what proves the worktree and branch are this repository's, found when the close
   * began, under the repository's lock. `registered`: the repository registers the session's
   * worktree at its path on its branch (a new clone at the same path does not); `branchTip`: the
   * commit the session's branch pointed at then, the only one it is deleted at (`null`: not proven
   * ours, never deleted; also when the close keeps the branch, which then needs no tip). Absent in
   * entries written before it was recorded.
   */
  owned?: { registered: boolean; branchTip: string | null };
  /**
   * Close only: the snapshot a forced close took, written here before the removal starts, so that
   * a close finished later reuses it and never snapshots the half-deleted folder over it.
   */
  snapshot?: Snapshot | null;
  /**
   * Close only: a plain close found the worktree clean just before git's removal began; a removal
   * killed half-way (a folder missing only tracked files) may then be finished.
   */
  removalFromClean?: boolean;
  /**
   * Archive: the record it wrote in the repository (`refs/session-archives/<id>`), set together
   * with `removing` just before the removal starts. Restore: the record it restores. Close of an
   * archived session: that session's record (`null` when the repository holds none).
   */
  archive?: ArchiveRecord | null;
  /**
   * Archive only: the worktree's removal may have begun, so a restart finishes the archive (with the
   * recorded snapshot) rather than undoing it; before that, the worktree is untouched and it is undone.
   */
  removing?: boolean;
  /** Close only: the session was archived, so it has no worktree folder to remove. */
  archived?: boolean;
  /**
   * Open of a fork only: the source session and what the new worktree copies of it (its commit,
   * staged index and snapshot), read before the journal was written. An unfinished fork is undone
   * like any open: the new worktree's files are copies, and the snapshot stays the source's.
   */
  forkOf?: { sessionId: string } & Pick<ArchiveRecord, "head" | "indexTree" | "snapshot">;
  /** The process that wrote it. */
  pid: number;
  /** When the operation started (ISO-8601 UTC). */
  startedAt: string;
}

const ID_FILE = /^([0-9a-f-]{36})\.json$/;
// `<sessionId>.<pid>.<random>.tmp`; older files have no pid.
const TEMP_FILE = /^[0-9a-f-]{36}\.(?:(\d+)\.)?[0-9a-f-]+\.tmp$/;

/** How old a temp file must be before any process may delete it, whoever wrote it. */
export const TEMP_FILE_MAX_AGE_MS = 10 * 60 * 1000;

/**
 * The journal folder: `<worktreesRoot>/.journal`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mkdtempSync, rmSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { Journal } from "./journal.ts";
 *
 * const root = mkdtempSync(join(tmpdir(), "wt-"));
 * const journal = new Journal(join(root, ".journal"));
 * assert.deepEqual(await journal.list(), []);
 * rmSync(root, { recursive: true });
 * ```
 */
export class Journal {
  /** The folder holding one `<sessionId>.json` per operation in progress. */
  readonly dir: string;

  /**
   * A journal in `dir`.
   *
   * @param dir the journal folder; created on first write
   */
  constructor(dir: string) {
    this.dir = dir;
  }

  #file(sessionId: string): string {
    return join(this.dir, `${sessionId}.json`);
  }

  /**
   * Writes the entry durably: a temp file, fsynced, renamed over the old one, and the folder
   * fsynced, so that after a crash the file is either the old entry or the new one, never a torn one.
   */
  async write(entry: JournalEntry): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await writeDurableFile(this.#file(entry.sessionId), JSON.stringify(entry));
  }

  /** The entry of `sessionId`, or `null`. */
  async read(sessionId: string): Promise<JournalEntry | null> {
    try {
      return JSON.parse(await readFile(this.#file(sessionId), "utf8")) as JournalEntry;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw error;
    }
  }

  /** Every entry, and the names of files that are not readable entries (left for people to see). */
  async list(): Promise<JournalEntry[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw error;
    }
    const entries: JournalEntry[] = [];
    for (const name of names.sort()) {
      const match = ID_FILE.exec(name);
      if (match === null) continue;
      const entry = await this.read(match[1]).catch(() => null);
      if (entry !== null) entries.push(entry);
    }
    return entries;
  }

  /**
   * Temp files a killed writer left (never renamed into place, so they hold no intent): those whose
   * writer's pid is gone, or older than {@linkcode TEMP_FILE_MAX_AGE_MS}. Taken without a lock, so a
   * live writer's file, about to be renamed, must never be among them.
   */
  async abandonedTempFiles(now: number = Date.now()): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return [];
    }
    const abandoned: string[] = [];
    for (const name of names) {
      const match = TEMP_FILE.exec(name);
      if (match === null) continue;
      const path = join(this.dir, name);
      const pid = match[1] === undefined ? null : Number(match[1]);
      if (pid !== null && pid !== process.pid && !processExists(pid)) {
        abandoned.push(path);
        continue;
      }
      try {
        if (now - (await stat(path)).mtimeMs > TEMP_FILE_MAX_AGE_MS) abandoned.push(path);
      } catch {
        // Renamed or removed meanwhile.
      }
    }
    return abandoned;
  }

  /** Removes the entry of `sessionId`; harmless when there is none. */
  async remove(sessionId: string): Promise<void> {
    await rm(this.#file(sessionId), { force: true });
  }
}
