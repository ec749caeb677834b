// `deno task bench`: every benchmark, as ratios against a baseline measured in the same run.
import { benchCore } from "./core.bench.ts";
import { report } from "./harness.ts";
import { benchHttp, reportLoad } from "./http.bench.ts";
import { benchSecrets } from "./secrets.bench.ts";
import { benchWorktree } from "./worktree.bench.ts";

const http = await benchHttp();
const comparisons = [...await benchCore(), ...await benchSecrets(), http.comparison, ...await benchWorktree()];
const met = report(comparisons);
reportLoad(http.figures);
if (!met) console.log("some targets were not met");
