/**
 * The records the orchestrator stores and returns.
 *
 * Absent optional values are `null` in returned records; timestamps are ISO-8601 strings in UTC.
 *
 * @module
 */

import type { RepositoryId, SessionId } from "./ids.ts";
import type { IncludedFiles } from "./included_files.ts";
import type { SessionSetup } from "./setup.ts";

/** Where a session is in its life. */
export type SessionStatus = "active" | "paused" | "completed" | "archived";

/** Every session status, in the order of a typical life. */
export const SESSION_STATUSES: readonly SessionStatus[] = [
  "active",
  "paused",
  "completed",
  "archived",
];

/** A repository that sessions work on. */
export interface Repository {
  /** UUID. */
  id: RepositoryId;
  /** Absolute path of the repository's checkout. */
  path: string;
  /** Display name. */
  name: string;
  /** Whether the path is a git repository (worktree sessions need one). */
  isGitRepository: boolean;
  /** Folder that holds this repository's session worktrees, replacing `<worktreesRoot>/<repositoryId>`. */
  sessionsPath: string | null;
  /** The branch new worktree branches start from, for example `main`. */
  defaultBranch: string | null;
  /** The remote used for upstream checks, for example `origin`. */
  defaultRemote: string | null;
  /** ISO-8601 UTC. */
  createdAt: string;
  /** ISO-8601 UTC. */
  updatedAt: string;
}

/** The input of `createRepository`. */
export interface NewRepository {
  /** UUID; a new one is made when absent. */
  id?: RepositoryId;
  /** Absolute path of the checkout; unique among repositories. */
  path: string;
  /** Display name. */
  name: string;
  /** Defaults to `false`. */
  isGitRepository?: boolean;
  /** Absolute folder for this repository's worktrees. */
  sessionsPath?: string;
  /** Base branch for new worktree branches. */
  defaultBranch?: string;
  /** Remote name for upstream checks. */
  defaultRemote?: string;
}

/** An agent session. */
export interface Session {
  /** UUID. */
  id: SessionId;
  /** The repository it works on. */
  repositoryId: RepositoryId;
  /** What the session is about. */
  title: string;
  /** Which agent runs it, for example `claude`. */
  agentName: string | null;
  /** The tracker issue it works on. */
  issueId: string | null;
  /** That issue's title. */
  issueTitle: string | null;
  /** That issue's URL (http or https). */
  issueUrl: string | null;
  /** Where the session is in its life. */
  status: SessionStatus;
  /** Whether the session has its own worktree. */
  isWorktree: boolean;
  /** Absolute path of its worktree; unique among sessions. */
  worktreePath: string | null;
  /** The worktree's folder name (one path segment). */
  worktreeName: string | null;
  /** The branch checked out in the worktree. */
  branchName: string | null;
  /** The ref the branch was made from, when the lifecycle made it. */
  baseBranch: string | null;
  /** True when the lifecycle created the worktree folder (cleanup may remove it). */
  createdWorktree: boolean;
  /** True when the lifecycle created the branch (cleanup may delete it). */
  createdBranch: boolean;
  /**
   * The machine that holds the session's worktree (a host id, see `hostId` in `./platform`), when
   * the worktree lifecycle that made it was given one; `null` for plain sessions. With several
   * machines on one database, only that machine's server closes and repairs the worktree.
   */
  hostId: string | null;
  /**
   * The TCP ports leased to the session (ascending), for its own processes to bind on loopback: no
   * other session of the store holds any of them. Empty when it has none.
   */
  ports: number[];
  /**
   * The operator's setup commands run in its new worktree (see `RepositorySettings.setup`): where
   * they are, and the end of their output; `null` when none ran.
   */
  setup: SessionSetup | null;
  /**
   * What its new worktree got of the main checkout's ignored files (`.worktreeinclude`, the
   * operator's `include`): entries, counts, bytes cloned and copied, what was skipped; `null` when
   * nothing was included.
   */
  included: IncludedFiles | null;
  /**
   * The session whose scoped token made this one (see `SessionOrchestrator.mintToken`), or `null`
   * for a session made with full access. A scoped token reaches its own session and every session
   * whose chain of parents leads to it.
   */
  parentSessionId: SessionId | null;
  /** ISO-8601 UTC. */
  createdAt: string;
  /** ISO-8601 UTC. */
  updatedAt: string;
  /** ISO-8601 UTC. */
  lastAccessedAt: string;
}

