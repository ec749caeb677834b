// Issue 22, setup commands: the operator's commands (its config file, never the repository's) run in
// each new worktree after the create answered, on a real server process with the real CLI and real
// git. Their state and output's tail are on the session (`slo show`), `slo new --wait` waits for them,
// a failure keeps the session and `slo setup <id>` runs them again; the server's secrets stay out of
// their environment; a stop, a delete and a kill of the server each leave the setup `interrupted`,
// never run again by itself.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Session } from "../../mod.ts";
import { APP_DIR_NAME } from "../../src/platform/data_dir.ts";
import { type CliWorld, cliWorld, jsonOf } from "../fixtures/cli_fixture.ts";
import { deferred } from "../fixtures/helpers.ts";
import { makeRepository } from "../fixtures/git_fixtures.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// A world whose default config file (under XDG_CONFIG_HOME) gives each named repository its settings.
function configure(world: CliWorld, repositories: Record<string, Record<string, unknown>>): Record<string, string> {
  const configHome = join(world.base, "config");
  mkdirSync(join(configHome, APP_DIR_NAME), { recursive: true });
  const byPath = Object.fromEntries(
    Object.entries(repositories).map(([name, settings]) => [repo(world, name), settings]),
  );
  writeFileSync(join(configHome, APP_DIR_NAME, "config.json"), JSON.stringify({ repositories: byPath }));
  for (const name of Object.keys(repositories)) makeRepository(repo(world, name));
  return { XDG_CONFIG_HOME: configHome };
}

const repo = (world: CliWorld, name: string) => join(world.base, name);

async function show(world: CliWorld, id: string): Promise<Session> {
  return jsonOf<Session>(await world.cli(["show", id, "--json"]));
}

// Reads the session until `done` holds (the setup runs in the server's background).
async function until(world: CliWorld, id: string, done: (session: Session) => boolean): Promise<Session> {
  for (let attempt = 0; attempt < 400; attempt++) {
    const session = await show(world, id);
    if (done(session)) return session;
    await sleep(100);
  }
  throw new Error(`session ${id} never reached the expected setup state`);
}

