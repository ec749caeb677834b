/**
 * Internal: the zod schemas of the HTTP API. Each one both validates (requests) and documents
 * (the OpenAPI document), so the two cannot drift. Every schema carries an explicit type, checked
 * against the body types of `./bodies.ts` and the core's own types, so a field added to `Session`
 * that the schema lacks fails to compile.
 *
 * @module
 */

import { z } from "@hono/zod-openapi";
import type { ForceableRefusal } from "../errors.ts";
import type { ReconcileReport, RepositoryPool, SessionGitStatus } from "../lifecycle.ts";
import type { IncludedFiles } from "../included_files.ts";
import type { GcReport } from "../gc.ts";
import type { PruneSnapshotsReport, SessionSnapshot, SnapshotList } from "../orchestrator.ts";
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from "../orchestrator.ts";
import { SESSION_STATUSES, type SessionStatus } from "../types.ts";
import { type SessionSetup, SETUP_STATES, type SetupStateName } from "../setup.ts";
import type { Repository, Session, SessionToken } from "../types.ts";
import type { MintedToken } from "../tokens.ts";
import type { StoreBackup } from "../store/store.ts";
import { MAX_SESSION_PORTS } from "../limits.ts";
import type {
  ArchivedSessionBody,
  BackupBody,
  CreateRepositoryBody,
  CreateSessionBody,
  DeletedSessionBody,
  ErrorBody,
  ForkSessionBody,
  HealthBody,
  PutSecretBody,
  RepositoryListBody,
  RestoreSnapshotBody,
  SecretBody,
  SecretStoredBody,
  SessionListBody,
  SignInCodeBody,
  UpdateSessionBody,
} from "./bodies.ts";
import { HTTP_ERROR_KINDS } from "./errors.ts";

const idParameter = (name: string) =>
  z.string().openapi({ param: { name, in: "path" }, example: "3f1c2b9e-8d4a-4c6e-9a1b-2c3d4e5f6a7b" });

/** What a refusal that force overrides carries: the work a forced request would act on. */
export const ForceableRefusalSchema: z.ZodType<ForceableRefusal, ForceableRefusal> = z.object({
  forceable: z.literal(true),
  wouldSnapshot: z.boolean().openapi({
    description: "Whether the forced request saves the work as a snapshot (refs/session-snapshots/…) first.",
  }),
  dirtyPaths: z.array(z.string()).openapi({
    description: "The changed, staged and untracked paths, relative to the worktree (the first 100).",
    example: ["src/app.ts", "notes.txt"],
  }),
  dirtyPathCount: z.number().int().openapi({ description: "How many such paths there are in all." }),
}).openapi("ForceableRefusal");

/** The error body. */
export const ErrorSchema: z.ZodType<ErrorBody, ErrorBody> = z.object({
  error: z.object({
    kind: z.string().openapi({
      description: `What went wrong, one of: ${HTTP_ERROR_KINDS.join(", ")}. More may be added.`,
      example: "SessionNotFound",
    }),
    message: z.string().openapi({ description: "A sentence safe to show to the caller." }),
    forceable: z.boolean().optional().openapi({
      description: "Present (true) when the same request with force=true would go through.",
    }),
    details: ForceableRefusalSchema.optional(),
  }),
}).openapi("Error");

/** A repository as returned. */
export const RepositorySchema: z.ZodType<Repository, Repository> = z.object({
  id: z.string(),
  path: z.string(),
  name: z.string(),
  isGitRepository: z.boolean(),
  sessionsPath: z.string().nullable(),
  defaultBranch: z.string().nullable(),
  defaultRemote: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
}).openapi("Repository");

/** What a new worktree got of the checkout's ignored files. */
export const IncludedFilesSchema: z.ZodType<IncludedFiles, IncludedFiles> = z.object({
  entries: z.array(z.string()).openapi({
    description: "What was copied, relative to the checkout; a folder copied whole ends in /.",
    example: [".env", "config/local.json"],
  }),
  files: z.number().int(),
  links: z.number().int().openapi({ description: "Symbolic links copied as links (never their targets)." }),
  bytesCloned: z.number().int().openapi({ description: "Bytes shared copy-on-write, as the file system proved." }),
  bytesCopied: z.number().int(),
  skipped: z.array(z.object({ path: z.string(), reason: z.string() })),
}).openapi("IncludedFiles");

