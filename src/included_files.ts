/**
 * What a new worktree got of the main checkout's ignored files (see `RepositorySettings.include`
 * and `.worktreeinclude`), as the session records it.
 *
 * @module
 */

import { invalid } from "./_field_checks.ts";

/**
 * What a new worktree got of the main checkout's ignored, untracked files (`.env`, local config):
 * those its `.worktreeinclude` or the operator's `include` patterns name. The lists keep at most
 * {@linkcode MAX_INCLUDED_LIST} items each; the counts are whole.
 */
export interface IncludedFiles {
  /** What was named and copied, relative to the checkout; a folder copied whole ends in `/`. */
  entries: string[];
  /** Files copied. */
  files: number;
  /** Symbolic links copied as links (never their targets). */
  links: number;
  /** Bytes shared copy-on-write with the checkout, as the file system proved it cloned them. */
  bytesCloned: number;
  /** Bytes written as copies (including any the runtime could not prove it cloned). */
  bytesCopied: number;
  /** What was not copied, and why (already in the worktree, a link in the way, not a file). */
  skipped: Array<{ path: string; reason: string }>;
}

/** The most entries, and skipped paths, a session records of its included files. */
export const MAX_INCLUDED_LIST = 200;

/**
 * Checks an {@linkcode IncludedFiles} before a store writes it, and cuts its lists to
 * {@linkcode MAX_INCLUDED_LIST}; `InvalidInput` names the problem.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkIncludedFiles } from "./included_files.ts";
 *
 * const included = { entries: [".env"], files: 1, links: 0, bytesCloned: 0, bytesCopied: 9, skipped: [] };
 * assert.deepEqual(checkIncludedFiles(included), included);
 * assert.throws(() => checkIncludedFiles({ ...included, files: -1 }), /files/);
 * ```
 */
export function checkIncludedFiles(value: unknown): IncludedFiles {
  if (value === null || typeof value !== "object" || Array.isArray(value)) invalid("included must be an object");
  const record = value as Record<string, unknown>;
  const known = ["entries", "files", "links", "bytesCloned", "bytesCopied", "skipped"];
  for (const key of Object.keys(record)) if (!known.includes(key)) invalid(`included has an unknown field ${key}`);
  const count = (field: string) => {
    const number = record[field];
    if (typeof number !== "number" || !Number.isSafeInteger(number) || number < 0) {
      invalid(`included.${field} must be a whole number from 0`);
    }
    return number;
  };
  const entries = record.entries;
  if (!Array.isArray(entries) || entries.some((entry) => typeof entry !== "string")) {
    invalid("included.entries must be an array of paths");
  }
  const skipped = record.skipped;
  if (
    !Array.isArray(skipped) ||
    skipped.some((item) =>
      item === null || typeof item !== "object" || typeof item.path !== "string" || typeof item.reason !== "string"
    )
  ) {
    invalid("included.skipped must be an array of { path, reason }");
  }
  return {
    entries: (entries as string[]).slice(0, MAX_INCLUDED_LIST),
    files: count("files"),
    links: count("links"),
    bytesCloned: count("bytesCloned"),
    bytesCopied: count("bytesCopied"),
    skipped: (skipped as Array<{ path: string; reason: string }>).slice(0, MAX_INCLUDED_LIST)
      .map(({ path, reason }) => ({ path, reason })),
  };
}
