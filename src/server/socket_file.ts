/**
 * A Unix domain socket's file outlives the server that made it when that server is killed, and a
 * file in the way makes the next listen fail with "address in use". Such a stale file is told from
 * a live one by connecting: nobody answers a stale one.
 * Internal: not in the package's exports.
 *
 * @module
 */

import { lstatSync, unlinkSync } from "node:fs";
import { createConnection } from "node:net";
import { StartError } from "./start_error.ts";

// Resolves true when a server accepts a connection on `path`, false when the kernel refuses it
// (nobody listening: the file is stale); rejects on anything else.
function someoneListens(path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ path });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", (error: Error & { code?: string }) => {
      socket.destroy();
      if (error.code === "ECONNREFUSED") resolve(false);
      else reject(error);
    });
  });
}

/**
 * Makes `path` free for a new socket: nothing there is fine; a stale socket (left by a crash,
 * nobody listening) is removed; a socket another server listens on, or a file or folder that is
 * not a socket, is refused with a {@linkcode StartError} and left untouched.
 *
 * Between this check and the listen another server could take the path; the listen then fails
 * with "already in use", which is the same refusal.
 */
export async function claimSocketPath(path: string): Promise<"free" | "stale-removed"> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch (error) {
    if ((error as { code?: string }).code === "ENOENT") return "free";
    throw error;
  }
  if (!isSocket) {
    throw new StartError(`${path} exists and is not a socket; remove it or pass another --socket`);
  }
  let live: boolean;
  try {
    live = await someoneListens(path);
  } catch (error) {
    throw new StartError(`cannot check socket ${path}: ${(error as Error).message}`, { cause: error });
  }
  if (live) {
    throw new StartError(
      `another server is listening on socket ${path}; stop it or pass another --socket`,
    );
  }
  unlinkSync(path);
  return "stale-removed";
}
