/**
 * The JSON bodies of the HTTP API, as TypeScript types: what each route accepts and answers. The
 * typed client (`hc<AppType>`) infers the same shapes; these name them for code that calls the
 * API some other way.
 *
 * @module
 */

import type { ForceableRefusal } from "../errors.ts";
import type { CreateSessionParams } from "../operations.ts";
import type { ForkSessionRequest, RestoreSnapshotRequest } from "../orchestrator.ts";
import type { NewRepository, Repository, Session, SessionStatus } from "../types.ts";

/** The body of every error response. */
export interface ErrorBody {
  /** What went wrong. */
  error: {
    /** A `SessionError` kind, or `Unauthorized`, `Forbidden`, `NotFound` (no such route) or `UnsupportedMediaType`. */
    kind: string;
    /** A sentence safe to show to the caller. */
    message: string;
    /** Present (`true`) when the same request with `force=true` would go through. */
    forceable?: boolean;
    /**
     * With `forceable`: what the forced request would act on, a worktree's uncommitted work
     * (whether it would be saved as a snapshot first, and which paths).
     */
    details?: ForceableRefusal;
  };
}

/** The body of `POST /v1/repositories`: a `NewRepository` whose id the server chooses. */
export type CreateRepositoryBody = Omit<NewRepository, "id">;

/** The body of `POST /v1/sessions`: the core's create parameters, plus where a worktree goes or comes from. */
export interface CreateSessionBody extends CreateSessionParams {
  /** Without a lifecycle: the worktree's absolute path (metadata only). Refused when a lifecycle chooses it. */
  worktreePath?: string;
  /** With a lifecycle: the ref a new branch starts from. */
  baseRef?: string;
  /** With a lifecycle: check out the existing `branchName` instead of creating it. */
  useExistingBranch?: boolean;
  /** How many ports to lease to the session (0–16); the server's default for the repository when absent. */
  ports?: number;
}

/**
 * The body of `POST /v1/sessions/{id}/fork`: what the fork sets of its new session (all optional;
 * the rest comes from the source, see `SessionOrchestrator.forkSession`).
 */
export type ForkSessionBody = Omit<ForkSessionRequest, "sessionId">;

/**
 * The body of `POST /v1/repositories/{id}/snapshots/restore`: the snapshot to restore into a new
 * session, and what that session may set.
 */
export interface RestoreSnapshotBody extends Omit<RestoreSnapshotRequest, "sessionId"> {
  /** `refs/session-snapshots/<session id>` or `….<n>`, as `GET …/snapshots` lists it. */
  ref: string;
}

/** The body of `PATCH /v1/sessions/{id}`. */
export interface UpdateSessionBody {
  /** New title. */
  title?: string;
  /** New status. */
  status?: SessionStatus;
}

/** The body of `PUT /v1/sessions/{id}/secret`: a secret sealed by the caller, base64. */
export interface PutSecretBody {
  /** AES-GCM ciphertext with its tag, standard base64. */
  encryptedSecret: string;
  /** The 12-byte nonce, standard base64. */
  nonce: string;
}

/** The body of `POST /v1/backup`. */
export interface BackupBody {
  /** Where the server writes the copy, on its own machine: an absolute path in a folder that exists. */
  path: string;
  /** Replace a file already there; without it an existing file is 409 `Conflict`. */
  overwrite?: boolean;
}

/** The answer of `DELETE /v1/sessions/{id}`: the deleted row (the cleanup data), plus what the close did. */
export interface DeletedSessionBody extends Session {
  /** Whether the worktree folder was removed (only a worktree lifecycle removes one). */
  worktreeRemoved: boolean;
  /** Whether the branch was deleted. */
  branchDeleted: boolean;
  /** Why the branch was kept when deletion was asked for, else `null`. */
  branchKeptReason: string | null;
  /** Why the worktree folder was kept (for example, its repository checkout is gone), else `null`. */
  worktreeKeptReason: string | null;
  /** Where a forced delete saved the worktree's work (`refs/session-snapshots/<id>`), else `null`. */
  snapshotRef: string | null;
}

/** The answer of `POST /v1/sessions/{id}/archive`: the archived row, plus what the archive kept. */
export interface ArchivedSessionBody extends Session {
  /** Where the worktree's uncommitted work was saved (`refs/session-snapshots/<id>`, or `….<n>`), else `null` (it was clean). */
  snapshotRef: string | null;
  /** The commit the branch (`branchName`, kept) was at. */
  head: string;
  /** Whether the worktree folder was removed. */
  worktreeRemoved: boolean;
}

/** A page of repositories. */
export interface RepositoryListBody {
  /** Oldest first. */
  repositories: Repository[];
  /** The `cursor` of the next page; `null` on the last. */
  nextCursor: string | null;
}

/** A page of sessions. */
export interface SessionListBody {
  /** Oldest first. */
  sessions: Session[];
  /** The `cursor` of the next page; `null` on the last. */
  nextCursor: string | null;
}

/** The answer of `POST /v1/ui/sign-in-codes`: a one-time link that signs a browser in to the dashboard. */
export interface SignInCodeBody {
  /** The dashboard's URL with the one-time code in its fragment (`…/ui/#code=…`). */
  url: string;
  /** When the code stops working (ISO-8601, UTC); it also stops once used, or when the server stops. */
  expiresAt: string;
}

/** The answer of `GET /v1/health`. */
export interface HealthBody {
  /** Always `ok` when the server answers. */
  status: "ok";
}

/** A session's secret, base64. */
export interface SecretBody {
  /** The session. */
  sessionId: string;
  /** The 32-byte secret, standard base64. */
  secret: string;
}

/** The answer of `PUT /v1/sessions/{id}/secret`. */
export interface SecretStoredBody {
  /** The session. */
  sessionId: string;
  /** Always true. */
  stored: true;
}
