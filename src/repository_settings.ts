/**
 * The operator's settings for one repository: which of the main checkout's ignored files a new
 * worktree gets, the setup commands run in it, and how many ports it leases. They come only from
 * the operator (the server's config file, or a library caller's code), never from a repository's
 * files or an API request, so nothing a repository holds can make the server run a command.
 *
 * @module
 */

import { invalid } from "./_field_checks.ts";
import { MAX_SESSION_PORTS } from "./limits.ts";

/** What the operator set for one repository; every field is optional. */
export interface RepositorySettings {
  /**
   * Patterns (gitignore syntax) of the main checkout's ignored, untracked files to copy into each
   * new worktree, besides those the checkout's `.worktreeinclude` names.
   */
  include?: string[];
  /**
   * Commands run, in order, in each new worktree once it exists: argument arrays, never a shell
   * line (use `["sh", "-c", "…"]` to have one).
   */
  setup?: string[][];
  /** How long each setup command may run before it is stopped; 10 minutes by default. */
  setupTimeoutMs?: number;
  /** How many ports each new worktree session leases. */
  ports?: number;
  /**
   * How many worktrees to keep ready at the default branch's commit (0 to {@linkcode MAX_POOL_SIZE}),
   * so that a create from it claims one instead of checking out every file; 0 (none) by default.
   */
  pool?: number;
  /**
   * Directories (relative to the checkout's top, at most {@linkcode MAX_SPARSE_PATHS}) that each new
   * worktree checks out, in git's cone mode (their files, plus the files at the top level and in each
   * parent folder): set before any file is written, so no full checkout happens first. A create with
   * them never takes a worktree from the pool. All files by default.
   */
  sparse?: string[];
}

/** Most sparse directories one repository may list. */
export const MAX_SPARSE_PATHS = 64;

/** Most ready worktrees one repository's pool may keep. */
export const MAX_POOL_SIZE = 16;

/** Most include patterns one repository may list. */
export const MAX_INCLUDE_PATTERNS = 256;
/** Most setup commands one repository may list. */
export const MAX_SETUP_COMMANDS = 32;

const SETTINGS_KEYS = ["include", "setup", "setupTimeoutMs", "ports", "pool", "sparse"];

function text(value: unknown, where: string, maxLength: number): string {
  if (typeof value !== "string" || value === "") invalid(`${where} must be a non-empty string`);
  if (value.length > maxLength) invalid(`${where} is longer than ${maxLength} characters`);
  // A NUL cannot reach git or a process's arguments; a line break would split a pattern in two.
  if (/[\0\r\n]/.test(value)) invalid(`${where} must not hold a NUL or a line break`);
  return value;
}

// One cone-mode directory: relative, inside the checkout, and never read by git as an option.
function sparsePath(value: unknown, where: string): string {
  const path = text(value, where, 4096);
  if (path.startsWith("/")) invalid(`${where} must be a relative directory path (no leading /)`);
  if (path.startsWith("-")) invalid(`${where} must not start with -`);
  if (path.split("/").includes("..")) invalid(`${where} must not hold a .. segment`);
  return path;
}

/**
 * Checks one repository's settings as the operator wrote them (`where` names them in messages)
 * and returns a copy holding only known keys; `InvalidInput` names the first problem.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkRepositorySettings } from "./repository_settings.ts";
 *
 * const settings = checkRepositorySettings({ include: [".env*"], setup: [["npm", "ci"]], ports: 2 }, "app");
 * assert.deepEqual(settings.setup, [["npm", "ci"]]);
 * assert.throws(() => checkRepositorySettings({ setup: "npm ci" }, "app"), /argument array/);
 * ```
 */
export function checkRepositorySettings(value: unknown, where: string): RepositorySettings {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    invalid(`${where} must be an object`);
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!SETTINGS_KEYS.includes(key)) {
      invalid(`${where} has an unknown key ${JSON.stringify(key)} (known: ${SETTINGS_KEYS.join(", ")})`);
    }
  }
  const settings: RepositorySettings = {};
  if (record.include !== undefined) {
    if (!Array.isArray(record.include)) invalid(`${where}.include must be an array of patterns`);
    if (record.include.length > MAX_INCLUDE_PATTERNS) {
      invalid(`${where}.include has more than ${MAX_INCLUDE_PATTERNS} patterns`);
    }
    settings.include = record.include.map((pattern, index) => text(pattern, `${where}.include[${index}]`, 1024));
  }
  if (record.setup !== undefined) {
    if (!Array.isArray(record.setup)) {
      invalid(`${where}.setup must be an array of commands, each an argument array such as ["npm", "ci"]`);
    }
    if (record.setup.length > MAX_SETUP_COMMANDS) {
      invalid(`${where}.setup has more than ${MAX_SETUP_COMMANDS} commands`);
    }
    settings.setup = record.setup.map((command, index) => {
      const at = `${where}.setup[${index}]`;
      if (!Array.isArray(command) || command.length === 0) {
        invalid(`${at} must be a non-empty argument array such as ["npm", "ci"] (no shell line)`);
      }
      return command.map((argument, position) => {
        if (typeof argument === "string" && argument === "" && position > 0) return argument;
        return text(argument, `${at}[${position}]`, 32 * 1024);
      });
    });
  }
  if (record.setupTimeoutMs !== undefined) {
    const timeout = record.setupTimeoutMs;
    if (typeof timeout !== "number" || !Number.isInteger(timeout) || timeout < 1 || timeout > 86_400_000) {
      invalid(`${where}.setupTimeoutMs must be a whole number of milliseconds from 1 to 86400000`);
    }
    settings.setupTimeoutMs = timeout;
  }
  if (record.ports !== undefined) {
    const ports = record.ports;
    if (typeof ports !== "number" || !Number.isInteger(ports) || ports < 0 || ports > MAX_SESSION_PORTS) {
      invalid(`${where}.ports must be a whole number from 0 to ${MAX_SESSION_PORTS}`);
    }
    settings.ports = ports;
  }
  if (record.pool !== undefined) {
    const pool = record.pool;
    if (typeof pool !== "number" || !Number.isInteger(pool) || pool < 0 || pool > MAX_POOL_SIZE) {
      invalid(`${where}.pool must be a whole number from 0 to ${MAX_POOL_SIZE}`);
    }
    settings.pool = pool;
  }
  if (record.sparse !== undefined) {
    if (!Array.isArray(record.sparse)) invalid(`${where}.sparse must be an array of directory paths`);
    if (record.sparse.length > MAX_SPARSE_PATHS) {
      invalid(`${where}.sparse has more than ${MAX_SPARSE_PATHS} directories`);
    }
    settings.sparse = record.sparse.map((path, index) => sparsePath(path, `${where}.sparse[${index}]`));
  }
  return settings;
}
