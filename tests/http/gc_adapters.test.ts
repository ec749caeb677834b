// `POST /v1/gc` (the app over a memory store) and `slo gc` (a real server), with real git: the report as JSON and as a
// table, a dry run, and a bad idle duration as 400 / exit 2. The rules are the orchestrator's
// (tests/platform/worktree/gc.test.ts); these pin how the adapters carry them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { commitFile, git, makeRepository } from "../fixtures/git_fixtures.ts";
import { gitRouteApp } from "../fixtures/http_fixture.ts";
import { assertFails, cliWorld } from "../fixtures/cli_fixture.ts";

test("http+git: POST /v1/gc reports per session, dryRun changes nothing, a bad idle is 400", async () => {
  await using t = await gitRouteApp("slo-http-gc-");
  const { repositoryPath } = t;
  const repository = { body: t.repository };
  const created = await t.callJson("/v1/sessions", {
    method: "POST",
    json: { repositoryId: repository.body.id, title: "Done", isWorktree: true },
  });
  const session = created.body;
  commitFile(session.worktreePath, "done.txt");
  git(repositoryPath, "merge", "-q", "--no-ff", "-m", "merge", session.branchName);

  const dry = await t.callJson("/v1/gc?dryRun=true", { method: "POST" });
  assert.equal(dry.status, 200, JSON.stringify(dry.body));
  assert.equal(dry.body.dryRun, true);
  assert.deepEqual(dry.body.findings.map((x: { action: string; done: boolean }) => [x.action, x.done]), [
    ["delete", false],
  ]);
  assert.ok(existsSync(session.worktreePath));

  const bad = await t.callJson("/v1/gc?idle=soon", { method: "POST" });
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.kind, "InvalidInput");
  assert.match(bad.body.error.message, /idle must be a whole number and a unit/);

  const done = await t.callJson("/v1/gc?idle=7d", { method: "POST" });
  assert.equal(done.status, 200, JSON.stringify(done.body));
  assert.deepEqual(done.body.findings[0].action, "delete");
  assert.equal(done.body.findings[0].done, true);
  assert.ok(done.body.reclaimedBytes > 0);
  assert.equal(existsSync(session.worktreePath), false);
  assert.equal((await t.callJson(`/v1/sessions/${session.id}`)).status, 404);
});

test("cli: slo gc prints what it would do, then does it; a bad --idle is exit 2", async () => {
  await using world = cliWorld("slo-cli-gc-");
  await world.serve();
  const repositoryPath = join(world.base, "app");
  makeRepository(repositoryPath);
  assert.equal((await world.cli(["repo", "add", repositoryPath])).code, 0);
  const created = await world.cli(["new", "app", "Ship it"]);
  assert.equal(created.code, 0, created.stderr);
  const worktree = /^worktree: (.+)$/m.exec(created.stdout)![1];
  const branch = git(worktree, "rev-parse", "--abbrev-ref", "HEAD");
  commitFile(worktree, "shipped.txt");
  git(repositoryPath, "merge", "-q", "--no-ff", "-m", "merge", branch);

  const dry = await world.cli(["gc", "--dry-run"]);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /^SESSION +ACTION +LANDED +DISK +TITLE +WHY$/m);
  assert.match(dry.stdout, /^\S+ +delete +merged +.+ Ship it +its work is merged into its base/m);
  assert.match(dry.stdout, /^would free .+ \(dry run: nothing was changed\)$/m);
  assert.ok(existsSync(worktree));

  assertFails(await world.cli(["gc", "--idle", "a while"]), 2, /idle must be a whole number and a unit/);

  const done = await world.cli(["gc"]);
  assert.equal(done.code, 0, done.stderr);
  assert.match(done.stdout, /^freed /m);
  assert.equal(existsSync(worktree), false);
});
