/**
 * What each command does: one or two calls of the typed client, then a table for people or JSON
 * for scripts. The grammar is in `./args.ts`, the rendering in `./table.ts`, finding the server
 * in `./client.ts`.
 * Internal: the published surface is `./mod.ts` (the "./cli" export).
 *
 * @module
 */

import { spawn } from "node:child_process";
import { statSync } from "node:fs";
import { basename, resolve } from "node:path";
import process from "node:process";
import { createInterface } from "node:readline";
import type { SessionStatus } from "../types.ts";
import type { Repository, Session } from "../types.ts";
import type { CommandSpec, OptionValues } from "./args.ts";
import { answerError, type ApiClient, clientOf, findServer, type ServerEndpoint, socketOfUrl } from "./client.ts";
import { CliError } from "./errors.ts";
import { withProgress } from "./progress.ts";
import { followCreateProgress } from "./create_progress.ts";
import { readServerSentEvents, type ServerSentEvent } from "./sse.ts";
import { allRepositories, allSessions, expandHome, resolveRepository, resolveSessionId } from "./resolve.ts";
import { age, type Column, formatBytes, renderFields, renderTable, shortId, shortIdLength } from "./table.ts";
import { gitColumns, gitStatusNote, type GitStatusOf, readGitStatuses } from "./git_status.ts";

/** What a command runs with. */
export interface CommandContext {
  /** Its positional arguments (after the command's words). */
  positionals: string[];
  /** Its option values, the global ones included. */
  values: OptionValues;
  /** Finds the server, once; its typed client. */
  connection(): Promise<{ client: ApiClient; server: ServerEndpoint }>;
  /** Finds the server again (it may have restarted elsewhere); `connection()` then gives this one. */
  reconnect(): Promise<{ client: ApiClient; server: ServerEndpoint }>;
  /** Where relative paths start. */
  cwd: string;
}

type Run = (context: CommandContext) => Promise<void>;

const str = (values: OptionValues, name: string): string | undefined => {
  const value = values[name];
  return typeof value === "string" ? value : undefined;
};
const flag = (values: OptionValues, name: string): boolean => values[name] === true;

function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

function note(text: string): void {
  process.stderr.write(`${text}\n`);
}

function printJson(value: unknown): void {
  print(JSON.stringify(value, null, 2));
}

// A table as wide as the terminal, or unlimited into a file or pipe.
function table<T>(columns: readonly Column<T>[], rows: readonly T[]): string {
  const width = process.stdout.isTTY ? process.stdout.columns : undefined;
  return renderTable(columns, rows, { width });
}

const progress = <T>(label: string | (() => string), work: () => Promise<T>): Promise<T> =>
  withProgress(process.stderr, label, work);

async function client(context: CommandContext): Promise<ApiClient> {
  return (await context.connection()).client;
}

function repositoryColumns(sessionCounts: Map<string, number>, idLength: number): Column<Repository>[] {
  return [
    { header: "ID", value: (r) => shortId(r.id, idLength) },
    { header: "NAME", value: (r) => r.name, shrink: true },
    { header: "PATH", value: (r) => r.path, shrink: true },
    { header: "GIT", value: (r) => (r.isGitRepository ? "yes" : "no") },
    { header: "SESSIONS", value: (r) => String(sessionCounts.get(r.id) ?? 0), align: "right" },
    { header: "AGE", value: (r) => age(r.createdAt), align: "right" },
  ];
}

/** The folder a worktree session's work is in now; `null` for a session without one, or an archived one (its folder is gone). */
function worktreeFolder(session: Session): string | null {
  return session.status === "archived" ? null : session.worktreePath;
}

/**
 * The columns of `slo list`: `names` maps repository ids to names, `idLength` is the short ids'
 * length, and `git` (for `--git`) each session's git state, which adds DIRTY, AHEAD, BEHIND,
 * LANDED and DISK before the path. The worktree path comes last and gives way first on a narrow
 * terminal: it is cut from its start (its end, the worktree's name, tells paths apart), and left
 * out below 20 columns.
 */
export function sessionColumns(
  names: Map<string, string>,
  idLength: number,
  git?: ReadonlyMap<string, GitStatusOf>,
): Column<Session>[] {
  return [
    { header: "ID", value: (s) => shortId(s.id, idLength) },
    { header: "REPOSITORY", value: (s) => names.get(s.repositoryId) ?? shortId(s.repositoryId), shrink: true },
    { header: "STATUS", value: (s) => s.status },
    { header: "TITLE", value: (s) => s.title, shrink: true },
    { header: "BRANCH", value: (s) => s.branchName ?? "-", shrink: true },
    { header: "AGE", value: (s) => age(s.createdAt), align: "right" },
    ...(git === undefined ? [] : gitColumns(git)),
    { header: "PATH", value: (s) => worktreeFolder(s) ?? "-", dropBelow: 20, cut: "start" },
  ];
}

