// The command line's small parts on their own: the grammar, the table rendering, the progress line,
// and the mapping of the server's answers to exit codes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { COMMANDS, parseCommandLine } from "../../src/cli/args.ts";
import { answerError, socketOfUrl } from "../../src/cli/client.ts";
import { CliError, EXIT_CODES } from "../../src/cli/errors.ts";
import { withProgress } from "../../src/cli/progress.ts";
import {
  age,
  displayWidth,
  printable,
  renderFields,
  renderTable,
  shortId,
  shortIdLength,
  truncate,
  truncateStart,
} from "../../src/cli/table.ts";
import { sessionColumns } from "../../src/cli/commands.ts";
import { type GitStatusOf, mapWithLimit } from "../../src/cli/git_status.ts";
import type { Session } from "../../src/types.ts";

function refused(args: string[], pattern: RegExp): CliError {
  try {
    parseCommandLine(args);
  } catch (error) {
    assert.ok(error instanceof CliError);
    assert.equal(error.exitCode, EXIT_CODES.invalidInput);
    assert.match(error.message, pattern);
    return error;
  }
  assert.fail(`${args.join(" ")} was accepted`);
}

test("cli args: commands, positionals and options, global options anywhere", () => {
  const parsed = parseCommandLine(["--json", "new", "app", "Fix", "it", "--worktree", "wt", "--url", "http://x:1"]);
  assert.equal(parsed.kind, "command");
  if (parsed.kind !== "command") return;
  assert.equal(parsed.command.name, "new");
  assert.deepEqual(parsed.positionals, ["app", "Fix", "it"]);
  assert.equal(parsed.values.json, true);
  assert.equal(parsed.values.worktree, "wt");
  assert.equal(parsed.values.url, "http://x:1");

  const sub = parseCommandLine(["repo", "rm", "app", "--data-dir", "/d"]);
  assert.ok(sub.kind === "command" && sub.command.name === "repo rm" && sub.positionals[0] === "app");
  // `--` lets a title start with a dash.
  const dashed = parseCommandLine(["new", "app", "--", "-weird title"]);
  assert.ok(dashed.kind === "command" && dashed.positionals[1] === "-weird title");
  const rm = parseCommandLine(["rm", "3f1c", "-y"]);
  assert.ok(rm.kind === "command" && rm.values.yes === true);
});

test("cli args: help, version and serve", () => {
  assert.deepEqual(parseCommandLine(["--version"]), { kind: "version" });
  const top = parseCommandLine(["-h"]);
  assert.ok(top.kind === "help" && top.exitCode === 0 && /Exit codes:/.test(top.text));
  const bare = parseCommandLine([]);
  assert.ok(bare.kind === "help" && bare.exitCode === 2);
  for (const command of COMMANDS) {
    const help = parseCommandLine([...command.name.split(" "), "--help"]);
    assert.ok(help.kind === "help" && help.exitCode === 0, command.name);
    assert.match(help.text, new RegExp(`^Usage: slo ${command.name}`));
    assert.deepEqual(parseCommandLine(["help", ...command.name.split(" ")]), help);
  }
  // Help wins over missing arguments.
  assert.equal(parseCommandLine(["show", "--help"]).kind, "help");
  assert.deepEqual(parseCommandLine(["serve", "--port", "0"]), { kind: "serve", args: ["--port", "0"] });
  assert.deepEqual(parseCommandLine(["--data-dir", "/d", "serve", "--port", "1"]), {
    kind: "serve",
    args: ["--data-dir", "/d", "--port", "1"],
  });
  assert.deepEqual(parseCommandLine(["help", "serve"]), { kind: "serve", args: ["--help"] });
});