/** A session's setup state. */
export const SessionSetupSchema: z.ZodType<SessionSetup, SessionSetup> = z.object({
  state: z.enum(SETUP_STATES as [SetupStateName, ...SetupStateName[]]),
  commands: z.number().int().openapi({ description: "How many commands the setup runs." }),
  current: z.number().int().nullable().openapi({
    description: "The command running, or the one that failed or was interrupted (0-based); null once it succeeded.",
  }),
  command: z.array(z.string()).nullable(),
  exitCode: z.number().int().nullable(),
  reason: z.string().nullable().openapi({ example: "exit code 1" }),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  logTail: z.string().openapi({ description: "The end of the output (standard output and error as they came)." }),
}).openapi("SessionSetup");

const sessionFields = {
  id: z.string(),
  repositoryId: z.string(),
  title: z.string(),
  agentName: z.string().nullable(),
  issueId: z.string().nullable(),
  issueTitle: z.string().nullable(),
  issueUrl: z.string().nullable(),
  status: z.enum(SESSION_STATUSES as [SessionStatus, ...SessionStatus[]]),
  isWorktree: z.boolean(),
  worktreePath: z.string().nullable(),
  worktreeName: z.string().nullable(),
  branchName: z.string().nullable(),
  baseBranch: z.string().nullable(),
  createdWorktree: z.boolean(),
  createdBranch: z.boolean(),
  hostId: z.string().nullable(),
  ports: z.array(z.number().int()).openapi({
    description: "The TCP ports leased to the session (ascending), unique among the store's sessions.",
  }),
  setup: SessionSetupSchema.nullable().openapi({
    description: "The operator's setup commands run in the new worktree: where they are and the end of their " +
      "output; null when none ran.",
  }),
  included: IncludedFilesSchema.nullable().openapi({
    description: "What the new worktree got of the checkout's ignored files (.worktreeinclude and the operator's " +
      "include patterns): entries, counts, bytes cloned and copied, what was skipped; null when nothing was included.",
  }),
  parentSessionId: z.string().nullable().openapi({
    description: "The session whose scoped token made this one (POST /v1/sessions/{id}/tokens); null for a session " +
      "made with the server's token. A scoped token reaches its own session and the sessions whose parents lead to it.",
  }),
  createdAt: z.string(),
  updatedAt: z.string(),
  lastAccessedAt: z.string(),
};

/** A session as returned. */
export const SessionSchema: z.ZodType<Session, Session> = z.object(sessionFields).openapi("Session");

/** A deleted session, with the lifecycle's close result when there is one. */
export const DeletedSessionSchema: z.ZodType<DeletedSessionBody, DeletedSessionBody> = z.object({
  ...sessionFields,
  worktreeRemoved: z.boolean(),
  branchDeleted: z.boolean(),
  branchKeptReason: z.string().nullable(),
  worktreeKeptReason: z.string().nullable(),
  snapshotRef: z.string().nullable(),
}).openapi("DeletedSession");

/** An archived session, with what the archive kept. */
export const ArchivedSessionSchema: z.ZodType<ArchivedSessionBody, ArchivedSessionBody> = z.object({
  ...sessionFields,
  snapshotRef: z.string().nullable().openapi({
    description: "The ref the worktree's uncommitted work (tracked, staged and untracked) was saved under; " +
      "null when the worktree was clean.",
    example: "refs/session-snapshots/3f1c2b9e-8d4a-4c6e-9a1b-2c3d4e5f6a7b",
  }),
  head: z.string().openapi({ description: "The commit the session's branch (kept) was at." }),
  worktreeRemoved: z.boolean(),
}).openapi("ArchivedSession");