const repoAdd: Run = async (context) => {
  const { values } = context;
  const path = resolve(context.cwd, expandHome(context.positionals[0]));
  let isDirectory = false;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch {
    // reported below
  }
  if (!isDirectory) throw new CliError("invalidInput", `no folder at ${path}`);
  const sessionsPath = str(values, "sessions-path");
  const response = await (await client(context)).v1.repositories.$post({
    json: {
      path,
      name: str(values, "name") ?? basename(path),
      ...(str(values, "default-branch") === undefined ? {} : { defaultBranch: str(values, "default-branch") }),
      ...(str(values, "default-remote") === undefined ? {} : { defaultRemote: str(values, "default-remote") }),
      ...(sessionsPath === undefined ? {} : { sessionsPath: resolve(context.cwd, expandHome(sessionsPath)) }),
    },
  });
  if (response.status !== 201) throw await answerError(response);
  const repository = await response.json();
  if (flag(values, "json")) return printJson(repository);
  print(`added repository ${repository.name} (${repository.id}) at ${repository.path}`);
  if (!repository.isGitRepository) print("not a git repository: its sessions get no worktree");
};

const repoList: Run = async (context) => {
  const api = await client(context);
  const [repositories, sessions] = await Promise.all([allRepositories(api), allSessions(api)]);
  if (flag(context.values, "json")) return printJson(repositories);
  if (repositories.length === 0) return note('no repositories; add one with "slo repo add <path>"');
  const counts = new Map<string, number>();
  for (const session of sessions) counts.set(session.repositoryId, (counts.get(session.repositoryId) ?? 0) + 1);
  print(table(repositoryColumns(counts, shortIdLength(repositories.map((r) => r.id))), repositories));
};

const repoRm: Run = async (context) => {
  const api = await client(context);
  const repository = await resolveRepository(api, context.positionals[0], context.cwd);
  const response = await api.v1.repositories[":id"].$delete({ param: { id: repository.id } });
  if (response.status !== 200) {
    const error = await answerError(response);
    if (error.reason !== "conflict") throw error;
    throw new CliError("conflict", error.message, {
      kind: error.kind ?? undefined,
      hint: `list them with "slo list --repo ${shortId(repository.id)}" and delete each with "slo rm <id>"`,
    });
  }
  const removed = await response.json();
  if (flag(context.values, "json")) return printJson(removed);
  print(`removed repository ${removed.name} (${removed.id})`);
};

const newSession: Run = async (context) => {
  const { values } = context;
  const api = await client(context);
  const repository = await resolveRepository(api, context.positionals[0], context.cwd);
  const title = context.positionals.slice(1).join(" ");
  const worktreeName = str(values, "worktree");
  const branchName = str(values, "branch");
  const baseRef = str(values, "base");
  const existingBranch = flag(values, "existing-branch");
  const worktreeAsked = worktreeName !== undefined || branchName !== undefined || baseRef !== undefined ||
    existingBranch;
  if (flag(values, "no-worktree") && worktreeAsked) {
    throw new CliError(
      "invalidInput",
      "--no-worktree cannot be combined with --worktree, --branch, --base or --existing-branch",
    );
  }
  const isWorktree = !flag(values, "no-worktree") && (repository.isGitRepository || worktreeAsked);
  const optional = (name: string, value: string | undefined) => (value === undefined ? {} : { [name]: value });
  const json = {
    repositoryId: repository.id,
    title,
    isWorktree,
    ...optional("worktreeName", worktreeName),
    ...optional("branchName", branchName),
    ...optional("baseRef", baseRef),
    ...(existingBranch ? { useExistingBranch: true } : {}),
    ...portsOption(values),
    ...optional("agentName", str(values, "agent")),
    ...optional("issueId", str(values, "issue")),
    ...optional("issueTitle", str(values, "issue-title")),
    ...optional("issueUrl", str(values, "issue-url")),
  };
  const label = isWorktree ? `opening a worktree in ${repository.name}` : `creating the session`;
  // On a terminal, the line follows the create's phases from the event stream; elsewhere nothing is drawn or read.
  const follower = isWorktree && process.stderr.isTTY === true ? await followCreateProgress(api, repository.id) : null;
  const response = await progress(
    () => {
      const phase = follower?.describe() ?? null;
      return phase === null ? label : `${label}: ${phase}`;
    },
    () => api.v1.sessions.$post({ json }),
  ).finally(() => follower?.stop());
  if (response.status !== 201) throw await answerError(response);
  const session = await response.json();
  if (flag(values, "json")) return printJson(session);
  print(`created session ${session.id}  ${session.title}`);
  if (session.worktreePath !== null) print(`worktree: ${session.worktreePath}`);
  if (session.branchName !== null) {
    print(`branch:   ${session.branchName}${session.baseBranch === null ? "" : ` (from ${session.baseBranch})`}`);
  }
  if (session.ports.length > 0) print(`ports:    ${session.ports.join(" ")}`);
  if (session.setup !== null) {
    if (!flag(values, "wait")) return print(`setup:    running (see "slo show ${shortId(session.id)}")`);
    await waitForSetup(api, session.id);
  }
};

// How often `--wait` reads a running setup's state.
const SETUP_POLL_MS = 300;

