/**
 * The command line as people run it: a real server process and the real CLI in child processes of
 * the runtime under test, with the server's data directory as the default one (`XDG_DATA_HOME`),
 * so the CLI finds the server through its discovery file with no flag at all.
 * @module
 */

import { join } from "node:path";
import process from "node:process";
import assert from "node:assert/strict";
import { APP_DIR_NAME } from "../src/platform/data_dir.ts";
import { isBun, runCommand, runtimeArgv, tempDir } from "./helpers.ts";
import { root, serveProcess, type ServerProcess } from "./server_process.ts";

/** The CLI's entry. */
export const cliEntry: string = join(root, "src/cli/main.ts");

/** How a CLI run ended. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A temp data directory, its server, and the CLI pointed at it through the default data directory. */
export interface CliWorld {
  /** The temp folder (`XDG_DATA_HOME`); removed by `close`. */
  base: string;
  /** The server's data directory: the default one under `base`. */
  dataDir: string;
  /** What every CLI and server child gets. */
  env: Record<string, string>;
  /**
   * Starts the server (`deno task serve` under Deno with `via: "task"`) on a free port (or `port`),
   * or on `socket`; resolves once it listens.
   */
  serve(
    options?: {
      via?: "task" | "direct";
      socket?: string;
      port?: number;
      args?: string[];
      env?: Record<string, string>;
    },
  ): Promise<ServerProcess>;
  /** Runs the CLI with `args`, no flag added (`deno task cli` under Deno with `via: "task"`). */
  cli(
    args: string[],
    options?: { cwd?: string; via?: "task" | "direct"; env?: Record<string, string> },
  ): Promise<CliRun>;
  /** Kills what is still running and removes the folder. */
  close(): Promise<void>;
}

// On Linux the default data directory follows XDG_DATA_HOME; elsewhere the flag says it.
const onLinux = process.platform === "linux";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function run(command: string[], options: { cwd?: string; env: Record<string, string> }): Promise<CliRun> {
  return runCommand(command, { cwd: options.cwd ?? root, env: options.env });
}

/** A world for one test. */
export function cliWorld(prefix: string): CliWorld {
  const dir = tempDir(prefix);
  const dataDir = join(dir.path, APP_DIR_NAME);
  const env = { XDG_DATA_HOME: dir.path, DBUS_SESSION_BUS_ADDRESS: "", SESSION_LIFECYCLE_DATABASE_KEY: "" };
  const servers: ServerProcess[] = [];
  const extra = onLinux ? [] : ["--data-dir", dataDir];
  return {
    base: dir.path,
    dataDir,
    env,
    async serve(options = {}) {
      const where = options.socket === undefined ? ["--port", String(options.port ?? 0)] : ["--socket", options.socket];
      const server = serveProcess([...where, ...extra, ...options.args ?? []], {
        via: options.via,
        env: { ...env, ...options.env },
      });
      servers.push(server);
      await server.url;
      return server;
    },
    cli(args, options = {}) {
      const command = options.via === "task" && !isBun
        ? [process.execPath, "task", "--quiet", "cli", ...args, ...extra]
        : runtimeArgv(cliEntry, [...args, ...extra]);
      return run(command, { cwd: options.cwd, env: { ...env, ...options.env } });
    },
    async close() {
      for (const server of servers) {
        if (server.child.exitCode !== null || server.child.signalCode !== null) continue;
        // SIGTERM: `deno task` forwards it to the server, where a SIGKILL of the task would orphan it.
        server.signal("SIGTERM");
        const stopped = await Promise.race([server.closed.then(() => true), sleep(10_000).then(() => false)]);
        if (!stopped) {
          server.child.kill("SIGKILL");
          await server.closed;
        }
      }
      dir.remove();
    },
  };
}

/** The run succeeded; its stdout as JSON. */
export function jsonOf<T = unknown>(run: CliRun): T {
  assert.equal(run.code, 0, run.stderr);
  return JSON.parse(run.stdout);
}

/** The run ended with `code`, and said `message` (and nothing like a stack trace) on stderr. */
export function assertFails(run: CliRun, code: number, message: RegExp): void {
  assert.equal(run.code, code, `exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  assert.match(run.stderr, /^error: /);
  assert.match(run.stderr, message);
  assert.doesNotMatch(run.stderr, /^\s+at /m);
  assert.equal(run.stdout, "");
}

/** No progress line (carriage returns, spinner frames, escape sequences) reached a stream that is not a terminal. */
export function assertNoProgress(run: CliRun): void {
  // deno-lint-ignore no-control-regex
  assert.doesNotMatch(run.stderr, /[\r\u001b⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/);
}
