/**
 * A progress line for work that takes longer than a moment (opening a worktree in a big
 * repository, a reconcile): a spinner on stderr, shown only when stderr is a terminal and only
 * once the work has taken longer than a short delay, and erased when it ends. Output that goes to
 * a file or a pipe never gets one.
 * Internal: the published surface is `./mod.ts` (the "./cli" export).
 *
 * @module
 */

/** Where the line is drawn; `process.stderr` fits. */
export interface ProgressStream {
  /** Only a terminal gets a progress line. */
  isTTY?: boolean;
  /** Writes text as it is. */
  write(text: string): unknown;
}

/** Options of {@linkcode withProgress}. */
export interface ProgressOptions {
  /** How long the work may take before the line shows, in ms; 250 by default. */
  delayMs?: number;
  /** Time between frames, in ms; 80 by default. */
  intervalMs?: number;
}

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/** Erases the current line and puts the cursor at its start. */
const CLEAR_LINE = "\r\x1b[2K";

/**
 * Runs `work`, with a spinner and `label` (and the seconds elapsed) on `stream` while it runs, if
 * `stream` is a terminal and the work takes longer than `delayMs`. Resolves or rejects as `work`
 * does, the line erased first.
 *
 * @example
 * ```ts
 * import process from "node:process";
 * import { withProgress } from "./progress.ts";
 *
 * const value = await withProgress(process.stderr, "counting", () => Promise.resolve(42));
 * console.log(value); // 42 (a resolved promise is too quick for a line)
 * ```
 */
export async function withProgress<T>(
  stream: ProgressStream,
  label: string,
  work: () => Promise<T>,
  options: ProgressOptions = {},
): Promise<T> {
  if (stream.isTTY !== true) return await work();
  const started = Date.now();
  let frame = 0;
  let shown = false;
  let interval: ReturnType<typeof setInterval> | undefined;
  const draw = () => {
    const seconds = Math.floor((Date.now() - started) / 1000);
    stream.write(`${CLEAR_LINE}${FRAMES[frame++ % FRAMES.length]} ${label}${seconds > 0 ? ` (${seconds}s)` : ""}`);
    shown = true;
  };
  const delay = setTimeout(() => {
    draw();
    interval = setInterval(draw, options.intervalMs ?? 80);
  }, options.delayMs ?? 250);
  try {
    return await work();
  } finally {
    clearTimeout(delay);
    clearInterval(interval);
    if (shown) stream.write(CLEAR_LINE);
  }
}
