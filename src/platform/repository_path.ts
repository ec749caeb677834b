/**
 * One spelling per repository folder: the canonical absolute path that repositories are stored
 * and compared under.
 *
 * @module
 */

import { existsSync, realpathSync } from "node:fs";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { SessionError } from "../errors.ts";
import { MAX_PATH_BYTES } from "../limits.ts";
import { requireText } from "../_field_checks.ts";

// The errors that mean "this part of the path is not there (yet)": resolution goes on with its parent.
const MISSING = new Set(["ENOENT", "ENOTDIR"]);

/**
 * The canonical form of an absolute repository path, so that one folder is one repository however
 * it is spelled: `.` and `..` are resolved, duplicate and trailing separators dropped, and symbolic
 * links followed (with `realpath`) as far as the path exists; a part that does not exist yet is
 * kept as written, resolved lexically. `/tmp/r1/`, `/tmp//r1`, `/tmp/x/../r1` and a symbolic link
 * to `/tmp/r1` all give `/tmp/r1` (or its real location, when `/tmp` is itself a link).
 *
 * A relative path is refused (`InvalidInput`): relative to what the server's working directory
 * happens to be is not something a caller can mean. A path that cannot be resolved (a loop of
 * links, a folder the process may not search) is `InvalidInput` too.
 *
 * @param path an absolute path, as the caller typed it
 * @param field the input's name for messages
 *
 * @example
 * ```ts
 * import { canonicalRepositoryPath } from "./repository_path.ts";
 *
 * console.log(canonicalRepositoryPath("/no-such-dir//repo/./sub/../")); // "/no-such-dir/repo"
 * ```
 */
export function canonicalRepositoryPath(path: string, field = "path"): string {
  const text = requireText(path, field, MAX_PATH_BYTES);
  if (!isAbsolute(text)) throw new SessionError("InvalidInput", `${field} must be an absolute path`);
  // `..` is resolved by the file system where the path exists: lexically, `/a/link/..` would be `/a`,
  // but it is the parent of the link's target. So the path is handed to realpath as written, and only
  // the part that does not exist is resolved lexically (there is no link in it to get wrong).
  const missing: string[] = [];
  let current = text;
  for (;;) {
    try {
      return resolve(realpathSync.native(current), ...missing);
    } catch (error) {
      const code = (error as { code?: string }).code;
      const parent = dirname(current);
      if (code === undefined || !MISSING.has(code) || parent === current) {
        throw new SessionError("InvalidInput", `${field} ${text} cannot be resolved (${code ?? String(error)})`, {
          cause: error,
        });
      }
      missing.unshift(basename(current));
      current = parent;
    }
  }
}

/**
 * Whether `path` is a git checkout (it has a `.git` folder, or a `.git` file as a linked worktree
 * or a submodule does). Only the file system is read: no git runs, so no repository code either.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mkdtempSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { isGitCheckout } from "./repository_path.ts";
 *
 * assert.equal(isGitCheckout(mkdtempSync(join(tmpdir(), "not-a-repo-"))), false);
 * ```
 */
export function isGitCheckout(path: string): boolean {
  return existsSync(join(path, ".git"));
}