/** A worktree session's git state. */
export const SessionStatusSchema: z.ZodType<SessionGitStatus, SessionGitStatus> = z.object({
  dirty: z.boolean().nullable().openapi({
    description: "Uncommitted changes or untracked files in the worktree (ignored files do not count); for an " +
      "archived session, whether its archive saved such work; null when it cannot be told (the folder is missing).",
  }),
  ahead: z.number().int().nullable().openapi({
    description: "Commits on the session's branch that its base lacks; null when the branch or the base is gone.",
  }),
  behind: z.number().int().nullable().openapi({
    description: "Commits on the base that the session's branch lacks; null when the branch or the base is gone.",
  }),
  landed: z.enum(["merged", "squash-merged", "cherry-picked"]).nullable().openapi({
    description: "Whether the branch's work is already in its base (the session's baseBranch, else the " +
      "repository's default branch), and how: merged (its tip is on the base), cherry-picked (each of its commits " +
      "has an equal patch on the base), squash-merged (its whole change since the merge base is in the base). " +
      "null when it is not, or the branch has no commits of its own.",
  }),
  diskBytes: z.number().int().openapi({
    description: "Bytes the worktree folder takes on disk (symlinks not followed); 0 for an archived session.",
  }),
  lastChangedAt: z.string().nullable().openapi({
    description: "When anything in the worktree folder last changed (ISO-8601 UTC); null when the folder is gone.",
  }),
}).openapi("SessionStatus");

const nextCursor = z.string().nullable().openapi({
  description: "Pass as `cursor` for the next page; null on the last.",
});

/** A page of repositories. */
export const RepositoryListSchema: z.ZodType<RepositoryListBody, RepositoryListBody> = z
  .object({ repositories: z.array(RepositorySchema), nextCursor }).openapi("RepositoryList");

/** A page of sessions. */
export const SessionListSchema: z.ZodType<SessionListBody, SessionListBody> = z
  .object({ sessions: z.array(SessionSchema), nextCursor }).openapi("SessionList");

/** The body of `POST /v1/repositories`; unknown fields are refused. */
export const CreateRepositorySchema: z.ZodType<CreateRepositoryBody, CreateRepositoryBody> = z.strictObject({
  path: z.string().openapi({ example: "/home/me/app" }),
  name: z.string().openapi({ example: "app" }),
  isGitRepository: z.boolean().optional(),
  sessionsPath: z.string().optional(),
  defaultBranch: z.string().optional(),
  defaultRemote: z.string().optional(),
}).openapi("CreateRepository");

// A number of ports to lease: a whole number from 0 to MAX_SESSION_PORTS (the orchestrator checks it too).
function portCount(description: string) {
  return z.number().int().min(0).max(MAX_SESSION_PORTS).optional().openapi({ description, example: 2 });
}

/** The body of `POST /v1/sessions`; unknown fields are refused. */
export const CreateSessionSchema: z.ZodType<CreateSessionBody, CreateSessionBody> = z.strictObject({
  repositoryId: z.string(),
  title: z.string().openapi({ example: "Add dark mode" }),
  agentName: z.string().optional(),
  issueId: z.string().optional(),
  issueTitle: z.string().optional(),
  issueUrl: z.string().optional(),
  isWorktree: z.boolean(),
  worktreeName: z.string().optional(),
  branchName: z.string().optional(),
  worktreePath: z.string().optional().openapi({
    description: "Without a worktree lifecycle: the worktree's absolute path, stored as metadata.",
  }),
  baseRef: z.string().optional().openapi({ description: "With a worktree lifecycle: where a new branch starts." }),
  useExistingBranch: z.boolean().optional().openapi({
    description: "With a worktree lifecycle: check out the existing branchName instead of creating it.",
  }),
  ports: portCount("How many ports to lease to the session; the server's default for the repository when absent."),
}).openapi("CreateSession");

/** The body of `POST /v1/sessions/{id}/fork`; unknown fields are refused. */
export const ForkSessionSchema: z.ZodType<ForkSessionBody, ForkSessionBody> = z.strictObject({
  title: z.string().optional().openapi({ description: "The fork's title; the source's with \" (fork)\" by default." }),
  worktreeName: z.string().optional().openapi({
    description: "The fork's folder name; one cut from its title by default.",
  }),
  branchName: z.string().optional().openapi({
    description: "The fork's new branch; <prefix><worktreeName> by default.",
  }),
  agentName: z.string().optional().openapi({ description: "The source's by default." }),
  issueId: z.string().optional().openapi({ description: "The source's by default." }),
  issueTitle: z.string().optional().openapi({ description: "The source's by default." }),
  issueUrl: z.string().optional().openapi({ description: "The source's by default." }),
  ports: portCount("How many ports the fork gets (its own); as many as the source has by default."),
}).openapi("ForkSession");

