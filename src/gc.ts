/**
 * What garbage collection of sessions decides, and why: a pure function of a session's row and
 * its git state, so the rule lives in one place and a dry run answers exactly what a real run does.
 *
 * @module
 */

import { SessionError } from "./errors.ts";
import type { SessionId } from "./ids.ts";
import type { LandedKind, SessionGitStatus } from "./lifecycle.ts";
import type { Session } from "./types.ts";

/** What gc does with one session. */
export type GcAction = "delete" | "archive" | "keep";

/** Options of `SessionOrchestrator.gc`. */
export interface GcOptions {
  /** Decide and report only; change nothing. */
  dryRun?: boolean;
  /**
   * Archive an active session idle for longer than this many milliseconds: idle since the later of
   * its row's `lastAccessedAt` and its worktree's last change. No idle limit by default.
   */
  idleMs?: number;
}

/** What gc found for one session, and what it did. */
export interface GcFinding {
  /** The session. */
  sessionId: SessionId;
  /** Its title, for people reading the report. */
  title: string;
  /** What gc decided. */
  action: GcAction;
  /** Why, in a sentence. */
  reason: string;
  /** How its work landed on its base, or `null`. */
  landed: LandedKind | null;
  /** Whether its worktree held uncommitted work (for an archived session: whether its archive saved some), or `null`. */
  dirty: boolean | null;
  /** Bytes its worktree took on disk. */
  diskBytes: number;
  /** Whether the branch is deleted with the worktree (only a `merged` branch gc made: every commit of it is in the base). */
  deleteBranch: boolean;
  /** Whether the action was carried out: `false` under `dryRun`, for `keep`, and when it failed. */
  done: boolean;
  /** Why the action failed (the session is then as it was), else `null`. */
  error: string | null;
}

/** What `SessionOrchestrator.gc` found and did. */
export interface GcReport {
  /** Whether this was a dry run. */
  dryRun: boolean;
  /** One finding per worktree session this machine handles, oldest first. */
  findings: GcFinding[];
  /** Bytes of the worktrees deleted or archived (under `dryRun`: that would be). */
  reclaimedBytes: number;
}

/** The decision for one session, before it is carried out. */
export type GcDecision = Pick<GcFinding, "action" | "reason" | "deleteBranch">;

/**
 * What gc does with a worktree session it made, given its git state:
 * - landed and clean → `delete` the worktree; the branch too when it was `merged` and gc made it
 *   (a squash or cherry-pick leaves the branch's own commits outside the base, so it stays);
 * - landed but dirty → `archive`: the uncommitted work is saved first;
 * - idle past `idleMs` (active only) → `archive`;
 * - anything else, and every archived session that is not landed and clean → `keep`.
 *
 * @example
 * ```ts
 * import { gcDecision } from "./gc.ts";
 * import type { Session } from "./types.ts";
 *
 * const session = { status: "active", createdBranch: true, lastAccessedAt: new Date().toISOString() } as Session;
 * const status = { dirty: false, ahead: 1, behind: 0, landed: "merged", diskBytes: 1024, lastChangedAt: null } as const;
 * console.log(gcDecision(session, status, Date.now(), undefined).action); // "delete"
 * ```
 */
export function gcDecision(
  session: Session,
  status: SessionGitStatus,
  nowMs: number,
  idleMs: number | undefined,
): GcDecision {
  const deleteBranch = status.landed === "merged" && session.createdBranch;
  if (status.landed !== null && status.dirty === false) {
    return {
      action: "delete",
      reason: `its work is ${status.landed} into its base and it has no uncommitted work`,
      deleteBranch,
    };
  }
  if (session.status === "archived") {
    return { action: "keep", reason: "archived, and not both landed and clean", deleteBranch: false };
  }
  if (status.landed !== null && status.dirty === true) {
    return {
      action: "archive",
      reason: `its work is ${status.landed} into its base, but it has uncommitted work, which is saved first`,
      deleteBranch: false,
    };
  }
  if (idleMs !== undefined) {
    const lastUse = Math.max(Date.parse(session.lastAccessedAt), Date.parse(status.lastChangedAt ?? "") || 0);
    if (nowMs - lastUse > idleMs) {
      return {
        action: "archive",
        reason: `idle since ${new Date(lastUse).toISOString()}, longer than the limit; its work is saved first`,
        deleteBranch: false,
      };
    }
  }
  return {
    action: "keep",
    reason: status.landed === null ? "its work has not landed in its base" : "its state cannot be told",
    deleteBranch: false,
  };
}

const DURATION = /^(\d+)(ms|s|m|h|d|w)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/**
 * Milliseconds in a duration written as a whole number and a unit: `500ms`, `30s`, `15m`, `12h`,
 * `7d`, `2w`. Anything else is `InvalidInput`.
 *
 * @example
 * ```ts
 * import { parseDuration } from "./gc.ts";
 *
 * console.log(parseDuration("7d")); // 604800000
 * ```
 */
export function parseDuration(text: string, field = "duration"): number {
  const match = typeof text === "string" ? DURATION.exec(text.trim()) : null;
  const ms = match === null ? NaN : Number(match[1]) * UNIT_MS[match[2]];
  if (!Number.isSafeInteger(ms) || ms <= 0) {
    throw new SessionError(
      "InvalidInput",
      `${field} must be a whole number and a unit (ms, s, m, h, d, w), as 7d or 12h`,
    );
  }
  return ms;
}
