/**
 * Several real server processes on one Postgres database, as several machines would run them: each
 * with its own data directory (token, worktrees), all with one database key. A small client per
 * server, and a reader of its event stream that keeps every event it got.
 * @module
 */

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { encodeBase64, generateDatabaseKeyBytes } from "../mod.ts";
import { tempDir } from "./helpers.ts";
import { type SseEvent, sseReader } from "./http_fixture.ts";
import { serveProcess, type ServerProcess } from "./server_process.ts";

/** An answer: status and JSON body. */
export interface Answer {
  status: number;
  // deno-lint-ignore no-explicit-any
  body: any;
}

/** One running server of a cluster. */
export interface ClusterServer {
  process: ServerProcess;
  dataDir: string;
  url: string;
  token: string;
  call(method: string, path: string, body?: unknown): Promise<Answer>;
  /** Opens `GET /v1/events` and keeps every event after `ready` in `events`. */
  follow(): Promise<EventStream>;
  /** SIGTERM, and asserts a clean exit. */
  stop(): Promise<void>;
}

/** A server's event stream, read in the background. */
export interface EventStream {
  events: SseEvent[];
  close(): Promise<void>;
}

/** A fresh database key, as `SESSION_LIFECYCLE_DATABASE_KEY` takes it. */
export function newDatabaseKey(): string {
  return encodeBase64(generateDatabaseKeyBytes());
}

/** Starts a server on `databaseUrl` in a fresh data directory, with `env` (the key among it). */
export async function startClusterServer(
  databaseUrl: string,
  env: Record<string, string>,
  args: string[] = [],
): Promise<ClusterServer> {
  const dir = tempDir("slo-cluster-");
  const process = serveProcess(["--port", "0", "--data-dir", dir.path, "--database", databaseUrl, ...args], { env });
  let url: string;
  try {
    url = await process.url;
  } catch (error) {
    dir.remove();
    throw error;
  }
  const token = readFileSync(join(dir.path, "token"), "utf8").trim();
  const headers = { authorization: `Bearer ${token}` };
  const call = async (method: string, path: string, body?: unknown): Promise<Answer> => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: body === undefined ? headers : { ...headers, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text === "" ? null : JSON.parse(text) };
  };
  const follow = async (): Promise<EventStream> => {
    const response = await fetch(`${url}/v1/events`, { headers });
    assert.equal(response.status, 200);
    const reader = sseReader(response);
    assert.equal((await reader.next())?.event, "ready");
    const events: SseEvent[] = [];
    const reading = (async () => {
      for (;;) {
        const event = await reader.next().catch(() => null);
        if (event === null) return;
        events.push(event);
      }
    })();
    return {
      events,
      close: async () => {
        await reader.close();
        await reading;
      },
    };
  };
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      if (process.child.exitCode === null && process.child.signalCode === null) {
        process.signal("SIGTERM");
        const exit = await process.closed;
        assert.equal(exit.code, 0, process.output());
      }
    } finally {
      dir.remove();
    }
  };
  return { process, dataDir: dir.path, url, token, call, follow, stop };
}

/** Starts `count` servers at once, each with `envOf(i)`. */
export async function startCluster(
  databaseUrl: string,
  count: number,
  envOf: (index: number) => Record<string, string>,
): Promise<ClusterServer[]> {
  const started = await Promise.allSettled(
    Array.from({ length: count }, (_, i) => startClusterServer(databaseUrl, envOf(i))),
  );
  const servers = started.flatMap((result) => result.status === "fulfilled" ? [result.value] : []);
  const failure = started.find((result) => result.status === "rejected");
  if (failure !== undefined) {
    await Promise.all(servers.map((server) => server.stop().catch(() => {})));
    throw (failure as PromiseRejectedResult).reason;
  }
  return servers;
}

/** Waits until `check()` holds, polling; fails after `timeoutMs` with `what`. */
export async function until(check: () => boolean, what: () => string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** An event's identity: its type and the record it is about. */
export function eventKey(event: SseEvent): string {
  const data = JSON.parse(event.data);
  const subject = data.session?.id ?? data.repository?.id ?? data.sessionId;
  return `${event.event} ${subject}`;
}

/** Every page of `GET /v1/sessions` through `server`. */
// deno-lint-ignore no-explicit-any
export async function listAllSessions(server: ClusterServer): Promise<any[]> {
  // deno-lint-ignore no-explicit-any
  const all: any[] = [];
  let cursor: string | null = null;
  do {
    const query: string = cursor === null ? "" : `&cursor=${encodeURIComponent(cursor)}`;
    const page = await server.call("GET", `/v1/sessions?limit=1000${query}`);
    assert.equal(page.status, 200, JSON.stringify(page.body));
    all.push(...page.body.sessions);
    cursor = page.body.nextCursor;
  } while (cursor !== null);
  return all;
}