/** A snapshot a repository keeps. */
export const SnapshotSchema: z.ZodType<SessionSnapshot, SessionSnapshot> = z.object({
  ref: z.string().openapi({ example: "refs/session-snapshots/3f1c2b9e-8d4a-4c6e-9a1b-2c3d4e5f6a7b" }),
  sessionId: z.string().openapi({ description: "The session whose worktree it saved." }),
  commit: z.string().openapi({ description: "The snapshot commit." }),
  head: z.string().nullable().openapi({ description: "The commit the worktree had checked out (its first parent)." }),
  createdAt: z.string().openapi({ description: "When it was taken (ISO-8601 UTC)." }),
  subject: z.string().openapi({ description: "The first line of the snapshot commit's message." }),
  reason: z.string().nullable().openapi({
    description: "Why it was taken: a forced close, an archive, a fork.",
    example: "a forced close",
  }),
  changedPaths: z.number().int().openapi({ description: "How many paths the saved work changes." }),
  bytes: z.number().int().openapi({
    description: "The total size in bytes of the files the saved work changed, as the snapshot holds them " +
      "(deleted paths and nested repositories count 0).",
    example: 2048,
  }),
  sessionExists: z.boolean().openapi({
    description: "Whether its session still has a row (active or archived); prune keeps such snapshots.",
  }),
}).openapi("Snapshot");

/** The answer of `GET /v1/repositories/{id}/pool`. */
export const RepositoryPoolSchema: z.ZodType<RepositoryPool, RepositoryPool> = z.object({
  size: z.number().int().min(0).openapi({
    description: "How many ready worktrees the operator asked for (0: no pool).",
  }),
  ready: z.number().int().min(0).openapi({ description: "How many are ready now." }),
}).openapi("RepositoryPool");

/** The answer of `GET /v1/repositories/{id}/snapshots`. */
export const SnapshotListSchema: z.ZodType<SnapshotList, SnapshotList> = z.object({
  snapshots: z.array(SnapshotSchema).openapi({ description: "Oldest first." }),
}).openapi("SnapshotList");

/** The answer of `POST /v1/repositories/{id}/snapshots/prune`. */
export const PruneSnapshotsSchema: z.ZodType<PruneSnapshotsReport, PruneSnapshotsReport> = z.object({
  dryRun: z.boolean(),
  pruned: z.array(SnapshotSchema).openapi({ description: "Deleted (under dryRun: would be), oldest first." }),
  kept: z.array(z.object({
    ref: z.string(),
    sessionId: z.string(),
    commit: z.string(),
    head: z.string().nullable(),
    createdAt: z.string(),
    subject: z.string(),
    reason: z.string().nullable(),
    changedPaths: z.number().int(),
    bytes: z.number().int(),
    sessionExists: z.boolean(),
    keptReason: z.string(),
  })).openapi({ description: "Matched the filter but kept: their session still exists." }),
}).openapi("PruneSnapshotsReport");

/** The body of `POST /v1/repositories/{id}/snapshots/restore`; unknown fields are refused. */
export const RestoreSnapshotSchema: z.ZodType<RestoreSnapshotBody, RestoreSnapshotBody> = z.strictObject({
  ref: z.string().openapi({
    description: "The snapshot: refs/session-snapshots/<session id> or refs/session-snapshots/<session id>.<n>.",
    example: "refs/session-snapshots/3f1c2b9e-8d4a-4c6e-9a1b-2c3d4e5f6a7b",
  }),
  title: z.string().optional().openapi({ description: "The new session's title; `Restored <ref name>` by default." }),
  worktreeName: z.string().optional().openapi({ description: "Its folder name; one cut from its title by default." }),
  branchName: z.string().optional().openapi({ description: "Its new branch; <prefix><worktreeName> by default." }),
}).openapi("RestoreSnapshot");

/** The body of `PATCH /v1/sessions/{id}`; unknown fields are refused. */
export const UpdateSessionSchema: z.ZodType<UpdateSessionBody, UpdateSessionBody> = z.strictObject({
  title: z.string().optional(),
  status: z.enum(SESSION_STATUSES as [SessionStatus, ...SessionStatus[]]).optional(),
}).openapi("UpdateSession");

