/**
 * Where the server keeps its files by default, following each platform's convention.
 *
 * @module
 */

import { homedir } from "node:os";
import { join } from "node:path";
import process from "node:process";

/** The folder name used under the platform's data directory. */
export const APP_DIR_NAME = "session-lifecycle-orchestrator";

/** What {@linkcode defaultDataDir} looks at; each defaults to the running process's own. */
export interface DataDirContext {
  /** Environment variables (`XDG_DATA_HOME`, `APPDATA`). */
  env?: Record<string, string | undefined>;
  /** `process.platform`: `linux`, `darwin`, `win32`, … */
  platform?: string;
  /** The user's home folder. */
  home?: string;
}

/**
 * The platform's data directory for this program: `$XDG_DATA_HOME/session-lifecycle-orchestrator`
 * or `~/.local/share/session-lifecycle-orchestrator` on Linux and other Unix systems,
 * `~/Library/Application Support/session-lifecycle-orchestrator` on macOS, and
 * `%APPDATA%\session-lifecycle-orchestrator` on Windows. A relative `XDG_DATA_HOME` is ignored,
 * as the XDG specification asks.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultDataDir } from "./data_dir.ts";
 *
 * assert.equal(
 *   defaultDataDir({ platform: "linux", home: "/home/me", env: {} }),
 *   "/home/me/.local/share/session-lifecycle-orchestrator",
 * );
 * ```
 */
export function defaultDataDir(context: DataDirContext = {}): string {
  const env = context.env ?? process.env;
  const platform = context.platform ?? process.platform;
  const home = context.home ?? homedir();
  if (platform === "win32") {
    const appData = env.APPDATA ?? join(home, "AppData", "Roaming");
    return `${appData.replace(/[\\/]+$/, "")}\\${APP_DIR_NAME}`;
  }
  if (platform === "darwin") return join(home, "Library", "Application Support", APP_DIR_NAME);
  const xdg = env.XDG_DATA_HOME;
  const base = xdg !== undefined && xdg.startsWith("/") ? xdg : join(home, ".local", "share");
  return join(base, APP_DIR_NAME);
}
