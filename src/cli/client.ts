/**
 * Finding the running server: the discovery file `<data dir>/server.json` (or `--url` and
 * `--token-file`), the token, a `fetch` over TCP or a Unix domain socket, and the typed client
 * `hc<AppType>` over them. Failures are {@linkcode CliError}s whose reason is the exit code's.
 *
 * @module
 */

import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { hc } from "hono/client";
import type { AppType } from "../http/mod.ts";
import { defaultDataDir } from "../platform/data_dir.ts";
import { checkServer, type DiscoveryRecord, readDiscoveryFile } from "../server/discovery.ts";
import { CliError } from "./errors.ts";
import type { ForceableRefusal } from "../errors.ts";

/** The typed client of the server's routes (`hc<AppType>` from `hono/client`). Internal to the CLI. */
export type ApiClient = ReturnType<typeof hc<AppType>>;

/** Where to find the server; each is optional. */
export interface FindServerOptions {
  /**
   * The server's URL (`http://127.0.0.1:7717`, or `http+unix://<encoded socket path>` as the server
   * prints it), instead of the discovery file.
   */
  url?: string;
  /** The token file, instead of the discovery file's (or `<data dir>/token` with `url`). */
  tokenFile?: string;
  /** Which server's data directory to look in; the platform's default data directory by default. */
  dataDir?: string;
  /** How long the liveness check of a discovered server may take, in ms; 2000 by default. */
  timeoutMs?: number;
}

