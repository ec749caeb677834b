/**
 * Database rows to records, for every SQL store: the column names are the same in SQLite and
 * Postgres, and the two differ only in how a flag and bytes come back, which is read here either
 * way. Internal: not part of the published API.
 *
 * @module
 */

import type {
  PortLease,
  Repository,
  Session,
  SessionStatus,
  SessionToken,
  StoredSessionSecret,
  StoredSessionToken,
} from "../types.ts";
import type { SessionSetup } from "../setup.ts";
import type { IncludedFiles } from "../included_files.ts";

/** A row as a driver returns it: column name to value. */
export type Row = Record<string, unknown>;

function text(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}

// SQLite keeps a flag as 0 or 1, Postgres as a boolean.
function flag(value: unknown): boolean {
  return value === true || Number(value) === 1;
}

/**
 * A BLOB or bytea column as a plain Uint8Array copy, which no later change to the driver's buffer
 * can reach: SQLite drivers give a Uint8Array or an ArrayBuffer, postgres.js a Buffer.
 */
export function bytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (value instanceof ArrayBuffer) return new Uint8Array(value.slice(0));
  throw new Error(`expected bytes, got ${typeof value}`);
}

// SQLite keeps a record's JSON as text, Postgres as jsonb (which postgres.js parses).
function jsonOf(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  return typeof value === "string" ? JSON.parse(value) : value;
}

/** A `repositories` row as a {@linkcode Repository}. */
export function toRepository(row: Row): Repository {
  return {
    id: String(row.id),
    path: String(row.path),
    name: String(row.name),
    isGitRepository: flag(row.is_git_repository),
    sessionsPath: text(row.sessions_path),
    defaultBranch: text(row.default_branch),
    defaultRemote: text(row.default_remote),
    createdAt: String(row.created_at),
    updatedAt: String(row.updated_at),
  };
}

/** A `sessions` row as a {@linkcode Session}. */
export function toSession(row: Row): Session {
  return {
    id: String(row.id),
    repositoryId: String(row.repository_id),
    title: String(row.title),
    agentName: text(row.agent_name),
    issueId: text(row.issue_id),
    issueTitle: text(row.issue_title),
    issueUrl: text(row.issue_url),
    status: String(row.status) as SessionStatus,
    isWorktree: flag(row.is_worktree),
    worktreePath: text(row.worktree_path),
    worktreeName: text(row.worktree_name),
    branchName: text(row.branch_name),
    baseBranch: text(row.base_branch),
    createdWorktree: flag(row.created_worktree),
    createdBranch: flag(row.created_branch),
    hostId: text(row.host_id),
    ports: portsOf(row.ports),
    setup: jsonOf(row.setup) as SessionSetup | null,
    included: jsonOf(row.included) as IncludedFiles | null,
    parentSessionId: text(row.parent_session_id),
    createdAt: String(row.created_at),
    updatedAt: String(row.updated_at),
    lastAccessedAt: String(row.last_accessed_at),
  };
}

// The `ports` column: a JSON array of port numbers as text (or already parsed by a driver).
function portsOf(value: unknown): number[] {
  if (value === null || value === undefined) return [];
  const parsed = typeof value === "string" ? JSON.parse(value) : value;
  return Array.isArray(parsed) ? parsed.map(Number) : [];
}

/** A `port_leases` row as a {@linkcode PortLease}. */
export function toPortLease(row: Row): PortLease {
  return { port: Number(row.port), sessionId: String(row.session_id), leasedAt: String(row.leased_at) };
}

/** A `session_secrets` row as a {@linkcode StoredSessionSecret}. */
export function toSecret(row: Row): StoredSessionSecret {
  return {
    sessionId: String(row.session_id),
    encryptedSecret: bytes(row.encrypted_secret),
    nonce: bytes(row.nonce),
    createdAt: String(row.created_at),
    updatedAt: String(row.updated_at),
  };
}

/** A `session_tokens` row as a {@linkcode StoredSessionToken}. */
export function toSessionToken(row: Row): StoredSessionToken {
  return {
    id: String(row.id),
    sessionId: String(row.session_id),
    hash: String(row.hash),
    createdAt: String(row.created_at),
    revokedAt: text(row.revoked_at),
  };
}

/** A token record without its hash: what a store hands out but for a lookup by hash. */
export function withoutHash(token: StoredSessionToken): SessionToken {
  return { id: token.id, sessionId: token.sessionId, createdAt: token.createdAt, revokedAt: token.revokedAt };
}
