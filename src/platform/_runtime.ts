/**
 * Internal: which runtime this is, the one answer every part of the platform uses.
 *
 * @module
 */

/** True under Bun (whose own APIs, `bun:sqlite` and `Bun.serve`, are then used). */
export const isBun: boolean = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";
