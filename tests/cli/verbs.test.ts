// `slo rename`, `slo update` and `slo path`, and the PATH column of `slo list`, against one real
// server and real git for the whole file: what each prints, --json, and each refusal's exit code.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, realpathSync } from "node:fs";
import { join } from "node:path";
import type { Session } from "../../src/types.ts";
import { makeRepository } from "../fixtures/git_fixtures.ts";
import { assertFails, cliWorld, jsonOf } from "../fixtures/cli_fixture.ts";

const world = cliWorld("slo-cli-verbs-");
after(() => world.close());

// The server, a git repository, a worktree session and a plain one, made once for every test here.
const ready = (async () => {
  await world.serve();
  const repositoryPath = join(world.base, "app");
  makeRepository(repositoryPath);
  assert.equal((await world.cli(["repo", "add", repositoryPath])).code, 0);
  const worktree = jsonOf<Session>(await world.cli(["new", "app", "Add dark mode", "--json"]));
  const plain = jsonOf<Session>(await world.cli(["new", "app", "Plain notes", "--no-worktree", "--json"]));
  return { worktree, plain };
})();

// A full id no session has.
const UNKNOWN = "00000000-0000-7000-8000-000000000000";

test("cli: slo rename gives a session a new title; slo update changes its title or status", async () => {
  const { worktree } = await ready;
  const short = worktree.id.slice(-8);

  // Words after <id> make the title.
  const renamed = await world.cli(["rename", short, "Dark", "mode", "everywhere"]);
  assert.equal(renamed.code, 0, renamed.stderr);
  assert.equal(renamed.stdout, `renamed session ${worktree.id}  Dark mode everywhere\n`);
  const json = jsonOf<Session>(await world.cli(["rename", worktree.id, "Dark mode", "--json"]));
  assert.equal(json.id, worktree.id);
  assert.equal(json.title, "Dark mode");
  // The branch and folder stay what they were.
  assert.equal(json.branchName, worktree.branchName);
  assert.equal(json.worktreePath, worktree.worktreePath);

  const updated = await world.cli(["update", short, "--status", "paused", "--title", "Dark mode, later"]);
  assert.equal(updated.code, 0, updated.stderr);
  assert.equal(updated.stdout, `updated session ${worktree.id}  Dark mode, later\nstatus: paused\n`);
  const shown = jsonOf<Session>(await world.cli(["show", short, "--json"]));
  assert.equal(shown.title, "Dark mode, later");
  assert.equal(shown.status, "paused");
  // One field is enough; the other stays.
  const back = jsonOf<Session>(await world.cli(["update", short, "--status", "active", "--json"]));
  assert.equal(back.status, "active");
  assert.equal(back.title, "Dark mode, later");
  assert.equal(
    jsonOf<Session>(await world.cli(["update", short, "--title", "Add dark mode", "--json"])).title,
    "Add dark mode",
  );
});

test("cli: rename and update refuse an unknown id (3), no field, a bad status or an empty title (2)", async () => {
  const { worktree } = await ready;
  const before = jsonOf<Session>(await world.cli(["show", worktree.id, "--json"]));

  assertFails(await world.cli(["rename", UNKNOWN, "Nobody"]), 3, new RegExp(`no session with id ${UNKNOWN}`));
  assertFails(
    await world.cli(["rename", "ffffffffffff", "Nobody"]),
    3,
    /no session id starts or ends with ffffffffffff/,
  );
  assertFails(
    await world.cli(["update", UNKNOWN, "--status", "paused"]),
    3,
    new RegExp(`no session with id ${UNKNOWN}`),
  );
  const none = await world.cli(["update", worktree.id]);
  assertFails(none, 2, /^error: update needs a field to change: --title or --status$/m);
  assert.match(none.stderr, /^hint: see "slo update --help"$/m);
  assertFails(await world.cli(["update", worktree.id, "--status", "sleeping"]), 2, /status/);
  // archived is archive's alone.
  assertFails(await world.cli(["update", worktree.id, "--status", "archived"]), 2, /archiv/);
  assertFails(await world.cli(["rename", worktree.id, ""]), 2, /title must not be empty/);
  assertFails(await world.cli(["rename", worktree.id]), 2, /^error: rename takes <id> <title>; got /);

  // Nothing was written.
  const after = jsonOf<Session>(await world.cli(["show", worktree.id, "--json"]));
  assert.equal(after.title, before.title);
  assert.equal(after.status, before.status);
  assert.equal(after.updatedAt, before.updatedAt);
});

test("cli: slo path prints only the worktree folder; a plain session is exit 2, an archived one 4, an unknown id 3", async () => {
  const { worktree, plain } = await ready;
  const short = worktree.id.slice(-8);

  const printed = await world.cli(["path", short]);
  assert.equal(printed.code, 0, printed.stderr);
  assert.equal(printed.stdout, `${worktree.worktreePath}\n`);
  assert.ok(existsSync(printed.stdout.trimEnd()));
  assert.equal(printed.stderr, "");
  // The start of an id works too, and through `deno task --quiet cli` (as the README's `cd "$(…)"` runs it)
  // stdout is still only the folder.
  const viaTask = await world.cli(["path", worktree.id.slice(0, 13)], { via: "task" });
  assert.equal(viaTask.code, 0, viaTask.stderr);
  assert.equal(viaTask.stdout, `${worktree.worktreePath}\n`);
  assert.equal(realpathSync(viaTask.stdout.trimEnd()), realpathSync(worktree.worktreePath!));
  assert.deepEqual(jsonOf(await world.cli(["path", short, "--json"])), {
    id: worktree.id,
    worktreePath: worktree.worktreePath,
  });

  assertFails(
    await world.cli(["path", plain.id.slice(-8)]),
    2,
    new RegExp(`^error: session ${plain.id} has no worktree$`, "m"),
  );
  assertFails(await world.cli(["path", UNKNOWN]), 3, new RegExp(`no session with id ${UNKNOWN}`));

  assert.equal((await world.cli(["archive", short])).code, 0);
  try {
    const archived = await world.cli(["path", short]);
    assertFails(
      archived,
      4,
      new RegExp(`^error: session ${worktree.id} is archived: its worktree folder is gone$`, "m"),
    );
    assert.match(archived.stderr, new RegExp(`^hint: bring it back with "slo restore ${short}"$`, "m"));
  } finally {
    assert.equal((await world.cli(["restore", short])).code, 0);
  }
});

test("cli: slo list shows each session's worktree folder in a PATH column (- for none); --json is unchanged", async () => {
  const { worktree, plain } = await ready;
  // Into a pipe a table is not cut, so the whole path shows.
  const listed = await world.cli(["list"]);
  assert.equal(listed.code, 0, listed.stderr);
  const lines = listed.stdout.trimEnd().split("\n");
  assert.match(lines[0], /^ID {8}REPOSITORY {2}STATUS {2}TITLE +BRANCH +AGE {2}PATH$/);
  const row = (id: string) => lines.find((line) => line.startsWith(id.slice(-8)))!;
  assert.ok(row(worktree.id).endsWith(`  ${worktree.worktreePath}`), row(worktree.id));
  assert.match(row(plain.id), /\d+s {2}-$/);
  const sessions = jsonOf<Session[]>(await world.cli(["list", "--json"]));
  assert.deepEqual(sessions.map((s) => s.id).sort(), [worktree.id, plain.id].sort());
  assert.ok(sessions.every((s) => !("path" in s)));
});
