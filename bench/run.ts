// `deno task bench`: every benchmark, as ratios against a baseline measured in the same run, under Deno
// and then under Bun (a child `bun bench/run.ts`), one table per runtime.
//   deno task bench                       both runtimes
//   bun bench/run.ts                      Bun only (as does `deno run -A bench/run.ts --this-runtime`)
//   ... --only=core,secrets,http,worktree,worktree-open,worktree-pool,paging   some sections only
//   ... --check                           exit 1 when a row (of either runtime) misses its target
import { spawnSync } from "node:child_process";
import process from "node:process";
import { benchCore } from "./core.bench.ts";
import { exitCode } from "./check.ts";
import { type Comparison, report } from "./harness.ts";
import { benchHttp, type LoadFigures, reportLoad } from "./http.bench.ts";
import { benchPaging } from "./paging.bench.ts";
import { benchSecrets } from "./secrets.bench.ts";
import { benchWorktree, benchWorktreeOpenClose, benchWorktreePool } from "./worktree.bench.ts";

const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";
const args = process.argv.slice(2);
const only = args.find((arg) => arg.startsWith("--only="))?.slice("--only=".length).split(",");
const thisRuntimeOnly = isBun || args.includes("--this-runtime");
const check = args.includes("--check");
const wanted = (section: string) => only === undefined || only.includes(section);

const comparisons: Comparison[] = [];
let figures: LoadFigures[] = [];
const notes: string[] = [];
const started = performance.now();
const timed = async (section: string, run: () => Promise<void>) => {
  if (!wanted(section)) return;
  const start = performance.now();
  await run();
  notes.push(`${section}: ${((performance.now() - start) / 1000).toFixed(0)} s`);
};

await timed("core", async () => {
  comparisons.push(...await benchCore(0), ...await benchCore(100_000));
});
await timed("secrets", async () => {
  comparisons.push(...await benchSecrets());
});
await timed("http", async () => {
  const http = await benchHttp();
  comparisons.push(...http.comparisons);
  figures = http.figures;
  notes.push(...http.notes);
});
await timed("worktree", async () => {
  comparisons.push(...await benchWorktree(0), ...await benchWorktree(100_000));
});
await timed("worktree-open", async () => {
  comparisons.push(...await benchWorktreeOpenClose());
});
await timed("worktree-pool", async () => {
  comparisons.push(...await benchWorktreePool());
});
await timed("paging", async () => {
  comparisons.push(...await benchPaging(1_000_000, (line) => notes.push(line)));
});

const met = report(comparisons, { check });
if (figures.length > 0) reportLoad(figures);
console.log(`${notes.join("; ")}; total ${((performance.now() - started) / 1000).toFixed(0)} s`);
if (!met) console.log("some targets were not met");

// Bun runs even when a Deno row missed, so that `--check` reports both runtimes before it fails.
let childStatus: number | null | undefined;
if (!thisRuntimeOnly) {
  console.log("");
  const bun = spawnSync("bun", ["--version"], { stdio: "ignore" }).status === 0 ? ["bun"] : ["npx", "-y", "bun"];
  const child = spawnSync(bun[0], [...bun.slice(1), new URL("./run.ts", import.meta.url).pathname, ...args], {
    stdio: "inherit",
    cwd: new URL("..", import.meta.url).pathname,
  });
  childStatus = child.status;
}
const code = exitCode({ check, met, childStatus });
if (code !== 0) process.exit(code);
