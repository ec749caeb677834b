/**
 * The command line's grammar: every command, its arguments and options, the help texts, and the
 * parsing (`node:util` `parseArgs`, strict). Options of every command (`--url`, `--json`, …) may
 * stand anywhere on the line.
 * Internal: the published surface is `./mod.ts` (the "./cli" export).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { defaultDataDir } from "../platform/data_dir.ts";
import { CliError } from "./errors.ts";

/** One option. */
export interface OptionSpec {
  /** A value (`--url URL`) or a flag (`--json`). */
  type: "string" | "boolean";
  /** A one-letter alias. */
  short?: string;
  /** The value's name in the help (`URL`). */
  placeholder?: string;
  /** What it does, for the help. */
  description: string;
}

/** One command. */
export interface CommandSpec {
  /** Its words: `new`, `repo add`. */
  name: string;
  /** Its arguments as the usage line shows them: `<repo> <title>`. */
  arguments: string;
  /** Fewest and most positional arguments. */
  positionals: readonly [min: number, max: number];
  /** One line, for the command list. */
  summary: string;
  /** More, for its own help. */
  description: string;
  /** Its own options. */
  options: Readonly<Record<string, OptionSpec>>;
}

/** The options every command takes. */
export const GLOBAL_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  url: {
    type: "string",
    placeholder: "URL",
    description: "the server's URL (http://… or http+unix://…), instead of the discovery file",
  },
  "token-file": {
    type: "string",
    placeholder: "PATH",
    description: "the token file (default: the one server.json names, or <data dir>/token with --url)",
  },
  "data-dir": {
    type: "string",
    placeholder: "PATH",
    description: `which server's data directory to look in (default ${defaultDataDir()})`,
  },
  json: { type: "boolean", description: "JSON on stdout, for scripts" },
  help: { type: "boolean", short: "h", description: "this help" },
};

const VERSION_OPTION: OptionSpec = { type: "boolean", description: "print the version" };

const ID_NOTE = "<id> is a session id or any unique end or start of one, such as the short ids the tables show.";
const REPO_NOTE = "<repo> is a repository id or a unique end or start of one, its name, or its path.";

