/**
 * A worktree session's setup: the operator's commands (see `RepositorySettings.setup`), run in the
 * new worktree after its create has answered. Its state lives on the session (`Session.setup`), so
 * every reader (the API, `slo show`, the dashboard, the event stream) sees it; the commands run
 * through a {@linkcode SetupRunner}, the runtime's part.
 *
 * @module
 */

import type { Session } from "./types.ts";
import { invalid, requireTimestamp } from "./_field_checks.ts";

/** Where a setup is: running, done (`succeeded` or `failed`), or `interrupted` (its server stopped). */
export type SetupStateName = "running" | "succeeded" | "failed" | "interrupted";

/** The setup states, in the order a setup goes through them. */
export const SETUP_STATES: readonly SetupStateName[] = ["running", "succeeded", "failed", "interrupted"];

/** The most of a setup's output a session keeps: its end, where a failure's reason usually is. */
export const MAX_SETUP_LOG_TAIL = 8192;

/** A session's setup, as the session records it. */
export interface SessionSetup {
  /** Where it is. */
  state: SetupStateName;
  /** How many commands it runs. */
  commands: number;
  /** The command running, or the one that failed or was interrupted (0-based); `null` once it succeeded. */
  current: number | null;
  /** That command's arguments; `null` once it succeeded. */
  command: string[] | null;
  /** A failed command's exit code; `null` otherwise (and when it was stopped by a signal or its timeout). */
  exitCode: number | null;
  /** Why it failed or was interrupted, in words ("exit code 1", "timed out after 600 s"); `null` otherwise. */
  reason: string | null;
  /** ISO-8601 UTC. */
  startedAt: string;
  /** ISO-8601 UTC; `null` while it runs. */
  finishedAt: string | null;
  /** The end of its output (standard output and error as they came), at most {@linkcode MAX_SETUP_LOG_TAIL} characters. */
  logTail: string;
}

/** What a {@linkcode SetupRunner} runs. */
export interface SetupRunRequest {
  /** The session, with its worktree. */
  session: Session;
  /** The commands, in order: argument arrays, never a shell line. */
  commands: readonly (readonly string[])[];
  /** How long each command may run before it is stopped. */
  timeoutMs: number;
  /** Variables the commands get besides the server's own (`SLO_SESSION_ID`, `SLO_WORKTREE_PATH`, …). */
  env: Record<string, string>;
  /** Told as each command starts. */
  onCommand(index: number): void;
  /** Told each piece of output, as text. */
  onOutput(text: string): void;
  /** Aborted when the setup must stop (its session is deleted, its server stops): the command is stopped. */
  signal: AbortSignal;
}

/** How a setup run ended. */
export interface SetupRunResult {
  /** The command that failed or was stopped (0-based); `null` when all succeeded. */
  failed: number | null;
  /** Its exit code, when it exited with one. */
  exitCode: number | null;
  /** Why it failed, in words; `null` when all succeeded. */
  reason: string | null;
}

/** Runs setup commands (the platform's `ProcessSetupRunner` runs real processes). */
export interface SetupRunner {
  /** Runs the commands one after the other in the session's worktree, stopping at the first that fails. */
  run(request: SetupRunRequest): Promise<SetupRunResult>;
}

/**
 * Checks a {@linkcode SessionSetup} before a store writes it; `InvalidInput` names the problem.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkSessionSetup } from "./setup.ts";
 *
 * const setup = checkSessionSetup({
 *   state: "running", commands: 1, current: 0, command: ["npm", "ci"], exitCode: null, reason: null,
 *   startedAt: "2026-01-01T00:00:00.000Z", finishedAt: null, logTail: "",
 * });
 * assert.equal(setup.state, "running");
 * assert.throws(() => checkSessionSetup({ ...setup, state: "done" }), /state/);
 * ```
 */
export function checkSessionSetup(value: unknown): SessionSetup {
  if (value === null || typeof value !== "object" || Array.isArray(value)) invalid("setup must be an object");
  const record = value as Record<string, unknown>;
  const known = [
    "state",
    "commands",
    "current",
    "command",
    "exitCode",
    "reason",
    "startedAt",
    "finishedAt",
    "logTail",
  ];
  for (const key of Object.keys(record)) if (!known.includes(key)) invalid(`setup has an unknown field ${key}`);
  const state = record.state as SetupStateName;
  if (!SETUP_STATES.includes(state)) invalid(`setup.state must be one of ${SETUP_STATES.join(", ")}`);
  const whole = (field: string, nullable: boolean) => {
    const number = record[field];
    if (nullable && number === null) return null;
    if (typeof number !== "number" || !Number.isInteger(number) || number < (field === "exitCode" ? -1 : 0)) {
      invalid(`setup.${field} must be a whole number${nullable ? " or null" : ""}`);
    }
    return number;
  };
  const commands = whole("commands", false)!;
  const current = whole("current", true);
  if (current !== null && current >= commands) invalid("setup.current must name one of its commands");
  const command = record.command;
  if (command !== null && (!Array.isArray(command) || command.some((part) => typeof part !== "string"))) {
    invalid("setup.command must be an array of strings or null");
  }
  const reason = record.reason;
  if (reason !== null && typeof reason !== "string") invalid("setup.reason must be a string or null");
  const logTail = record.logTail;
  if (typeof logTail !== "string") invalid("setup.logTail must be a string");
  return {
    state,
    commands,
    current,
    command: command === null ? null : [...(command as string[])],
    exitCode: whole("exitCode", true),
    reason: reason === null ? null : (reason as string).slice(0, 1000),
    startedAt: requireTimestamp(record.startedAt, "setup.startedAt"),
    finishedAt: record.finishedAt === null ? null : requireTimestamp(record.finishedAt, "setup.finishedAt"),
    logTail: (logTail as string).slice(-MAX_SETUP_LOG_TAIL),
  };
}
