/**
 * Runs the operator's setup commands as real processes: argument arrays (never a shell line), one
 * after the other in the session's worktree, each with a timeout, in its own process group so that
 * a stop reaches what it started, with none of the server's own secrets in its environment. With a
 * record folder, each running command's process group is written down while it runs, so that the
 * next start stops what a killed server left running.
 *
 * @module
 */

import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import type { SetupRunner, SetupRunRequest, SetupRunResult } from "../setup.ts";
import { processExists } from "./_process.ts";

/** How long a stopped command gets after SIGTERM before SIGKILL. */
const KILL_GRACE_MS = 3_000;

// The server's own secrets and connections: a setup command is the operator's, but it runs what a
// repository's package files say (`npm ci` runs install scripts), so it gets none of them.
function setupEnvironment(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined) continue;
    if (key.startsWith("SESSION_LIFECYCLE_") || key === "DATABASE_URL" || key.startsWith("SLO_")) continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

/** What a running command's record holds: enough to find its process group again, and to tell it from a newer process. */
interface RunningRecord {
  /** The command's process id, which is its process group's id (it runs detached). */
  pid: number;
  /** When it started, in clock ticks since boot (`/proc/<pid>/stat`), with the boot's id: a reused pid differs in one of them. */
  identity: string;
  sessionId: string;
  command: string[];
  /**
   * The value of `SLO_SETUP_RUN` in the command's environment, which what it starts inherits: the
   * mark by which a group living on without its leader is told to be this command's.
   */
  run?: string;
}

/** The environment variable that marks a setup command's processes as one run's. */
const RUN_MARK = "SLO_SETUP_RUN";

// A process's identity on Linux: its boot's id and its start time; `null` where the system does not
// say (no /proc), or the process is gone. A pid names the same process only while both stay the same.
function processIdentity(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The fields after the command name (which may hold spaces and parentheses) start after its ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const boot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    return `${boot}:${fields[19]}`;
  } catch {
    return null;
  }
}

/** A process group a killed server left running, and what the next start did about it. */
export interface OrphanedSetup {
  /** The session whose setup it was. */
  sessionId: string;
  /** The command's arguments. */
  command: string[];
  /** Its process group's id. */
  pid: number;
  /**
   * `stopped` (still the same process, or its group living on without it, so the group was ended),
   * `gone` (it had ended, and all it started), or `unknown` (it may run, but nothing proves it is
   * the same process: left alone).
   */
  outcome: "stopped" | "gone" | "unknown";
}

// Whether any process is in the process group `pgid` (signal 0 to the group only checks).
function groupExists(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

// Ends a process group: SIGTERM, then SIGKILL after the grace if any of it still runs.
async function endGroup(pid: number): Promise<void> {
  killGroup(pid, "SIGTERM");
  for (let waited = 0; waited < KILL_GRACE_MS && groupExists(pid); waited += 50) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  killGroup(pid, "SIGKILL");
}

// Whether the group a record names still runs without its leader: the command exited (or was
// killed) while what it started in the background lives on. The group's id is the command's pid,
// which a newer process may have taken once the whole group had ended (and made a group of its own,
// as a daemon does); so a group counts as ours only when every member carries the run's mark in its
// environment (inherited from the command) and started after the command, in the same boot.
function leaderlessGroupOf(record: RunningRecord): boolean {
  const [boot, start] = record.identity.split(":");
  if (typeof record.run !== "string" || record.run === "") return false;
  const mark = `${RUN_MARK}=${record.run}`;
  let currentBoot: string;
  let entries: string[];
  try {
    currentBoot = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
    entries = readdirSync("/proc");
  } catch {
    return false;
  }
  if (boot !== currentBoot || start === undefined || !/^\d+$/.test(start)) return false;
  let members = 0;
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // ended while we looked
    }
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[2]) !== record.pid) continue;
    if (BigInt(fields[19]) < BigInt(start)) return false;
    let environment: string;
    try {
      environment = readFileSync(`/proc/${entry}/environ`, "utf8");
    } catch {
      return false; // not ours to read, so not provably ours
    }
    if (!environment.split("\0").includes(mark)) return false;
    members++;
  }
  return members > 0;
}