// Waits until the session's setup has ended, printing its output as it grows; exit 1 if it did not succeed.
async function waitForSetup(api: ApiClient, id: string): Promise<void> {
  let printed = "";
  for (;;) {
    const session = await getSession(api, id);
    const setup = session.setup;
    if (setup === null) return;
    // The new end of the tail: what was not printed yet (the tail only grows, until it is cut).
    const tail = setup.logTail;
    const fresh = tail.startsWith(printed) ? tail.slice(printed.length) : tail;
    if (fresh !== "") process.stdout.write(fresh);
    printed = tail;
    if (setup.state === "running") {
      await new Promise((resolve) => setTimeout(resolve, SETUP_POLL_MS));
      continue;
    }
    if (setup.state === "succeeded") return print(`setup: succeeded (${setup.commands} command(s))`);
    throw new CliError(
      "failure",
      `setup ${setup.state}: command ${(setup.current ?? 0) + 1} of ${setup.commands} ` +
        `(${(setup.command ?? []).join(" ")}): ${setup.reason ?? "no reason given"}`,
      { hint: `run it again with "slo setup ${shortId(id)}"` },
    );
  }
}

const setup: Run = async (context) => {
  const api = await client(context);
  const id = await resolveSessionId(api, context.positionals[0]);
  const response = await api.v1.sessions[":id"].setup.$post({ param: { id } });
  if (response.status !== 202) throw await answerError(response);
  const session = await response.json();
  if (flag(context.values, "json") && !flag(context.values, "wait")) return printJson(session);
  if (!flag(context.values, "wait")) return print(`setup of session ${shortId(session.id)} started`);
  await waitForSetup(api, session.id);
};

const token: Run = async (context) => {
  const api = await client(context);
  const id = await resolveSessionId(api, context.positionals[0]);
  const revoke = str(context.values, "revoke");
  if (revoke !== undefined) {
    const response = await api.v1.sessions[":id"].tokens[":tokenId"].$delete({ param: { id, tokenId: revoke } });
    if (response.status !== 200) throw await answerError(response);
    const record = await response.json();
    if (flag(context.values, "json")) return printJson(record);
    return print(`token ${record.id} of session ${shortId(id)} revoked`);
  }
  const response = await api.v1.sessions[":id"].tokens.$post({ param: { id } });
  if (response.status !== 201) throw await answerError(response);
  const minted = await response.json();
  if (flag(context.values, "json")) return printJson(minted);
  // The token alone on stdout, so that `slo token <id> > file` makes a token file; the rest on stderr.
  print(minted.token);
  note(
    `token ${minted.id} scoped to session ${shortId(id)}: shown once; revoke it with ` +
      `"slo token ${shortId(id)} --revoke ${minted.id}"`,
  );
};

// `--ports N` as the body's `ports`: a whole number, whose range the server checks (0–16).
function portsOption(values: OptionValues): { ports?: number } {
  const ports = str(values, "ports");
  if (ports === undefined) return {};
  if (!/^\d{1,6}$/.test(ports)) {
    throw new CliError(
      "invalidInput",
      `--ports must be a whole number of ports (0 to 16), not ${JSON.stringify(ports)}`,
    );
  }
  return { ports: Number(ports) };
}

const list: Run = async (context) => {
  const { values } = context;
  const api = await client(context);
  const status = str(values, "status");
  const repoRef = str(values, "repo");
  const repository = repoRef === undefined ? undefined : await resolveRepository(api, repoRef, context.cwd);
  const sessions = await allSessions(api, {
    ...(repository === undefined ? {} : { repositoryId: repository.id }),
    ...(status === undefined ? {} : { status: status as SessionStatus }),
  });
  const git = flag(values, "git")
    ? await progress("reading git state", () => readGitStatuses(api, sessions))
    : undefined;
  if (flag(values, "json")) {
    return printJson(git === undefined ? sessions : sessions.map((s) => ({ ...s, gitStatus: git.get(s.id) ?? null })));
  }
  if (sessions.length === 0) {
    const where = repository === undefined ? "" : ` in ${repository.name}`;
    return note(`no ${status === undefined ? "" : `${status} `}sessions${where}`);
  }
  const names = new Map((await allRepositories(api)).map((r) => [r.id, r.name]));
  const idLength = shortIdLength(sessions.map((s) => s.id));
  print(table(sessionColumns(names, idLength, git), sessions));
  const unknown = git === undefined ? null : gitStatusNote(git, (id) => shortId(id, idLength));
  if (unknown !== null) note(unknown);
};

async function getSession(api: ApiClient, id: string): Promise<Session> {
  const response = await api.v1.sessions[":id"].$get({ param: { id } });
  if (response.status !== 200) throw await answerError(response);
  return await response.json();
}