/** Every command but `serve` and `help`. */
export const COMMANDS: readonly CommandSpec[] = [
  {
    name: "repo add",
    arguments: "<path>",
    positionals: [1, 1],
    summary: "add a repository",
    description: "Add the repository at <path> (made absolute; its name is the folder's unless --name).\n" +
      "A folder with a .git is recorded as a git repository, so its sessions get worktrees.",
    options: {
      name: { type: "string", placeholder: "NAME", description: "its display name (default: the folder's name)" },
      "default-branch": {
        type: "string",
        placeholder: "BRANCH",
        description: "where new session branches start (default: the checked-out branch)",
      },
      "default-remote": { type: "string", placeholder: "REMOTE", description: "the remote for upstream checks" },
      "sessions-path": {
        type: "string",
        placeholder: "PATH",
        description: "the folder for its worktrees (default: <data dir>/worktrees/<id>)",
      },
    },
  },
  {
    name: "repo list",
    arguments: "",
    positionals: [0, 0],
    summary: "list repositories",
    description: "List every repository, oldest first.",
    options: {},
  },
  {
    name: "repo rm",
    arguments: "<repo>",
    positionals: [1, 1],
    summary: "remove a repository that has no sessions",
    description: `Remove a repository. One that still has sessions is a conflict: delete them first.\n${REPO_NOTE}`,
    options: {},
  },
  {
    name: "new",
    arguments: "<repo> <title>",
    positionals: [2, Infinity],
    summary: "create a session (in a git repository, with its own worktree and branch)",
    description: "Create a session in <repo>. In a git repository it gets its own worktree and branch\n" +
      "(session/<name>), unless --no-worktree. Words after <repo> make the title.\n" + REPO_NOTE,
    options: {
      worktree: {
        type: "string",
        placeholder: "NAME",
        description: "the worktree's name (default: from the title and the id)",
      },
      "no-worktree": { type: "boolean", description: "a session without a worktree" },
      branch: { type: "string", placeholder: "BRANCH", description: "the branch (default: session/<worktree name>)" },
      base: {
        type: "string",
        placeholder: "REF",
        description: "where a new branch starts (default: the repository's default branch)",
      },
      "existing-branch": { type: "boolean", description: "check out --branch, which exists, instead of making it" },
      ports: {
        type: "string",
        placeholder: "N",
        description: "lease N ports (0-16) to the session (default: the server's for the repository)",
      },
      wait: {
        type: "boolean",
        description: "wait for the repository's setup commands (the operator's config) to end; exit 1 if they fail",
      },
      agent: { type: "string", placeholder: "NAME", description: "the agent working in it" },
      issue: { type: "string", placeholder: "ID", description: "the issue it works on" },
      "issue-title": { type: "string", placeholder: "TITLE", description: "the issue's title" },
      "issue-url": { type: "string", placeholder: "URL", description: "the issue's URL" },
    },
  },
  {
    name: "list",
    arguments: "",
    positionals: [0, 0],
    summary: "list sessions",
    description: "List sessions, oldest first (every page). With --git, each worktree session's git state\n" +
      "too (read from the server, a few sessions at a time): uncommitted work, commits ahead of and\n" +
      "behind its base, whether its work landed there (merged, squash-merged, cherry-picked), its disk\n" +
      "use; - for a session without a worktree, ? where the server could not tell (said on stderr).\n" +
      `With --json, --git adds gitStatus to each session (null without a worktree, { error } for ?).\n${REPO_NOTE}`,
    options: {
      repo: { type: "string", placeholder: "REPO", description: "only this repository's" },
      status: {
        type: "string",
        placeholder: "STATUS",
        description: "only those with this status: active, paused, completed or archived",
      },
      git: {
        type: "boolean",
        description: "add each worktree session's git state: DIRTY, AHEAD, BEHIND, LANDED, DISK",
      },
    },
  },
  {
    name: "show",
    arguments: "<id>",
    positionals: [1, 1],
    summary: "show a session",
    description: `Show every field of a session, with its repository.\n${ID_NOTE}`,
    options: {},
  },
  {
    name: "rename",
    arguments: "<id> <title>",
    positionals: [2, Infinity],
    summary: "change a session's title",
    description: `Give a session a new title. Words after <id> make the title.\n${ID_NOTE}`,
    options: {},
  },
  {
    name: "update",
    arguments: "<id>",
    positionals: [1, 1],
    summary: "change a session's title or status",
    description: "Change a session's fields: at least one of --title and --status. The status archived is\n" +
      'set by "slo archive" only, and an archived session\'s status by "slo restore" only (exit\n' +
      `code 4).\n${ID_NOTE}`,
    options: {
      title: { type: "string", placeholder: "TITLE", description: "its new title" },
      status: { type: "string", placeholder: "STATUS", description: "its new status: active, paused or completed" },
    },
  },
  {
    name: "path",
    arguments: "<id>",
    positionals: [1, 1],
    summary: 'print a session\'s worktree folder, for cd "$(slo path <id>)"',
    description: "Print the folder of a session's worktree, and nothing else, as it is (not escaped):\n" +
      '  cd "$(slo path <id>)"\n' +
      "A session without a worktree is exit code 2; an archived one, whose folder is gone, exit code 4\n" +
      `(restore it first). With --json: { id, worktreePath }.\n${ID_NOTE}`,
    options: {},
  },
  {
    name: "rm",
    arguments: "<id>",
    positionals: [1, 1],
    summary: "delete a session and its worktree (asks before discarding changes)",
    description: "Delete a session, forget its secret, and remove the worktree it made. A worktree with\n" +
      "uncommitted or untracked changes is kept unless you agree to discard it: on a terminal rm asks;\n" +
      "otherwise it fails with exit code 4 (conflict) unless --force. When the server saves the work\n" +
      `first (under refs/session-snapshots/<id>), rm says so.\n${ID_NOTE}`,
    options: {
      force: { type: "boolean", short: "f", description: "discard a dirty worktree without asking" },
      yes: { type: "boolean", short: "y", description: "answer yes to the question (the same as --force)" },
      "delete-branch": {
        type: "boolean",
        description: "delete the session's branch too (only one it made, and only when merged, unless --force)",
      },
    },
  },
  {
    name: "archive",
    arguments: "<id>",
    positionals: [1, 1],
    summary: "put a worktree session away: save its work, remove its folder, keep its branch",
    description: "Archive a worktree session: its uncommitted work (tracked, staged and untracked changes;\n" +
      "not ignored files) is saved under refs/session-snapshots/<id> when there is any, its worktree\n" +
      "folder is removed, and the session, its branch and its secret are kept (status archived) until\n" +
      "you restore or delete it. A worktree that cannot be archived whole (not on its branch, in the\n" +
      `middle of a merge, holding a nested repository) is a conflict (exit code 4), left untouched.\n${ID_NOTE}`,
    options: {},
  },
  {
    name: "setup",
    arguments: "<id>",
    positionals: [1, 1],
    summary: "run a worktree session's setup commands again (after they failed or were interrupted)",
    description: "Run the setup commands the server's config file gives the session's repository again, in\n" +
      "its worktree. Without --wait it returns once they have started; with it, it waits for their end\n" +
      `and exits 1 if one fails. A setup already running is a conflict (exit code 4).\n${ID_NOTE}`,
    options: { wait: { type: "boolean", description: "wait for the setup to end and print its output's tail" } },
  },
  {
    name: "token",
    arguments: "<id>",
    positionals: [1, 1],
    summary: "mint a token scoped to a session (for an agent: slo mcp --token-file), or --revoke one",
    description: "Mint a bearer token scoped to the session and print it (shown once: the server keeps only its\n" +
      "hash). With it a caller reads the session, creates sessions of its repository, and lists, reads,\n" +
      "archives, restores, forks and deletes only the sessions made with it and their descendants; other\n" +
      "sessions are not found, and repositories, gc, reconcile and backups are refused. Put it in a file\n" +
      '(mode 0600) and give the file to an agent\'s "slo mcp --token-file FILE". It dies with its session.\n' +
      `--revoke TOKEN_ID revokes one of the session's tokens instead.\n${ID_NOTE}`,
    options: {
      revoke: { type: "string", placeholder: "TOKEN_ID", description: "revoke this token of the session instead" },
    },
  },
  {
    name: "restore",
    arguments: "<id>",
    positionals: [1, 1],
    summary: "bring an archived session's worktree back, with its work uncommitted",
    description: "Restore an archived session: its worktree comes back at its folder, on its branch at the\n" +
      "commit it had, with the saved work as uncommitted changes (staged stays staged, untracked files\n" +
      "untracked). A folder in the way, or a branch that is gone, checked out elsewhere, or moved while\n" +
      `there is work to put back is a conflict (exit code 4), and nothing changes.\n${ID_NOTE}`,
    options: {},
  },
  {
    name: "fork",
    arguments: "<id> [title]",
    positionals: [1, Infinity],
    summary: "a new session from another's commit, with its uncommitted work copied",
    description: "Fork a worktree session: a new session with its own worktree and a new branch that starts\n" +
      "at the source's commit, with the source's uncommitted work copied in (staged stays staged,\n" +
      "untracked stays untracked). The source is left as it is. Words after <id> make the title\n" +
      '(default: the source\'s, with " (fork)"). An archived session forks from what its archive saved.\n' +
      `A source that cannot be copied whole, or a taken name, is a conflict (exit code 4).\n${ID_NOTE}`,
    options: {
      worktree: {
        type: "string",
        placeholder: "NAME",
        description: "the fork's worktree name (default: from the title and the id)",
      },
      branch: {
        type: "string",
        placeholder: "BRANCH",
        description: "the fork's branch (default: session/<worktree name>)",
      },
      ports: {
        type: "string",
        placeholder: "N",
        description: "lease N ports (0-16) to the fork (default: as many as the source has)",
      },
      agent: { type: "string", placeholder: "NAME", description: "the agent working in it (default: the source's)" },
      issue: { type: "string", placeholder: "ID", description: "the issue it works on (default: the source's)" },
    },
  },
  {
    name: "snapshots",
    arguments: "<repo>",
    positionals: [1, 1],
    summary: "list a repository's snapshots (the work forced deletes, archives and forks saved); --prune old ones",
    description: "List the snapshots <repo> keeps under refs/session-snapshots/: whose session, when, why\n" +
      "(a forced close, an archive, a fork) and how many paths each saved, and whether its session still\n" +
      'exists. "slo snapshots restore <repo> <ref>" brings one back as a new session. With --prune,\n' +
      "delete the snapshots of sessions that are gone (never one whose session still exists), only those\n" +
      `older than --older-than and of --session when given; --dry-run only reports.\n${REPO_NOTE}`,
    options: {
      prune: { type: "boolean", description: "delete snapshots of sessions that are gone" },
      "older-than": {
        type: "string",
        placeholder: "AGE",
        description: "with --prune: only snapshots older than this (7d, 12h, 30m)",
      },
      session: { type: "string", placeholder: "ID", description: "only the snapshots of this session (its full id)" },
      "dry-run": { type: "boolean", description: "with --prune: only report; change nothing" },
    },
  },
  {
    name: "snapshots restore",
    arguments: "<repo> <ref> [title]",
    positionals: [2, Infinity],
    summary: "restore a snapshot's work into a new session",
    description: "Make a new worktree session in <repo> from the snapshot <ref> (as slo snapshots lists it:\n" +
      "refs/session-snapshots/<session id>[.<n>], or just the part after refs/session-snapshots/): a new\n" +
      "branch at the commit the snapshot was taken on, with the snapshot's files as uncommitted changes\n" +
      "(untracked files untracked). The snapshot stays. Words after <ref> make the title.\n" + REPO_NOTE,
    options: {
      worktree: {
        type: "string",
        placeholder: "NAME",
        description: "the new worktree's name (default: from the title and the id)",
      },
      branch: {
        type: "string",
        placeholder: "BRANCH",
        description: "the new branch (default: session/<worktree name>)",
      },
    },
  },
  {
    name: "reconcile",
    arguments: "",
    positionals: [0, 0],
    summary: "repair what a killed process left (worktrees, branches, rows)",
    description: "Finish or undo the worktree operations a killed process left, and report what nothing\n" +
      "proves was made here. The server also does this when it starts.",
    options: { "dry-run": { type: "boolean", description: "only report; change nothing" } },
  },
  {
    name: "gc",
    arguments: "",
    positionals: [0, 0],
    summary: "clean up finished work: delete landed sessions, archive dirty or idle ones",
    description: "For each worktree session this server made: landed in its base and clean -> delete it (its\n" +
      "branch too when merged and made here); landed but with uncommitted work, or idle past --idle ->\n" +
      "archive it (the work is saved first; slo restore brings it back); anything else is kept.\n" +
      "Nothing is forced, and --dry-run changes nothing.",
    options: {
      "dry-run": { type: "boolean", description: "only report; change nothing" },
      idle: { type: "string", description: "archive active sessions idle longer than this (7d, 12h, 30m)" },
    },
  },
  {
    name: "backup",
    arguments: "<file>",
    positionals: [1, 1],
    summary: "write a consistent, checked copy of the server's database to <file>",
    description: "Write a consistent copy of the server's SQLite database to <file> while it runs: every\n" +
      "committed change, also those a copy of sessions.db alone would miss (still in its -wal file).\n" +
      "The server writes it on its own machine, checks it with PRAGMA integrity_check, and only then\n" +
      "gives it its name. <file> is made absolute against the current folder; its folder must exist.\n" +
      "An existing file is a conflict (exit code 4) unless --force. Restore: stop the server, put the\n" +
      "file in place as <data dir>/sessions.db (with no sessions.db-wal beside it), and start it.",
    options: {
      force: { type: "boolean", short: "f", description: "replace a file already at <file>" },
    },
  },
  {
    name: "mcp",
    arguments: "",
    positionals: [0, 0],
    summary: "serve the MCP tools over stdio, for an AI agent's MCP client",
    description: "Speak MCP (the Model Context Protocol) on stdin and stdout until the client closes stdin:\n" +
      "tools to list repositories and sessions, create, read and delete sessions (delete needs\n" +
      "confirm: true), check what needs repair (a dry run) and wait for the next change. Each call goes\n" +
      "to the running server, found as every command finds it; none runs a command. stdout carries\n" +
      'only the protocol. In a client\'s configuration: {"command": "deno", "args": ["task", "--cwd",\n' +
      '"/path/to/checkout", "cli", "mcp"]}.',
    options: {},
  },
  {
    name: "ui",
    arguments: "",
    positionals: [0, 0],
    summary: "open the dashboard in the browser, signed in (--print-url: print the link instead)",
    description: "Open the server's dashboard (/ui/) in the browser, on a link that signs the browser in\n" +
      "once: it carries a one-time code, valid for two minutes, never the token itself. The page then\n" +
      "keeps its credential in that tab only. Without a browser opener (xdg-open, open, start), the\n" +
      "link is printed. With --json: { url, expiresAt }. A server on a Unix socket has no dashboard a\n" +
      "browser can reach: start one with --port.",
    options: { "print-url": { type: "boolean", description: "print the one-time link instead of opening it" } },
  },
  {
    name: "events",
    arguments: "",
    positionals: [0, 0],
    summary: "follow the event stream (Ctrl-C to stop)",
    description: "Print every change (repository.created, session.deleted, …) as it is committed, until\n" +
      "Ctrl-C. With --json, one JSON object per line. When the connection drops (the server restarts),\n" +
      "it says so on stderr, reconnects with backoff and resumes after the last event it printed, so\n" +
      "nothing is missed; events the server no longer keeps are printed as one `gap` line. With no\n" +
      "server to connect to at the start, it ends with exit code 5.",
    options: {},
  },
];

