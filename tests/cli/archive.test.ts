// `slo archive`, `slo restore` and `slo fork` against a real server and real git: short ids, what each prints,
// --json, and a refusal as exit code 4 (conflict).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { git, makeRepository } from "../fixtures/git_fixtures.ts";
import { assertFails, cliWorld, jsonOf } from "../fixtures/cli_fixture.ts";

const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";

test("cli: slo archive puts a session's worktree away with its work, slo restore brings it back", async () => {
  await using world = cliWorld("slo-cli-archive-");
  await world.serve();
  const repositoryPath = join(world.base, "app");
  makeRepository(repositoryPath);
  assert.equal((await world.cli(["repo", "add", repositoryPath])).code, 0);
  const created = await world.cli(["new", "app", "Put away"]);
  assert.equal(created.code, 0, created.stderr);
  const id = new RegExp(`^created session (${UUID})  Put away$`, "m").exec(created.stdout)![1];
  const worktree = /^worktree: (.+)$/m.exec(created.stdout)![1];
  writeFileSync(join(worktree, "draft.md"), "half done\n");
  const short = id.slice(-8);

  // `slo show` prints the worktree's git state.
  const shown = await world.cli(["show", short]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, /^uncommitted work: +yes$/m);
  assert.match(shown.stdout, /^ahead of base: +0$/m);
  assert.match(shown.stdout, /^behind base: +0$/m);
  assert.match(shown.stdout, /^landed: +no$/m);
  assert.match(shown.stdout, /^disk: +\d+(\.\d)? (B|KiB|MiB)$/m);

  const archived = await world.cli(["archive", short]);
  assert.equal(archived.code, 0, archived.stderr);
  assert.match(archived.stdout, new RegExp(`^archived session ${id}  Put away$`, "m"));
  assert.match(archived.stdout, new RegExp(`^removed worktree ${worktree}$`, "m"));
  assert.match(archived.stdout, /^kept branch session\/put-away-[0-9a-f]{8} at [0-9a-f]{12}$/m);
  assert.match(archived.stdout, new RegExp(`^work saved under refs/session-snapshots/${id}$`, "m"));
  assert.match(archived.stdout, new RegExp(`^restore it with "slo restore ${short}"$`, "m"));
  assert.ok(!existsSync(worktree));
  const listed = await world.cli(["list", "--status", "archived"]);
  assert.match(listed.stdout, new RegExp(`^${short}  app +archived  Put away`, "m"));

  assertFails(await world.cli(["archive", short]), 4, /already archived/);
  mkdirSync(worktree);
  assertFails(await world.cli(["restore", short]), 4, /is taken/);
  rmdirSync(worktree);

  const restored = await world.cli(["restore", short]);
  assert.equal(restored.code, 0, restored.stderr);
  assert.match(restored.stdout, new RegExp(`^restored session ${id}  Put away$`, "m"));
  assert.match(restored.stdout, new RegExp(`^worktree ${worktree} on session/put-away-[0-9a-f]{8}$`, "m"));
  assert.equal(readFileSync(join(worktree, "draft.md"), "utf8"), "half done\n");
  assert.equal(git(worktree, "status", "--porcelain"), "?? draft.md");

  // --json answers the API's bodies.
  const again = jsonOf<{ id: string; status: string; snapshotRef: string | null; head: string }>(
    await world.cli(["archive", short, "--json"]),
  );
  assert.equal(again.id, id);
  assert.equal(again.status, "archived");
  assert.equal(again.snapshotRef, `refs/session-snapshots/${id}.2`);
  assert.equal(jsonOf<{ status: string }>(await world.cli(["restore", id, "--json"])).status, "active");
});

test("cli: slo fork makes a new session from another's commit with its work, leaving the source as it is", async () => {
  await using world = cliWorld("slo-cli-fork-");
  await world.serve();
  const repositoryPath = join(world.base, "app");
  makeRepository(repositoryPath);
  assert.equal((await world.cli(["repo", "add", repositoryPath])).code, 0);
  const created = await world.cli(["new", "app", "First try", "--issue", "ISSUE-9"]);
  assert.equal(created.code, 0, created.stderr);
  const id = new RegExp(`^created session (${UUID})  First try$`, "m").exec(created.stdout)![1];
  const worktree = /^worktree: (.+)$/m.exec(created.stdout)![1];
  writeFileSync(join(worktree, "draft.md"), "half done\n");
  const short = id.slice(-8);

  const forked = await world.cli(["fork", short]);
  assert.equal(forked.code, 0, forked.stderr);
  const match = new RegExp(`^created session (${UUID})  First try \\(fork\\)  \\(forked from ${short}\\)$`, "m")
    .exec(forked.stdout);
  assert.ok(match, forked.stdout);
  const copy = /^worktree: (.+)$/m.exec(forked.stdout)![1];
  assert.notEqual(copy, worktree);
  assert.equal(readFileSync(join(copy, "draft.md"), "utf8"), "half done\n");
  assert.equal(git(copy, "status", "--porcelain"), "?? draft.md");
  assert.equal(git(worktree, "status", "--porcelain"), "?? draft.md");

  const named = jsonOf<{ title: string; branchName: string; issueId: string }>(
    await world.cli(["fork", id, "Second", "try", "--branch", "try/second", "--json"]),
  );
  assert.deepEqual([named.title, named.branchName, named.issueId], ["Second try", "try/second", "ISSUE-9"]);
  assertFails(await world.cli(["fork", short, "--branch", "try/second"]), 4, /try\/second/);
  assertFails(await world.cli(["fork", "00000000-0000-4000-8000-000000000000"]), 3, /no session/);
});