const show: Run = async (context) => {
  const api = await client(context);
  const session = await getSession(api, await resolveSessionId(api, context.positionals[0]));
  if (flag(context.values, "json")) return printJson(session);
  const answer = await api.v1.repositories[":id"].$get({ param: { id: session.repositoryId } });
  const repository = answer.status === 200 ? await answer.json() : null;
  const yesNo = (value: boolean) => (value ? "yes" : "no");
  const git = session.isWorktree ? await gitStatus(api, session.id) : null;
  print(renderFields([
    ["id", session.id],
    ["title", session.title],
    ["status", session.status],
    ["repository", repository === null ? session.repositoryId : `${repository.name} (${repository.id})`],
    ["repository path", repository?.path ?? null],
    ["agent", session.agentName],
    ["issue", [session.issueId, session.issueTitle, session.issueUrl].filter((x) => x !== null).join("  ") || null],
    ["worktree", session.isWorktree ? session.worktreePath : "none"],
    ["worktree name", session.worktreeName],
    ["branch", session.branchName],
    ["base branch", session.baseBranch],
    ["made worktree", yesNo(session.createdWorktree)],
    ["made branch", yesNo(session.createdBranch)],
    ["ports", session.ports.length === 0 ? "none" : session.ports.join(" ")],
    ["host id", session.hostId],
    ...setupFields(session.setup),
    ...gitFields(git),
    ["created", session.createdAt],
    ["updated", session.updatedAt],
    ["last accessed", session.lastAccessedAt],
  ]));
};

// A session's setup as `show` lines: where it is, and its output's last lines.
function setupFields(setup: Session["setup"]): Array<[string, string | null]> {
  if (setup === null) return [["setup", "none"]];
  const where = setup.state === "succeeded"
    ? `succeeded (${setup.commands} command(s))`
    : `${setup.state}: command ${(setup.current ?? 0) + 1} of ${setup.commands} (${(setup.command ?? []).join(" ")})` +
      (setup.reason === null ? "" : `, ${setup.reason}`);
  // One line (the fields escape line breaks): the output's last lines, newest last.
  const lastLines = setup.logTail.trimEnd().split("\n").slice(-3).join(" | ");
  return [["setup", where], ["setup output", lastLines === "" ? null : lastLines]];
}

// PATCH /v1/sessions/{id}: the changed session, or the server's refusal as the CLI's error.
async function patchSession(api: ApiClient, id: string, json: { title?: string; status?: SessionStatus }) {
  const response = await api.v1.sessions[":id"].$patch({ param: { id }, json });
  if (response.status !== 200) throw await answerError(response);
  return await response.json();
}

const rename: Run = async (context) => {
  const api = await client(context);
  const id = await resolveSessionId(api, context.positionals[0]);
  const session = await patchSession(api, id, { title: context.positionals.slice(1).join(" ") });
  if (flag(context.values, "json")) return printJson(session);
  print(`renamed session ${session.id}  ${session.title}`);
};

const update: Run = async (context) => {
  const { values } = context;
  const title = str(values, "title");
  const status = str(values, "status");
  // Checked before the server is asked: an empty change would only touch updatedAt.
  if (title === undefined && status === undefined) {
    throw new CliError("invalidInput", "update needs a field to change: --title or --status", {
      hint: 'see "slo update --help"',
    });
  }
  const api = await client(context);
  const id = await resolveSessionId(api, context.positionals[0]);
  const session = await patchSession(api, id, {
    ...(title === undefined ? {} : { title }),
    ...(status === undefined ? {} : { status: status as SessionStatus }),
  });
  if (flag(values, "json")) return printJson(session);
  print(`updated session ${session.id}  ${session.title}`);
  print(`status: ${session.status}`);
};

const path: Run = async (context) => {
  const api = await client(context);
  const session = await getSession(api, await resolveSessionId(api, context.positionals[0]));
  const folder = worktreeFolder(session);
  if (folder === null) {
    if (session.status === "archived") {
      throw new CliError("conflict", `session ${session.id} is archived: its worktree folder is gone`, {
        hint: `bring it back with "slo restore ${shortId(session.id)}"`,
      });
    }
    throw new CliError("invalidInput", `session ${session.id} has no worktree`);
  }
  if (flag(context.values, "json")) return printJson({ id: session.id, worktreePath: folder });
  // The path as it is, not escaped: it is for `cd "$(slo path <id>)"`.
  process.stdout.write(`${folder}\n`);
};

type GitStatus = {
  dirty: boolean | null;
  ahead: number | null;
  behind: number | null;
  landed: string | null;
  diskBytes: number;
};

// A worktree session's git state for `show`; `null` when the server cannot tell (another
// machine's worktree, no lifecycle), which `show` then leaves out rather than failing.
async function gitStatus(api: ApiClient, id: string): Promise<GitStatus | null> {
  const response = await api.v1.sessions[":id"].status.$get({ param: { id } });
  return response.status === 200 ? await response.json() : null;
}

function gitFields(git: GitStatus | null): Array<[string, string | null]> {
  if (git === null) return [];
  const known = (value: unknown, text: string) => (value === null ? "unknown" : text);
  return [
    ["uncommitted work", known(git.dirty, git.dirty ? "yes" : "no")],
    ["ahead of base", known(git.ahead, `${git.ahead}`)],
    ["behind base", known(git.behind, `${git.behind}`)],
    ["landed", git.landed ?? "no"],
    ["disk", formatBytes(git.diskBytes)],
  ];
}

/** Asks a yes/no question on the terminal; anything but y or yes (or the input closing) is no. */
function confirm(question: string): Promise<boolean> {
  return new Promise((done) => {
    const lines = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    let answered = false;
    lines.on("close", () => {
      if (!answered) process.stderr.write("\n");
      done(answered);
    });
    lines.question(question, (answer) => {
      answered = /^(y|yes)$/i.test(answer.trim());
      lines.close();
    });
  });
}