/** The body of `PUT /v1/sessions/{id}/secret`; unknown fields are refused. */
export const PutSecretSchema: z.ZodType<PutSecretBody, PutSecretBody> = z.strictObject({
  encryptedSecret: z.string(),
  nonce: z.string(),
}).openapi("PutSecret");

/** A session's secret. */
export const SecretSchema: z.ZodType<SecretBody, SecretBody> = z.object({
  sessionId: z.string(),
  secret: z.string(),
}).openapi("Secret");

/** The answer of storing a secret. */
export const SecretStoredSchema: z.ZodType<SecretStoredBody, SecretStoredBody> = z.object({
  sessionId: z.string(),
  stored: z.literal(true),
}).openapi("SecretStored");

/** The health answer. */
export const HealthSchema: z.ZodType<HealthBody, HealthBody> = z.object({ status: z.literal("ok") }).openapi("Health");

/** A one-time sign-in link for the dashboard. */
export const SignInCodeSchema: z.ZodType<SignInCodeBody, SignInCodeBody> = z.object({
  url: z.string().openapi({
    description: "The dashboard's URL, the one-time code in its fragment (never sent to a server or kept in history).",
    example: "http://127.0.0.1:7717/ui/#code=4Jc0nV6dQm1XWk3l9yq7ZtP2bR8sHfLgA5uE1oTiDwM",
  }),
  expiresAt: z.string().openapi({ description: "When the code stops working.", example: "2026-01-01T12:02:00.000Z" }),
}).openapi("SignInCode");

/** What `reconcile` reports. */
export const ReconcileReportSchema: z.ZodType<ReconcileReport, ReconcileReport> = z.object({
  dryRun: z.boolean(),
  findings: z.array(z.object({
    kind: z.string(),
    sessionId: z.string().nullable(),
    path: z.string().nullable(),
    branch: z.string().nullable(),
    action: z.string(),
    detail: z.string(),
  })),
}).openapi("ReconcileReport");

/** What `gc` found and did. */
export const GcReportSchema: z.ZodType<GcReport, GcReport> = z.object({
  dryRun: z.boolean(),
  findings: z.array(z.object({
    sessionId: z.string(),
    title: z.string(),
    action: z.enum(["delete", "archive", "keep"]).openapi({
      description: "delete: landed and clean; archive: landed but dirty, or idle past the limit (work saved " +
        "first); keep: anything else.",
    }),
    reason: z.string(),
    landed: z.enum(["merged", "squash-merged", "cherry-picked"]).nullable(),
    dirty: z.boolean().nullable(),
    diskBytes: z.number().int(),
    deleteBranch: z.boolean().openapi({
      description: "The branch goes with the worktree: only a merged branch this server made.",
    }),
    done: z.boolean().openapi({ description: "Carried out (false under dryRun, for keep, and on failure)." }),
    error: z.string().nullable().openapi({ description: "Why the action failed; the session is as it was." }),
  })),
  reclaimedBytes: z.number().int().openapi({
    description: "Bytes of the worktrees deleted or archived (under dryRun: that would be).",
  }),
}).openapi("GcReport");

/** The body of `POST /v1/backup`; unknown fields are refused. */
export const BackupRequestSchema: z.ZodType<BackupBody, BackupBody> = z.strictObject({
  path: z.string().openapi({
    description: "Where the server writes the copy, on its own machine: an absolute path (no `..`) in a folder " +
      "that exists.",
    example: "/home/me/backups/sessions-2026-01-31.db",
  }),
  overwrite: z.boolean().optional().openapi({
    description: "Replace a file already at the path; without it such a file is a 409 Conflict.",
  }),
}).openapi("BackupRequest");

/** What a backup wrote. */
export const BackupSchema: z.ZodType<StoreBackup, StoreBackup> = z.object({
  path: z.string().openapi({ description: "The file written." }),
  bytes: z.number().int().openapi({ description: "Its size." }),
  sessions: z.number().int().openapi({ description: "How many sessions the copy holds." }),
  repositories: z.number().int().openapi({ description: "How many repositories the copy holds." }),
  integrity: z.literal("ok").openapi({
    description: "What PRAGMA integrity_check said of the copy; a copy that fails it is not kept.",
  }),
}).openapi("Backup");

