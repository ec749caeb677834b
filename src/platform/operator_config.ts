/**
 * The operator's config file: per repository (by its absolute path), the files each new worktree
 * gets, the setup commands run in it and the ports it leases. It is the only place commands come
 * from: nothing in a repository and nothing sent over the API can add one.
 *
 * ```json
 * { "repositories": { "/home/me/src/app": { "include": [".env*"], "setup": [["npm", "ci"]], "ports": 2 } } }
 * ```
 *
 * @module
 */

import { lstatSync, readFileSync, realpathSync } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import process from "node:process";
import { SessionError } from "../errors.ts";
import { checkRepositorySettings, type RepositorySettings } from "../repository_settings.ts";
import { parseDuration } from "../gc.ts";
import type { Repository } from "../types.ts";
import { APP_DIR_NAME, type DataDirContext } from "./data_dir.ts";

/** The config file's name in the platform's config directory. */
export const CONFIG_FILE_NAME = "config.json";

/** A config file bigger than this is refused: it is settings, not data. */
const MAX_CONFIG_BYTES = 1024 * 1024;

const TOP_LEVEL_KEYS = ["repositories", "gc"];

/** The shortest interval a periodic gc may have. */
const MIN_GC_EVERY_MS = 1_000;

/** A periodic gc in the server (the config's `"gc": { "every": "1h", "idle": "7d" }`). */
export interface PeriodicGcSettings {
  /** How long from the end of one run to the start of the next. */
  everyMs: number;
  /** Archive sessions idle longer than this; `null` for no idle limit (landed sessions only). */
  idleMs: number | null;
}

/** The operator's config, as read from its file. */
export interface OperatorConfig {
  /** The file it was read from; `null` when there was none (the default path held no file). */
  path: string | null;
  /** Each repository's settings, by its absolute path as written (links resolved where it exists). */
  repositories: Map<string, RepositorySettings>;
  /** The server's periodic gc; `null` (the default) for none. */
  gc: PeriodicGcSettings | null;
}

/**
 * Where the config file is by default: `$XDG_CONFIG_HOME/session-lifecycle-orchestrator/config.json`
 * or `~/.config/session-lifecycle-orchestrator/config.json` on Linux and other Unix systems,
 * `~/Library/Application Support/session-lifecycle-orchestrator/config.json` on macOS, and
 * `%APPDATA%\session-lifecycle-orchestrator\config.json` on Windows.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfigPath } from "./operator_config.ts";
 *
 * assert.equal(
 *   defaultConfigPath({ platform: "linux", home: "/home/me", env: {} }),
 *   "/home/me/.config/session-lifecycle-orchestrator/config.json",
 * );
 * ```
 */
export function defaultConfigPath(context: DataDirContext = {}): string {
  const env = context.env ?? process.env;
  const platform = context.platform ?? process.platform;
  const home = context.home ?? homedir();
  if (platform === "win32") {
    const appData = env.APPDATA ?? join(home, "AppData", "Roaming");
    return `${appData.replace(/[\\/]+$/, "")}\\${APP_DIR_NAME}\\${CONFIG_FILE_NAME}`;
  }
  if (platform === "darwin") return join(home, "Library", "Application Support", APP_DIR_NAME, CONFIG_FILE_NAME);
  const xdg = env.XDG_CONFIG_HOME;
  const base = xdg !== undefined && xdg.startsWith("/") ? xdg : join(home, ".config");
  return join(base, APP_DIR_NAME, CONFIG_FILE_NAME);
}

function configError(path: string, message: string, cause?: unknown): never {
  throw new SessionError("InvalidInput", `the config file ${path}: ${message}`, { cause });
}

