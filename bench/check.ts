// Deciding from given figures whether each benchmark row met its target, and what `--check` prints and
// exits with. Pure: no timing, no runtime API (tests/project/bench_check.test.ts runs it in Deno and Bun).
// Every row carries its target as a ratio (`target` of each comparison, set in the bench file that makes
// the row: `CREATE_TARGET` in core.bench.ts, `SCENARIOS` in http.bench.ts, …).

/** The figures of one row, as a benchmark measured them. */
export interface RowFigures {
  name: string;
  baselineNsPerOp: number;
  subjectNsPerOp: number;
  /** baseline time / subject time: 1 means no overhead, 0.5 means the subject takes twice as long. */
  ratio: number;
  /** The lowest ratio that meets the row's target. */
  target: number;
}

/** One row judged against its target. */
export interface RowVerdict extends RowFigures {
  met: boolean;
  /** The ratio as printed: two decimals, three where two would round a miss up to the target. */
  ratioText: string;
}

/** Whether `ratio` meets `target`: at or above it. A ratio that is not a finite number never does. */
export function meetsTarget(ratio: number, target: number): boolean {
  return Number.isFinite(ratio) && Number.isFinite(target) && ratio >= target;
}

/** The ratio with two decimals, or three where two would show a miss as reaching its target. */
export function formatRatio(ratio: number, target: number): string {
  const two = ratio.toFixed(2);
  return !meetsTarget(ratio, target) && Number(two) >= target ? ratio.toFixed(3) : two;
}

/** Each row judged against its own target, and whether all met theirs (true for no rows). */
export function judge(rows: readonly RowFigures[]): { met: boolean; rows: RowVerdict[] } {
  const verdicts = rows.map((row) => ({
    ...row,
    met: meetsTarget(row.ratio, row.target),
    ratioText: formatRatio(row.ratio, row.target),
  }));
  return { met: verdicts.every((row) => row.met), rows: verdicts };
}

/** The markdown table of judged rows, each with its target beside its ratio. */
export function tableLines(verdicts: readonly RowVerdict[]): string[] {
  return [
    "| benchmark | baseline ns/op | subject ns/op | ratio | target | met |",
    "| --- | ---: | ---: | ---: | ---: | --- |",
    ...verdicts.map((row) =>
      `| ${row.name} | ${row.baselineNsPerOp.toFixed(0)} | ${
        row.subjectNsPerOp.toFixed(0)
      } | ${row.ratioText} | ≥ ${row.target} | ${row.met ? "yes" : "NO"} |`
    ),
  ];
}

/** What `--check` prints: one line per row, its ratio beside its target, then a summary line. */
export function checkLines(verdicts: readonly RowVerdict[]): string[] {
  const misses = verdicts.filter((row) => !row.met).length;
  return [
    ...verdicts.map((row) =>
      `${row.met ? "ok  " : "MISS"} ${row.ratioText} ${row.met ? "≥" : "<"} target ${row.target}  ${row.name}`
    ),
    misses === 0
      ? `check: all ${verdicts.length} rows met their targets`
      : `check: ${misses} of ${verdicts.length} rows missed their targets`,
  ];
}

/**
 * The exit code of a bench run: with `check`, 1 when a row of this runtime missed its target or the
 * other runtime's run (`childStatus`, when there was one) failed; without `check`, only the child's
 * failure counts (a missed target is reported, not an error).
 */
export function exitCode(options: { check: boolean; met: boolean; childStatus?: number | null }): number {
  const { check, met, childStatus } = options;
  if (childStatus !== undefined && childStatus !== 0) return childStatus ?? 1;
  return check && !met ? 1 : 0;
}
