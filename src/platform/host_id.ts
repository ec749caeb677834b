/**
 * The host id: a stable name for this machine, recorded on every worktree session it makes, so that
 * with several machines on one database each server closes and repairs only its own worktrees.
 *
 * @module
 */

import { createHmac } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { errorMessage, SessionError } from "../errors.ts";
import { requireHostId } from "../_field_checks.ts";
import { writePrivateFileSync } from "./private_file.ts";

/** The environment variable that sets the host id (tests, or machines that share one `/etc/machine-id`). */
export const HOST_ID_ENV = "SESSION_LIFECYCLE_HOST_ID";

/** The file in the data directory that keeps a random host id on a machine without a readable machine id. */
export const HOST_ID_FILE = "host-id";

/** Where systemd and D-Bus keep the machine id. */
export const MACHINE_ID_PATH = "/etc/machine-id";

/** Options of {@linkcode resolveHostId}. */
export interface ResolveHostIdOptions {
  /** The data directory, where a random id is kept when the machine has no readable machine id. */
  dataDir: string;
  /** Environment variables, for {@linkcode HOST_ID_ENV}; `process.env` by default. */
  env?: Record<string, string | undefined>;
  /** The machine id file; {@linkcode MACHINE_ID_PATH} by default. */
  machineIdPath?: string;
}

/** A host id and where it came from. */
export interface ResolvedHostId {
  /** The id: letters, digits, `.`, `_`, `:` and `-`. */
  hostId: string;
  /** `env`: {@linkcode HOST_ID_ENV}; `machine-id`: derived from the machine id; `file`: kept in the data directory. */
  source: "env" | "machine-id" | "file";
}

// The machine id is a secret-ish identifier (systemd advises not to publish it): what leaves the
// machine, into a shared database, is a keyed hash of it, specific to this application.
function fromMachineId(path: string): string | null {
  let text: string;
  try {
    text = readFileSync(path, "utf8").trim();
  } catch {
    return null;
  }
  if (!/^[0-9a-f]{32}$/.test(text)) return null;
  return createHmac("sha256", text).update("session-lifecycle-orchestrator host id").digest("hex").slice(0, 32);
}

function readKept(path: string): string | null {
  try {
    const text = readFileSync(path, "utf8").trim();
    return /^[0-9a-f]{32}$/.test(text) ? text : null;
  } catch (error) {
    if ((error as { code?: string }).code === "ENOENT") return null;
    throw new SessionError("Storage", `reading the host id ${path} failed: ${errorMessage(error)}`, { cause: error });
  }
}

/**
 * This machine's host id: {@linkcode HOST_ID_ENV} when set (checked: `InvalidInput` otherwise),
 * else a keyed hash of `/etc/machine-id` (the same for every data directory of the machine, and
 * never the machine id itself), else a random id kept in `<dataDir>/host-id` (made on first call,
 * mode 0600; of two first calls at once, one id wins).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mkdtempSync, rmSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { resolveHostId } from "./host_id.ts";
 *
 * const dataDir = mkdtempSync(join(tmpdir(), "slo-"));
 * assert.deepEqual(resolveHostId({ dataDir, env: { SESSION_LIFECYCLE_HOST_ID: "build-1" } }), {
 *   hostId: "build-1",
 *   source: "env",
 * });
 * // Without a machine id, a random one is kept in the data directory.
 * const kept = resolveHostId({ dataDir, env: {}, machineIdPath: join(dataDir, "none") });
 * assert.equal(kept.source, "file");
 * assert.equal(resolveHostId({ dataDir, env: {}, machineIdPath: join(dataDir, "none") }).hostId, kept.hostId);
 * rmSync(dataDir, { recursive: true });
 * ```
 */
export function resolveHostId(options: ResolveHostIdOptions): ResolvedHostId {
  const env = options.env ?? process.env;
  const given = env[HOST_ID_ENV];
  if (given !== undefined && given !== "") return { hostId: requireHostId(given, HOST_ID_ENV), source: "env" };
  const derived = fromMachineId(options.machineIdPath ?? MACHINE_ID_PATH);
  if (derived !== null) return { hostId: derived, source: "machine-id" };
  const path = join(options.dataDir, HOST_ID_FILE);
  const kept = readKept(path);
  if (kept !== null) return { hostId: kept, source: "file" };
  try {
    mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
    const made = [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
    // A broken file is replaced; otherwise, of two first starts, exactly one id wins.
    if (writePrivateFileSync(path, `${made}\n`, existsSync(path) ? "replace" : "create")) {
      return { hostId: made, source: "file" };
    }
    const winner = readKept(path);
    if (winner !== null) return { hostId: winner, source: "file" };
    throw new Error("the file is unreadable");
  } catch (error) {
    if (error instanceof SessionError) throw error;
    throw new SessionError("Storage", `keeping the host id in ${path} failed: ${errorMessage(error)}`, {
      cause: error,
    });
  }
}
