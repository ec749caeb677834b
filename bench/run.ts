// `deno task bench`: every benchmark, as ratios against a baseline measured in the same run.
import { benchCore } from "./core.bench.ts";
import { report } from "./harness.ts";
import { benchWorktree } from "./worktree.bench.ts";

const comparisons = [...await benchCore(), ...await benchWorktree()];
const met = report(comparisons);
if (!met) console.log("some targets were not met");