/** The command groups (`repo`) and their subcommands. */
const GROUPS: Readonly<Record<string, string>> = { repo: "repositories: add, list, rm" };

/** Option values, by option name. */
export type OptionValues = Record<string, string | boolean | undefined>;

/** What a command line asks for. */
export type Invocation =
  | { kind: "help"; text: string; exitCode: 0 | 2 }
  | { kind: "version" }
  | { kind: "serve"; args: string[] }
  | { kind: "command"; command: CommandSpec; positionals: string[]; values: OptionValues };

type ParseConfig = Record<string, { type: "string" | "boolean"; short?: string }>;

function config(...sets: Readonly<Record<string, OptionSpec>>[]): ParseConfig {
  const out: ParseConfig = {};
  for (const set of sets) {
    for (const [name, spec] of Object.entries(set)) {
      out[name] = spec.short === undefined ? { type: spec.type } : { type: spec.type, short: spec.short };
    }
  }
  return out;
}

function optionLines(options: Readonly<Record<string, OptionSpec>>): string[] {
  const heads = Object.entries(options).map(([name, spec]) =>
    `${spec.short === undefined ? "    " : `-${spec.short}, `}--${name}${
      spec.placeholder ? ` ${spec.placeholder}` : ""
    }`
  );
  const width = Math.max(...heads.map((head) => head.length));
  return Object.values(options).map((spec, i) => `  ${heads[i].padEnd(width)}  ${spec.description}`);
}

