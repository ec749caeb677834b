/**
 * The limits of what a store accepts: lengths of text, paths and names (in the units the file system
 * and git count), the sealed secret's sizes and the ports a session may hold.
 *
 * `mod.ts` exports the ones a caller checks against before asking.
 *
 * @module
 */

/** Longest accepted session title, in UTF-16 code units. */
export const MAX_TITLE_LENGTH = 500;
/** Longest accepted short text field (names, ids), in UTF-16 code units. */
export const MAX_NAME_LENGTH = 255;
/** Longest accepted URL, in UTF-16 code units; paths are limited in bytes by {@linkcode MAX_PATH_BYTES}. */
export const MAX_PATH_LENGTH = 4096;
/**
 * Longest accepted absolute path, in UTF-8 bytes: file systems count bytes, and `PATH_MAX` is
 * 4096 on Linux.
 */
export const MAX_PATH_BYTES = 4096;
/**
 * Longest accepted worktree name, in UTF-8 bytes: it becomes one path segment, and most file
 * systems allow 255 bytes per segment (so 200 × "é" is too long although it is 200 characters).
 */
export const MAX_WORKTREE_NAME_BYTES = 255;
/**
 * Longest accepted branch name, in UTF-8 bytes. Git keeps loose refs as files under
 * `.git/refs/heads/`, so the name ends up in paths; 255 bytes keeps it portable and readable.
 */
export const MAX_BRANCH_NAME_BYTES = 255;
/**
 * Longest component (between `/`) of a branch name, in UTF-8 bytes: git writes `<component>.lock`
 * next to a loose ref while updating it, and that file name must still fit in 255 bytes.
 */
export const MAX_BRANCH_COMPONENT_BYTES = 250;
/** Nonce length of AES-GCM, the only sealing the chain uses. */
export const NONCE_LENGTH = 12;
/** Largest accepted encrypted secret. */
export const MAX_ENCRYPTED_SECRET_LENGTH = 1024;

/** Longest accepted host id (see `Session.hostId`). */
export const MAX_HOST_ID_LENGTH = 128;

/** The most ports one session may hold. */
export const MAX_SESSION_PORTS = 16;