/** `{id}` in a path. */
export const IdParamsSchema: z.ZodObject<{ id: z.ZodString }> = z.object({ id: idParameter("id") });

/** `{id}` and `{tokenId}` in a path. */
export const TokenParamsSchema: z.ZodObject<{ id: z.ZodString; tokenId: z.ZodString }> = z.object({
  id: idParameter("id"),
  tokenId: idParameter("tokenId"),
});

/** A token just minted: the only answer that carries its text. */
export const MintedTokenSchema: z.ZodType<MintedToken, MintedToken> = z.object({
  token: z.string().openapi({
    description: "The bearer token (43 base64url characters): shown this once, stored only as its SHA-256 hash.",
  }),
  id: z.string().openapi({ description: "The token's id, to revoke it (DELETE /v1/sessions/{id}/tokens/{tokenId})." }),
  sessionId: z.string(),
  createdAt: z.string(),
}).openapi("MintedToken");

/** A scoped token's record (never its text). */
export const SessionTokenSchema: z.ZodType<SessionToken, SessionToken> = z.object({
  id: z.string(),
  sessionId: z.string(),
  createdAt: z.string(),
  revokedAt: z.string().nullable().openapi({ description: "When it was revoked; null while it is valid." }),
}).openapi("SessionToken");

/** `?repositoryId=&status=&parentSessionId=` and the page. */
export const SessionQuerySchema: z.ZodObject<{
  repositoryId: z.ZodOptional<z.ZodString>;
  status: z.ZodOptional<z.ZodEnum<{ [S in SessionStatus]: S }>>;
  parentSessionId: z.ZodOptional<z.ZodString>;
  limit: PageLimit;
  cursor: z.ZodOptional<z.ZodString>;
}> = z.object({
  repositoryId: z.string().optional().openapi({ param: { name: "repositoryId", in: "query" } }),
  status: z.enum(SESSION_STATUSES as [SessionStatus, ...SessionStatus[]]).optional().openapi({
    param: { name: "status", in: "query" },
  }),
  parentSessionId: z.string().optional().openapi({
    param: { name: "parentSessionId", in: "query" },
    description: "Only the sessions made under this one (parentSessionId: made with a token scoped to it).",
  }),
  limit: pageLimit(),
  cursor: pageCursor(),
});

/** `?limit=&cursor=` of the repository list. */
export const PageQuerySchema: z.ZodObject<{ limit: PageLimit; cursor: z.ZodOptional<z.ZodString> }> = z.object({
  limit: pageLimit(),
  cursor: pageCursor(),
});

type PageLimit = z.ZodOptional<z.ZodCoercedNumber<unknown>>;
function pageLimit(): PageLimit {
  return z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).optional().openapi({
    param: { name: "limit", in: "query" },
    description: `Page size: ${DEFAULT_PAGE_SIZE} by default, at most ${MAX_PAGE_SIZE}.`,
  });
}
function pageCursor(): z.ZodOptional<z.ZodString> {
  return z.string().optional().openapi({
    param: { name: "cursor", in: "query" },
    description: "The `nextCursor` of the previous page.",
  });
}

type Flag = z.ZodOptional<z.ZodEnum<{ true: "true"; false: "false" }>>;
const flag = (name: string, description: string): Flag =>
  z.enum(["true", "false"]).optional().openapi({ param: { name, in: "query" }, description });

/** `?force=&deleteBranch=`. */
export const DeleteSessionQuerySchema: z.ZodObject<{ force: Flag; deleteBranch: Flag }> = z.object({
  force: flag("force", "With a lifecycle: discard uncommitted changes and unmerged commits."),
  deleteBranch: flag("deleteBranch", "With a lifecycle: delete the branch too, when the lifecycle created it."),
});

/** `?dryRun=`. */
export const ReconcileQuerySchema: z.ZodObject<{ dryRun: Flag }> = z.object({
  dryRun: flag("dryRun", "Only report; change nothing."),
});