const EXIT_LINES = [
  "Exit codes:",
  "  0  done",
  "  1  failure: a server error, a refused token, a file that cannot be read",
  "  2  invalid input: a bad flag or argument, an ambiguous short id, a request the server refused",
  "  3  not found: no such session or repository",
  "  4  conflict: a dirty worktree, a path or name in use, a repository that still has sessions",
  "  5  unreachable: no server running, a stale server.json, nothing answering at --url",
];

/** The help of `slo` itself. */
export function mainHelp(): string {
  const rows: [string, string][] = [
    ["serve [options]", 'run the server (the options of "deno task serve")'],
    ...COMMANDS.map((command): [string, string] => [
      `${command.name}${command.arguments ? ` ${command.arguments}` : ""}`,
      command.summary,
    ]),
    ["help [command]", "help on a command (or: <command> --help)"],
  ];
  const width = Math.max(...rows.map(([head]) => head.length));
  return [
    "slo: the session-lifecycle-orchestrator command line. It talks to the running server, which it",
    'finds through <data dir>/server.json: start one with "deno task serve" (or "slo serve").',
    "",
    "Usage: deno task cli <command> [options]      (or: bun src/cli/main.ts <command> [options])",
    "",
    "Commands:",
    ...rows.map(([head, text]) => `  ${head.padEnd(width)}  ${text}`),
    "",
    "Options of every command:",
    ...optionLines({ ...GLOBAL_OPTIONS, version: VERSION_OPTION }),
    "",
    ID_NOTE,
    REPO_NOTE,
    "Output is a table for people, or JSON with --json. A progress line shows on stderr, only on a terminal.",
    "",
    ...EXIT_LINES,
    "",
  ].join("\n");
}

