/**
 * Internal: whether a process exists, the one answer every part of the platform uses.
 *
 * @module
 */

import process from "node:process";

/**
 * Whether a process with this id exists on this machine. Signal 0 only checks; only ESRCH proves
 * the process is gone, so one of another user (EPERM) counts as existing, and so does any other
 * failure: a caller that deletes what a gone process left must never take a live one for gone.
 *
 * @example
 * ```ts
 * import process from "node:process";
 * import { processExists } from "./_process.ts";
 *
 * console.log(processExists(process.pid)); // true
 * ```
 */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== "ESRCH";
  }
}
