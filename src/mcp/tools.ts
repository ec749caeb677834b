/**
 * The MCP server's tools, one entry each in {@linkcode MCP_TOOLS}. A tool over an HTTP route is
 * made by {@linkcode routeTool} from that route's entry in `../http/_routes.ts`: its input schema
 * is the route's own path, query and body schemas merged into one object (so a field the API gains
 * is a tool argument at once), its output schema the route's success answer, and its call the
 * route's method and path. The tool decides nothing the server decides: it forwards, and the
 * server's answer (or its error kind and message) is the result.
 * Internal: the published surface is `./mod.ts` (the "./mcp" export).
 *
 * @module
 */

import { z } from "@hono/zod-openapi";
// Deno reads the SDK's types only through extensionless specifiers: its "./*" export maps `x.js` to a
// missing `x.js.d.ts` (modelcontextprotocol/typescript-sdk#2701), which would make every SDK type `any`.
// @ts-types="@modelcontextprotocol/sdk/types"
import type { ToolAnnotations } from "@modelcontextprotocol/sdk/types.js";
import { answerError, type ServerEndpoint } from "../cli/client.ts";
import { CliError } from "../cli/errors.ts";
import { readServerSentEvents } from "../cli/sse.ts";
import { ROUTES, type Routes } from "../http/_routes.ts";

/** What a tool runs with: the server (found again on each call, so a restarted server is found). */
export interface ToolContext {
  /** Finds the running server; a {@linkcode CliError} of reason `unreachable` when there is none. */
  server(): Promise<ServerEndpoint>;
  /** Aborts when the client cancels the call or the connection closes. */
  signal: AbortSignal;
  /** Tells the client how the call is going (an MCP progress notification, when it asked for them). */
  progress(message: string): Promise<void>;
}

/** Tool arguments as the SDK hands them over, validated by the tool's input schema. */
export type ToolArguments = Record<string, unknown>;

/** One tool. */
export interface McpTool {
  /** Its name, as clients call it. */
  name: string;
  /** A short title for people. */
  title: string;
  /** What it does, for the model that picks tools. */
  description: string;
  /** The hints MCP clients show and act on (`readOnlyHint`, `destructiveHint`, …). */
  annotations: ToolAnnotations;
  /** Its arguments; unknown ones are refused. */
  inputSchema: z.ZodObject;
  /** Its structured result. */
  outputSchema: z.ZodType;
  /**
   * Runs it: resolves with the structured result; a failure is a {@linkcode CliError} (the
   * server's error kind and message, or why the server could not be reached).
   */
  run(args: ToolArguments, context: ToolContext): Promise<Record<string, unknown>>;
}

/** How a {@linkcode routeTool} is made: the route it calls and what the tool adds or holds fixed. */
export interface RouteToolSpec {
  /** The tool's name. */
  name: string;
  /** Its title. */
  title: string;
  /** What it does. */
  description: string;
  /** Its hints. */
  annotations: ToolAnnotations;
  /** The route it calls: a key of `ROUTES` (its `operationId`). */
  route: keyof Routes;
  /** Query arguments always sent and not offered to the client (`reconcile`'s `dryRun: true`). */
  fixed?: Record<string, string | number | boolean>;
  /** Arguments of the tool's own, never sent to the server (`confirm`). */
  extra?: Record<string, z.ZodType>;
  /** A refusal, checked before anything is sent: its message, or `null` to go on. */
  refuse?(args: ToolArguments): string | null;
}

type RouteRequest = {
  params?: z.ZodType;
  query?: z.ZodType;
  body?: { content: { "application/json": { schema: z.ZodType } } };
};
type RouteResponses = Record<string, { content?: Record<string, { schema: z.ZodType }> }>;

function shapeOf(schema: z.ZodType | undefined): Record<string, z.ZodType> {
  if (schema === undefined) return {};
  if (!(schema instanceof z.ZodObject)) throw new Error("a route's params, query and body must be zod objects");
  return schema.shape as Record<string, z.ZodType>;
}

// A query flag is `"true" | "false"` on the wire (a query string has no booleans); to a tool it is a boolean.
function isQueryFlag(schema: z.ZodType): boolean {
  const inner = schema instanceof z.ZodOptional ? schema.unwrap() : schema;
  return inner instanceof z.ZodEnum && [...inner.options].sort().join() === "false,true";
}

function successSchema(responses: RouteResponses, route: string): z.ZodType {
  for (const [status, response] of Object.entries(responses)) {
    const schema = response.content?.["application/json"]?.schema;
    if (/^2\d\d$/.test(status) && schema !== undefined) return schema;
  }
  throw new Error(`route ${route} has no JSON success answer`);
}

/**
 * A tool that calls one route of the HTTP API. Its arguments are the route's path parameters,
 * query parameters (flags as booleans) and body fields, side by side, less `fixed`, plus `extra`;
 * a name in two places is a programming error, thrown here, at load.
 */