/** The help of one command. */
export function commandHelp(command: CommandSpec): string {
  const own = Object.keys(command.options).length > 0 ? ["", "Options:", ...optionLines(command.options)] : [];
  return [
    `Usage: slo ${command.name}${command.arguments ? ` ${command.arguments}` : ""} [options]`,
    "",
    command.description,
    ...own,
    "",
    "Options of every command:",
    ...optionLines(GLOBAL_OPTIONS),
    "",
    "Exit codes: 0 done, 1 failure, 2 invalid input, 3 not found, 4 conflict, 5 server unreachable",
    '(see "slo --help").',
    "",
  ].join("\n");
}

function groupHelp(group: string): string {
  const commands = COMMANDS.filter((command) => command.name.startsWith(`${group} `));
  const width = Math.max(...commands.map((command) => `${command.name} ${command.arguments}`.length));
  return [
    `Usage: slo ${group} <command> [options]`,
    "",
    `The ${GROUPS[group]}.`,
    "",
    "Commands:",
    ...commands.map((command) =>
      `  ${`${command.name} ${command.arguments}`.trimEnd().padEnd(width)}  ${command.summary}`
    ),
    "",
    `See "slo ${group} <command> --help".`,
    "",
  ].join("\n");
}

// `parseArgs`'s message up to its first sentence, which names the option.
function parseMessage(error: unknown): string {
  const message = (error as Error).message ?? String(error);
  return message.split(/\.\s/)[0].replace(/\.$/, "");
}