// How to override a refusal that force overrides, in this command line's words.
function forceHint(conflict: CliError): string {
  const details = conflict.details;
  if (details === null) return "pass --force (or --yes) to delete it anyway, discarding those changes";
  const count = details.dirtyPathCount;
  const paths = `${count} changed path${count === 1 ? "" : "s"}`;
  return details.wouldSnapshot
    ? `use --force (or --yes) to delete it anyway; a snapshot of ${paths} will be kept (slo snapshots lists it)`
    : `use --force (or --yes) to delete it anyway, discarding ${paths}`;
}

const rm: Run = async (context) => {
  const { values } = context;
  const api = await client(context);
  const id = await resolveSessionId(api, context.positionals[0]);
  const deleteBranch = flag(values, "delete-branch");
  const remove = (force: boolean) =>
    progress(`deleting session ${shortId(id)}`, () =>
      api.v1.sessions[":id"].$delete({
        param: { id },
        query: {
          ...(force ? { force: "true" as const } : {}),
          ...(deleteBranch ? { deleteBranch: "true" as const } : {}),
        },
      }));
  const forced = flag(values, "force") || flag(values, "yes");
  let response = await remove(forced);
  if (response.status === 409 && !forced) {
    const conflict = await answerError(response);
    // Only a refusal that force overrides (a worktree holding work) is asked about; others stand.
    if (!conflict.forceable) throw conflict;
    if (!(process.stdin.isTTY && process.stderr.isTTY)) {
      throw new CliError("conflict", conflict.message, {
        kind: conflict.kind ?? undefined,
        hint: forceHint(conflict),
      });
    }
    note(conflict.message);
    if (!await confirm("Delete the session anyway, discarding those changes? [y/N] ")) {
      throw new CliError("conflict", `kept session ${id}; nothing was deleted`, { kind: conflict.kind ?? undefined });
    }
    response = await remove(true);
  }
  if (response.status !== 200) throw await answerError(response);
  const deleted = await response.json();
  if (flag(values, "json")) return printJson(deleted);
  print(`deleted session ${deleted.id}  ${deleted.title}`);
  if (deleted.worktreePath !== null) {
    if (deleted.worktreeRemoved) print(`removed worktree ${deleted.worktreePath}`);
    else {
      print(
        `kept worktree ${deleted.worktreePath}${deleted.worktreeKeptReason ? ` (${deleted.worktreeKeptReason})` : ""}`,
      );
    }
  }
  if (deleted.branchName !== null) {
    if (deleted.branchDeleted) print(`deleted branch ${deleted.branchName}`);
    else if (deleted.branchKeptReason !== null) {
      print(`kept branch ${deleted.branchName} (${deleted.branchKeptReason})`);
    }
  }
  if (deleted.snapshotRef !== null) print(`work saved under ${deleted.snapshotRef}`);
  const included = deleted.included;
  if (included !== null && deleted.worktreeRemoved) {
    print(
      `removed with it: ${included.entries.length} included path(s) from the checkout (${included.entries.join(", ")})`,
    );
  }
};

const archive: Run = async (context) => {
  const api = await client(context);
  const id = await resolveSessionId(api, context.positionals[0]);
  const response = await progress(
    `archiving session ${shortId(id)}`,
    () => api.v1.sessions[":id"].archive.$post({ param: { id } }),
  );
  if (response.status !== 200) throw await answerError(response);
  const archived = await response.json();
  if (flag(context.values, "json")) return printJson(archived);
  print(`archived session ${archived.id}  ${archived.title}`);
  print(`removed worktree ${archived.worktreePath}`);
  print(`kept branch ${archived.branchName} at ${archived.head.slice(0, 12)}`);
  print(archived.snapshotRef === null ? "no uncommitted work to save" : `work saved under ${archived.snapshotRef}`);
  print(`restore it with "slo restore ${shortId(archived.id)}"`);
};

const fork: Run = async (context) => {
  const { values } = context;
  const api = await client(context);
  const id = await resolveSessionId(api, context.positionals[0]);
  const title = context.positionals.slice(1).join(" ");
  const optional = (name: string, value: string | undefined) => (value === undefined ? {} : { [name]: value });
  const json = {
    ...(title === "" ? {} : { title }),
    ...optional("worktreeName", str(values, "worktree")),
    ...optional("branchName", str(values, "branch")),
    ...optional("agentName", str(values, "agent")),
    ...optional("issueId", str(values, "issue")),
    ...portsOption(values),
  };
  const response = await progress(
    `forking session ${shortId(id)}`,
    () => api.v1.sessions[":id"].fork.$post({ param: { id }, json }),
  );
  if (response.status !== 201) throw await answerError(response);
  const session = await response.json();
  if (flag(values, "json")) return printJson(session);
  print(`created session ${session.id}  ${session.title}  (forked from ${shortId(id)})`);
  if (session.worktreePath !== null) print(`worktree: ${session.worktreePath}`);
  if (session.branchName !== null) print(`branch:   ${session.branchName}`);
  if (session.ports.length > 0) print(`ports:    ${session.ports.join(" ")}`);
};

