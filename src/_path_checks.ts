/**
 * Paths and worktree folder names as the stores keep them: absolute, in lexical normal form, no
 * `..`, one portable path segment for a worktree's name. Internal.
 *
 * @module
 */

import { invalid, requireName, requireText, utf8ByteLength } from "./_field_checks.ts";
import { MAX_PATH_BYTES, MAX_WORKTREE_NAME_BYTES } from "./limits.ts";

/**
 * An absolute path (POSIX, or a Windows drive path) at most {@linkcode MAX_PATH_BYTES} UTF-8 bytes
 * long, returned in its lexical normal form: duplicate separators, a trailing separator and `.`
 * segments are dropped (and a Windows path gets `\` separators and an upper-case drive letter), so
 * `/tmp//r1/` and `/tmp/./r1` are both `/tmp/r1`. `..` segments are refused rather than resolved:
 * the core never touches the file system, and `/a/link/..` is not `/a` when `link` is a symbolic
 * link (the platform's `canonicalRepositoryPath` resolves such paths against the disk).
 */
export function requireAbsolutePath(value: unknown, field: string): string {
  const text = requireText(value, field, MAX_PATH_BYTES);
  if (utf8ByteLength(text) > MAX_PATH_BYTES) invalid(`${field} must be at most ${MAX_PATH_BYTES} bytes in UTF-8`);
  const path = lexicalNormalPath(text);
  if (path === null) invalid(`${field} must be an absolute path`);
  // A backslash-separated ".." is refused on POSIX too: the same text traverses on Windows.
  if (path.split(/[\\/]/).some((segment) => segment === "..")) {
    invalid(`${field} must not contain ".." segments`);
  }
  return path;
}

// The lexical normal form of an absolute path, or `null` for a relative one. On POSIX only "/"
// separates (a backslash is an ordinary file-name character there); on Windows both do.
function lexicalNormalPath(path: string): string | null {
  if (path.startsWith("/")) {
    return `/${path.split("/").filter((segment) => segment !== "" && segment !== ".").join("/")}`;
  }
  if (/^[A-Za-z]:[\\/]/.test(path)) {
    const segments = path.slice(3).split(/[\\/]/).filter((segment) => segment !== "" && segment !== ".");
    return `${path[0].toUpperCase()}:\\${segments.join("\\")}`;
  }
  return null;
}

/** Like {@linkcode requireAbsolutePath}, but `undefined` and `null` give `null`. */
export function optionalAbsolutePath(value: unknown, field: string): string | null {
  return value === undefined || value === null ? null : requireAbsolutePath(value, field);
}

// Characters Windows refuses in file names; refused everywhere so a session moves between machines.
const UNPORTABLE_FILE_CHARACTERS = /[<>:"/\\|?*]/;

/**
 * One safe path segment for a worktree folder: at most {@linkcode MAX_WORKTREE_NAME_BYTES} UTF-8
 * bytes, in NFC, no separators, no `.`/`..`, no leading `-` or `.`, no control, invisible or
 * Windows-reserved characters, no trailing dot or space. Spaces and non-ASCII letters are fine.
 */
export function requireWorktreeName(
  value: unknown,
  field = "worktreeName",
): string {
  const name = requireName(value, field, MAX_WORKTREE_NAME_BYTES);
  if (name !== name.trim()) {
    invalid(`${field} must not start or end with whitespace`);
  }
  if (UNPORTABLE_FILE_CHARACTERS.test(name)) {
    invalid(`${field} must be one path segment without <>:"/\\|?*`);
  }
  if (name.startsWith("-")) invalid(`${field} must not start with "-"`);
  if (name.startsWith(".")) invalid(`${field} must not start with "."`);
  if (name.endsWith(".")) invalid(`${field} must not end with "."`);
  return name;
}