export function routeTool(spec: RouteToolSpec): McpTool {
  const route = ROUTES[spec.route];
  const request: RouteRequest = route.request;
  const params = shapeOf(request.params);
  const query = shapeOf(request.query);
  const body = request.body === undefined ? null : shapeOf(request.body.content["application/json"].schema);
  const fixed = spec.fixed ?? {};
  const input: Record<string, z.ZodType> = {};
  const flags = new Set<string>();
  const place = (name: string, schema: z.ZodType) => {
    if (Object.hasOwn(input, name)) throw new Error(`tool ${spec.name}: argument ${name} is in two places`);
    input[name] = schema;
  };
  for (const [name, schema] of Object.entries(params)) place(name, schema);
  for (const [name, schema] of Object.entries(query)) {
    if (Object.hasOwn(fixed, name)) continue;
    if (isQueryFlag(schema)) {
      flags.add(name);
      place(name, z.boolean().optional());
    } else place(name, schema);
  }
  for (const [name, schema] of Object.entries(body ?? {})) place(name, schema);
  for (const [name, schema] of Object.entries(spec.extra ?? {})) place(name, schema);
  for (const name of Object.keys(fixed)) {
    if (!Object.hasOwn(query, name)) throw new Error(`tool ${spec.name}: fixed ${name} is not a query parameter`);
  }

  return {
    name: spec.name,
    title: spec.title,
    description: spec.description,
    annotations: spec.annotations,
    inputSchema: z.strictObject(input),
    outputSchema: successSchema(route.responses as RouteResponses, spec.route),
    async run(args, context) {
      const refusal = spec.refuse?.(args) ?? null;
      if (refusal !== null) throw new CliError("invalidInput", refusal, { kind: "InvalidInput" });
      const path = route.path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(String(args[name])));
      const search = new URLSearchParams();
      for (const [name, value] of [...Object.entries(args), ...Object.entries(fixed)]) {
        if (!Object.hasOwn(query, name) || value === undefined) continue;
        search.set(name, flags.has(name) || typeof value === "boolean" ? String(value === true) : String(value));
      }
      const json = body === null ? undefined : Object.fromEntries(
        Object.entries(args).filter(([name, value]) => Object.hasOwn(body, name) && value !== undefined),
      );
      const server = await context.server();
      const response = await server.fetch(`${server.baseUrl}${path}${search.size > 0 ? `?${search}` : ""}`, {
        method: route.method.toUpperCase(),
        headers: json === undefined ? server.headers : { ...server.headers, "content-type": "application/json" },
        body: json === undefined ? undefined : JSON.stringify(json),
        signal: context.signal,
      });
      if (response.status < 200 || response.status > 299) throw await answerError(response);
      return await response.json();
    },
  };
}

/** The longest `wait_for_change` waits, in seconds: under the 60 s an MCP client waits for an answer by default. */
export const MAX_WAIT_SECONDS = 50;

/** How long `wait_for_change` waits when not told, in seconds. */
export const DEFAULT_WAIT_SECONDS = 30;

const ChangeSchema = z.object({
  changed: z.boolean().describe("Whether a change came within the time."),
  event: z.looseObject({ type: z.string() }).nullable().describe(
    "The lifecycle event (repository.created, session.created, session.updated, session.deleted, …, with the " +
      "record it is about), or null when nothing changed.",
  ),
});

const aboutSession = (event: Record<string, unknown>, sessionId: string): boolean =>
  (event.session as { id?: unknown } | undefined)?.id === sessionId || event.sessionId === sessionId;

