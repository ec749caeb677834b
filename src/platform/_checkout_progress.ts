/**
 * Reads git's checkout progress (`Updating files:  45% (450/1000)`, written with `--progress`) from
 * its error output as it comes, pieces cut anywhere.
 * Internal: the published surface is `./mod.ts` (the "./platform" export).
 *
 * @module
 */

const LINE = /Updating files:\s+\d+% \((\d+)\/(\d+)\)/;

/**
 * A reader of git's checkout progress: `push` each piece of its error output; `report` is told
 * each new count (files done of the total), in order, never the same count twice.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CheckoutProgressReader } from "./_checkout_progress.ts";
 *
 * const seen: string[] = [];
 * const reader = new CheckoutProgressReader((done, total) => seen.push(`${done}/${total}`));
 * reader.push("Updating files:  50% (1/");
 * reader.push("2)\rUpdating files: 100% (2/2)\rUpdating files: 100% (2/2), done.\n");
 * assert.deepEqual(seen, ["1/2", "2/2"]);
 * ```
 */
export class CheckoutProgressReader {
  readonly #report: (done: number, total: number) => void;
  #rest = "";
  #last = -1;

  /** @param report told each new count */
  constructor(report: (done: number, total: number) => void) {
    this.#report = report;
  }

  /** Takes the next piece of git's error output. */
  push(text: string): void {
    const lines = (this.#rest + text).split(/[\r\n]/);
    // The last piece may be a line cut short: kept for the next push (bounded, for output with no ends).
    this.#rest = lines.pop()!.slice(-200);
    for (const line of lines) {
      const match = LINE.exec(line);
      if (match === null) continue;
      const done = Number(match[1]);
      if (done === this.#last) continue;
      this.#last = done;
      this.#report(done, Number(match[2]));
    }
  }
}
