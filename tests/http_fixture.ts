/**
 * HTTP test plumbing: the server's app over a SQLite file in a temp folder, called in-process
 * (`startTestApp`, for route behaviour) or over a real loopback socket (`startTestServer`, where
 * sockets matter), authenticated calls, and raw requests with headers fetch will not let us set (Host).
 * @module
 */

import { request as httpRequest } from "node:http";
import { type RunningServer, type ServerOptions, startServer } from "../src/server/serve.ts";
import { tempDir } from "./helpers.ts";

/** A running test server and its helpers. */
export interface TestServer {
  server: RunningServer;
  dataDir: string;
  /** Logged 500 causes. */
  logged: { message: string; cause: unknown }[];
  /** fetch with the bearer token and a JSON body when `json` is given. */
  call(path: string, init?: RequestInit & { json?: unknown }): Promise<Response>;
  /** `call`, then the parsed JSON body and status. */
  // deno-lint-ignore no-explicit-any
  callJson<T = any>(path: string, init?: RequestInit & { json?: unknown }): Promise<{ status: number; body: T }>;
  close(): Promise<void>;
}

/**
 * The app the server runs, with its real parts (SQLite file, key, token, orchestrator), called
 * in-process with `app.request()`: for route behaviour, where no socket matters. The server is
 * started as `deno task serve` starts it, but no request goes through its socket.
 */
export function startTestApp(options: Partial<ServerOptions> = {}): Promise<TestServer> {
  return startTestServer(options, "in-process");
}

/**
 * Starts a server on 127.0.0.1 port 0 with a fresh data directory; requests go over the socket,
 * for what sockets change: the server, security, SSE, shutdown.
 */
export async function startTestServer(
  options: Partial<ServerOptions> = {},
  transport: "socket" | "in-process" = "socket",
): Promise<TestServer> {
  const dir = tempDir("slo-http-");
  const logged: { message: string; cause: unknown }[] = [];
  const server = await startServer({
    dataDir: dir.path,
    port: 0,
    keychain: null,
    env: {},
    logError: (message, cause) => logged.push({ message, cause }),
    ...options,
  });
  const call = (path: string, init: RequestInit & { json?: unknown } = {}) => {
    const { json, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (!headers.has("authorization")) headers.set("authorization", `Bearer ${server.token}`);
    if (json !== undefined) headers.set("content-type", "application/json");
    const request = { ...rest, headers, body: json !== undefined ? JSON.stringify(json) : rest.body };
    if (transport === "socket") return fetch(`${server.url}${path}`, request);
    // As a client of this server sends it: its Host names the server's address and port.
    headers.set("host", new URL(server.url).host);
    return Promise.resolve(server.app.request(path, request));
  };
  return {
    server,
    dataDir: dir.path,
    logged,
    call,
    async callJson(path, init) {
      const response = await call(path, init);
      return { status: response.status, body: await response.json() };
    },
    async close() {
      await server.stop();
      dir.remove();
    },
  };
}

/** A request through node:http, which sends the headers as given (fetch fixes Host itself). */
export function rawRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method: options.method ?? "GET", headers: options.headers }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk) => (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body, headers: response.headers }));
      response.on("error", reject);
    });
    request.on("error", reject);
    if (options.body !== undefined) request.write(options.body);
    request.end();
  });
}

/** Makes a repository through the API and returns its id. */
export async function createRepository(t: TestServer, name = "app"): Promise<string> {
  const { status, body } = await t.callJson("/v1/repositories", {
    method: "POST",
    json: { path: `/src/${name}-${crypto.randomUUID()}`, name },
  });
  if (status !== 201) throw new Error(`creating a repository answered ${status}: ${JSON.stringify(body)}`);
  return body.id;
}

/** One server-sent event. */
export interface SseEvent {
  event: string;
  data: string;
  id: string | null;
}

/**
 * Reads a `GET /v1/events` stream frame by frame. A create's transient `session.progress` frames
 * are passed over unless `options.progress` asks for them: the tests that read a stream for its
 * logged events would otherwise depend on how many progress frames a create sends.
 */
export function sseReader(
  response: Response,
  options: { progress?: boolean } = {},
): { next(): Promise<SseEvent | null>; close(): Promise<void> } {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  return {
    async next() {
      for (;;) {
        const end = buffer.indexOf("\n\n");
        if (end >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const lines = frame.split("\n").filter((line) => !line.startsWith(":"));
          if (lines.length === 0) continue;
          const field = (name: string) =>
            lines.filter((line) => line.startsWith(`${name}: `)).map((line) => line.slice(name.length + 2));
          const event = field("event")[0] ?? "message";
          if (event === "session.progress" && options.progress !== true) continue;
          return { event, data: field("data").join("\n"), id: field("id")[0] ?? null };
        }
        const { done, value } = await reader.read();
        if (done) return null;
        buffer += value;
      }
    },
    async close() {
      await reader.cancel().catch(() => {});
    },
  };
}