/** Waits for the next lifecycle event on the server's event stream (`GET /v1/events`). */
const waitForChange: McpTool = {
  name: "wait_for_change",
  title: "Wait for a change",
  description: "Wait for the next change the server commits (a session or repository created, updated or " +
    "deleted, a secret stored), or only the next one about `sessionId`, and return its event. Changes made " +
    `before the call are not replayed. Waits at most timeoutSeconds (${DEFAULT_WAIT_SECONDS} by default, at most ` +
    `${MAX_WAIT_SECONDS}); then it returns changed: false. A client that asks for progress is told once the wait ` +
    "has begun.",
  annotations: { title: "Wait for a change", readOnlyHint: true, openWorldHint: false },
  inputSchema: z.strictObject({
    sessionId: z.string().optional().describe("Only an event about this session (its id)."),
    timeoutSeconds: z.number().int().min(1).max(MAX_WAIT_SECONDS).optional().describe(
      `How long to wait, in seconds (${DEFAULT_WAIT_SECONDS} by default, at most ${MAX_WAIT_SECONDS}).`,
    ),
  }),
  outputSchema: ChangeSchema,
  async run(args, context) {
    const sessionId = args.sessionId as string | undefined;
    const seconds = (args.timeoutSeconds as number | undefined) ?? DEFAULT_WAIT_SECONDS;
    const server = await context.server();
    const stop = new AbortController();
    const cancel = () => stop.abort();
    context.signal.addEventListener("abort", cancel, { once: true });
    const timer = setTimeout(cancel, seconds * 1000);
    try {
      const response = await server.fetch(`${server.baseUrl}${ROUTES.streamEvents.path}`, {
        headers: server.headers,
        signal: stop.signal,
      });
      if (response.status !== 200) throw await answerError(response);
      for await (const message of readServerSentEvents(response.body!)) {
        if (message.event === "ready") {
          await context.progress("subscribed to the event stream; waiting for the next change");
          continue;
        }
        // A create's progress (transient, with no id) is no change.
        if (message.event === "session.progress") continue;
        const event = JSON.parse(message.data) as Record<string, unknown>;
        if (sessionId === undefined || aboutSession(event, sessionId)) return { changed: true, event };
      }
      throw new CliError("unreachable", "the server ended the event stream (it is stopping)");
    } catch (error) {
      if (stop.signal.aborted && !context.signal.aborted) return { changed: false, event: null };
      throw error;
    } finally {
      clearTimeout(timer);
      context.signal.removeEventListener("abort", cancel);
    }
  },
};

const read: ToolAnnotations = { readOnlyHint: true, openWorldHint: false };

/**
 * Every tool the MCP server offers, in the order it lists them. None runs a command: each one is
 * a call of the HTTP API (or its event stream). A tool for a new route is one entry here.
 */
