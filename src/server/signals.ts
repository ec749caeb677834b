/**
 * The signals that stop the server, and what a second one does. Ctrl-C in a terminal reaches every
 * process of the foreground group, and `deno task` forwards it once more, so the server commonly
 * gets SIGINT twice. A handler registered with `once` leaves the second one to the default action,
 * which kills the process before the database is closed; here every signal after the first is
 * reported and otherwise ignored, so the one shutdown under way finishes.
 * Internal: not in the package's exports.
 *
 * @module
 */

import process from "node:process";

/** The signals that stop the server. */
export const STOP_SIGNALS: readonly ["SIGINT", "SIGTERM"] = ["SIGINT", "SIGTERM"];

/** One of {@linkcode STOP_SIGNALS}. */
export type StopSignal = typeof STOP_SIGNALS[number];

/**
 * Calls `onFirst` on the first SIGINT or SIGTERM, and `onRepeat` on each one after it, for as long
 * as the process lives (the handlers stay installed, so no later signal gets the default action).
 * Returns a function that removes the handlers.
 */
export function handleStopSignals(
  onFirst: (signal: StopSignal) => void,
  onRepeat: (signal: StopSignal) => void,
): () => void {
  let received = false;
  const installed = STOP_SIGNALS.map((signal) => {
    const listener = () => {
      if (received) return onRepeat(signal);
      received = true;
      onFirst(signal);
    };
    process.on(signal, listener);
    return () => process.off(signal, listener);
  });
  return () => installed.forEach((remove) => remove());
}
