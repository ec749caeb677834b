// A create ends as a whole session (row and sealed secret) or as nothing, wherever the process is
// killed: a real server process is SIGKILLed in the middle of 64 concurrent plain creates, five
// times, and then restarted.
import { test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { DatabaseSync } from "node:sqlite";
import { asyncDisposable, disposable } from "../fixtures/disposable.ts";
import { runtimeArgv, tempDir } from "../fixtures/helpers.ts";

const root = new URL("../..", import.meta.url).pathname;
const SERVER_ENTRY = join(root, "src/server/main.ts");

function startServerProcess(dataDir: string): { child: ChildProcess; url: Promise<string>; exited: Promise<void> } {
  const [command, ...args] = runtimeArgv(SERVER_ENTRY, ["--port", "0", "--data-dir", dataDir]);
  // No session bus: the server must not touch the machine's real keychain. No DATABASE_URL: SQLite.
  const env = { ...process.env, DBUS_SESSION_BUS_ADDRESS: "", SESSION_LIFECYCLE_DATABASE_KEY: "", DATABASE_URL: "" };
  const child = spawn(command, args, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  // Listened for from the start: Deno sets `signalCode` as soon as kill() is called, before the
  // process has exited, so it cannot tell whether the process is gone.
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  let output = "";
  const url = new Promise<string>((resolve, reject) => {
    const look = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) resolve(match[1]);
    };
    child.stdout!.on("data", look);
    child.stderr!.on("data", look);
    child.on("exit", (code) => reject(new Error(`server exited with ${code} before listening:\n${output}`)));
  });
  return { child, url, exited };
}

test("crash: SIGKILL during 64 concurrent plain creates, five rounds, leaves no session without its secret", async () => {
  using dir = tempDir("slo-crash-create-");
  const answered: string[] = [];
  let repositoryId: string | null = null;
  let killedWithRequestsInFlight = 0;
  for (let round = 0; round < 5; round++) {
    await using server = asyncDisposable(startServerProcess(dir.path), async (server) => {
      server.child.kill("SIGKILL");
      await server.exited;
    });
    const url = await server.url;
    const token = readFileSync(join(dir.path, "token"), "utf8").trim();
    const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    if (repositoryId === null) {
      const response = await fetch(`${url}/v1/repositories`, {
        method: "POST",
        headers,
        body: JSON.stringify({ path: "/src/crash", name: "crash" }),
      });
      assert.equal(response.status, 201);
      repositoryId = (await response.json()).id;
    }
    let settled = 0;
    let answeredThisRound = 0;
    // Kill at a different point each round: as soon as every create is sent (0), or after a
    // few answers. On a fast machine the server answers 64 creates within milliseconds, so the
    // early kills are what make sure some creates are cut off mid-way.
    const killAfter = [0, 1, 2, 4, 8][round];
    const creates = Array.from({ length: 64 }, async (_, index) => {
      try {
        const response = await fetch(`${url}/v1/sessions`, {
          method: "POST",
          headers,
          body: JSON.stringify({ repositoryId, title: `round ${round} #${index}`, isWorktree: false }),
        });
        if (response.status === 201) {
          answered.push((await response.json()).id);
          answeredThisRound++;
        } else await response.body?.cancel();
      } catch {
        // The connection died with the server: this create was never answered.
      } finally {
        settled++;
        if (settled === killAfter) server.child.kill("SIGKILL");
      }
    });
    if (killAfter === 0) setTimeout(() => server.child.kill("SIGKILL"), 0);
    await Promise.all(creates);
    if (answeredThisRound < 64) killedWithRequestsInFlight++;
  }
  assert.ok(killedWithRequestsInFlight > 0, "no round was killed with creates still unanswered");

  // The restart: it must start on whatever the kills left, then every answered create is whole.
  {
    await using server = asyncDisposable(startServerProcess(dir.path), async (server) => {
      server.child.kill("SIGTERM");
      await server.exited;
    });
    const url = await server.url;
    const token = readFileSync(join(dir.path, "token"), "utf8").trim();
    const headers = { authorization: `Bearer ${token}` };
    for (const id of answered) {
      const response = await fetch(`${url}/v1/sessions/${id}/secret`, { headers });
      assert.equal(response.status, 200, `answered session ${id} has no secret after the restart`);
      assert.equal((await response.json()).sessionId, id);
    }
  }
  using database = disposable(new DatabaseSync(join(dir.path, "sessions.db")), (database) => database.close());
  const orphans = database.prepare(
    "SELECT count(*) AS n FROM sessions WHERE id NOT IN (SELECT session_id FROM session_secrets)",
  ).get() as { n: number };
  assert.equal(Number(orphans.n), 0, "sessions without a secret");
  const total = database.prepare("SELECT count(*) AS n FROM sessions").get() as { n: number };
  assert.ok(Number(total.n) >= answered.length);
});
