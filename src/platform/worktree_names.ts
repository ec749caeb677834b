/**
 * Default worktree and branch names: readable, unique per session, and valid for both the file
 * system and git, within their byte limits.
 *
 * @module
 */

import { MAX_BRANCH_COMPONENT_BYTES, MAX_BRANCH_NAME_BYTES } from "../limits.ts";
import { utf8ByteLength } from "../_field_checks.ts";

/** Longest slug taken from a title, in characters, so paths and branch names stay short. */
const MAX_SLUG_LENGTH = 48;
/**
 * Longest slug in UTF-8 bytes: with the `-` and 8 characters of the session id the default name
 * stays far below the 255 bytes of a path segment, whatever the title's script.
 */
const MAX_SLUG_BYTES = 128;

// Characters nobody sees (format and default-ignorable code points such as Hangul fillers and
// variation selectors, plus controls and lone surrogates): a name must never carry one, so they
// become separators like any other non-letter.
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Default_Ignorable_Code_Point}]+/gu;

const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });

// The longest prefix of `text` with at most `maxCharacters` characters and `maxBytes` UTF-8 bytes,
// cut between user-perceived characters: never inside a surrogate pair (which would leave a code unit
// with no UTF-8 form) nor between a letter and its accents, so an NFC text stays NFC.
function cut(text: string, maxBytes: number, maxCharacters = Infinity): string {
  let bytes = 0;
  let characters = 0;
  let end = 0;
  for (const { segment, index } of graphemes.segment(text)) {
    bytes += utf8ByteLength(segment);
    characters += 1;
    if (bytes > maxBytes || characters > maxCharacters) break;
    end = index + segment.length;
  }
  return text.slice(0, end);
}

/**
 * The default worktree folder name of a session: a slug of its title (letters of any script,
 * digits, `.`, `_`, `-`; everything else becomes `-`; at most 48 characters and 128 UTF-8 bytes,
 * cut between characters) plus the last 8 characters of the session id (its random end), so two
 * sessions with one title never collide; the session id alone when the title has no usable character.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultWorktreeName } from "./worktree_names.ts";
 *
 * assert.equal(defaultWorktreeName("Add dark mode!", "1b4e28ba-2fa1-11d2-883f-0016d3cca427"), "add-dark-mode-d3cca427");
 * ```
 */
export function defaultWorktreeName(title: string, sessionId: string): string {
  // Lower-casing can decompose ("İ" becomes "i" + U+0307), so NFC comes after it.
  const slug = cut(
    title.toLowerCase().normalize("NFC")
      .replace(INVISIBLE, "-")
      .replace(/[^\p{L}\p{N}._-]+/gu, "-")
      .replace(/\.{2,}/g, ".")
      .replace(/-{2,}/g, "-")
      .replace(/^[-.]+/, ""),
    MAX_SLUG_BYTES,
    MAX_SLUG_LENGTH,
  ).replace(/[-.]+$/, "");
  // The id's end, not its start: ids are time-ordered (UUID v7), so sessions made within a minute
  // share their first characters, while the last ones are random.
  return slug === "" ? sessionId : `${slug}-${sessionId.slice(-8)}`;
}

/**
 * The default branch of a worktree: `prefix` plus the worktree name made valid for git
 * (whitespace, invisible characters and `~^:?*[\` become `-`, `..` and `@{` are broken up, a
 * trailing `.lock` or `.` is changed), cut between characters so the branch stays within
 * {@linkcode MAX_BRANCH_NAME_BYTES} bytes and its last component within
 * {@linkcode MAX_BRANCH_COMPONENT_BYTES}. Git allows non-ASCII letters, so they are kept. For a
 * valid prefix and any valid worktree name the result is a valid branch name, so a worktree name
 * that is accepted is never refused later as a branch.
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
  const sanitize = (text: string) => {
    let part = text.replace(/\.+$/, "");
    if (part.endsWith(".lock")) part = `${part.slice(0, -".lock".length)}-lock`;
    return part.replace(/\.+$/, "");
  };
  let part = sanitize(
    worktreeName.normalize("NFC")
      .replace(INVISIBLE, "-")
      // deno-lint-ignore no-control-regex
      .replace(/[\s~^:?*[\\\u0000-\u001f\u007f]+/g, "-")
      .replace(/\.{2,}/g, ".")
      .replace(/@\{/g, "@-")
      .replace(/\//g, "-")
      .replace(/-{2,}/g, "-")
      .replace(/^\.+/, ""),
  );
  // The part ends the branch's last component, which starts after the prefix's last "/".
  const lastComponent = prefix.slice(prefix.lastIndexOf("/") + 1);
  const budget = Math.min(
    MAX_BRANCH_NAME_BYTES - utf8ByteLength(prefix),
    MAX_BRANCH_COMPONENT_BYTES - utf8ByteLength(lastComponent),
  );
  if (utf8ByteLength(part) > budget) part = sanitize(cut(part, Math.max(budget, 0)));
  // Without a prefix these alone would be git's own names, or read as an option.
  if (prefix === "") part = part.replace(/^-+/, "");
  if (prefix === "" && (part === "HEAD" || part === "@")) part = `${part}-worktree`;
  return `${prefix}${part === "" ? "worktree" : part}`;
}