// Runs one command; its exit code, or why it did not finish.
function runOne(
  command: readonly string[],
  request: SetupRunRequest,
  records: string | null,
): Promise<{ exitCode: number | null; reason: string | null }> {
  return new Promise((resolve) => {
    if (request.signal.aborted) return resolve({ exitCode: null, reason: "stopped before it started" });
    const run = crypto.randomUUID();
    const child = spawn(command[0], command.slice(1), {
      cwd: request.session.worktreePath!,
      env: { ...setupEnvironment(request.env), [RUN_MARK]: run },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    // Written before anything can kill this server mid-command, removed once the command has ended.
    const record = records === null || child.pid === undefined ? null : join(records, `${child.pid}.json`);
    if (record !== null) {
      const identity = processIdentity(child.pid!);
      const written: RunningRecord = {
        pid: child.pid!,
        identity: identity ?? "",
        sessionId: request.session.id,
        command: [...command],
        run,
      };
      try {
        writeFileSync(record, JSON.stringify(written), { mode: 0o600 });
      } catch {
        // A record that cannot be written only costs the next start its cleanup of this command.
      }
    }
    let stoppedFor: string | null = null;
    let killer: ReturnType<typeof setTimeout> | null = null;
    const stop = (why: string) => {
      if (stoppedFor !== null) return;
      stoppedFor = why;
      killGroup(child.pid, "SIGTERM");
      killer = setTimeout(() => killGroup(child.pid, "SIGKILL"), KILL_GRACE_MS);
    };
    const timer = setTimeout(
      () => stop(`timed out after ${Math.round(request.timeoutMs / 1000)} s`),
      request.timeoutMs,
    );
    const onAbort = () => stop("stopped: its session was deleted or its server stopped");
    request.signal.addEventListener("abort", onAbort, { once: true });
    const decoder = new TextDecoder();
    child.stdout!.on("data", (chunk: Uint8Array) => request.onOutput(decoder.decode(chunk, { stream: true })));
    child.stderr!.on("data", (chunk: Uint8Array) => request.onOutput(decoder.decode(chunk, { stream: true })));
    let settled = false;
    const finish = (result: { exitCode: number | null; reason: string | null }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (killer !== null) clearTimeout(killer);
      request.signal.removeEventListener("abort", onAbort);
      // What it started in the background goes with it.
      killGroup(child.pid, "SIGKILL");
      if (record !== null) rmSync(record, { force: true });
      resolve(result);
    };
    child.on("error", (error: NodeJS.ErrnoException) => {
      const why = error.code === "ENOENT" ? "not found" : error.message;
      finish({ exitCode: null, reason: `could not start ${command[0]}: ${why}` });
    });
    child.on("close", (code, signal) => {
      if (stoppedFor !== null) return finish({ exitCode: null, reason: stoppedFor });
      if (code === 0) return finish({ exitCode: 0, reason: null });
      if (code !== null) return finish({ exitCode: code, reason: `exit code ${code}` });
      finish({ exitCode: null, reason: `killed by ${signal}` });
    });
  });
}

/**
 * The platform's {@linkcode SetupRunner}: each command a real process in the session's worktree.
 *
 * @example
 * ```ts ignore
 * import { ProcessSetupRunner } from "./setup_runner.ts";
 *
 * const orchestrator = new SessionOrchestrator({ store, chain, worktrees, setupRunner: new ProcessSetupRunner() });
 * ```
 */
export class ProcessSetupRunner implements SetupRunner {
  readonly #records: string | null;

  /**
   * A runner; with `recordDir`, one that records its running commands for the next start.
   *
   * @param options.recordDir a folder (made 0700 when missing) where each running command's process
   * group is written down while it runs (the server uses `<data dir>/setups`), so that
   * {@linkcode stopOrphans} can end what a killed server left running
   */
  constructor(options: { recordDir?: string } = {}) {
    this.#records = options.recordDir ?? null;
    if (this.#records !== null) mkdirSync(this.#records, { recursive: true, mode: 0o700 });
  }

  /**
   * Ends the process groups that an earlier run of this runner left running (its server was killed
   * while a setup command ran), where the record proves the process is still the one it started:
   * the same pid, boot and start time; or, once the command itself has exited, where its group
   * lives on in what it started in the background, each member carrying the run's mark in its
   * environment (`SLO_SETUP_RUN`) and started after it in the same boot (Linux's `/proc`;
   * elsewhere a group is left alone and reported `unknown` or `gone`). Removes the records.
   * Call it before the runner runs anything.
   */
  async stopOrphans(): Promise<OrphanedSetup[]> {
    if (this.#records === null) return [];
    const found: OrphanedSetup[] = [];
    for (const name of readdirSync(this.#records).filter((entry) => entry.endsWith(".json"))) {
      const path = join(this.#records, name);
      let record: RunningRecord;
      try {
        record = JSON.parse(readFileSync(path, "utf8"));
      } catch {
        rmSync(path, { force: true });
        continue;
      }
      const pid = record.pid;
      const identity = Number.isSafeInteger(pid) && pid > 1 ? processIdentity(pid) : null;
      let outcome: OrphanedSetup["outcome"];
      if (identity !== null && record.identity !== "" && identity === record.identity) {
        await endGroup(pid);
        outcome = "stopped";
      } else if (identity === null && Number.isSafeInteger(pid) && pid > 1 && leaderlessGroupOf(record)) {
        await endGroup(pid);
        outcome = "stopped";
      } else {
        outcome = Number.isSafeInteger(pid) && pid > 1 && identity === null && processExists(pid) ? "unknown" : "gone";
      }
      found.push({ sessionId: String(record.sessionId), command: record.command, pid, outcome });
      rmSync(path, { force: true });
    }
    return found;
  }

  /** Runs the commands in order, stopping at the first that fails. */
  async run(request: SetupRunRequest): Promise<SetupRunResult> {
    for (const [index, command] of request.commands.entries()) {
      request.onCommand(index);
      const { exitCode, reason } = await runOne(command, request, this.#records);
      if (reason !== null) return { failed: index, exitCode, reason };
    }
    return { failed: null, exitCode: null, reason: null };
  }
}
