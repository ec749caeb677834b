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
 * `stream` is a terminal and the work takes longer than `delayMs`. A `label` function is asked at
 * each frame, so the line can follow the work's phases. Resolves or rejects as `work` does, the
 * line erased first.
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
  label: string | (() => string),
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
    const text = typeof label === "function" ? label() : label;
    stream.write(`${CLEAR_LINE}${FRAMES[frame++ % FRAMES.length]} ${text}${seconds > 0 ? ` (${seconds}s)` : ""}`);
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

/** A `session.progress` event's fields, as the event stream gives them. */
export interface CreateProgress {
  /** The phase: `plan`, `add`, `checkout`, `include`, `row` or `setup`. */
  phase: string;
  /** How much of the phase is done, when known. */
  done?: number;
  /** How much the phase has in all, when known. */
  total?: number;
}

const PHASES: Record<string, string> = {
  plan: "planning",
  add: "adding the worktree",
  checkout: "checking out files",
  include: "copying included files",
  row: "recording the session",
  setup: "starting the setup",
};

/**
 * A create's phase for a progress line: its words, and its counts when it has them.
 *
 * @example
 * ```ts
 * import { describeProgress } from "./progress.ts";
 *
 * console.log(describeProgress({ phase: "checkout", done: 450, total: 1000 })); // checking out files 450/1000 (45%)
 * ```
 */
export function describeProgress(progress: CreateProgress): string {
  const words = PHASES[progress.phase] ?? progress.phase;
  const { done, total } = progress;
  if (progress.phase !== "checkout" || typeof done !== "number" || typeof total !== "number" || total <= 0) {
    return words;
  }
  return `${words} ${done}/${total} (${Math.floor((done * 100) / total)}%)`;
}