/** A `fetch` for one server. */
export type ServerFetch = (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;

/**
 * A running server found, and what a client needs to call it: pass `baseUrl`, `headers` and `fetch`
 * to `hc<AppType>` (from `hono/client`; `AppType` from the "./hono" export) for the typed client.
 */
export interface ServerEndpoint {
  /** The server's URL as it prints it (`http://…`, or `http+unix://…` for a socket). */
  url: string;
  /** The base URL to request (on a socket: `http://localhost`, reached through `fetch`). */
  baseUrl: string;
  /** The bearer token. */
  token: string;
  /** The headers every request sends: the `authorization` header. */
  headers: Record<string, string>;
  /**
   * The `fetch` to use: over the socket for a socket server; a network failure rejects with a
   * {@linkcode CliError} of reason `unreachable`.
   */
  fetch: ServerFetch;
  /** The token file read. */
  tokenFile: string;
  /** The data directory looked in. */
  dataDir: string;
  /** What the discovery file said, or `null` when `url` was given. */
  discovered: DiscoveryRecord | null;
}

const START_HINT = (dataDir: string): string =>
  dataDir === defaultDataDir()
    ? `start one with "deno task serve" (or "slo serve"), or pass --url`
    : `start one with "deno task serve --data-dir ${dataDir}", or pass --url`;

// Deno and Bun each reach a Unix domain socket through fetch in their own way.
function socketFetch(path: string): ServerFetch {
  const bun = (globalThis as { Bun?: unknown }).Bun !== undefined;
  if (bun) {
    return (input, init) => fetch(input, { ...init, unix: path } as RequestInit);
  }
  const deno = (globalThis as unknown as {
    Deno: { createHttpClient(options: { proxy: { transport: "unix"; path: string } }): unknown };
  }).Deno;
  const client = deno.createHttpClient({ proxy: { transport: "unix", path } });
  return (input, init) => fetch(input, { ...init, client } as RequestInit);
}

/** The socket path of an `http+unix://` URL, or `null` for any other. */
export function socketOfUrl(url: string): string | null {
  const match = /^http\+unix:\/\/([^/?#]+)/.exec(url);
  return match === null ? null : decodeURIComponent(match[1]);
}

function readToken(path: string): string {
  let token: string;
  try {
    token = readFileSync(path, "utf8").trim();
  } catch (error) {
    const code = (error as { code?: string }).code;
    const why = code === "ENOENT"
      ? "it does not exist"
      : code === "EACCES"
      ? "permission denied"
      : (error as Error).message;
    throw new CliError("failure", `cannot read the token file ${path}: ${why}`, {
      hint: "pass --token-file, or --data-dir to name the server's data directory",
      cause: error,
    });
  }
  if (token === "") throw new CliError("failure", `the token file ${path} is empty`);
  return token;
}

// The runtimes word a refused connection differently (Deno puts it in the cause); one short reason.
function networkReason(error: unknown): string {
  const { message, code, cause } = (error ?? {}) as { message?: string; code?: string; cause?: { message?: string } };
  const text = `${code ?? ""} ${message ?? ""} ${cause?.message ?? ""}`;
  if (/ECONNREFUSED|connection refused/i.test(text)) return "connection refused";
  if (/ENOENT|no such file/i.test(text)) return "no such socket";
  if (/ETIMEDOUT|timed out/i.test(text)) return "timed out";
  return (cause?.message ?? message ?? String(error)).replace(/\s+/g, " ").trim();
}

// A fetch whose network failures are "unreachable", said in one line.
function reporting(base: ServerFetch, url: string): ServerFetch {
  return async (input, init) => {
    try {
      return await base(input, init);
    } catch (error) {
      if ((error as Error)?.name === "AbortError") throw error;
      throw new CliError("unreachable", `cannot reach the server at ${url}: ${networkReason(error)}`, {
        hint: 'is it running? start one with "deno task serve"',
        cause: error,
      });
    }
  };
}

function endpoint(
  url: string,
  tokenFile: string,
  dataDir: string,
  discovered: DiscoveryRecord | null,
): ServerEndpoint {
  const token = readToken(tokenFile);
  const socket = socketOfUrl(url);
  const base: ServerFetch = socket === null ? (input, init) => fetch(input, init) : socketFetch(socket);
  return {
    url,
    // A socket server's Host allow-list is the loopback names without a port.
    baseUrl: socket === null ? url : "http://localhost",
    token,
    headers: { authorization: `Bearer ${token}` },
    fetch: reporting(base, url),
    tokenFile,
    dataDir,
    discovered,
  };
}

/** The typed client for a server found with {@linkcode findServer}. */
export function clientOf(server: ServerEndpoint): ApiClient {
  return hc<AppType>(server.baseUrl, { headers: server.headers, fetch: server.fetch });
}

/**
 * Finds the running server. With `url`, that server (token from `tokenFile`, else
 * `<data dir>/token`); otherwise the one `<data dir>/server.json` names, after checking that its
 * process exists and that it answers. No file, a stale file or a server that does not answer is a
 * {@linkcode CliError} of reason `unreachable` whose message says so and whose hint says how to
 * start one; a token file that cannot be read is one of reason `failure`.
 *
 * @example The typed client for the server `deno task serve` started
 * ```ts ignore
 * import { hc } from "hono/client";
 * import type { AppType } from "../http/mod.ts"; // the "./hono" export
 * import { findServer } from "./client.ts";
 *
 * const server = await findServer();
 * const client = hc<AppType>(server.baseUrl, { headers: server.headers, fetch: server.fetch });
 * const response = await client.v1.sessions.$get({ query: {} });
 * if (response.status === 200) console.log(server.url, (await response.json()).sessions.length);
 * ```
 */
export async function findServer(options: FindServerOptions = {}): Promise<ServerEndpoint> {
  const dataDir = resolve(options.dataDir ?? defaultDataDir());
  if (options.url !== undefined) {
    const url = options.url.replace(/\/+$/, "");
    if (!/^https?:\/\/[^/]/.test(url) && socketOfUrl(url) === null) {
      throw new CliError("invalidInput", `--url must be an http:// or http+unix:// URL, not "${options.url}"`);
    }
    return endpoint(url, resolve(options.tokenFile ?? join(dataDir, "token")), dataDir, null);
  }
  const read = readDiscoveryFile(dataDir);
  if (read.state === "missing") {
    throw new CliError("unreachable", `no server is running for ${dataDir} (it has no server.json)`, {
      hint: START_HINT(dataDir),
    });
  }
  if (read.state === "invalid") {
    throw new CliError("unreachable", `${read.path} is not a discovery file (${read.reason})`, {
      hint: START_HINT(dataDir),
    });
  }
  const record = read.record;
  const check = await checkServer(record, options.timeoutMs);
  if (!check.live) {
    const why = check.reason === "process-gone"
      ? `its process ${record.pid} is gone`
      : `nothing answers at ${record.url}`;
    throw new CliError("unreachable", `stale ${read.path}: ${why}; the server was stopped without cleaning up`, {
      hint: START_HINT(dataDir),
    });
  }
  return endpoint(record.url, resolve(options.tokenFile ?? record.tokenFile), dataDir, record);
}

/** An answer the client got; only what an error needs. */
export interface AnswerLike {
  /** The HTTP status. */
  status: number;
  /** The body as text. */
  text(): Promise<string>;
}

/**
 * The {@linkcode CliError} for a server's error answer: 400, 413, 415 invalid input; 404 not found;
 * 409 conflict; anything else a failure. The message is the server's own.
 */
export async function answerError(response: AnswerLike): Promise<CliError> {
  let kind: string | undefined;
  let forceable = false;
  let details: ForceableRefusal | null = null;
  let message = `the server answered ${response.status}`;
  try {
    const body = JSON.parse(await response.text());
    if (typeof body?.error?.message === "string") message = body.error.message;
    if (typeof body?.error?.kind === "string") kind = body.error.kind;
    forceable = body?.error?.forceable === true;
    const found = body?.error?.details;
    if (
      forceable && typeof found === "object" && found !== null && Array.isArray(found.dirtyPaths) &&
      Number.isSafeInteger(found.dirtyPathCount)
    ) {
      details = {
        forceable: true,
        wouldSnapshot: found.wouldSnapshot === true,
        dirtyPaths: found.dirtyPaths.filter((path: unknown) => typeof path === "string"),
        dirtyPathCount: found.dirtyPathCount,
      };
    }
  } catch {
    // Not the API's error body (a proxy, another program on the port): the status says enough.
  }
  const status = response.status;
  if (status === 400 || status === 413 || status === 415) return new CliError("invalidInput", message, { kind });
  if (status === 404) return new CliError("notFound", message, { kind });
  if (status === 409) return new CliError("conflict", message, { kind, forceable, details });
  if (status === 401) {
    return new CliError("failure", message, {
      kind,
      hint: "the token file is not this server's; pass --token-file or --data-dir",
    });
  }
  return new CliError("failure", message, { kind });
}
