/**
 * Default worktree and branch names: readable, unique per session, and valid for both the file
 * system and git.
 *
 * @module
 */

/** Longest slug taken from a title, so paths and branch names stay short. */
const MAX_SLUG_LENGTH = 48;

/**
 * The default worktree folder name of a session: a slug of its title (letters of any script,
 * digits, `.`, `_`, `-`; everything else becomes `-`) plus the first 8 characters of the session
 * id, so two sessions with one title never collide; the session id alone when the title has no
 * usable character.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultWorktreeName } from "./worktree_names.ts";
 *
 * assert.equal(defaultWorktreeName("Add dark mode!", "1b4e28ba-2fa1-11d2-883f-0016d3cca427"), "add-dark-mode-1b4e28ba");
 * ```
 */
export function defaultWorktreeName(title: string, sessionId: string): string {
  const slug = title.normalize("NFC").toLowerCase()
    .replace(/[^\p{L}\p{N}._-]+/gu, "-")
    .replace(/\.{2,}/g, ".")
    .replace(/-{2,}/g, "-")
    .replace(/^[-.]+/, "")
    .slice(0, MAX_SLUG_LENGTH)
    .replace(/[-.]+$/, "");
  return slug === "" ? sessionId : `${slug}-${sessionId.slice(0, 8)}`;
}

/**
 * The default branch of a worktree: `prefix` plus the worktree name made valid for git
 * (whitespace and `~^:?*[\` become `-`, `..` and `@{` are broken up, a trailing `.lock` or `.`
 * is changed). Git allows non-ASCII letters, so they are kept.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { branchForWorktreeName } from "./worktree_names.ts";
 *
 * assert.equal(branchForWorktreeName("session/", "Résumé tweaks"), "session/Résumé-tweaks");
 * ```
 */
export function branchForWorktreeName(prefix: string, worktreeName: string): string {
  let part = worktreeName.normalize("NFC")
    // deno-lint-ignore no-control-regex
    .replace(/[\s~^:?*[\\\u0000-\u001f\u007f]+/g, "-")
    .replace(/\.{2,}/g, ".")
    .replace(/@\{/g, "@-")
    .replace(/\//g, "-")
    .replace(/-{2,}/g, "-")
    .replace(/^\.+/, "");
  if (part.endsWith(".lock")) part = `${part.slice(0, -".lock".length)}-lock`;
  part = part.replace(/\.+$/, "");
  return `${prefix}${part === "" ? "worktree" : part}`;
}