// Whether a process whose command line holds `marker` runs.
function running(marker: string): boolean {
  try {
    execFileSync("pgrep", ["-f", marker], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

test("setup runs the operator's commands with the session's facts, and its failure keeps the session", async () => {
  await using world = cliWorld("slo-setup-");
  const env = configure(world, {
    good: {
      ports: 2,
      setup: [
        [
          "sh",
          "-c",
          'echo "id=$SLO_SESSION_ID branch=$SLO_BRANCH path=$SLO_WORKTREE_PATH port=$SLO_PORT ports=$SLO_PORTS ' +
          'secret=${SESSION_LIFECYCLE_TEST_SECRET:-none}" > setup.out; echo configured',
        ],
        ["sh", "-c", "echo second >&2"],
      ],
    },
    bad: { setup: [["sh", "-c", "echo broken >&2; exit 3"], ["sh", "-c", "touch never-reached"]] },
    missing: { setup: [["no-such-command-slo-test"]] },
  });
  // A secret of the server's own that its setup commands must not see.
  await world.serve({ env: { ...env, SESSION_LIFECYCLE_TEST_SECRET: "hunter2" } });
  for (const name of ["good", "bad", "missing"]) {
    assert.equal((await world.cli(["repo", "add", repo(world, name)])).code, 0);
  }

  const made = await world.cli(["new", "good", "With", "setup", "--wait"]);
  assert.equal(made.code, 0, made.stderr);
  assert.match(made.stdout, /configured/);
  assert.match(made.stdout, /second/);
  assert.match(made.stdout, /setup: succeeded \(2 command\(s\)\)/);
  const [good] = jsonOf<Session[]>(await world.cli(["list", "--repo", "good", "--json"]));
  assert.equal(good.setup?.state, "succeeded");
  assert.equal(good.setup?.exitCode, null);
  const facts = readFileSync(join(good.worktreePath!, "setup.out"), "utf8").trim();
  assert.equal(
    facts,
    `id=${good.id} branch=${good.branchName} path=${good.worktreePath} port=${good.ports[0]} ` +
      `ports=${good.ports.join(" ")} secret=none`,
  );
  // A restore makes a new folder: the setup runs in it again.
  assert.equal((await world.cli(["archive", good.id])).code, 0);
  assert.equal((await world.cli(["restore", good.id])).code, 0);
  const rerun = await until(
    world,
    good.id,
    (s) => s.setup?.state === "succeeded" && s.setup.startedAt > good.setup!.startedAt,
  );
  assert.match(rerun.setup!.logTail, /configured/);
  const shown = await world.cli(["show", good.id]);
  assert.match(shown.stdout, /setup:\s+succeeded \(2 command\(s\)\)/);
  assert.match(shown.stdout, /setup output:\s+configured \| second/);

  const failed = await world.cli(["new", "bad", "Broken", "--wait"]);
  assert.equal(failed.code, 1, failed.stderr);
  assert.match(failed.stdout, /broken/);
  assert.match(failed.stderr, /setup failed: command 1 of 2 \(sh -c .*\): exit code 3/);
  assert.match(failed.stderr, /slo setup /);
  const [bad] = jsonOf<Session[]>(await world.cli(["list", "--repo", "bad", "--json"]));
  assert.equal(bad.setup?.state, "failed");
  assert.equal(bad.setup?.exitCode, 3);
  assert.equal(bad.setup?.current, 0);
  assert.match(bad.setup!.logTail, /broken/);
  // The session stays, and the second command never ran.
  assert.equal(readFileSync(join(bad.worktreePath!, "README.md"), "utf8"), "hello\n");
  assert.throws(() => readFileSync(join(bad.worktreePath!, "never-reached")));
  // Run again: it fails the same way, and says so.
  const again = await world.cli(["setup", bad.id, "--wait"]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /exit code 3/);

  const notFound = await world.cli(["new", "missing", "No", "command", "--wait"]);
  assert.equal(notFound.code, 1);
  assert.match(notFound.stderr, /could not start no-such-command-slo-test: not found/);

  // A session of a repository the config gives no setup: `slo setup` is refused.
  mkdirSync(repo(world, "plain"));
  makeRepository(repo(world, "plain"));
  await world.cli(["repo", "add", repo(world, "plain")]);
  const plain = jsonOf<Session>(await world.cli(["new", "plain", "Plain", "--json"]));
  assert.equal(plain.setup, null);
  const refused = await world.cli(["setup", plain.id]);
  assert.equal(refused.code, 2);
  assert.match(refused.stderr, /no setup commands/);
});

function pkill(marker: string): void {
  try {
    execFileSync("pkill", ["-f", marker], { stdio: "ignore" });
  } catch {
    // None left.
  }
}

test("a setup killed with its server is stopped and reported interrupted at the next start, and not run again", async () => {
  await using world = cliWorld("slo-setup-kill-");
  const marker = `sleep ${20 + Math.floor(Math.random() * 10)}.${process.pid}${Date.now() % 1000}`;
  // Ended before the world closes, should the test stop while the setup's command runs.
  using _setup = deferred(() => pkill(marker));
  const runs = join(world.base, "runs.log");
  const env = configure(world, {
    slow: { setup: [["sh", "-c", `echo started; echo ran >> ${runs}; exec ${marker}`]] },
  });
  const server = await world.serve({ env });
  await world.cli(["repo", "add", repo(world, "slow")]);
  const session = jsonOf<Session>(await world.cli(["new", "slow", "Slow", "--json"]));
  assert.equal(session.setup?.state, "running");
  await until(world, session.id, (s) => /started/.test(s.setup?.logTail ?? ""));
  server.child.kill("SIGKILL");
  await server.closed;
  // A killed server cannot stop what it started: the command runs on in its worktree.
  assert.equal(running(marker), true);

  // The next start ends it (before its reconcile records the setup interrupted), and says so.
  const next = await world.serve({ env });
  await next.waitFor(/setup left running by a killed server: stopped process group \d+ \(session [0-9a-f-]+: sh -c/);
  assert.equal(running(marker), false);
  await next.waitFor(/setup-interrupted/);
  const after = await show(world, session.id);
  assert.equal(after.setup?.state, "interrupted");
  assert.match(after.setup!.reason!, /its server stopped while it ran/);
  assert.equal(readFileSync(runs, "utf8"), "ran\n", "the setup ran once, and was not started again");
  assert.equal(running(marker), false);
});

test("a stop of the server and a delete of the session each stop a running setup, recorded as interrupted", async () => {
  await using world = cliWorld("slo-setup-stop-");
  const marker = `sleep ${30 + Math.floor(Math.random() * 10)}.${process.pid}${Date.now() % 1000}`;
  using _setup = deferred(() => pkill(marker));
  const env = configure(world, { slow: { setup: [["sh", "-c", `echo started; ${marker}; echo after`]] } });
  const server = await world.serve({ env });
  await world.cli(["repo", "add", repo(world, "slow")]);
  const first = jsonOf<Session>(await world.cli(["new", "slow", "First", "--json"]));
  await until(world, first.id, (s) => /started/.test(s.setup?.logTail ?? ""));
  // A second run while one runs is a conflict.
  const twice = await world.cli(["setup", first.id]);
  assert.equal(twice.code, 4, twice.stderr);
  assert.match(twice.stderr, /already running/);

  // A delete stops it first (its process group goes), then deletes the session.
  const removed = await world.cli(["rm", first.id, "--force"]);
  assert.equal(removed.code, 0, removed.stderr);
  assert.equal(running(marker), false, "the deleted session's setup was stopped");

  const second = jsonOf<Session>(await world.cli(["new", "slow", "Second", "--json"]));
  await until(world, second.id, (s) => /started/.test(s.setup?.logTail ?? ""));
  server.signal("SIGTERM");
  const exit = await server.closed;
  assert.equal(exit.code, 0, server.output());
  assert.equal(running(marker), false, "the stop ended the setup's processes");
  await world.serve({ env });
  const after = await show(world, second.id);
  assert.equal(after.setup?.state, "interrupted");
  assert.match(after.setup!.reason!, /the server stopped while it ran/);
  assert.doesNotMatch(after.setup!.logTail, /after/);
});
