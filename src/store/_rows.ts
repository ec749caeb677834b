/**
 * The one table of a record's columns, and database rows to records, for every SQL driver. The
 * tables ({@linkcode REPOSITORY_COLUMNS}, {@linkcode SESSION_COLUMNS}) drive the SQL column lists,
 * the insert parameters, the row mapping and the Postgres event JSON: a new `Session` field is one
 * line here. The column names are the same in SQLite and Postgres, and the two differ only in how a
 * flag and bytes come back, which is read here either way. Internal: not part of the published API.
 *
 * @module
 */

import type {
  PortLease,
  Repository,
  Session,
  SessionToken,
  StoredSessionSecret,
  StoredSessionToken,
} from "../types.ts";
import type { SessionQuery } from "./driver.ts";

/** A row as a driver returns it: column name to value. */
export type Row = Record<string, unknown>;

/**
 * How a column holds its field: `text` (nullable text, or an id), `uuid` (an id Postgres types as
 * uuid), `flag` (SQLite 0/1, Postgres boolean), `time` (ISO-8601 text; Postgres timestamptz),
 * `ports` (a JSON array of port numbers as text) or `json` (a record as JSON: SQLite text, Postgres jsonb).
 */
export type ColumnKind = "text" | "uuid" | "flag" | "time" | "ports" | "json";

/** One field of a record: its name, its column, and how the column holds it. */
export interface Column<Field extends string = string> {
  /** The record's key. */
  readonly field: Field;
  /** The table's column. */
  readonly column: string;
  /** How the column holds the value. */
  readonly kind: ColumnKind;
}

function columns<T>(
  fields: Record<keyof T & string, readonly [string, ColumnKind]>,
): readonly Column<keyof T & string>[] {
  return (Object.entries(fields) as [keyof T & string, readonly [string, ColumnKind]][]).map((
    [field, [column, kind]],
  ) => ({ field, column, kind }));
}

/** The columns of `repositories`, in the order of the record's keys. */
export const REPOSITORY_COLUMNS: readonly Column<keyof Repository>[] = columns<Repository>({
  id: ["id", "text"],
  path: ["path", "text"],
  name: ["name", "text"],
  isGitRepository: ["is_git_repository", "flag"],
  sessionsPath: ["sessions_path", "text"],
  defaultBranch: ["default_branch", "text"],
  defaultRemote: ["default_remote", "text"],
  createdAt: ["created_at", "time"],
  updatedAt: ["updated_at", "time"],
});

/** The columns of `sessions`, in the order of the record's keys. Every `Session` field has one. */
export const SESSION_COLUMNS: readonly Column<keyof Session>[] = columns<Session>({
  id: ["id", "text"],
  repositoryId: ["repository_id", "text"],
  title: ["title", "text"],
  agentName: ["agent_name", "text"],
  issueId: ["issue_id", "text"],
  issueTitle: ["issue_title", "text"],
  issueUrl: ["issue_url", "text"],
  status: ["status", "text"],
  isWorktree: ["is_worktree", "flag"],
  worktreePath: ["worktree_path", "text"],
  worktreeName: ["worktree_name", "text"],
  branchName: ["branch_name", "text"],
  baseBranch: ["base_branch", "text"],
  createdWorktree: ["created_worktree", "flag"],
  createdBranch: ["created_branch", "flag"],
  hostId: ["host_id", "text"],
  ports: ["ports", "ports"],
  setup: ["setup", "json"],
  included: ["included", "json"],
  parentSessionId: ["parent_session_id", "uuid"],
  createdAt: ["created_at", "time"],
  updatedAt: ["updated_at", "time"],
  lastAccessedAt: ["last_accessed_at", "time"],
});

/** The column of each `Session` field, for the statements that set some of them. */
export const SESSION_COLUMN_OF: Readonly<Record<keyof Session, Column<keyof Session>>> = Object.fromEntries(
  SESSION_COLUMNS.map((column) => [column.field, column]),
) as Record<keyof Session, Column<keyof Session>>;

/** The fields a session query filters on by equality, each `null` when the query leaves it open. */
export const SESSION_QUERY_FIELDS = [
  "repositoryId",
  "status",
  "worktreePath",
  "branchName",
  "parentSessionId",
] as const;

/**
 * The equality conditions of a session query as `[column, value]` pairs, for the fields it sets:
 * the one mapping from a query's fields to columns that every SQL driver filters by.
 */
export function sessionQueryConditions(query: SessionQuery): [column: string, value: string][] {
  const conditions: [string, string][] = [];
  for (const field of SESSION_QUERY_FIELDS) {
    const value = query[field];
    if (value !== null) conditions.push([SESSION_COLUMN_OF[field].column, value]);
  }
  return conditions;
}

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

// The `ports` column: a JSON array of port numbers as text (or already parsed by a driver).
function portsOf(value: unknown): number[] {
  if (value === null || value === undefined) return [];
  const parsed = typeof value === "string" ? JSON.parse(value) : value;
  return Array.isArray(parsed) ? parsed.map(Number) : [];
}

const DECODE: Record<ColumnKind, (value: unknown) => unknown> = {
  text,
  uuid: text,
  flag,
  time: (value) => String(value),
  ports: portsOf,
  json: jsonOf,
};

