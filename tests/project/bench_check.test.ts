// `deno task bench --check` decides from the figures of each row whether it met its target
// (bench/check.ts): given figures only, no timing here.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  checkLines,
  exitCode,
  formatRatio,
  judge,
  meetsTarget,
  type RowFigures,
  tableLines,
} from "../../bench/check.ts";

const row = (name: string, ratio: number, target: number): RowFigures => ({
  name,
  baselineNsPerOp: 1000 * ratio,
  subjectNsPerOp: 1000,
  ratio,
  target,
});

test("a ratio meets its target at or above it, never below, and never when it is not a number", () => {
  assert.equal(meetsTarget(0.8, 0.8), true);
  assert.equal(meetsTarget(1.3, 0.8), true);
  assert.equal(meetsTarget(0.7999, 0.8), false);
  assert.equal(meetsTarget(Number.NaN, 0.5), false);
  assert.equal(meetsTarget(Number.POSITIVE_INFINITY, 0.5), false);
  assert.equal(meetsTarget(0.9, Number.NaN), false);
});

test("a miss is never printed as reaching its target: three decimals where two would round it up", () => {
  assert.equal(formatRatio(0.497, 0.5), "0.497");
  assert.equal(formatRatio(0.4951, 0.5), "0.495");
  assert.equal(formatRatio(0.85, 0.5), "0.85");
  assert.equal(formatRatio(0.49, 0.5), "0.49");
  assert.equal(formatRatio(0.5, 0.5), "0.50");
});

test("each row is judged against its own target, and one miss fails the whole", () => {
  const judged = judge([row("a", 0.93, 0.92), row("b", 0.5, 0.8), row("c", 0.51, 0.5)]);
  assert.deepEqual(judged.rows.map((r) => r.met), [true, false, true]);
  assert.equal(judged.met, false);
  assert.equal(judge([row("a", 0.93, 0.92), row("c", 0.51, 0.5)]).met, true);
  assert.equal(judge([]).met, true);
});

test("the table and the check lines print each row's target beside its ratio", () => {
  const { rows } = judge([row("create", 0.93, 0.92), row("http", 0.53, 0.8)]);
  const table = tableLines(rows);
  assert.equal(table[2], "| create | 930 | 1000 | 0.93 | ≥ 0.92 | yes |");
  assert.equal(table[3], "| http | 530 | 1000 | 0.53 | ≥ 0.8 | NO |");
  assert.deepEqual(checkLines(rows), [
    "ok   0.93 ≥ target 0.92  create",
    "MISS 0.53 < target 0.8  http",
    "check: 1 of 2 rows missed their targets",
  ]);
  assert.equal(checkLines(judge([row("create", 0.93, 0.92)]).rows).at(-1), "check: all 1 rows met their targets");
});

test("--check exits 1 on a miss; without it a miss is reported, not an error; a failed child always counts", () => {
  assert.equal(exitCode({ check: true, met: false }), 1);
  assert.equal(exitCode({ check: true, met: true }), 0);
  assert.equal(exitCode({ check: false, met: false }), 0);
  // The Bun child (`bun bench/run.ts`) runs after Deno's rows: its failure fails the run either way.
  assert.equal(exitCode({ check: true, met: true, childStatus: 1 }), 1);
  assert.equal(exitCode({ check: false, met: true, childStatus: 2 }), 2);
  assert.equal(exitCode({ check: true, met: true, childStatus: null }), 1);
  assert.equal(exitCode({ check: true, met: false, childStatus: 0 }), 1);
  assert.equal(exitCode({ check: true, met: true, childStatus: 0 }), 0);
});
