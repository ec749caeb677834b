/**
 * Shared test plumbing: temp folders, runtime detection, child processes, store factories.
 * @module
 */

import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { MemoryStore, SessionError, type SessionStore, type SqliteDatabase, SqliteStore } from "../mod.ts";
import { openSqliteStore, sqliteDriverName } from "../src/platform/mod.ts";

/** An `assert.rejects` check: the error is a `SessionError` of kind `expected`. */
export const errorOfKind = (expected: string): (error: unknown) => boolean => (error: unknown): boolean =>
  error instanceof SessionError && error.kind === expected;

import { isBun } from "../src/platform/_runtime.ts";

/** True under Bun: the platform's one answer, re-exported for the tests. */
export { isBun };

/** The runtime's name, for messages. */
export const runtimeName: string = isBun ? "bun" : "deno";

/** A fresh temp folder; removed by the returned cleanup. */
export function tempDir(prefix = "slo-test-"): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** The argv that runs `script` in the current runtime. */
export function runtimeArgv(script: string, args: string[] = []): string[] {
  const executable = process.execPath;
  return isBun ? [executable, script, ...args] : [executable, "run", "-A", script, ...args];
}

/** Runs `script` in a child of the current runtime; resolves with its exit code and output. */
export function runScript(
  script: string,
  args: string[] = [],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runCommand(runtimeArgv(script, args), options);
}

/** Runs `command` (an argv) to its end; resolves with its exit code and output. */
export function runCommand(
  command: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command[0], command.slice(1), {
      env: { ...process.env, ...options.env },
      cwd: options.cwd,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** A store under test and how to release it. */
export interface StoreFixture {
  store: SessionStore;
  close(): void;
}

/** A named way to make a fresh store, for suites that run the same cases against every backend. */
export interface StoreFactory {
  name: string;
  open(): Promise<StoreFixture>;
}

/** Every store backend available in this runtime. */
export async function storeFactories(): Promise<StoreFactory[]> {
  const factories: StoreFactory[] = [
    {
      name: "MemoryStore",
      open: () => Promise.resolve({ store: new MemoryStore(), close() {} }),
    },
    {
      name: "SqliteStore (node:sqlite, :memory:)",
      open: () => {
        const database = new DatabaseSync(":memory:");
        return Promise.resolve({ store: new SqliteStore(database), close: () => database.close() });
      },
    },
    {
      name: "SqliteStore (node:sqlite, WAL file)",
      open: () => {
        const dir = tempDir();
        const database = new DatabaseSync(join(dir.path, "sessions.db"));
        return Promise.resolve({
          store: new SqliteStore(database),
          close: () => {
            database.close();
            dir.remove();
          },
        });
      },
    },
    {
      // What the server ships with: the runtime's fastest built-in driver.
      name: `openSqliteStore (${sqliteDriverName()}, WAL file)`,
      open: () => {
        const dir = tempDir();
        const store = openSqliteStore(join(dir.path, "sessions.db"));
        return Promise.resolve({
          store,
          close: () => {
            store.close();
            dir.remove();
          },
        });
      },
    },
  ];
  if (isBun) {
    const specifier = "bun:sqlite";
    const { Database } = await import(specifier) as {
      Database: new (path: string) => SqliteDatabase & { close(): void };
    };
    factories.push({
      name: "SqliteStore (bun:sqlite, WAL file)",
      open: () => {
        const dir = tempDir();
        const database = new Database(join(dir.path, "sessions.db"));
        return Promise.resolve({
          store: new SqliteStore(database),
          close: () => {
            database.close();
            dir.remove();
          },
        });
      },
    });
  }
  return factories;
}

/** A repository input whose path is unique per call. */
export function repositoryInput(name = "app"): { path: string; name: string } {
  return { path: `/src/${name}-${crypto.randomUUID()}`, name };
}

/**
 * The command that runs deno from either runtime: this process under Deno; under Bun the
 * `DENO_COMMAND` that .ci/run exports (`deno`, or `npx -y deno` where deno is not installed), else `deno`.
 */
export function denoCommand(): string[] {
  if (!isBun) return [process.execPath];
  const command = (process.env.DENO_COMMAND ?? "").trim();
  return command === "" ? ["deno"] : command.split(/\s+/);
}

/** The command that runs bun from either runtime, as tests/run_all.ts finds it (`npx -y bun` without bun). */
export function bunCommand(): string[] {
  if (isBun) return [process.execPath];
  return spawnSync("bun", ["--version"], { stdio: "ignore" }).status === 0 ? ["bun"] : ["npx", "-y", "bun"];
}