/**
 * A field's value as a parameter of an SQL statement: flags as SQLite's 0/1 (`flags: "number"`) or
 * booleans, ports and records as JSON text, the rest as they are.
 */
export function columnValue(kind: ColumnKind, value: unknown, flags: "number" | "boolean"): unknown {
  switch (kind) {
    case "flag":
      return flags === "number" ? (value ? 1 : 0) : value === true;
    case "ports":
      return JSON.stringify(value);
    case "json":
      return value === null || value === undefined ? null : JSON.stringify(value);
    default:
      return value;
  }
}

/** A record's values as the parameters of an insert of every column of `table`, in its order. */
export function insertValues<T extends object>(
  table: readonly Column<keyof T & string>[],
  record: T,
  flags: "number" | "boolean",
): unknown[] {
  return table.map(({ field, kind }) => columnValue(kind, record[field], flags));
}

/**
 * A function that makes the record of `table` from a row: an object (`from: "object"`, by column
 * name) or an array (`from: "array"`, in the table's order; a driver's array mode, which skips
 * building an object per row). The record is made as one object literal, generated from the table:
 * it gives V8 an object of fixed shape, which `JSON.stringify` serializes several times faster than
 * one built key by key (bench/rows.ts measures it).
 */
function decoder<T>(table: readonly Column[], from: "object" | "array"): (row: unknown) => T {
  const fields = table.map(({ field, column, kind }, position) =>
    `${JSON.stringify(field)}: decode.${kind}(row[${from === "object" ? JSON.stringify(column) : position}])`
  );
  return new Function("decode", `return (row) => ({ ${fields.join(", ")} });`)(DECODE);
}

const repositoryOfRow = decoder<Repository>(REPOSITORY_COLUMNS, "object");
const repositoryOfValues = decoder<Repository>(REPOSITORY_COLUMNS, "array");
const sessionOfRow = decoder<Session>(SESSION_COLUMNS, "object");
const sessionOfValues = decoder<Session>(SESSION_COLUMNS, "array");

/** A `repositories` row as a {@linkcode Repository}. */
export function toRepository(row: Row): Repository {
  return repositoryOfRow(row);
}

/**
 * A `repositories` row read as an array whose values are in the order of
 * {@linkcode REPOSITORY_COLUMNS}, as a {@linkcode Repository}.
 */
export function toRepositoryFromValues(values: readonly unknown[]): Repository {
  return repositoryOfValues(values);
}

/** A `sessions` row as a {@linkcode Session}. */
export function toSession(row: Row): Session {
  return sessionOfRow(row);
}

/**
 * A `sessions` row read as an array (a driver's array mode) whose values are in the order of
 * {@linkcode SESSION_COLUMNS}, as a {@linkcode Session}.
 */
export function toSessionFromValues(values: readonly unknown[]): Session {
  return sessionOfValues(values);
}

/** A `port_leases` row as a {@linkcode PortLease}. */
export function toPortLease(row: Row): PortLease {
  return { port: Number(row.port), sessionId: String(row.session_id), leasedAt: String(row.leased_at) };
}

/** A `session_secrets` row as a {@linkcode StoredSessionSecret}. */
export function toSecret(row: Row): StoredSessionSecret {
  return toSecretFromValues([row.session_id, row.encrypted_secret, row.nonce, row.created_at, row.updated_at]);
}

/**
 * A `session_secrets` row read as an array (`session_id, encrypted_secret, nonce, created_at,
 * updated_at`, the order of {@linkcode SECRET_NAMES}), as a {@linkcode StoredSessionSecret}.
 */
export function toSecretFromValues(values: readonly unknown[]): StoredSessionSecret {
  return {
    sessionId: String(values[0]),
    encryptedSecret: bytes(values[1]),
    nonce: bytes(values[2]),
    createdAt: String(values[3]),
    updatedAt: String(values[4]),
  };
}

/** A `session_tokens` row as a {@linkcode StoredSessionToken}. */
export function toSessionToken(row: Row): StoredSessionToken {
  return toSessionTokenFromValues([row.id, row.session_id, row.hash, row.created_at, row.revoked_at]);
}

/**
 * A `session_tokens` row read as an array (`id, session_id, hash, created_at, revoked_at`, the
 * order of {@linkcode TOKEN_NAMES}), as a {@linkcode StoredSessionToken}.
 */
export function toSessionTokenFromValues(values: readonly unknown[]): StoredSessionToken {
  return {
    id: String(values[0]),
    sessionId: String(values[1]),
    hash: String(values[2]),
    createdAt: String(values[3]),
    revokedAt: text(values[4]),
  };
}

/** The columns of a secret read, in the order {@linkcode toSecretFromValues} takes them. */
export const SECRET_NAMES = "session_id, encrypted_secret, nonce, created_at, updated_at";

/** The columns of a token read by hash, in the order {@linkcode toSessionTokenFromValues} takes them. */
export const TOKEN_NAMES = "id, session_id, hash, created_at, revoked_at";

/** A token record without its hash: what a store hands out but for a lookup by hash. */
export function withoutHash(token: StoredSessionToken | SessionToken): SessionToken {
  return { id: token.id, sessionId: token.sessionId, createdAt: token.createdAt, revokedAt: token.revokedAt };
}
