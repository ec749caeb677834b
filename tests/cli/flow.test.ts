// The command line against a real server, as people use it: the server started with
// `deno task serve` and the CLI run with no flag (it finds the server through server.json);
// create → list → show → rm in tables and in JSON, short ids, repositories by id, name or path,
// the event stream, a server on a Unix domain socket, and --help on every command.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { COMMANDS } from "../../src/cli/args.ts";
import type { Repository, Session } from "../../src/types.ts";
import { deferred } from "../fixtures/helpers.ts";
import { git, makeRepository } from "../fixtures/git_fixtures.ts";
import { runtimeArgv } from "../fixtures/helpers.ts";
import { spawn } from "node:child_process";
import process from "node:process";
import { assertFails, assertNoProgress, cliEntry, cliWorld, jsonOf } from "../fixtures/cli_fixture.ts";
import { SessionOrchestrator } from "../../src/orchestrator.ts";
import { openSqliteStore } from "../../src/platform/mod.ts";
import { DATABASE_FILE_NAME } from "../../src/server/serve.ts";

const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";

test("cli: with the server from `deno task serve`, `deno task cli list` needs no flag; create → list → rm in tables", async () => {
  await using world = cliWorld("slo-cli-table-");
  await world.serve({ via: "task" });
  const empty = await world.cli(["list"], { via: "task" });
  assert.equal(empty.code, 0, empty.stderr);
  assert.equal(empty.stdout, "");
  assert.match(empty.stderr, /^no sessions$/m);

  const repositoryPath = join(world.base, "app");
  makeRepository(repositoryPath);
  const added = await world.cli(["repo", "add", repositoryPath]);
  assert.equal(added.code, 0, added.stderr);
  assert.match(added.stdout, new RegExp(`^added repository app \\(${UUID}\\) at ${repositoryPath}$`, "m"));

  const created = await world.cli(["new", "app", "Add dark mode"]);
  assert.equal(created.code, 0, created.stderr);
  const id = new RegExp(`^created session (${UUID})  Add dark mode$`, "m").exec(created.stdout)?.[1];
  assert.ok(id, created.stdout);
  const worktree = /^worktree: (.+)$/m.exec(created.stdout)![1];
  assert.ok(existsSync(join(worktree, "README.md")));
  assert.match(created.stdout, /^branch: {3}session\/add-dark-mode-[0-9a-f]{8} \(from main\)$/m);
  assertNoProgress(created);

  // Words after <repo> make the title; --no-worktree makes a plain session.
  const plain = await world.cli(["new", "app", "Fix", "the", "bug", "--no-worktree"]);
  assert.equal(plain.code, 0, plain.stderr);
  const plainId = new RegExp(`^created session (${UUID})  Fix the bug$`, "m").exec(plain.stdout)![1];

  const listed = await world.cli(["list"]);
  assert.equal(listed.code, 0, listed.stderr);
  const lines = listed.stdout.trimEnd().split("\n");
  assert.match(lines[0], /^ID {8}REPOSITORY {2}STATUS {2}TITLE +BRANCH +AGE {2}PATH$/);
  assert.equal(lines.length, 3);
  assert.match(
    lines[1],
    new RegExp(`^${id.slice(-8)}  app +active  Add dark mode  session/add-dark-mode-\\S+ +\\d+s  ${worktree}$`),
  );
  assert.match(lines[2], new RegExp(`^${plainId.slice(-8)}  app +active  Fix the bug +- +\\d+s  -$`));
  for (const line of lines) assert.equal(line, line.trimEnd());

  const repositories = await world.cli(["repo", "list"]);
  assert.equal(repositories.code, 0, repositories.stderr);
  assert.match(repositories.stdout, /^ID {8}NAME {2}PATH +GIT {2}SESSIONS {2}AGE$/m);
  assert.match(repositories.stdout, new RegExp(`  app +${repositoryPath}  yes +2 +\\d+s$`, "m"));

  // The short id a table shows is accepted back.
  const shown = await world.cli(["show", id.slice(-8)]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, new RegExp(`^id: +${id}$`, "m"));
  assert.match(shown.stdout, /^title: +Add dark mode$/m);
  assert.match(shown.stdout, new RegExp(`^repository path: +${repositoryPath}$`, "m"));
  assert.match(shown.stdout, new RegExp(`^worktree: +${worktree}$`, "m"));
  // The machine the worktree is on, as the server records it.
  const hostId = jsonOf<{ hostId: string | null }>(await world.cli(["show", id, "--json"])).hostId;
  assert.match(shown.stdout, new RegExp(`^host id: +${hostId ?? "-"}$`, "m"));

  const removed = await world.cli(["rm", id.slice(-8), "--delete-branch"]);
  assert.equal(removed.code, 0, removed.stderr);
  assert.match(removed.stdout, new RegExp(`^deleted session ${id}  Add dark mode$`, "m"));
  assert.match(removed.stdout, new RegExp(`^removed worktree ${worktree}$`, "m"));
  assert.match(removed.stdout, /^deleted branch session\/add-dark-mode-[0-9a-f]{8}$/m);
  assert.equal(existsSync(worktree), false);
  assert.doesNotMatch(git(repositoryPath, "branch", "--list"), /session\//);
  assertNoProgress(removed);

  const after = await world.cli(["list"]);
  assert.equal(after.stdout.trimEnd().split("\n").length, 2);
  assert.match(after.stdout, /Fix the bug/);
  assert.equal((await world.cli(["rm", plainId])).code, 0);
  const rmRepository = await world.cli(["repo", "rm", "app"]);
  assert.equal(rmRepository.code, 0, rmRepository.stderr);
  assert.match(rmRepository.stdout, new RegExp(`^removed repository app \\(${UUID}\\)$`, "m"));
  const none = await world.cli(["repo", "list"]);
  assert.equal(none.stdout, "");
  assert.match(none.stderr, /no repositories/);
});

test("cli: the same flow in JSON, for scripts", async () => {
  await using world = cliWorld("slo-cli-json-");
  await world.serve();
  const repositoryPath = join(world.base, "svc");
  makeRepository(repositoryPath);
  const repository = jsonOf<Repository>(
    await world.cli(["repo", "add", repositoryPath, "--name", "service", "--json"]),
  );
  assert.equal(repository.name, "service");
  assert.equal(repository.path, repositoryPath);
  assert.equal(repository.isGitRepository, true);
  assert.deepEqual(jsonOf<Repository[]>(await world.cli(["repo", "list", "--json"])), [repository]);

  const session = jsonOf<Session>(
    await world.cli([
      "--json",
      "new",
      repository.id.slice(-6),
      "JSON please",
      "--worktree",
      "json-wt",
      "--branch",
      "feature/json",
      "--agent",
      "claude",
      "--issue",
      "15",
    ]),
  );
  assert.equal(session.title, "JSON please");
  assert.equal(session.worktreeName, "json-wt");
  assert.equal(session.branchName, "feature/json");
  assert.equal(session.agentName, "claude");
  assert.equal(session.issueId, "15");
  assert.equal(session.worktreePath, join(world.dataDir, "worktrees", repository.id, "json-wt"));

  const listed = jsonOf<Session[]>(await world.cli(["list", "--json"]));
  assert.deepEqual(listed.map((s) => s.id), [session.id]);
  assert.deepEqual(jsonOf<Session[]>(await world.cli(["list", "--json", "--status", "paused"])), []);
  assert.deepEqual(
    jsonOf<Session[]>(await world.cli(["list", "--json", "--status", "active", "--repo", "service"])).length,
    1,
  );
  assert.deepEqual(jsonOf<Session>(await world.cli(["show", session.id, "--json"])), listed[0]);

  const deleted = jsonOf<Session & { worktreeRemoved: boolean; branchDeleted: boolean }>(
    await world.cli(["rm", session.id.slice(-10), "--json", "--delete-branch"]),
  );
  assert.equal(deleted.id, session.id);
  assert.equal(deleted.worktreeRemoved, true);
  assert.equal(deleted.branchDeleted, true);
  assert.deepEqual(jsonOf(await world.cli(["list", "--json"])), []);
  assert.deepEqual(jsonOf(await world.cli(["reconcile", "--json", "--dry-run"])), { dryRun: true, findings: [] });
  const reconciled = await world.cli(["reconcile"]);
  assert.equal(reconciled.code, 0, reconciled.stderr);
  assert.equal(reconciled.stdout, "nothing to repair\n");
  assert.equal(jsonOf<Repository>(await world.cli(["repo", "rm", repositoryPath, "--json"])).id, repository.id);
});

test("cli: unique short ids (an id's end or start) are accepted, an ambiguous one is invalid input naming the candidates", async () => {
  await using world = cliWorld("slo-cli-prefix-");
  await world.serve();
  const folder = join(world.base, "plain");
  makeRepository(folder);
  jsonOf(await world.cli(["repo", "add", folder, "--json"]));
  // Sessions until two share their last hex digit (at most 17 are needed).
  const ids: string[] = [];
  let clash: [string, string] | null = null;
  while (clash === null) {
    const session = jsonOf<Session>(await world.cli(["new", "plain", `s${ids.length}`, "--no-worktree", "--json"]));
    const twin = ids.find((id) => id.at(-1) === session.id.at(-1));
    if (twin !== undefined) clash = [twin, session.id];
    ids.push(session.id);
  }
  const [a, b] = clash;
  // A short id names every id that ends or starts with it.
  const named = (short: string) => ids.filter((id) => id.endsWith(short) || id.startsWith(short));
  const last = a.at(-1)!;
  const ambiguous = await world.cli(["show", last]);
  assertFails(ambiguous, 2, new RegExp(`"${last}" is ambiguous: it matches ${named(last).length} sessions:`));
  assert.match(ambiguous.stderr, new RegExp(`^  ${a}  s\\d+$`, "m"));
  assert.match(ambiguous.stderr, new RegExp(`^  ${b}  s\\d+$`, "m"));
  assert.match(ambiguous.stderr, /^hint: type more of the id$/m);

  // The shortest end that names one session works, upper case too; so does a unique start.
  const shortest = (id: string) => {
    let length = 1;
    while (named(id.slice(-length)).length > 1) length++;
    return id.slice(-length);
  };
  assert.equal(jsonOf<Session>(await world.cli(["show", shortest(a).toUpperCase(), "--json"])).id, a);
  assert.equal(jsonOf<Session>(await world.cli(["show", a.slice(0, 30), "--json"])).id, a);
  assertFails(await world.cli(["show", "not-hex"]), 2, /"not-hex" is not a session id or the start or end of one/);

  // A repository by short id, id start, name, absolute path, or path relative to the current folder.
  const repository = jsonOf<Repository[]>(await world.cli(["repo", "list", "--json"]))[0];
  for (const ref of [repository.id.slice(-5), repository.id.slice(0, 20), "plain", folder, "./plain"]) {
    const run = await world.cli(["list", "--repo", ref, "--json"], { cwd: dirname(folder) });
    assert.equal(jsonOf<Session[]>(run).length, ids.length, ref);
  }
  const removed = jsonOf<Session>(await world.cli(["rm", shortest(b), "--json"]));
  assert.equal(removed.id, b);
});

test("cli: events follows the stream (as JSON lines, and as text) over a Unix domain socket found by discovery, and resumes across a server restart", async () => {
  await using world = cliWorld("slo-cli-events-");
  const socket = join(world.base, "api.sock");
  // A socket server: no port; the discovery file names the socket.
  let server = await world.serve({ socket });
  const follow = (json: boolean) => {
    const command = runtimeArgv(cliEntry, ["events", ...(json ? ["--json"] : [])]);
    const child = spawn(command[0], command.slice(1), {
      env: { ...process.env, ...world.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    const waiters = new Set<() => void>();
    const look = () => waiters.forEach((check) => check());
    child.stdout.on("data", (chunk) => (stdout += chunk, look()));
    child.stderr.on("data", (chunk) => (stderr += chunk, look()));
    const closed = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
    // Resolves once `check` holds of the output; rejects if the command ends first.
    const until = (check: () => boolean, what: string) =>
      new Promise<void>((resolve, reject) => {
        const test = () => check() && (waiters.delete(test), resolve());
        waiters.add(test);
        test();
        closed.then((code) =>
          waiters.delete(test) && reject(new Error(`events ended (${code}) before ${what}: ${stderr}`))
        );
      });
    const lines = () => stdout.trim() === "" ? [] : stdout.trim().split("\n");
    return { child, until, closed, lines, out: () => stdout, err: () => stderr };
  };
  const followers = [follow(true), follow(false)];
  // Before the world closes: the followers, then the server the world would stop with a SIGTERM first.
  using _killed = deferred(() => {
    for (const f of followers) if (f.child.exitCode === null) f.child.kill("SIGKILL");
    if (server.child.exitCode === null) server.child.kill("SIGKILL");
  });
  await Promise.all(followers.map((f) => f.until(() => /following events at/.test(f.err()), "it was ready")));
  const folder = join(world.base, "evts");
  makeRepository(folder);
  const repository = jsonOf<Repository>(await world.cli(["repo", "add", folder, "--json"]));
  const session = jsonOf<Session>(await world.cli(["new", "evts", "Watched", "--no-worktree", "--json"]));
  assert.equal(jsonOf<Session[]>(await world.cli(["list", "--json"])).length, 1);
  jsonOf(await world.cli(["rm", session.id, "--json"]));
  await Promise.all(followers.map((f) => f.until(() => f.lines().length === 3, "3 events")));

  // The server stops: the command says so and waits for it to come back, instead of exiting.
  server.signal("SIGTERM");
  await server.closed;
  await Promise.all(followers.map((f) => f.until(() => /reconnecting/.test(f.err()), "it said it reconnects")));
  assert.equal(followers[0].child.exitCode, null);
  // A change made while no server runs (another process writes the file), then the server is back.
  const store = openSqliteStore(join(world.dataDir, DATABASE_FILE_NAME), { eventLog: true });
  const missed = await new SessionOrchestrator({ store }).createRepository({
    path: join(world.base, "m"),
    name: "m",
  });
  store.close();
  server = await world.serve({ socket });
  await Promise.all(
    followers.map((f) =>
      f.until(() => /reconnected to http\+unix:\/\/\S+; resuming after event 3/.test(f.err()), "it reconnected")
    ),
  );
  const liveFolder = join(world.base, "live");
  makeRepository(liveFolder);
  const live = jsonOf<Repository>(await world.cli(["repo", "add", liveFolder, "--json"]));
  await Promise.all(followers.map((f) => f.until(() => f.lines().length === 5, "5 events")));

  const [json, text] = followers;
  const events = json.lines().map((line) => JSON.parse(line));
  assert.deepEqual(events.map((e) => e.type), [
    "repository.created",
    "session.created",
    "session.deleted",
    "repository.created",
    "repository.created",
  ]);
  assert.equal(events[0].repository.id, repository.id);
  assert.equal(events[1].session.id, session.id);
  // Exactly the missed one, then the live one: nothing lost, nothing twice.
  assert.equal(events[3].repository.id, missed.id);
  assert.equal(events[4].repository.id, live.id);
  assert.match(json.err(), /following events at http\+unix:\/\//);
  assert.match(json.err(), /the event stream was ended by the server; reconnecting/);
  assert.match(
    text.out(),
    new RegExp(`^\\d\\d:\\d\\d:\\d\\d  session\\.created  ${session.id.slice(-8)}  Watched  \\[active\\]$`, "m"),
  );
  assert.match(text.out(), /^\d\d:\d\d:\d\d {2}repository\.created {2}[0-9a-f]{8} {2}evts {2}/m);
  assert.match(
    text.out(),
    new RegExp(`^\\d\\d:\\d\\d:\\d\\d  repository\\.created  ${missed.id.slice(-8)}  m  `, "m"),
  );
});

test("cli: --help on every command, with the exit codes; no command is usage on stderr and exit 2", async () => {
  await using world = cliWorld("slo-cli-help-");
  const top = await world.cli(["--help"]);
  assert.equal(top.code, 0, top.stderr);
  for (const command of COMMANDS) assert.match(top.stdout, new RegExp(`^  ${command.name}\\b`, "m"));
  assert.match(top.stdout, /^ {2}serve \[options\]/m);
  for (const code of ["0  done", "1  failure", "2  invalid input", "3  not found", "4  conflict", "5  unreachable"]) {
    assert.match(top.stdout, new RegExp(`^  ${code}`, "m"));
  }
  const runs = await Promise.all(COMMANDS.map((command) => world.cli([...command.name.split(" "), "--help"])));
  for (const [i, command] of COMMANDS.entries()) {
    const run = runs[i];
    assert.equal(run.code, 0, `${command.name}: ${run.stderr}`);
    assert.match(run.stdout, new RegExp(`^Usage: slo ${command.name}\\b`));
    assert.match(run.stdout, /Exit codes: 0 done, 1 failure, 2 invalid input, 3 not found, 4 conflict, 5/);
    for (const option of Object.keys(command.options)) assert.match(run.stdout, new RegExp(`--${option}\\b`));
    assert.equal(run.stderr, "");
  }
  const viaHelp = await world.cli(["help", "repo", "add"]);
  assert.equal(viaHelp.stdout, runs[COMMANDS.findIndex((c) => c.name === "repo add")].stdout);
  const group = await world.cli(["repo", "--help"]);
  assert.match(group.stdout, /^Usage: slo repo <command>/);
  const serve = await world.cli(["serve", "--help"]);
  assert.equal(serve.code, 0, serve.stderr);
  assert.match(serve.stdout, /--port PORT/);

  const bare = await world.cli([]);
  assert.equal(bare.code, 2);
  assert.equal(bare.stdout, "");
  assert.match(bare.stderr, /^slo: the session-lifecycle-orchestrator command line/);
  const version = await world.cli(["--version"]);
  assert.match(version.stdout, /^slo \d+\.\d+\.\d+\n$/);
});