// The path with its links resolved when it exists, so that one checkout matches however it is spelled.
function canonical(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

/**
 * Checks a config's content (the parsed JSON of its file; `path` names it in messages).
 * `InvalidInput` names the first problem: an unknown key, a relative repository path, a setup
 * command that is not an argument array.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseOperatorConfig } from "./operator_config.ts";
 *
 * const config = parseOperatorConfig({ repositories: { "/src/app": { ports: 2 } } }, "config.json");
 * assert.equal(config.repositories.get("/src/app")?.ports, 2);
 * assert.throws(() => parseOperatorConfig({ repositories: { "app": {} } }, "config.json"), /absolute/);
 * ```
 */
export function parseOperatorConfig(content: unknown, path: string): OperatorConfig {
  if (content === null || typeof content !== "object" || Array.isArray(content)) {
    configError(path, "must hold a JSON object");
  }
  const record = content as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!TOP_LEVEL_KEYS.includes(key)) {
      configError(path, `unknown key ${JSON.stringify(key)} (known: ${TOP_LEVEL_KEYS.join(", ")})`);
    }
  }
  const repositories = new Map<string, RepositorySettings>();
  const listed = record.repositories ?? {};
  if (listed === null || typeof listed !== "object" || Array.isArray(listed)) {
    configError(path, `"repositories" must be an object keyed by absolute repository path`);
  }
  for (const [key, value] of Object.entries(listed as Record<string, unknown>)) {
    if (!isAbsolute(key)) configError(path, `the repository path ${JSON.stringify(key)} must be absolute`);
    try {
      repositories.set(canonical(key), checkRepositorySettings(value, `repositories[${JSON.stringify(key)}]`));
    } catch (error) {
      configError(path, (error as Error).message, error);
    }
  }
  return { path, repositories, gc: periodicGc(record.gc, path) };
}

// The config's `gc`: `{ "every": "1h", "idle": "7d" }` (idle optional), or none.
function periodicGc(value: unknown, path: string): PeriodicGcSettings | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== "object" || Array.isArray(value)) {
    configError(path, `"gc" must be an object such as { "every": "1h" }`);
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (key !== "every" && key !== "idle") {
      configError(path, `gc has an unknown key ${JSON.stringify(key)} (known: every, idle)`);
    }
  }
  let everyMs: number;
  let idleMs: number | null = null;
  try {
    everyMs = parseDuration(record.every as string, "gc.every");
    if (record.idle !== undefined) idleMs = parseDuration(record.idle as string, "gc.idle");
  } catch (error) {
    configError(path, (error as Error).message, error);
  }
  if (everyMs < MIN_GC_EVERY_MS) configError(path, "gc.every must be at least 1s");
  return { everyMs, idleMs };
}

/**
 * Reads the config file at `path`. A missing file is an empty config when `required` is false
 * (the default path need not exist) and `InvalidInput` when it is true (a `--config` the operator
 * named); so is a file that is not JSON, is too big, or is not a plain file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadOperatorConfig } from "./operator_config.ts";
 *
 * const config = loadOperatorConfig("/nonexistent/config.json", { required: false });
 * assert.equal(config.path, null);
 * assert.equal(config.repositories.size, 0);
 * ```
 */
export function loadOperatorConfig(path: string, options: { required: boolean }): OperatorConfig {
  const absolute = resolve(path);
  let stat;
  try {
    stat = lstatSync(realpathSync(absolute));
  } catch (error) {
    if (!options.required && (error as NodeJS.ErrnoException).code === "ENOENT") {
      return { path: null, repositories: new Map(), gc: null };
    }
    configError(absolute, "cannot be read", error);
  }
  if (!stat.isFile()) configError(absolute, "is not a file");
  if (stat.size > MAX_CONFIG_BYTES) configError(absolute, `is over ${MAX_CONFIG_BYTES / 1024 / 1024} MiB`);
  let content: unknown;
  try {
    content = JSON.parse(readFileSync(absolute, "utf8"));
  } catch (error) {
    configError(absolute, `is not valid JSON (${(error as Error).message})`, error);
  }
  return parseOperatorConfig(content, absolute);
}

/**
 * The settings for `repository` in `config`: those listed under its path (as the store records
 * it, or its links resolved); `null` when it is not listed. Plug it into the orchestrator as
 * `repositorySettings`.
 */
export function settingsFor(config: OperatorConfig, repository: Repository): RepositorySettings | null {
  return config.repositories.get(repository.path) ?? config.repositories.get(canonical(repository.path)) ?? null;
}