/** The command with these words, or `null`. */
export function findCommand(name: string): CommandSpec | null {
  return COMMANDS.find((command) => command.name === name) ?? null;
}

/**
 * Reads a command line: which command, its positional arguments and option values, or a help or
 * version request. A bad option, an unknown command or a wrong number of arguments is a
 * {@linkcode CliError} of reason `invalidInput` naming the help to read.
 */
export function parseCommandLine(args: readonly string[]): Invocation {
  const all = config(GLOBAL_OPTIONS, { version: VERSION_OPTION }, ...COMMANDS.map((command) => command.options));
  let loose;
  try {
    loose = parseArgs({ args: [...args], options: all, strict: false, allowPositionals: true, tokens: true });
  } catch (error) {
    throw new CliError("invalidInput", parseMessage(error), { hint: 'see "slo --help"' });
  }
  const first = loose.tokens.find((token) => token.kind === "positional" || token.kind === "option-terminator");
  const words = loose.positionals;

  // `serve` hands the rest of the line to the server's own parser.
  if (first?.kind === "positional" && first.value === "serve") {
    let before;
    try {
      before = parseArgs({ args: args.slice(0, first.index), options: config(GLOBAL_OPTIONS), strict: true });
    } catch (error) {
      throw new CliError("invalidInput", parseMessage(error), { hint: 'see "slo serve --help"' });
    }
    const { url, "token-file": tokenFile, json } = before.values;
    if (url !== undefined || tokenFile !== undefined || json !== undefined) {
      throw new CliError("invalidInput", "serve takes the server's options, not --url, --token-file or --json", {
        hint: 'see "slo serve --help"',
      });
    }
    const dataDir = before.values["data-dir"];
    return {
      kind: "serve",
      args: [
        ...(typeof dataDir === "string" ? ["--data-dir", dataDir] : []),
        ...(before.values.help ? ["--help"] : []),
        ...args.slice(first.index + 1),
      ],
    };
  }

  if (words.length === 0 || first?.kind !== "positional") {
    if (loose.values.version === true) return { kind: "version" };
    return { kind: "help", text: mainHelp(), exitCode: loose.values.help === true ? 0 : 2 };
  }
  if (words[0] === "help") {
    const topic = words.slice(1);
    if (topic.length === 0) return { kind: "help", text: mainHelp(), exitCode: 0 };
    if (topic[0] === "serve") return { kind: "serve", args: ["--help"] };
    const named = findCommand(topic.join(" "));
    if (named !== null) return { kind: "help", text: commandHelp(named), exitCode: 0 };
    if (topic.length === 1 && GROUPS[topic[0]] !== undefined) {
      return { kind: "help", text: groupHelp(topic[0]), exitCode: 0 };
    }
    throw new CliError("invalidInput", `no command "${topic.join(" ")}"`, { hint: 'see "slo --help"' });
  }

  let command: CommandSpec | null;
  let depth = 1;
  if (GROUPS[words[0]] !== undefined) {
    if (words.length < 2) return { kind: "help", text: groupHelp(words[0]), exitCode: loose.values.help ? 0 : 2 };
    command = findCommand(`${words[0]} ${words[1]}`);
    depth = 2;
    if (command === null) {
      if (loose.values.help) return { kind: "help", text: groupHelp(words[0]), exitCode: 0 };
      throw new CliError("invalidInput", `no command "${words[0]} ${words[1]}"`, {
        hint: `see "slo ${words[0]} --help"`,
      });
    }
  } else {
    // A command with a subcommand of its own (`snapshots restore`) takes its second word first.
    const sub = words.length >= 2 ? findCommand(`${words[0]} ${words[1]}`) : null;
    command = sub ?? findCommand(words[0]);
    if (sub !== null) depth = 2;
    if (command === null) throw new CliError("invalidInput", `no command "${words[0]}"`, { hint: 'see "slo --help"' });
  }
  if (loose.values.help === true) return { kind: "help", text: commandHelp(command), exitCode: 0 };

  let strict;
  try {
    strict = parseArgs({
      args: [...args],
      options: config(GLOBAL_OPTIONS, command.options),
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    throw new CliError("invalidInput", `${command.name}: ${parseMessage(error)}`, {
      hint: `see "slo ${command.name} --help"`,
    });
  }
  const positionals = strict.positionals.slice(depth);
  const [min, max] = command.positionals;
  if (positionals.length < min || positionals.length > max) {
    const expected = command.arguments === "" ? "no arguments" : command.arguments;
    throw new CliError(
      "invalidInput",
      `${command.name} takes ${expected}; got ${positionals.length === 0 ? "none" : positionals.join(" ")}`,
      { hint: `see "slo ${command.name} --help"` },
    );
  }
  return { kind: "command", command, positionals, values: strict.values as OptionValues };
}