const restore: Run = async (context) => {
  const api = await client(context);
  const id = await resolveSessionId(api, context.positionals[0]);
  const response = await progress(
    `restoring session ${shortId(id)}`,
    () => api.v1.sessions[":id"].restore.$post({ param: { id } }),
  );
  if (response.status !== 200) throw await answerError(response);
  const session = await response.json();
  if (flag(context.values, "json")) return printJson(session);
  print(`restored session ${session.id}  ${session.title}`);
  print(`worktree ${session.worktreePath} on ${session.branchName}`);
};

const reconcile: Run = async (context) => {
  const dryRun = flag(context.values, "dry-run");
  const api = await client(context);
  const response = await progress(
    dryRun ? "checking worktrees" : "reconciling worktrees",
    () => api.v1.reconcile.$post({ query: dryRun ? { dryRun: "true" } : {} }),
  );
  if (response.status !== 200) throw await answerError(response);
  const report = await response.json();
  if (flag(context.values, "json")) return printJson(report);
  if (report.findings.length === 0) return print(`nothing to repair${dryRun ? " (dry run)" : ""}`);
  type Finding = typeof report.findings[number];
  const columns: Column<Finding>[] = [
    { header: "KIND", value: (f) => f.kind },
    { header: "ACTION", value: (f) => f.action },
    { header: "SESSION", value: (f) => f.sessionId ? shortId(f.sessionId) : "-" },
    { header: "PATH", value: (f) => f.path ?? f.branch ?? "-", shrink: true },
    { header: "DETAIL", value: (f) => f.detail, shrink: true },
  ];
  print(table(columns, report.findings));
  if (dryRun) print("dry run: nothing was changed");
};

const gc: Run = async (context) => {
  const dryRun = flag(context.values, "dry-run");
  const idle = context.values.idle;
  const query: { dryRun?: "true"; idle?: string } = {};
  if (dryRun) query.dryRun = "true";
  if (typeof idle === "string") query.idle = idle;
  const api = await client(context);
  const response = await progress(
    dryRun ? "checking sessions" : "cleaning up sessions",
    () => api.v1.gc.$post({ query }),
  );
  if (response.status !== 200) throw await answerError(response);
  const report = await response.json();
  if (flag(context.values, "json")) return printJson(report);
  if (report.findings.length === 0) return print("no worktree sessions to look at");
  type Finding = typeof report.findings[number];
  const columns: Column<Finding>[] = [
    { header: "SESSION", value: (f) => shortId(f.sessionId) },
    { header: "ACTION", value: (f) => f.error !== null ? `${f.action} failed` : f.action },
    { header: "LANDED", value: (f) => f.landed ?? "-" },
    { header: "DISK", value: (f) => formatBytes(f.diskBytes) },
    { header: "TITLE", value: (f) => f.title, shrink: true },
    { header: "WHY", value: (f) => f.error ?? f.reason, shrink: true },
  ];
  print(table(columns, report.findings));
  const verb = dryRun ? "would free" : "freed";
  print(`${verb} ${formatBytes(report.reclaimedBytes)}${dryRun ? " (dry run: nothing was changed)" : ""}`);
};

const SNAPSHOT_PREFIX = "refs/session-snapshots/";

const snapshots: Run = async (context) => {
  const { values } = context;
  const api = await client(context);
  const repository = await resolveRepository(api, context.positionals[0], context.cwd);
  const sessionId = str(values, "session");
  const olderThan = str(values, "older-than");
  const prune = flag(values, "prune");
  const dryRun = flag(values, "dry-run");
  if (!prune && (olderThan !== undefined || dryRun)) {
    throw new CliError("invalidInput", "--older-than and --dry-run go with --prune", {
      hint: 'see "slo snapshots --help"',
    });
  }
  type Listed = {
    ref: string;
    sessionId: string;
    createdAt: string;
    reason: string | null;
    changedPaths: number;
    bytes: number;
    sessionExists: boolean;
  };
  const columns: Column<Listed>[] = [
    { header: "REF", value: (x) => x.ref.slice(SNAPSHOT_PREFIX.length), shrink: true, cut: "start" },
    { header: "SESSION", value: (x) => shortId(x.sessionId) },
    { header: "STATE", value: (x) => (x.sessionExists ? "exists" : "deleted") },
    { header: "AGE", value: (x) => age(x.createdAt), align: "right" },
    { header: "PATHS", value: (x) => String(x.changedPaths), align: "right" },
    { header: "SIZE", value: (x) => formatBytes(x.bytes), align: "right" },
    { header: "WHY", value: (x) => x.reason ?? "-", shrink: true },
  ];
  const param = { id: repository.id };
  if (!prune) {
    const response = await progress(
      `listing the snapshots of ${repository.name}`,
      () => api.v1.repositories[":id"].snapshots.$get({ param, query: sessionId === undefined ? {} : { sessionId } }),
    );
    if (response.status !== 200) throw await answerError(response);
    const list = await response.json();
    if (flag(values, "json")) return printJson(list);
    if (list.snapshots.length === 0) return note(`${repository.name} keeps no snapshots`);
    return print(table(columns, list.snapshots));
  }
  const query: { olderThan?: string; sessionId?: string; dryRun?: "true" } = {};
  if (olderThan !== undefined) query.olderThan = olderThan;
  if (sessionId !== undefined) query.sessionId = sessionId;
  if (dryRun) query.dryRun = "true";
  const response = await progress(
    dryRun ? `checking the snapshots of ${repository.name}` : `pruning the snapshots of ${repository.name}`,
    () => api.v1.repositories[":id"].snapshots.prune.$post({ param, query }),
  );
  if (response.status !== 200) throw await answerError(response);
  const report = await response.json();
  if (flag(values, "json")) return printJson(report);
  if (report.pruned.length > 0) print(table(columns, report.pruned));
  const count = report.pruned.length;
  const what = `${count} snapshot${count === 1 ? "" : "s"}`;
  print(dryRun ? `would delete ${what} (dry run: nothing was changed)` : `deleted ${what}`);
  if (report.kept.length > 0) {
    const kept = report.kept.length;
    print(`kept ${kept} snapshot${kept === 1 ? "" : "s"} whose session still exists`);
  }
};

