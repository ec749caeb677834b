// Issue 24: the server's periodic gc (`"gc": { "every": …, "idle": … }` in the operator's config
// file), on a real server process with real git: a landed, clean session goes by itself, unmerged
// work stays, each run is one log line, and a bad `gc` stops the server at start.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { commitFile, git, makeRepository } from "../fixtures/git_fixtures.ts";
import { tempDir } from "../fixtures/helpers.ts";
import { servedProcess } from "../fixtures/disposable.ts";
import { apiCaller, serveUntilExit } from "../fixtures/server_process.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test("a periodic gc deletes a landed, clean session by itself and keeps unmerged work", async () => {
  using dir = tempDir("slo-periodic-gc-");
  const repo = join(dir.path, "app");
  makeRepository(repo);
  const config = join(dir.path, "config.json");
  writeFileSync(config, JSON.stringify({ gc: { every: "1s" } }));
  const data = join(dir.path, "data");
  await using server = servedProcess(["--port", "0", "--data-dir", data, "--config", config], {}, "terminate");
  const url = await server.url;
  assert.match(server.output(), /gc every 1 s/);
  const call = apiCaller(url, data);
  const repository = (await call("POST", "/v1/repositories", { path: repo, name: "app" })).body;
  const create = (title: string) =>
    call("POST", "/v1/sessions", { repositoryId: repository.id, title, isWorktree: true }).then((r) => r.body);
  const landed = await create("Landed");
  const unmerged = await create("Unmerged");
  commitFile(landed.worktreePath, "feature.txt", "done\n");
  commitFile(unmerged.worktreePath, "wip.txt", "not yet\n");
  // The landed branch is merged into main in the checkout; the other is not.
  git(repo, "merge", "-q", "--ff-only", landed.branchName);

  let gone = false;
  for (let attempt = 0; attempt < 150 && !gone; attempt++) {
    gone = (await call("GET", `/v1/sessions/${landed.id}`)).status === 404;
    if (!gone) await sleep(100);
  }
  assert.ok(gone, `the landed session was not cleaned up:\n${server.output()}`);
  await server.waitFor(new RegExp(`periodic gc: delete 1 \\(${landed.id} delete: `));
  assert.equal(existsSync(landed.worktreePath), false, "its worktree went with it");
  // The next runs keep the unmerged session, whatever they find.
  await server.waitFor(/periodic gc: nothing to clean up \(1 session\(s\) kept\)/);
  assert.equal((await call("GET", `/v1/sessions/${unmerged.id}`)).status, 200);
  assert.equal(readFileSync(join(unmerged.worktreePath, "wip.txt"), "utf8"), "not yet\n");
});

test("a bad gc in the config stops the server at start", async () => {
  using dir = tempDir("slo-periodic-gc-bad-");
  const cases: Array<[unknown, RegExp]> = [
    [{ gc: { every: "500ms" } }, /gc\.every must be at least 1s/],
    [{ gc: { idle: "7d" } }, /gc\.every must be a whole number and a unit/],
    [{ gc: { every: "1h", idle: "soon" } }, /gc\.idle must be a whole number and a unit/],
    [{ gc: { every: "1h", dryRun: true } }, /gc has an unknown key "dryRun"/],
    [{ gc: "1h" }, /"gc" must be an object/],
  ];
  for (const [content, expected] of cases) {
    const config = join(dir.path, "config.json");
    writeFileSync(config, JSON.stringify(content));
    const run = await serveUntilExit(["--port", "0", "--data-dir", join(dir.path, "data"), "--config", config]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, expected);
    assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
  }
});
