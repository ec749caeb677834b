// The published surface: `deno doc --lint` passes on every entry (`.`, `./platform`, `./hono`,
// `./testing`, `./postgres`, `./cli`, `./mcp`) alone and on all together, so each one's documentation is complete and names no private
// type. Deno only: the check is Deno's own tool.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import process from "node:process";
import { isBun } from "../fixtures/helpers.ts";

const root = new URL("../..", import.meta.url).pathname;
const entries = [
  "mod.ts",
  "src/platform/mod.ts",
  "src/http/mod.ts",
  "src/testing/mod.ts",
  "src/postgres/mod.ts",
  "src/cli/mod.ts",
  "src/mcp/mod.ts",
];

test("deno doc --lint passes on each entry alone and on all of them together", { skip: isBun }, () => {
  for (const files of [...entries.map((entry) => [entry]), entries]) {
    const result = spawnSync(process.execPath, ["doc", "--lint", ...files], { cwd: root, encoding: "utf8" });
    assert.equal(result.status, 0, `deno doc --lint ${files.join(" ")}:\n${result.stderr}`);
  }
});