test("cli args: what is refused, each naming the help to read", () => {
  assert.equal(refused(["nope"], /^no command "nope"$/).hint, 'see "slo --help"');
  refused(["repo", "nope"], /^no command "repo nope"$/);
  assert.equal(refused(["list", "--nope"], /^list: Unknown option '--nope'$/).hint, 'see "slo list --help"');
  refused(["show"], /^show takes <id>; got none$/);
  refused(["show", "a", "b"], /^show takes <id>; got a b$/);
  refused(["list", "extra"], /^list takes no arguments; got extra$/);
  refused(["list", "--json=yes"], /does not take an argument/);
  refused(["list", "--url"], /argument missing/);
  refused(["--url", "http://x", "serve"], /^serve takes the server's options/);
});

test("cli table: aligned columns, no trailing spaces, control characters shown, cut to a width", () => {
  type Row = { id: string; title: string; n: number };
  const columns = [
    { header: "ID", value: (r: Row) => r.id },
    { header: "TITLE", value: (r: Row) => r.title, shrink: true },
    { header: "N", value: (r: Row) => String(r.n), align: "right" as const },
  ];
  const rows: Row[] = [{ id: "a1", title: "short", n: 5 }, { id: "b2", title: "a much longer title", n: 12 }];
  assert.equal(
    renderTable(columns, rows),
    ["ID  TITLE                 N", "a1  short                 5", "b2  a much longer title  12"].join("\n"),
  );
  const narrow = renderTable(columns, rows, { width: 20 });
  for (const line of narrow.split("\n")) assert.ok(displayWidth(line) <= 20, line);
  assert.equal(narrow.split("\n")[2], "b2  a much long…  12");
  assert.equal(
    renderTable([{ header: "X", value: (r: string) => r }], ["\u001b[31mred\nline"]),
    "X\n\\x1b[31mred\\nline",
  );
  assert.equal(printable("tab\there"), "tab\\there");
  // Wide characters take two columns.
  assert.equal(displayWidth("日本"), 4);
  assert.equal(truncate("日本語のタイトル", 7), "日本語…");
  assert.equal(renderFields([["id", "x"], ["long label", null]]), "id:          x\nlong label:  -");
});

test("cli table: a column that gives way is cut from its start first, then left out, before any other is cut", () => {
  assert.equal(truncateStart("/a/b/worktrees/fix-it", 10), "…es/fix-it");
  assert.equal(truncateStart("/short", 10), "/short");
  assert.equal(truncateStart("日本語のタイトル", 7), "…イトル");
  type Row = { name: string; path: string };
  const columns = [
    { header: "NAME", value: (r: Row) => r.name, shrink: true },
    { header: "PATH", value: (r: Row) => r.path, dropBelow: 8, cut: "start" as const },
  ];
  const rows = [{ name: "a long name", path: "/very/long/path/to/x" }];
  assert.equal(renderTable(columns, rows, { width: 40 }).split("\n")[1], "a long name  /very/long/path/to/x");
  // 11 + 2 + 20 = 33: at 25 the path gives up 8 columns, from its start; the name is not cut.
  assert.equal(renderTable(columns, rows, { width: 25 }).split("\n")[1], "a long name  …g/path/to/x");
  // Narrower than 8 columns it is left out, header and all, and only then does the name shrink.
  assert.equal(renderTable(columns, rows, { width: 20 }), "NAME\na long name");
  assert.equal(renderTable(columns, rows, { width: 8 }), "NAME\na long …");
});

test("cli list: the PATH column shows whole on a wide terminal, cut from its start, then left out as it narrows", () => {
  const base = {
    repositoryId: "019ad3f1-0000-7000-8000-00000000a991",
    agentName: null,
    issueId: null,
    issueTitle: null,
    issueUrl: null,
    baseBranch: "main",
    createdWorktree: true,
    createdBranch: true,
    hostId: null,
    ports: [],
    setup: null,
    included: null,
    parentSessionId: null,
    // Older than 30 days: the AGE column shows a date, the same on every run.
    createdAt: "2020-01-01T00:00:00.000Z",
    updatedAt: "2020-01-01T00:00:00.000Z",
    lastAccessedAt: "2020-01-01T00:00:00.000Z",
  };
  const path = "/home/me/.local/share/session-lifecycle-orchestrator/worktrees/a991/add-dark-mode-d3cca427";
  const sessions: Session[] = [
    {
      ...base,
      id: "019ad3f1-2b9e-7aaa-8aaa-0016d3cca427",
      title: "Add dark mode",
      status: "active",
      isWorktree: true,
      worktreePath: path,
      worktreeName: "add-dark-mode-d3cca427",
      branchName: "session/add-dark-mode-d3cca427",
    },
    {
      ...base,
      id: "019ad3f1-2b9e-7bbb-9bbb-77777777cbbb",
      title: "Notes",
      status: "active",
      isWorktree: false,
      worktreePath: null,
      worktreeName: null,
      branchName: null,
      baseBranch: null,
      createdWorktree: false,
      createdBranch: false,
    },
    {
      ...base,
      id: "019ad3f1-2b9e-7ccc-9ccc-0000000fa11e",
      title: "Put away",
      // Archived: its folder is gone, so it has no path to show.
      status: "archived",
      isWorktree: true,
      worktreePath: "/home/me/.local/share/session-lifecycle-orchestrator/worktrees/a991/put-away-0fa11e",
      worktreeName: "put-away-0fa11e",
      branchName: "session/put-away-0fa11e",
    },
  ];
  const columns = sessionColumns(new Map([[base.repositoryId, "app"]]), 8);
  const render = (width?: number) => {
    const text = renderTable(columns, sessions, { width });
    for (const line of text.split("\n")) if (width !== undefined) assert.ok(displayWidth(line) <= width, line);
    return text.split("\n");
  };
  const row = "d3cca427  app         active    Add dark mode  session/add-dark-mode-d3cca427  2020-01-01";
  const header = "ID        REPOSITORY  STATUS    TITLE          BRANCH                                 AGE";
  // Into a pipe (no width) and on a wide terminal: every path whole; - for none and for an archived session.
  for (const width of [undefined, 200]) {
    assert.deepEqual(render(width), [
      `${header}  PATH`,
      `${row}  ${path}`,
      "7777cbbb  app         active    Notes          -                               2020-01-01  -",
      "000fa11e  app         archived  Put away       session/put-away-0fa11e         2020-01-01  -",
    ]);
  }
  // Narrower: the path gives way first, keeping its end (the worktree's name); nothing else is cut.
  assert.deepEqual(render(120).slice(0, 2), [`${header}  PATH`, `${row}  …/a991/add-dark-mode-d3cca427`]);
  // Too narrow for a useful path (under 20 columns): the column is left out, the rest still whole.
  assert.deepEqual(render(100).slice(0, 2), [header, row]);
  // An 80-column terminal: no path, and then the branch is cut too.
  assert.deepEqual(render(80).slice(0, 2), [
    "ID        REPOSITORY  STATUS    TITLE          BRANCH                        AGE",
    "d3cca427  app         active    Add dark mode  session/add-dark-mod…  2020-01-01",
  ]);
});

test("cli list --git: DIRTY AHEAD BEHIND LANDED DISK before the path; - without a worktree, ? where unknown", () => {
  const session = (id: string, title: string, worktree: boolean): Session => ({
    id,
    repositoryId: "019ad3f1-0000-7000-8000-00000000a991",
    title,
    status: "active",
    agentName: null,
    issueId: null,
    issueTitle: null,
    issueUrl: null,
    isWorktree: worktree,
    worktreePath: worktree ? `/wt/${title.toLowerCase()}` : null,
    worktreeName: worktree ? title.toLowerCase() : null,
    branchName: worktree ? `session/${title.toLowerCase()}` : null,
    baseBranch: worktree ? "main" : null,
    createdWorktree: worktree,
    createdBranch: worktree,
    hostId: null,
    ports: [],
    setup: null,
    included: null,
    parentSessionId: null,
    // Older than 30 days: the AGE column shows a date, the same on every run.
    createdAt: "2020-01-01T00:00:00.000Z",
    updatedAt: "2020-01-01T00:00:00.000Z",
    lastAccessedAt: "2020-01-01T00:00:00.000Z",
  });
  const sessions = [
    session("019ad3f1-2b9e-7aaa-8aaa-00000000aaaa", "Dirty", true),
    session("019ad3f1-2b9e-7aaa-8aaa-00000000bbbb", "Landed", true),
    session("019ad3f1-2b9e-7aaa-8aaa-00000000cccc", "Gone", true),
    session("019ad3f1-2b9e-7aaa-8aaa-00000000dddd", "Unknown", true),
    session("019ad3f1-2b9e-7aaa-8aaa-00000000eeee", "Plain", false),
  ];
  const git = new Map<string, GitStatusOf>([
    [sessions[0].id, { dirty: true, ahead: 3, behind: 0, landed: null, diskBytes: 2560, lastChangedAt: null }],
    [sessions[1].id, {
      dirty: false,
      ahead: 1,
      behind: 12,
      landed: "squash-merged",
      diskBytes: 512,
      lastChangedAt: null,
    }],
    // The folder and the branch are gone: the server answered, but cannot tell these.
    [sessions[2].id, { dirty: null, ahead: null, behind: null, landed: null, diskBytes: 0, lastChangedAt: null }],
    [sessions[3].id, { error: { kind: "Conflict", message: "on another machine" } }],
    [sessions[4].id, null],
  ]);
  const text = renderTable(sessionColumns(new Map([[sessions[0].repositoryId, "app"]]), 4, git), sessions);
  assert.deepEqual(text.split("\n"), [
    "ID    REPOSITORY  STATUS  TITLE    BRANCH                  AGE  DIRTY  AHEAD  BEHIND  LANDED            DISK  PATH",
    "aaaa  app         active  Dirty    session/dirty    2020-01-01  yes        3       0  no             2.5 KiB  /wt/dirty",
    "bbbb  app         active  Landed   session/landed   2020-01-01  no         1      12  squash-merged    512 B  /wt/landed",
    "cccc  app         active  Gone     session/gone     2020-01-01  ?          ?       ?  ?                  0 B  /wt/gone",
    "dddd  app         active  Unknown  session/unknown  2020-01-01  ?          ?       ?  ?                    ?  /wt/unknown",
    "eeee  app         active  Plain    -                2020-01-01  -          -       -  -                    -  -",
  ]);
  // Without the statuses, the columns are as before.
  assert.doesNotMatch(renderTable(sessionColumns(new Map(), 4), sessions).split("\n")[0], /DIRTY/);
});

test("cli list --git: the status reads run at most the limit at a time, the results in order", async () => {
  const waiting: (() => void)[] = [];
  let running = 0;
  let most = 0;
  const done = mapWithLimit([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 4, async (n) => {
    running++;
    most = Math.max(most, running);
    await new Promise<void>((resolve) => waiting.push(resolve));
    running--;
    return n * 10;
  });
  // Let each call that can start start, then release one at a time.
  const settle = () => new Promise((resolve) => setTimeout(resolve, 0));
  await settle();
  assert.equal(waiting.length, 4);
  while (waiting.length > 0) {
    waiting.shift()!();
    await settle();
  }
  assert.deepEqual(await done, [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
  assert.equal(most, 4);
  assert.deepEqual(await mapWithLimit([], 4, () => Promise.resolve(0)), []);
  await assert.rejects(mapWithLimit([1], 0, () => Promise.resolve(0)), RangeError);
});

test("cli table: short ids are ids' ends, grown until they tell every id apart; ages", () => {
  // Time-ordered ids made within a minute share their start; their ends are random.
  const a = "019ad3f1-2b9e-7aaa-8aaa-0016d3cca427";
  const b = "019ad3f1-2b9e-7bbb-9bbb-77777777cbbb";
  assert.equal(shortIdLength([a, b]), 8);
  assert.equal(shortId(a, 8), "d3cca427");
  assert.equal(shortIdLength([a, "019ad3f1-2b9e-7ccc-9ccc-0026d3cca427"]), 10);
  assert.equal(shortIdLength([]), 8);
  const now = Date.parse("2025-01-31T12:00:00Z");
  assert.equal(age("2025-01-31T11:59:30Z", now), "30s");
  assert.equal(age("2025-01-31T11:00:00Z", now), "1h");
  assert.equal(age("2025-01-29T12:00:00Z", now), "2d");
  assert.equal(age("2024-10-01T12:00:00Z", now), "2024-10-01");
});

test("cli progress: a spinner only on a terminal, only after the delay, erased at the end", async () => {
  const writes: string[] = [];
  const terminal = { isTTY: true, write: (text: string) => writes.push(text) };
  const slow = () => new Promise<string>((resolve) => setTimeout(() => resolve("done"), 120));
  assert.equal(await withProgress(terminal, "opening a worktree", slow, { delayMs: 20, intervalMs: 10 }), "done");
  assert.ok(writes.length >= 2, writes.join("|"));
  assert.equal(writes[0], "\r\u001b[2K⠋ opening a worktree");
  assert.equal(writes.at(-1), "\r\u001b[2K");

  // Quick work on a terminal, and any work elsewhere: nothing drawn.
  writes.length = 0;
  await withProgress(terminal, "quick", () => Promise.resolve(1), { delayMs: 50 });
  const pipe = { isTTY: false, write: (text: string) => writes.push(text) };
  await withProgress(pipe, "slow", slow, { delayMs: 0, intervalMs: 5 });
  assert.deepEqual(writes, []);
  // A failure passes through, the line erased.
  await assert.rejects(
    withProgress(terminal, "failing", () => new Promise((_, reject) => setTimeout(() => reject(new Error("x")), 60)), {
      delayMs: 10,
    }),
    /x/,
  );
  assert.equal(writes.at(-1), "\r\u001b[2K");
});

test("cli client: answers map to exit codes; socket URLs", async () => {
  const answer = (status: number, body: unknown) => ({
    status,
    text: () => Promise.resolve(typeof body === "string" ? body : JSON.stringify(body)),
  });
  const cases: [number, number][] = [[400, 2], [413, 2], [415, 2], [404, 3], [409, 4], [401, 1], [403, 1], [500, 1]];
  for (const [status, code] of cases) {
    const error = await answerError(answer(status, { error: { kind: "K", message: `m${status}` } }));
    assert.equal(error.exitCode, code, String(status));
    assert.equal(error.message, `m${status}`);
    assert.equal(error.kind, "K");
  }
  assert.equal((await answerError(answer(502, "<html>bad gateway</html>"))).message, "the server answered 502");
  assert.equal(socketOfUrl("http+unix://%2Ftmp%2Fa.sock"), "/tmp/a.sock");
  assert.equal(socketOfUrl("http://127.0.0.1:7717"), null);
});
