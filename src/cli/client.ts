/**
 * Finding the running server and talking to it: the discovery file `<data dir>/server.json` (or
 * `--url` and `--token-file`), the token, and the typed client `hc<AppType>` over TCP or a Unix
 * domain socket. Failures are {@linkcode CliError}s whose reason is the exit code's.
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

/** The typed client of the server's routes (`hc<AppType>` from `hono/client`). */
export type ApiClient = ReturnType<typeof hc<AppType>>;

/** Where to find the server; each is optional. */
export interface ConnectOptions {
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

/** A server found and a client for it. */
export interface ServerConnection {
  /** The typed client, sending the bearer token. */
  client: ApiClient;
  /** The server's URL. */
  url: string;
  /** The token file read. */
  tokenFile: string;
  /** The data directory looked in. */
  dataDir: string;
  /** What the discovery file said, or `null` when `url` was given. */
  discovered: DiscoveryRecord | null;
}

type Fetch = (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;

const START_HINT = (dataDir: string): string =>
  dataDir === defaultDataDir()
    ? `start one with "deno task serve" (or "slo serve"), or pass --url`
    : `start one with "deno task serve --data-dir ${dataDir}", or pass --url`;

// Deno and Bun each reach a Unix domain socket through fetch in their own way.
function socketFetch(path: string): Fetch {
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
function reporting(base: Fetch, url: string): Fetch {
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

/** A typed client for the server at `url` (TCP or `http+unix://`), sending `token`. */
export function clientFor(url: string, token: string): ApiClient {
  const socket = socketOfUrl(url);
  const base: Fetch = socket === null ? (input, init) => fetch(input, init) : socketFetch(socket);
  // A socket server's Host allow-list is the loopback names without a port.
  return hc<AppType>(socket === null ? url : "http://localhost", {
    headers: { authorization: `Bearer ${token}` },
    fetch: reporting(base, url),
  });
}

/**
 * Finds the running server and returns a typed client for it. With `url`, that server (token from
 * `tokenFile`, else `<data dir>/token`); otherwise the one `<data dir>/server.json` names, after
 * checking that its process exists and that it answers. No file, a stale file or a server that
 * does not answer is a {@linkcode CliError} of reason `unreachable` that says how to start one.
 *
 * @example
 * ```ts ignore
 * import { connect } from "./client.ts";
 *
 * const { client, url } = await connect(); // the server `deno task serve` started
 * const response = await client.v1.sessions.$get({ query: {} });
 * if (response.status === 200) console.log(url, (await response.json()).sessions.length);
 * ```
 */
export async function connect(options: ConnectOptions = {}): Promise<ServerConnection> {
  const dataDir = resolve(options.dataDir ?? defaultDataDir());
  if (options.url !== undefined) {
    const url = options.url.replace(/\/+$/, "");
    if (!/^https?:\/\/[^/]/.test(url) && socketOfUrl(url) === null) {
      throw new CliError("invalidInput", `--url must be an http:// or http+unix:// URL, not "${options.url}"`);
    }
    const tokenFile = resolve(options.tokenFile ?? join(dataDir, "token"));
    return { client: clientFor(url, readToken(tokenFile)), url, tokenFile, dataDir, discovered: null };
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
  const tokenFile = resolve(options.tokenFile ?? record.tokenFile);
  return {
    client: clientFor(record.url, readToken(tokenFile)),
    url: record.url,
    tokenFile,
    dataDir,
    discovered: record,
  };
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
  let message = `the server answered ${response.status}`;
  try {
    const body = JSON.parse(await response.text());
    if (typeof body?.error?.message === "string") message = body.error.message;
    if (typeof body?.error?.kind === "string") kind = body.error.kind;
  } catch {
    // Not the API's error body (a proxy, another program on the port): the status says enough.
  }
  const status = response.status;
  if (status === 400 || status === 413 || status === 415) return new CliError("invalidInput", message, { kind });
  if (status === 404) return new CliError("notFound", message, { kind });
  if (status === 409) return new CliError("conflict", message, { kind });
  if (status === 401) {
    return new CliError("failure", message, {
      kind,
      hint: "the token file is not this server's; pass --token-file or --data-dir",
    });
  }
  return new CliError("failure", message, { kind });
}