const snapshotsRestore: Run = async (context) => {
  const { values } = context;
  const api = await client(context);
  const repository = await resolveRepository(api, context.positionals[0], context.cwd);
  const given = context.positionals[1];
  const ref = given.startsWith("refs/") ? given : `${SNAPSHOT_PREFIX}${given}`;
  const title = context.positionals.slice(2).join(" ");
  const worktreeName = str(values, "worktree");
  const branchName = str(values, "branch");
  const json = {
    ref,
    ...(title === "" ? {} : { title }),
    ...(worktreeName === undefined ? {} : { worktreeName }),
    ...(branchName === undefined ? {} : { branchName }),
  };
  const response = await progress(
    `restoring ${ref}`,
    () => api.v1.repositories[":id"].snapshots.restore.$post({ param: { id: repository.id }, json }),
  );
  if (response.status !== 201) throw await answerError(response);
  const session = await response.json();
  if (flag(values, "json")) return printJson(session);
  print(`created session ${session.id}  ${session.title}  (from ${ref})`);
  if (session.worktreePath !== null) print(`worktree: ${session.worktreePath}`);
  if (session.branchName !== null) print(`branch:   ${session.branchName}`);
};

const backup: Run = async (context) => {
  // The server writes the file on its own machine, so the path is made absolute here, where "." means something.
  const path = resolve(context.cwd, expandHome(context.positionals[0]));
  const overwrite = flag(context.values, "force");
  const api = await client(context);
  const response = await progress(
    `writing a backup to ${path}`,
    () => api.v1.backup.$post({ json: overwrite ? { path, overwrite } : { path } }),
  );
  if (response.status !== 200) {
    const error = await answerError(response);
    if (error.reason !== "conflict") throw error;
    throw new CliError("conflict", error.message, {
      kind: error.kind ?? undefined,
      hint: "pass --force to replace it",
    });
  }
  const written = await response.json();
  if (flag(context.values, "json")) return printJson(written);
  print(`wrote backup ${written.path}`);
  print(
    `${written.bytes} bytes, ${written.sessions} sessions, ${written.repositories} repositories; ` +
      `integrity check: ${written.integrity}`,
  );
};

function describeEvent(event: Record<string, unknown>): string {
  const repository = event.repository as Repository | undefined;
  const session = event.session as Session | undefined;
  if (repository !== undefined) return `${shortId(repository.id)}  ${repository.name}  ${repository.path}`;
  if (session !== undefined) return `${shortId(session.id)}  ${session.title}  [${session.status}]`;
  if (typeof event.sessionId === "string") return shortId(event.sessionId);
  if (event.type === "gap") {
    return `missed events ${BigInt(String(event.after)) + 1n} to ${event.through}: no longer kept`;
  }
  return "";
}

