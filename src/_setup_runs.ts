/**
 * The setups running in this process: each one's state written to its session as it goes (at each
 * command, and its output at most once a second), stopped when its session is deleted or archived
 * or the process stops. Internal to the orchestrator, which decides when a setup starts.
 *
 * @module
 */

import type { SessionId } from "./ids.ts";
import { MAX_SETUP_LOG_TAIL, type SessionSetup, type SetupRunner } from "./setup.ts";
import type { Session } from "./types.ts";
import { nowIso } from "./_clock.ts";

/** How often, at most, a running setup's output is written to its session. */
const OUTPUT_WRITE_INTERVAL_MS = 1_000;

/** What a setup run needs of the orchestrator. */
export interface SetupRunsOptions {
  /** Runs the commands. */
  runner: SetupRunner;
  /** Writes a session's setup state (and announces it); `null` when the session is gone. */
  write(id: SessionId, setup: SessionSetup): Promise<Session | null>;
  /** Told about a failed write, which does not stop the setup. */
  logError(message: string, cause: unknown): void;
}

interface Running {
  controller: AbortController;
  // Why it was stopped, once it was: it then ends as `interrupted` with this reason.
  stoppedFor: string | null;
  done: Promise<void>;
}

/** The setups of one orchestrator. */
export class SetupRuns {
  readonly #options: SetupRunsOptions;
  readonly #running = new Map<SessionId, Running>();

  constructor(options: SetupRunsOptions) {
    this.#options = options;
  }

  /** Whether a setup of `id` runs in this process. */
  isRunning(id: SessionId): boolean {
    return this.#running.has(id);
  }

  /**
   * Records the setup as running on the session, then runs it in the background; the session as
   * recorded (`null` when it is gone).
   */
  async start(
    session: Session,
    commands: readonly (readonly string[])[],
    timeoutMs: number,
  ): Promise<Session | null> {
    let setup: SessionSetup = {
      state: "running",
      commands: commands.length,
      current: 0,
      command: [...commands[0]],
      exitCode: null,
      reason: null,
      startedAt: nowIso(),
      finishedAt: null,
      logTail: "",
    };
    const recorded = await this.#options.write(session.id, setup);
    if (recorded === null) return null;
    const controller = new AbortController();
    // Writes one after the other, so that a slower earlier write never lands over a later state.
    let writes: Promise<unknown> = Promise.resolve();
    const write = (next: SessionSetup) => {
      setup = next;
      writes = writes.then(() =>
        this.#options.write(session.id, next).catch((error) =>
          this.#options.logError(`recording the setup of session ${session.id} failed`, error)
        )
      );
      return writes;
    };
    let tail = "";
    let flush: ReturnType<typeof setTimeout> | null = null;
    const flushOutput = () => {
      flush = null;
      if (tail !== setup.logTail) write({ ...setup, logTail: tail });
    };
    const ports = recorded.ports;
    const running: Running = { controller, stoppedFor: null, done: Promise.resolve() };
    running.done = (async () => {
      const result = await this.#options.runner.run({
        session: recorded,
        commands,
        timeoutMs,
        env: {
          SLO_SESSION_ID: recorded.id,
          SLO_WORKTREE_PATH: recorded.worktreePath ?? "",
          SLO_BRANCH: recorded.branchName ?? "",
          SLO_PORT: ports.length === 0 ? "" : String(ports[0]),
          SLO_PORTS: ports.join(" "),
        },
        onCommand: (index) => {
          if (index > 0) write({ ...setup, current: index, command: [...commands[index]], logTail: tail });
        },
        onOutput: (text) => {
          tail = (tail + text).slice(-MAX_SETUP_LOG_TAIL);
          flush ??= setTimeout(flushOutput, OUTPUT_WRITE_INTERVAL_MS);
        },
        signal: controller.signal,
      }).catch((error: unknown) => ({
        failed: setup.current,
        exitCode: null,
        reason: `the setup could not run: ${error instanceof Error ? error.message : String(error)}`,
      }));
      if (flush !== null) clearTimeout(flush);
      const finishedAt = nowIso();
      if (result.failed === null) {
        await write({ ...setup, state: "succeeded", current: null, command: null, finishedAt, logTail: tail });
      } else {
        await write({
          ...setup,
          state: running.stoppedFor === null ? "failed" : "interrupted",
          current: result.failed,
          command: [...commands[result.failed]],
          exitCode: result.exitCode,
          reason: running.stoppedFor ?? result.reason,
          finishedAt,
          logTail: tail,
        });
      }
      this.#running.delete(session.id);
    })();
    this.#running.set(session.id, running);
    return recorded;
  }

  /** Stops the setup of `id` (if one runs here) and waits until its end is recorded, as `interrupted` for `reason`. */
  async stop(id: SessionId, reason: string): Promise<void> {
    const running = this.#running.get(id);
    if (running === undefined) return;
    running.stoppedFor ??= reason;
    running.controller.abort();
    await running.done;
  }

  /** Stops every setup running here (the process is stopping). */
  async stopAll(reason: string): Promise<void> {
    await Promise.all([...this.#running.keys()].map((id) => this.stop(id, reason)));
  }

  /** Waits until the setup of `id` (if one runs here) has ended and its end is recorded. */
  async settled(id: SessionId): Promise<void> {
    await this.#running.get(id)?.done;
  }
}
