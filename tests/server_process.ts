/**
 * The server as a real child process, for the tests where sockets, signals and exits matter: its
 * output as it comes, a wait for a line, and its exit.
 * @module
 */

import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { isBun, runtimeArgv } from "./helpers.ts";

/** The repository root. */
export const root: string = new URL("..", import.meta.url).pathname;

/** The server entry. */
export const serverEntry: string = join(root, "src/server/main.ts");

/** How a child process ended. */
export interface Exit {
  code: number | null;
  signal: string | null;
}

/** A server child process. */
export interface ServerProcess {
  child: ChildProcess;
  /** Everything it wrote so far, stdout and stderr interleaved. */
  output(): string;
  /** Where it listens, once it says so; rejects if it exits first. */
  url: Promise<string>;
  /** Resolves once its output matches `pattern`; rejects if it exits first. */
  waitFor(pattern: RegExp): Promise<void>;
  /** Resolves once it has exited and its output pipes are shut. */
  closed: Promise<Exit>;
  /**
   * Sends `signal` to the process. Not `child.kill()`: under Deno that sends nothing once it has
   * been called before, and makes the exit report the signal sent instead of the exit code.
   */
  signal(signal: NodeJS.Signals): void;
}

/** How to start it. */
export interface ServeOptions {
  /**
   * `task`: `deno task serve` under Deno (as the README says; Bun has no task runner here, so the
   * entry itself); `direct`: the entry itself in the current runtime.
   */
  via?: "task" | "direct";
  /** Its own process group, so a signal can reach the whole group, as a terminal's Ctrl-C does. */
  detached?: boolean;
  /** Environment variables set (over the scrubbed ones) for this server. */
  env?: Record<string, string>;
  /** Run it with at most this many open files (`ulimit -n`), to run it out of descriptors. */
  openFileLimit?: number;
}

// No session bus, so a server never touches the machine's keychain; no key and no DATABASE_URL from
// the environment (CI sets one for the Postgres tests), so a server runs on SQLite unless told.
const SCRUBBED_ENV = {
  DBUS_SESSION_BUS_ADDRESS: "",
  SESSION_LIFECYCLE_DATABASE_KEY: "",
  SESSION_LIFECYCLE_HOST_ID: "",
  DATABASE_URL: "",
  // Never the developer's own config file: a test names one with --config when it needs one.
  XDG_CONFIG_HOME: "/nonexistent/slo-test-config",
};

/** Starts the server with `args`, with no session bus (so it never touches the machine's keychain) and no DATABASE_URL. */
export function serveProcess(args: string[], options: ServeOptions = {}): ServerProcess {
  const command = options.via === "task" && !isBun
    ? [process.execPath, "task", "serve", ...args]
    : runtimeArgv(serverEntry, args);
  const env = { ...process.env, ...SCRUBBED_ENV, ...options.env };
  if (options.openFileLimit !== undefined) {
    command.unshift("bash", "-c", `ulimit -n ${options.openFileLimit} && exec "$@"`, "bash");
  }
  const child = spawn(command[0], command.slice(1), {
    cwd: root,
    env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: options.detached ?? false,
  });
  let output = "";
  const waiters = new Set<() => void>();
  const look = (chunk: Buffer) => {
    output += chunk.toString();
    for (const check of waiters) check();
  };
  child.stdout!.on("data", look);
  child.stderr!.on("data", look);
  // "close" fires once the process has exited and its output pipes are shut, which, under
  // `deno task`, also waits for the server process the task started (it holds the same pipes).
  const closed = new Promise<Exit>((resolve) => child.on("close", (code, signal) => resolve({ code, signal })));
  const waitFor = (pattern: RegExp) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!pattern.test(output)) return;
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
      check();
      closed.then(({ code, signal }) => {
        if (waiters.delete(check)) {
          reject(new Error(`server exited (${code ?? signal}) before printing ${pattern}:\n${output}`));
        }
      });
    });
  const url = waitFor(/listening on (\S+)/).then(() => /listening on (\S+)/.exec(output)![1]);
  const signal = (name: NodeJS.Signals) => process.kill(child.pid!, name);
  return { child, output: () => output, url, waitFor, closed, signal };
}

/** Runs the server entry to its end (for refusals at start); resolves with its exit and output. */
export async function serveUntilExit(
  args: string[],
  env: Record<string, string> = {},
): Promise<Exit & { stdout: string; stderr: string }> {
  const command = runtimeArgv(serverEntry, args);
  const child = spawn(command[0], command.slice(1), {
    cwd: root,
    env: { ...process.env, ...SCRUBBED_ENV, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const exit = await new Promise<Exit>((resolve) => child.on("close", (code, signal) => resolve({ code, signal })));
  return { ...exit, stdout, stderr };
}

/** One JSON answer of a server process. */
export interface JsonAnswer {
  status: number;
  // deno-lint-ignore no-explicit-any
  body: any;
}

/**
 * Calls a server process's API as its operator does: with the token from `<dataDir>/token`, a JSON
 * body when one is given, and the answer read as JSON.
 */
export function apiCaller(
  url: string,
  dataDir: string,
): (method: string, path: string, body?: unknown) => Promise<JsonAnswer> {
  const token = readFileSync(join(dataDir, "token"), "utf8").trim();
  return async (method, path, body) => {
    const response = await fetch(new URL(path, url), {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() };
  };
}