/** The input of `SessionWriter.createSession`: a session's fields before storage fills timestamps. */
export interface NewSession {
  /** UUID. */
  id: SessionId;
  /** Must name an existing repository. */
  repositoryId: RepositoryId;
  /** Non-empty. */
  title: string;
  /** Optional agent name. */
  agentName?: string | null;
  /** Optional tracker issue id. */
  issueId?: string | null;
  /** Optional tracker issue title. */
  issueTitle?: string | null;
  /** Optional tracker issue URL. */
  issueUrl?: string | null;
  /** Defaults to `"active"`. */
  status?: SessionStatus;
  /** Whether the session has its own worktree. */
  isWorktree: boolean;
  /** Required when `isWorktree`. */
  worktreePath?: string | null;
  /** One safe path segment. */
  worktreeName?: string | null;
  /** A valid git branch name. */
  branchName?: string | null;
  /** The ref the branch was made from. */
  baseBranch?: string | null;
  /** Whether the lifecycle created the worktree. */
  createdWorktree?: boolean;
  /** Whether the lifecycle created the branch. */
  createdBranch?: boolean;
  /** The machine that holds the worktree (worktree sessions only): letters, digits, `.`, `_`, `:` and `-`. */
  hostId?: string | null;
  /**
   * Ports to lease to the session with its row, in the same transaction (distinct whole numbers from
   * 1 to 65535): `Conflict`, with nothing written, when another session holds one of them.
   */
  ports?: number[];
  /** What the new worktree got of the checkout's ignored files (worktree sessions only). */
  included?: IncludedFiles | null;
  /** The session whose scoped token made this one; `null` (the default) for none. */
  parentSessionId?: SessionId | null;
}

/** The fields `updateSession` may change; `updatedAt` is set by the store. */
export interface SessionPatch {
  /** Non-empty. */
  title?: string;
  /** New status. */
  status?: SessionStatus;
  /** Agent name, or `null` to clear it. */
  agentName?: string | null;
  /** Issue id, or `null` to clear it. */
  issueId?: string | null;
  /** Issue title, or `null` to clear it. */
  issueTitle?: string | null;
  /** Issue URL, or `null` to clear it. */
  issueUrl?: string | null;
  /** ISO-8601 UTC; marks the session as used. */
  lastAccessedAt?: string;
  /**
   * The session's setup state. The orchestrator's own (it runs the setup): its `updateSession`
   * refuses this field, and the HTTP API has no way to send it.
   */
  setup?: SessionSetup | null;
}

/** A session's encrypted secret as stored: the ciphertext and the nonce it was sealed with. */
export interface StoredSessionSecret {
  /** The session it belongs to. */
  sessionId: SessionId;
  /** Ciphertext (with its authentication tag). */
  encryptedSecret: Uint8Array;
  /** The nonce used to seal it. */
  nonce: Uint8Array;
  /** ISO-8601 UTC. */
  createdAt: string;
  /** ISO-8601 UTC. */
  updatedAt: string;
}

/** A port leased to a session: a row of the store's lease table, whose key is the port. */
export interface PortLease {
  /** The port (1–65535); one lease per port in the whole store. */
  port: number;
  /** The session that holds it. */
  sessionId: SessionId;
  /** ISO-8601 UTC. */
  leasedAt: string;
}

/** The input of `setSessionSecret`. */
export interface NewSessionSecret {
  /** Must name an existing session. */
  sessionId: SessionId;
  /** Ciphertext (with its authentication tag). */
  encryptedSecret: Uint8Array;
  /** The nonce used to seal it (12 bytes for AES-GCM). */
  nonce: Uint8Array;
}

/**
 * Where a page of a list starts: just after the record with this creation time and id. Lists are
 * ordered by `(createdAt, id)`, a key no change to another record can move, so following pages
 * visits every record that exists throughout exactly once, whatever is created or deleted meanwhile.
 */
export interface ListPosition {
  /** The `createdAt` of the last record of the previous page. */
  createdAt: string;
  /** The `id` of the last record of the previous page. */
  id: string;
}

/** Filter and page of a store's `listSessions`. */
export interface SessionFilter {
  /** Only the sessions of this repository. */
  repositoryId?: RepositoryId;
  /** Only the sessions with this status. */
  status?: SessionStatus;
  /** Only the session whose worktree is this folder (compared in lexical normal form); an indexed lookup. */
  worktreePath?: string;
  /** Only the sessions on this branch; give `repositoryId` too, for an indexed lookup. */
  branchName?: string;
  /** Only the sessions made under this one (`parentSessionId`); an indexed lookup. */
  parentSessionId?: SessionId;
  /** At most this many sessions (a whole number from 1); all of them when absent. */
  limit?: number;
  /** Only the sessions after this position. */
  after?: ListPosition;
}

/** Page of a store's `listRepositories`. */
export interface RepositoryFilter {
  /** At most this many repositories (a whole number from 1); all of them when absent. */
  limit?: number;
  /** Only the repositories after this position. */
  after?: ListPosition;
}

/**
 * A token scoped to one session, as a store keeps it: never the token itself, only its SHA-256
 * hash (see `hashToken`). It goes with its session's row.
 */
export interface SessionToken {
  /** UUID: how the token is named to revoke it. */
  id: string;
  /** The session it is scoped to. */
  sessionId: SessionId;
  /** ISO-8601 UTC. */
  createdAt: string;
  /** ISO-8601 UTC when it was revoked; `null` while it is valid. */
  revokedAt: string | null;
}

/** A {@linkcode SessionToken} with the hash it is looked up by, as `getSessionTokenByHash` returns it. */
export interface StoredSessionToken extends SessionToken {
  /** The token's SHA-256 hash, as 64 lower-case hex digits. */
  hash: string;
}

/** The input of `SessionWriter.createSessionToken`. */
export interface NewSessionToken {
  /** UUID; a new one when absent. */
  id?: string;
  /** The session it is scoped to: it must exist. */
  sessionId: SessionId;
  /** The token's SHA-256 hash, as 64 lower-case hex digits. */
  hash: string;
}