/** How long `slo events` waits before its `attempt`-th try to reconnect: 100 ms doubling to 2 s, with jitter. */
export function reconnectDelayMs(attempt: number): number {
  return Math.min(2000, 100 * 2 ** Math.min(attempt, 10)) * (0.5 + Math.random() / 2);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Reads one connection's stream to its end, handing on each event; returns why it ended.
async function printStream(
  response: { body: ReadableStream<Uint8Array> | null },
  onFrame: (frame: ServerSentEvent) => void,
): Promise<string> {
  try {
    for await (const frame of readServerSentEvents(response.body!)) onFrame(frame);
    return "was ended by the server";
  } catch (error) {
    return `broke (${(error as Error).message})`;
  }
}

const events: Run = async (context) => {
  const json = flag(context.values, "json");
  // The id of the last event (or `ready`/`gap`) received: a reconnect resumes after it.
  let lastEventId: string | null = null;
  let connection = await context.connection();
  const request = (id: string | null) =>
    connection.client.v1.events.$get({ header: id === null ? {} : { "last-event-id": id }, query: {} });
  // The first connection's failure is the command's; once following, a lost server is waited for.
  let response = await request(null);
  if (response.status !== 200) throw await answerError(response);
  let reconnected = false;
  for (;;) {
    const why = await printStream(response, (frame) => {
      if (frame.id !== null) lastEventId = frame.id;
      if (frame.event === "ready") {
        note(
          reconnected
            ? `reconnected to ${connection.server.url}; resuming after event ${lastEventId}`
            : `following events at ${connection.server.url} (Ctrl-C to stop)`,
        );
        return;
      }
      let data: Record<string, unknown>;
      try {
        data = JSON.parse(frame.data);
      } catch {
        data = { type: frame.event, data: frame.data };
      }
      if (frame.event === "gap") data = { type: "gap", ...data };
      if (json) print(JSON.stringify(data));
      else print(`${new Date().toTimeString().slice(0, 8)}  ${frame.event}  ${describeEvent(data)}`.trimEnd());
    });
    note(`the event stream ${why}; reconnecting`);
    reconnected = true;
    for (let attempt = 0;; attempt++) {
      await sleep(reconnectDelayMs(attempt));
      try {
        // Found again: a restarted server may listen elsewhere (its discovery file says where).
        connection = await context.reconnect();
        response = await request(lastEventId);
      } catch {
        continue; // Not back yet.
      }
      if (response.status === 200) break;
      const error = await answerError(response);
      if (response.status === 400 && lastEventId !== null) {
        // The server does not know our position (its database was replaced): follow from its newest event.
        note(`the server refused to resume after event ${lastEventId} (${error.message}); following its new events`);
        lastEventId = null;
      }
    }
  }
};

// The platform's program that opens a URL in the user's browser. `start` is a built-in of cmd, whose
// empty first argument is the window title; the URL holds no character cmd would read.
function opener(url: string): [string, string[]] {
  if (process.platform === "darwin") return ["open", [url]];
  if (process.platform === "win32") return ["cmd", ["/c", "start", "", url]];
  return ["xdg-open", [url]];
}

/** How long the opener may take to say it failed before it is taken to have opened the browser. */
const OPENER_WAIT_MS = 5000;

/**
 * Opens `url` with the platform's opener; the reason it could not (no such program, a failing
 * exit), or `null` once it opened. An opener still running after a while is running the browser
 * itself: it is left to it.
 */
function openInBrowser(url: string): Promise<string | null> {
  const [command, args] = opener(url);
  return new Promise((done) => {
    let child;
    try {
      child = spawn(command, args, { stdio: "ignore", detached: process.platform !== "win32" });
    } catch (error) {
      return done(`${command}: ${(error as Error).message}`);
    }
    const timer = setTimeout(() => {
      child.unref();
      done(null);
    }, OPENER_WAIT_MS);
    child.on("error", (error) => {
      clearTimeout(timer);
      const code = (error as { code?: string }).code;
      done(code === "ENOENT" ? `there is no ${command}` : `${command}: ${error.message}`);
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      done(code === 0 ? null : `${command} failed (${code ?? signal})`);
    });
  });
}

const ui: Run = async (context) => {
  const { values } = context;
  const { client: api, server } = await context.connection();
  if (socketOfUrl(server.url) !== null) {
    throw new CliError(
      "invalidInput",
      `the server listens on a Unix socket (${server.url}), which a browser cannot reach`,
      {
        hint: 'start one on TCP (the default, or "deno task serve --port 7717") for the dashboard',
      },
    );
  }
  const response = await api.v1.ui["sign-in-codes"].$post();
  if (response.status !== 201) throw await answerError(response);
  const link = await response.json();
  if (flag(values, "json")) return printJson(link);
  if (flag(values, "print-url")) return print(link.url);
  const failed = await openInBrowser(link.url);
  if (failed === null) return note("opened the dashboard in your browser (the link signs it in once)");
  note(`could not open a browser (${failed}); open this link, which signs in once within two minutes:`);
  print(link.url);
};

const mcp: Run = async (context) => {
  // Loaded only here: the other commands never load the MCP SDK.
  const { serveMcpOverStdio } = await import("../mcp/server.ts");
  await serveMcpOverStdio({
    url: str(context.values, "url"),
    tokenFile: str(context.values, "token-file"),
    dataDir: str(context.values, "data-dir"),
  });
};

const RUNS: Readonly<Record<string, Run>> = {
  "repo add": repoAdd,
  "repo list": repoList,
  "repo rm": repoRm,
  new: newSession,
  list,
  show,
  rename,
  update,
  path,
  rm,
  archive,
  restore,
  setup,
  token,
  fork,
  reconcile,
  gc,
  snapshots,
  "snapshots restore": snapshotsRestore,
  backup,
  events,
  ui,
  mcp,
};

/** Runs a parsed command; its failures are {@linkcode CliError}s. */
export async function runCommand(command: CommandSpec, positionals: string[], values: OptionValues): Promise<void> {
  const run = RUNS[command.name];
  if (run === undefined) throw new CliError("invalidInput", `no command "${command.name}"`);
  let connection: Promise<{ client: ApiClient; server: ServerEndpoint }> | null = null;
  const find = () =>
    findServer({
      url: str(values, "url"),
      tokenFile: str(values, "token-file"),
      dataDir: str(values, "data-dir"),
    }).then((server) => ({ client: clientOf(server), server }));
  await run({
    positionals,
    values,
    cwd: process.cwd(),
    connection: () => connection ??= find(),
    reconnect: () => connection = find(),
  });
}