export const MCP_TOOLS: readonly McpTool[] = [
  routeTool({
    name: "list_repositories",
    title: "List repositories",
    description: "A page of the repositories sessions belong to, oldest first: `limit` (100 by default, at most " +
      "1000) and `cursor` (the `nextCursor` of the previous page; null on the last).",
    annotations: { title: "List repositories", ...read },
    route: "listRepositories",
  }),
  routeTool({
    name: "list_sessions",
    title: "List sessions",
    description: "A page of sessions, oldest first, optionally of one repository (`repositoryId`) and one " +
      "`status`: `limit` (100 by default, at most 1000) and `cursor` (the `nextCursor` of the previous page; " +
      "null on the last).",
    annotations: { title: "List sessions", ...read },
    route: "listSessions",
  }),
  routeTool({
    name: "get_session",
    title: "Get a session",
    description: "One session by its id: title, status, repository, worktree path, branch, timestamps.",
    annotations: { title: "Get a session", ...read },
    route: "getSession",
  }),
  routeTool({
    name: "session_status",
    title: "A session's git state",
    description: "A worktree session's git state, read without changing anything: `dirty` (uncommitted or " +
      "untracked changes), `ahead` and `behind` its base, `landed` (merged, squash-merged or cherry-picked into " +
      "its base, or null), `diskBytes` its folder takes and `lastChangedAt`. A session without a worktree is " +
      "refused (InvalidInput).",
    annotations: { title: "A session's git state", ...read },
    route: "getSessionStatus",
  }),
  routeTool({
    name: "create_session",
    title: "Create a session",
    description: "Create a session in a repository (`repositoryId`, from list_repositories) with a `title`. " +
      "With `isWorktree: true` in a git repository the server opens its own worktree and branch " +
      "(`worktreeName`, `branchName`, `baseRef`, `useExistingBranch` choose them; by default they come from the " +
      "title). Invalid input, an unknown repository or a taken name is refused with nothing made.",
    annotations: { title: "Create a session", readOnlyHint: false, destructiveHint: false, openWorldHint: false },
    route: "createSession",
  }),
  routeTool({
    name: "archive_session",
    title: "Archive a session",
    description: "Archive a worktree session: its uncommitted work (tracked, staged and untracked) is saved under " +
      "refs/session-snapshots/… when there is any, its folder is removed, and its branch, row and secret are kept " +
      "with status `archived` until restore_session (or delete_session). Nothing is lost. Refused (Conflict) when " +
      "it is archived already or its worktree cannot be saved whole, with nothing changed.",
    annotations: {
      title: "Archive a session",
      readOnlyHint: false,
      destructiveHint: false,
      idempotentHint: false,
      openWorldHint: false,
    },
    route: "archiveSession",
  }),
  routeTool({
    name: "restore_session",
    title: "Restore a session",
    description: "Restore an archived session: its worktree comes back at its folder, on its branch at the commit " +
      "it had, with the archived work as uncommitted changes (staged as staged, untracked as untracked); the " +
      "session is `active` again. Refused (Conflict) when it is not archived or its folder or branch is taken, " +
      "with nothing changed.",
    annotations: {
      title: "Restore a session",
      readOnlyHint: false,
      destructiveHint: false,
      idempotentHint: false,
      openWorldHint: false,
    },
    route: "restoreSession",
  }),
  routeTool({
    name: "fork_session",
    title: "Fork a session",
    description: "Fork a worktree session: a new session with its own worktree and a new branch that starts at the " +
      "source's commit, with the source's uncommitted work copied in (staged as staged, untracked as untracked). " +
      "The source is left as it is. Optional: the fork's title (default: the source's with \" (fork)\"), " +
      "worktreeName, branchName, agent and issue fields. Refused (Conflict) for a taken name or a source that " +
      "cannot be copied whole, with nothing made.",
    annotations: {
      title: "Fork a session",
      readOnlyHint: false,
      destructiveHint: false,
      idempotentHint: false,
      openWorldHint: false,
    },
    route: "forkSession",
  }),
  routeTool({
    name: "delete_session",
    title: "Delete a session",
    description: "Delete a session, forget its secret, and remove the worktree it made. Does nothing unless " +
      "`confirm` is true. A worktree with uncommitted or untracked changes is kept and the call refused (Conflict) " +
      "unless `force` is true, which saves the work under refs/session-snapshots/<id> first and then discards it. " +
      "`deleteBranch` deletes the branch too, only one the server made.",
    annotations: {
      title: "Delete a session",
      readOnlyHint: false,
      destructiveHint: true,
      idempotentHint: true,
      openWorldHint: false,
    },
    route: "deleteSession",
    extra: {
      confirm: z.boolean().optional().describe("Must be true: without it the tool deletes nothing."),
    },
    refuse: (args) =>
      args.confirm === true
        ? null
        : `delete_session deletes session ${String(args.id)} and its worktree: pass confirm: true to do it`,
  }),
  routeTool({
    name: "list_snapshots",
    title: "List a repository's snapshots",
    description: "The session snapshots a repository keeps, oldest first: `id` is the repository's id (from " +
      "list_repositories), `sessionId` keeps only one session's. A snapshot is the uncommitted work a forced " +
      "delete, an archive or a fork saved under refs/session-snapshots/<session id>[.<n>]; each entry has its " +
      "`ref`, `sessionId`, `reason`, `createdAt`, `changedPaths`, `bytes` (the size of the files it changed) and " +
      "`sessionExists` (false once its session was deleted: then restore_snapshot is the way to get the work " +
      "back). Changes nothing.",
    annotations: { title: "List a repository's snapshots", ...read },
    route: "listSnapshots",
  }),
  routeTool({
    name: "restore_snapshot",
    title: "Restore a snapshot into a new session",
    description: "Bring a snapshot's work back as a new worktree session of the repository: `id` is the " +
      "repository's id, `ref` a snapshot's `ref` from list_snapshots (refs/session-snapshots/<session id> or " +
      "….<n>), `title` the new session's (`Restored <ref name>` by default; `worktreeName` and `branchName` are " +
      "optional too). The new session's branch is new and starts at the commit the snapshot was taken on; its " +
      "worktree holds the snapshot's files as uncommitted changes. The snapshot stays. Each call makes another " +
      "session. Refused with nothing made: a ref that is no snapshot (InvalidInput), one the repository lacks " +
      "(SnapshotNotFound), a taken name (Conflict).",
    annotations: {
      title: "Restore a snapshot into a new session",
      readOnlyHint: false,
      destructiveHint: false,
      idempotentHint: false,
      openWorldHint: false,
    },
    route: "restoreSnapshot",
  }),
  routeTool({
    name: "run_setup",
    title: "Run a session's setup again",
    description: "Run a worktree session's setup again (`id`: the session's id), for a setup that failed or was " +
      "interrupted: the commands are the ones the operator's config file gives the session's repository (nothing " +
      "in this call can name or change a command), run in its worktree. The answer comes at once, the session " +
      "with `setup.state` `running`; follow it with get_session or wait_for_change until the state is " +
      "`succeeded` or `failed` (then `exitCode` and `logTail` say why). Refused: a session without a worktree or " +
      "a repository without setup commands (InvalidInput), a setup already running or an archived session " +
      "(Conflict: restore it first).",
    annotations: {
      title: "Run a session's setup again",
      readOnlyHint: false,
      destructiveHint: false,
      idempotentHint: false,
      openWorldHint: false,
    },
    route: "runSessionSetup",
  }),
  routeTool({
    name: "reconcile",
    title: "Check for repairs (dry run)",
    description: "Report what a killed process left half done (worktrees, branches, rows) and what the server " +
      "would do about it; a dry run that changes nothing. The server repairs it itself when it starts.",
    annotations: { title: "Check for repairs (dry run)", ...read },
    route: "reconcile",
    fixed: { dryRun: true },
  }),
  waitForChange,
];
