/**
 * The discovery file: while a server runs, `<data dir>/server.json` (mode 0600) says where it
 * listens, its pid and version, and where its token is, so a client on the same machine finds it
 * with no port or token handed over. The server writes it whole (a private temp file, fsync,
 * rename) once it listens, and removes it on a clean stop. A file left by a killed server is
 * stale: its pid is gone, or nothing answers at its address. The next server replaces it; a
 * client reports it as stale.
 * Internal: not in the package's exports; clients use the "./cli" export (`connect`).
 *
 * @module
 */

import { processExists } from "../platform/_process.ts";
import { readFileSync, rmSync } from "node:fs";
import { writePrivateFileSync } from "../platform/private_file.ts";
import { request } from "node:http";
import { join, resolve } from "node:path";

/** The discovery file's name inside the data directory. */
export const DISCOVERY_FILE_NAME = "server.json";

/** What the discovery file holds. */
export interface DiscoveryRecord {
  /** Where the server answers: `http://127.0.0.1:7717`, or `http+unix://<encoded path>` on a socket. */
  url: string;
  /** The Unix domain socket's path, or `null` on TCP. */
  socket: string | null;
  /** The server's process id. */
  pid: number;
  /** The server's package version. */
  version: string;
  /** The file that holds the bearer token (absolute). */
  tokenFile: string;
  /** The server's data directory (absolute). */
  dataDir: string;
  /** When the server started listening (ISO-8601, UTC). */
  startedAt: string;
}

/** What reading a discovery file found. */
export type DiscoveryRead =
  | { state: "missing"; path: string }
  | { state: "invalid"; path: string; reason: string }
  | { state: "found"; path: string; record: DiscoveryRecord };

/** Whether the server a record names is there. */
export type ServerCheck =
  | { live: true }
  | { live: false; reason: "process-gone" | "not-answering" };

/** `<dataDir>/server.json`, absolute. */
export function discoveryPath(dataDir: string): string {
  return join(resolve(dataDir), DISCOVERY_FILE_NAME);
}

function isRecord(value: unknown): value is DiscoveryRecord {
  const record = value as Partial<DiscoveryRecord> | null;
  return typeof record === "object" && record !== null &&
    typeof record.url === "string" && /^http(\+unix)?:\/\//.test(record.url) &&
    (record.socket === null || typeof record.socket === "string") &&
    Number.isSafeInteger(record.pid) && (record.pid ?? 0) > 0 &&
    typeof record.version === "string" && typeof record.tokenFile === "string" &&
    typeof record.dataDir === "string" && typeof record.startedAt === "string";
}

/** Reads `<dataDir>/server.json`: missing, not a discovery record (say, a truncated file), or found. */
export function readDiscoveryFile(dataDir: string): DiscoveryRead {
  const path = discoveryPath(dataDir);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "ENOENT" || code === "ENOTDIR") return { state: "missing", path };
    return { state: "invalid", path, reason: (error as Error).message };
  }
  try {
    const value: unknown = JSON.parse(text);
    if (isRecord(value)) return { state: "found", path, record: value };
    return { state: "invalid", path, reason: "it is not a discovery record" };
  } catch {
    return { state: "invalid", path, reason: "it is not JSON" };
  }
}

/** Whether a process with this id exists (see `processExists` in the platform). */
export { processExists };

/**
 * Resolves true when `GET /v1/health` at the record's address answers `{ "status": "ok" }` within
 * `timeoutMs`; false when nothing answers (refused, silent, or another program's answer).
 */
export function serverAnswers(record: Pick<DiscoveryRecord, "url" | "socket">, timeoutMs = 2000): Promise<boolean> {
  return new Promise((done) => {
    let target: { socketPath: string } | { hostname: string; port: number };
    let host = "localhost";
    if (record.socket !== null) {
      target = { socketPath: record.socket };
    } else {
      let url: URL;
      try {
        url = new URL(record.url);
      } catch {
        return done(false);
      }
      target = { hostname: url.hostname.replace(/^\[|\]$/g, ""), port: Number(url.port || 80) };
      host = url.host;
    }
    let settled = false;
    const finish = (answer: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      done(answer);
    };
    const req = request({ ...target, path: "/v1/health", method: "GET", headers: { host } }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => {
        body += chunk;
        if (body.length > 1024) finish(false);
      });
      response.on("end", () => {
        try {
          finish(response.statusCode === 200 && JSON.parse(body)?.status === "ok");
        } catch {
          finish(false);
        }
      });
      response.on("error", () => finish(false));
    });
    const timer = setTimeout(() => finish(false), timeoutMs);
    req.on("error", () => finish(false));
    req.end();
  });
}

/** Whether the server a record names is running: its process exists and it answers at its address. */
export async function checkServer(record: DiscoveryRecord, timeoutMs = 2000): Promise<ServerCheck> {
  // A killed process not yet reaped by its parent still "exists"; the health check tells.
  if (!processExists(record.pid)) return { live: false, reason: "process-gone" };
  return await serverAnswers(record, timeoutMs) ? { live: true } : { live: false, reason: "not-answering" };
}

/** The live server a data directory's discovery file names, or `null` (no file, or a stale one). */
export async function liveServer(dataDir: string): Promise<DiscoveryRecord | null> {
  const read = readDiscoveryFile(dataDir);
  if (read.state !== "found") return null;
  return (await checkServer(read.record)).live ? read.record : null;
}

/**
 * Writes `<dataDir>/server.json` whole: a private temp file (mode 0600) beside it, fsync, then a
 * rename over whatever was there, so a reader sees the old file or the new one, never a part.
 * The caller holds the data directory's lock (`lockDataDir`), so no other server is live on it.
 */
export function writeDiscoveryFile(dataDir: string, record: DiscoveryRecord): string {
  const path = discoveryPath(dataDir);
  writePrivateFileSync(path, `${JSON.stringify(record, null, 2)}\n`);
  return path;
}

/**
 * Removes `<dataDir>/server.json` if it is still this server's (same pid and url): a file another
 * server has written since is left alone.
 */
export function removeDiscoveryFile(dataDir: string, owner: Pick<DiscoveryRecord, "pid" | "url">): void {
  const read = readDiscoveryFile(dataDir);
  if (read.state === "found" && read.record.pid === owner.pid && read.record.url === owner.url) {
    rmSync(read.path, { force: true });
  }
}
