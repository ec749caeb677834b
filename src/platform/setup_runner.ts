/**
 * Runs the operator's setup commands as real processes: argument arrays (never a shell line), one
 * after the other in the session's worktree, each with a timeout, in its own process group so that
 * a stop reaches what it started, with none of the server's own secrets in its environment.
 *
 * @module
 */

import { spawn } from "node:child_process";
import process from "node:process";
import type { SetupRunner, SetupRunRequest, SetupRunResult } from "../setup.ts";

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

// Runs one command; its exit code, or why it did not finish.
function runOne(
  command: readonly string[],
  request: SetupRunRequest,
): Promise<{ exitCode: number | null; reason: string | null }> {
  return new Promise((resolve) => {
    if (request.signal.aborted) return resolve({ exitCode: null, reason: "stopped before it started" });
    const child = spawn(command[0], command.slice(1), {
      cwd: request.session.worktreePath!,
      env: setupEnvironment(request.env),
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
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
  /** Runs the commands in order, stopping at the first that fails. */
  async run(request: SetupRunRequest): Promise<SetupRunResult> {
    for (const [index, command] of request.commands.entries()) {
      request.onCommand(index);
      const { exitCode, reason } = await runOne(command, request);
      if (reason !== null) return { failed: index, exitCode, reason };
    }
    return { failed: null, exitCode: null, reason: null };
  }
}
