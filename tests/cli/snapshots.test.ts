// `slo snapshots` (list, --prune with --dry-run, --older-than and --session) and
// `slo snapshots restore` against a real server and real git: what each prints, --json, and
// refusals as exit codes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { git, makeRepository, refsUnder } from "../fixtures/git_fixtures.ts";
import { assertFails, cliWorld, jsonOf } from "../fixtures/cli_fixture.ts";

const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";

test("cli: slo snapshots lists a forced delete's work, restore brings it back as a new session, --prune deletes it", async () => {
  await using world = cliWorld("slo-cli-snapshots-");
  await world.serve();
  const repositoryPath = join(world.base, "app");
  makeRepository(repositoryPath);
  assert.equal((await world.cli(["repo", "add", repositoryPath])).code, 0);
  const empty = await world.cli(["snapshots", "app"]);
  assert.equal(empty.code, 0, empty.stderr);
  assert.match(empty.stderr, /app keeps no snapshots/);

  const created = await world.cli(["new", "app", "Doomed"]);
  const id = new RegExp(`^created session (${UUID})  Doomed$`, "m").exec(created.stdout)![1];
  const worktree = /^worktree: (.+)$/m.exec(created.stdout)![1];
  writeFileSync(join(worktree, "draft.md"), "half done\n");
  const removed = await world.cli(["rm", id, "--force"]);
  assert.equal(removed.code, 0, removed.stderr);
  const ref = `refs/session-snapshots/${id}`;

  const listed = await world.cli(["snapshots", "app"]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /^REF +SESSION +STATE +AGE +PATHS +SIZE +WHY$/m);
  assert.match(listed.stdout, new RegExp(`^${id}  ${id.slice(-8)}  deleted +\\d+s +1  10 B  a forced close$`, "m"));
  const json = jsonOf<{ snapshots: { ref: string; sessionExists: boolean }[] }>(
    await world.cli(["snapshots", "app", "--json", "--session", id]),
  );
  assert.deepEqual(json.snapshots.map((s) => [s.ref, s.sessionExists]), [[ref, false]]);

  // Restored by the name the table shows (the part after refs/session-snapshots/), with a title.
  const restored = await world.cli(["snapshots", "restore", "app", id, "Found", "again"]);
  assert.equal(restored.code, 0, restored.stderr);
  assert.match(restored.stdout, new RegExp(`^created session ${UUID}  Found again  \\(from ${ref}\\)$`, "m"));
  const back = /^worktree: (.+)$/m.exec(restored.stdout)![1];
  assert.equal(readFileSync(join(back, "draft.md"), "utf8"), "half done\n");
  assert.equal(git(back, "status", "--porcelain"), "?? draft.md");
  const asJson = jsonOf<{ title: string }>(await world.cli(["snapshots", "restore", "app", ref, "--json"]));
  assert.equal(asJson.title, `Restored ${id}`);

  assertFails(await world.cli(["snapshots", "restore", "app", "refs/heads/main"]), 2, /not a session snapshot/);
  assertFails(
    await world.cli(["snapshots", "restore", "app", crypto.randomUUID()]),
    3,
    /has no snapshot refs\/session-snapshots\//,
  );
  assertFails(await world.cli(["snapshots", "app", "--dry-run"]), 2, /go with --prune/);
  assertFails(await world.cli(["snapshots", "app", "--prune", "--older-than", "soon"]), 2, /olderThan/);
  assertFails(await world.cli(["snapshots", "nope"]), 3, /nope/);

  const dry = await world.cli(["snapshots", "app", "--prune", "--dry-run"]);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /^would delete 1 snapshot \(dry run: nothing was changed\)$/m);
  assert.deepEqual(refsUnder(repositoryPath, "refs/session-snapshots/"), [ref]);
  const young = await world.cli(["snapshots", "app", "--prune", "--older-than", "7d"]);
  assert.match(young.stdout, /^deleted 0 snapshots$/m);
  const pruned = jsonOf<{ dryRun: boolean; pruned: { ref: string }[] }>(
    await world.cli(["snapshots", "app", "--prune", "--session", id, "--json"]),
  );
  assert.deepEqual({ dryRun: pruned.dryRun, refs: pruned.pruned.map((s) => s.ref) }, { dryRun: false, refs: [ref] });
  assert.deepEqual(refsUnder(repositoryPath, "refs/session-snapshots/"), []);
});
