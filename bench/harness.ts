// A tiny ratio harness: runs a baseline and a subject in alternating rounds in one process and
// reports the median time per operation of each, so machine noise hits both alike.
import { sqliteDriverName } from "../src/platform/sqlite.ts";
import { checkLines, judge, type RowFigures, tableLines } from "./check.ts";

/** One operation; called `count` times per round. May return a promise. */
export type Operation = (index: number) => unknown;

/** What a comparison measured: a row's figures and its target (bench/check.ts). */
export type Comparison = RowFigures;

async function timeRound(operation: Operation, count: number, offset: number): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < count; i++) {
    const result = operation(offset + i);
    if (result instanceof Promise) await result;
  }
  return ((performance.now() - start) * 1e6) / count;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Compares `subject` against `baseline`, `rounds` rounds of `count` operations each, after a warm-up round. */
export async function compare(
  name: string,
  options: { baseline: Operation; subject: Operation; count: number; rounds: number; target: number },
): Promise<Comparison> {
  const { baseline, subject, count, rounds, target } = options;
  let offset = 0;
  await timeRound(baseline, count, offset);
  offset += count;
  await timeRound(subject, count, offset);
  offset += count;
  const baselineTimes: number[] = [];
  const subjectTimes: number[] = [];
  for (let round = 0; round < rounds; round++) {
    baselineTimes.push(await timeRound(baseline, count, offset));
    offset += count;
    subjectTimes.push(await timeRound(subject, count, offset));
    offset += count;
  }
  const baselineNsPerOp = median(baselineTimes);
  const subjectNsPerOp = median(subjectTimes);
  return { name, baselineNsPerOp, subjectNsPerOp, ratio: baselineNsPerOp / subjectNsPerOp, target };
}

/**
 * Prints comparisons as a table (each row's target beside its ratio), and with `check` one verdict line
 * per row; returns whether each met its target (decided by `judge`, bench/check.ts).
 */
export function report(comparisons: Comparison[], options: { check?: boolean } = {}): boolean {
  const runtime = typeof (globalThis as { Bun?: { version: string } }).Bun !== "undefined"
    ? `bun ${(globalThis as unknown as { Bun: { version: string } }).Bun.version}`
    : `deno ${(globalThis as unknown as { Deno: { version: { deno: string } } }).Deno.version.deno}`;
  console.log(`runtime: ${runtime}, SQLite driver: ${sqliteDriverName()}`);
  const { met, rows } = judge(comparisons);
  for (const line of tableLines(rows)) console.log(line);
  if (options.check) { for (const line of checkLines(rows)) console.log(line); }
  return met;
}