/** The query of `POST /v1/gc`. */
export const GcQuerySchema: z.ZodObject<{ dryRun: Flag; idle: z.ZodOptional<z.ZodString> }> = z.object({
  dryRun: flag("dryRun", "Only report; change nothing."),
  idle: z.string().max(32).optional().openapi({
    description: "Archive active sessions idle longer than this (a whole number and a unit: ms, s, m, h, d, w; " +
      "as 7d). Idle is measured from the later of the session's lastAccessedAt and its worktree's last change.",
    example: "7d",
  }),
});

/** `?sessionId=` of `GET /v1/repositories/{id}/snapshots`. */
export const SnapshotQuerySchema: z.ZodObject<{ sessionId: z.ZodOptional<z.ZodString> }> = z.object({
  sessionId: z.string().optional().openapi({
    param: { name: "sessionId", in: "query" },
    description: "Only the snapshots of this session.",
  }),
});

/** `?olderThan=&sessionId=&dryRun=` of `POST /v1/repositories/{id}/snapshots/prune`. */
export const PruneSnapshotsQuerySchema: z.ZodObject<
  { olderThan: z.ZodOptional<z.ZodString>; sessionId: z.ZodOptional<z.ZodString>; dryRun: Flag }
> = z.object({
  olderThan: z.string().max(32).optional().openapi({
    param: { name: "olderThan", in: "query" },
    description: "Only snapshots taken longer ago than this (a whole number and a unit: ms, s, m, h, d, w; as 7d). " +
      "Every age by default.",
    example: "7d",
  }),
  sessionId: z.string().optional().openapi({
    param: { name: "sessionId", in: "query" },
    description: "Only the snapshots of this session.",
  }),
  dryRun: flag("dryRun", "Only report what would be deleted; change nothing."),
});

/** The OpenAPI document itself, documented as an object. */
export const OpenApiDocumentSchema: z.ZodType<Record<string, unknown>, Record<string, unknown>> = z
  .record(z.string(), z.unknown())
  .openapi("OpenApiDocument", { description: "An OpenAPI 3.1 document." });

const EVENT_ID_DESCRIPTION = "The `id:` of the last event the client received (or of the `ready` event): the " +
  "stream first replays every event after it that the server's event log still keeps, then goes on with new " +
  "ones, with none missed or repeated. An id newer than the newest event, or not a whole number, is 400.";

/** `Last-Event-ID:`, which an `EventSource` sends when it reconnects. */
export const EventHeadersSchema: z.ZodObject<{ "last-event-id": z.ZodOptional<z.ZodString> }> = z.object({
  "last-event-id": z.string().optional().openapi({
    param: { name: "last-event-id", in: "header" },
    description: EVENT_ID_DESCRIPTION,
    example: "42",
  }),
});

/** `?lastEventId=`, for clients that cannot set a header; the header wins when both are sent. */
export const EventQuerySchema: z.ZodObject<{ lastEventId: z.ZodOptional<z.ZodString> }> = z.object({
  lastEventId: z.string().optional().openapi({
    param: { name: "lastEventId", in: "query" },
    description: `${EVENT_ID_DESCRIPTION} The \`Last-Event-ID\` header wins when both are sent.`,
    example: "42",
  }),
});

/** The server-sent events stream, documented as text. */
export const EventStreamSchema: z.ZodString = z.string().openapi({
  description: 'First a `ready` event (`data: {"lastEventId":"<id>"}`, its `id:` the position the stream is ' +
    "complete from). Then one `event:` per lifecycle change (its type), the event as JSON in `data:` and its " +
    "durable id in `id:`: ids increase with every committed change and survive server restarts. The types: " +
    "`repository.created`, `repository.deleted`, `session.created`, `session.updated`, `session.archived`, " +
    "`session.restored`, `session.deleted` (each with the record) and `session.secret.stored` (with the " +
    "`sessionId`). A create's progress comes live, between them, as `session.progress` events " +
    '(`data: {"type", "sessionId", "repositoryId", "parentSessionId", "phase", "done"?, "total"?, "detail"?}`; phases `plan`, `add`, `checkout`, ' +
    "`include`, `row`, `setup`) with no `id:` line: they are not logged and a resume does not replay them. " +
    "When events " +
    'after `Last-Event-ID` are no longer kept, a `gap` event (`data: {"after", "through", "message"}`, ' +
    "`id:` its `through`) says which ids were missed before the stream goes on.",
});
