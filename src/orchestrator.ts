/**
 * The orchestrator: the one place that decides a session's life. Every entry point (a script
 * importing `mod.ts`, the HTTP adapter, the command line) goes through it, so every one of them
 * gets the same checks, the same atomic create and delete, and the same events.
 *
 * @module
 */

import { decodeCursor, encodeCursor } from "./_cursor.ts";
import { errorMessage, SessionError, toStorageError } from "./errors.ts";
import { EventFeed, type EventFeedOptions } from "./event_feed.ts";
import { gcDecision, type GcFinding, type GcOptions, type GcReport } from "./gc.ts";
import {
  repositoryCreated,
  repositoryDeleted,
  secretStored,
  sessionArchived,
  sessionCreated,
  sessionDeleted,
  sessionRestored,
  sessionUpdated,
} from "./_event_of.ts";
import { type EventLog, type EventLogFollower, eventLogOf, type LifecycleEvent, LifecycleEvents } from "./events.ts";
import { parseId, type RepositoryId, type SessionId } from "./ids.ts";
import type {
  ArchivedSession,
  ClosedSession,
  CloseSessionOptions,
  OpenSessionParams,
  ReconcileFinding,
  ReconcileOptions,
  ReconcileReport,
  RepositoryPool,
  SessionGitStatus,
  SnapshotRecord,
  WorktreeClaim,
  WorktreePort,
  WorktreeRows,
} from "./lifecycle.ts";
import { hasWorktreeToClose } from "./worktree_session.ts";
import { CREATE_SESSION_FIELDS, sessionDraft } from "./_session_draft.ts";
import type { SessionSecretChain } from "./secret_chain.ts";
import type { RepositorySettings } from "./repository_settings.ts";
import type { SetupRunner } from "./setup.ts";
import { progressEvent, type ProgressSubject, type WorktreeProgress } from "./progress.ts";
import { SetupRuns } from "./_setup_runs.ts";
import {
  constantTimeEqual,
  generateSessionToken,
  hashToken,
  looksLikeSessionToken,
  type MintedToken,
  type Scope,
} from "./tokens.ts";
import { ScopedOrchestrator } from "./scope.ts";
import {
  backupCapabilityOf,
  type BackupOptions,
  type SessionStore,
  type StoreBackup,
  type WriteOptions,
} from "./store/store.ts";
import type {
  ListPosition,
  NewRepository,
  NewSession,
  PortLease,
  Repository,
  Session,
  SessionPatch,
  SessionStatus,
  SessionToken,
} from "./types.ts";
import { buildSession } from "./_records.ts";
import { invalid, requireRecord, requireText } from "./_field_checks.ts";
import { MAX_SESSION_PORTS } from "./limits.ts";
import { nowIso } from "./_clock.ts";
import { requireAbsolutePath } from "./_path_checks.ts";

/** A page size when none is asked for. */
export const DEFAULT_PAGE_SIZE = 100;
/** The largest page a list answers. */
export const MAX_PAGE_SIZE = 1000;
/** How long each setup command may run when the operator's settings do not say: 10 minutes. */
export const DEFAULT_SETUP_TIMEOUT_MS = 600_000;

/** What {@linkcode SessionOrchestrator} is built from; every part is a core interface. */
export interface SessionOrchestratorOptions {
  /** Where repositories, sessions and sealed secrets live. */
  store: SessionStore;
  /**
   * Makes, finds and forgets session secrets; build it over the same `store`. Without one,
   * sessions have no secret and the secret methods are `InvalidInput`.
   */
  chain?: SessionSecretChain;
  /**
   * Where every committed change is announced; a new one by default (see {@linkcode SessionOrchestrator.events}).
   * Over a store with an event log (`eventLog`, see `EventLog`) the orchestrator asks each write to
   * log its event with the change (`logEvent`), and emits nothing itself: following the log into
   * these events announces every process's changes alike, in commit order.
   */
  events?: LifecycleEvents;
  /**
   * The git and file-system side of sessions that own a git worktree (the platform's
   * `WorktreeLifecycle` plugs in here); their rows, secrets, checks and events stay the
   * orchestrator's. Without it, a worktree session is recorded with the `worktreePath` the caller manages.
   */
  worktrees?: WorktreePort;
  /**
   * Turns a repository path into the one form it is compared in (for example resolving symlinks;
   * `./platform` has `canonicalRepositoryPath`). The path as given by default.
   */
  canonicalPath?: (path: string) => string | Promise<string>;
  /**
   * Whether the folder at a (canonical) path is a git checkout, asked when a new repository does
   * not say (`./platform` has `isGitCheckout`). Not asked by default: the repository is then not one.
   */
  isGitCheckout?: (path: string) => boolean | Promise<boolean>;
  /** Told about failures that do not fail a committed operation; `console.error` by default. */
  logError?: (message: string, cause: unknown) => void;
  /**
   * The operator's settings for a repository (the files its new worktrees get; see
   * {@linkcode RepositorySettings}), asked at each worktree create; `./platform`'s `settingsFor`
   * reads them from the operator's config file. None by default. Never taken from a request.
   */
  repositorySettings?: (repository: Repository) => RepositorySettings | null | undefined;
  /**
   * The ports sessions are leased from, both ends included: {@linkcode DEFAULT_PORT_RANGE}
   * (41000–41999) by default. Every orchestrator over one store should use the same range.
   */
  portRange?: PortRange;
  /**
   * Whether a port can be bound on loopback right now (`./platform` has `portIsFree`, which binds
   * 127.0.0.1 and lets go at once): asked of each port before it is leased, so that a port some
   * other program listens on is skipped. Without it every port not leased counts as free.
   */
  portProbe?: (port: number) => boolean | Promise<boolean>;
  /**
   * How many ports a new session of `repository` gets when its create does not say (`ports`);
   * by default the repository's `ports` in `repositorySettings` (the operator's config file), else none.
   */
  defaultPorts?: (repository: Repository) => number | Promise<number>;
  /**
   * Runs the operator's setup commands (a repository's `setup` in `repositorySettings`) in each new
   * worktree, after its create has answered (`./platform` has `ProcessSetupRunner`). Without it no
   * setup runs (a configured one is logged as skipped).
   */
  setupRunner?: SetupRunner;
}

/** A range of TCP ports, both ends included. */
export interface PortRange {
  /** The first port (1–65535). */
  from: number;
  /** The last port (from `from` to 65535). */
  to: number;
}

/** The ports sessions are leased from by default. */
export const DEFAULT_PORT_RANGE: Readonly<PortRange> = Object.freeze({ from: 41000, to: 41999 });

/** How many times a lease is tried again after another writer took one of the ports it picked. */
const LEASE_ATTEMPTS = 12;

/** What `createSession` takes: the create parameters, plus where a worktree session's parts come from. */
export type CreateSessionRequest = OpenSessionParams & {
  /** The folder of a worktree the caller manages itself; only without `worktrees`, which choose it. */
  worktreePath?: string;
  /**
   * How many ports to lease to the session (0 to {@linkcode MAX_SESSION_PORTS}); the
   * orchestrator's `defaultPorts` for the repository when absent.
   */
  ports?: number;
  /**
   * The session under whose scoped token this one is made (see {@linkcode SessionOrchestrator.asScope},
   * which sets it): it must exist. `null` by default.
   */
  parentSessionId?: SessionId | null;
};

/** Filter and page of `listSessions`. */
export interface ListSessionsOptions {
  /** Only the sessions of this repository. */
  repositoryId?: RepositoryId;
  /** Only the sessions with this status. */
  status?: SessionStatus;
  /** Only the sessions made under this one (`parentSessionId`: made with a token scoped to it). */
  parentSessionId?: SessionId;
  /** Page size: 100 by default, at most 1000. */
  limit?: number;
  /** The `nextCursor` of the previous page. */
  cursor?: string;
}

/** Page of `listRepositories`. */
export interface ListRepositoriesOptions {
  /** Page size: 100 by default, at most 1000. */
  limit?: number;
  /** The `nextCursor` of the previous page. */
  cursor?: string;
}

/** A page of sessions. */
export interface SessionPage {
  /** Oldest first. */
  sessions: Session[];
  /** Pass it as `cursor` for the next page; `null` on the last one. */
  nextCursor: string | null;
}

/** A page of repositories. */
export interface RepositoryPage {
  /** Oldest first. */
  repositories: Repository[];
  /** Pass it as `cursor` for the next page; `null` on the last one. */
  nextCursor: string | null;
}

/** What a fork may set of its new session; the rest comes from the source (see `forkSession`). */
export interface ForkSessionRequest {
  /** The fork's title; the source's with " (fork)" by default. */
  title?: string;
  /** The fork's id; a new UUID when absent. */
  sessionId?: SessionId;
  /** The fork's worktree folder name; one cut from its title and id by default. */
  worktreeName?: string;
  /** The fork's branch (new); `<branchPrefix><worktreeName>` by default. */
  branchName?: string;
  /** Which agent runs the fork; the source's by default. */
  agentName?: string;
  /** The tracker issue it works on; the source's by default. */
  issueId?: string;
  /** That issue's title; the source's by default. */
  issueTitle?: string;
  /** That issue's URL; the source's by default. */
  issueUrl?: string;
  /** How many ports the fork gets (its own, never the source's); as many as the source has by default. */
  ports?: number;
  /** As for {@linkcode CreateSessionRequest.parentSessionId}: never the source's, `null` by default. */
  parentSessionId?: SessionId | null;
}

/** A snapshot a repository keeps, and whether its session still exists (see `listSnapshots`). */
export interface SessionSnapshot extends SnapshotRecord {
  /**
   * Whether the session it saved still has a row (active or archived): such a snapshot is the
   * session's own (an archive's, a fork's) and prune keeps it.
   */
  sessionExists: boolean;
}

/** Filter of `listSnapshots`. */
export interface ListSnapshotsOptions {
  /** Only the snapshots of this session. */
  sessionId?: SessionId;
}

/** The answer of `listSnapshots`. */
export interface SnapshotList {
  /** Oldest first. */
  snapshots: SessionSnapshot[];
}

/** What `pruneSnapshots` deletes. */
export interface PruneSnapshotsOptions {
  /** Only snapshots taken longer ago than this many milliseconds; every age by default. */
  olderThanMs?: number;
  /** Only the snapshots of this session. */
  sessionId?: SessionId;
  /** Only report what would be deleted; change nothing. */
  dryRun?: boolean;
}

/** What `pruneSnapshots` did (or, in a dry run, would do). */
export interface PruneSnapshotsReport {
  /** Whether this was a dry run. */
  dryRun: boolean;
  /** The snapshots deleted (in a dry run: that would be), oldest first. */
  pruned: SessionSnapshot[];
  /** The snapshots that matched the filter but were kept, each with why (its session still exists). */
  kept: Array<SessionSnapshot & { keptReason: string }>;
}

/** What a restored snapshot's new session may set (see `restoreSnapshot`). */
export interface RestoreSnapshotRequest {
  /** The new session's title; `Restored <ref name>` by default. */
  title?: string;
  /** The new session's id; a new UUID when absent. */
  sessionId?: SessionId;
  /** Its worktree folder name; one cut from its title and id by default. */
  worktreeName?: string;
  /** Its branch (new); `<branchPrefix><worktreeName>` by default. */
  branchName?: string;
}

const RESTORE_SNAPSHOT_FIELDS: readonly string[] = ["title", "sessionId", "worktreeName", "branchName"];

// A snapshot ref as the API takes it: under the prefix, a session id and an optional number, and
// nothing git could read as an option or a revision expression.
const SNAPSHOT_REF =
  /^refs\/session-snapshots\/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?:\.[1-9][0-9]{0,8})?$/;

function requireSnapshotRef(value: unknown): string {
  const ref = requireText(value, "ref");
  if (!SNAPSHOT_REF.test(ref)) {
    invalid(
      `ref ${JSON.stringify(ref.length > 80 ? `${ref.slice(0, 80)}…` : ref)} is not a session snapshot: ` +
        "it must be refs/session-snapshots/<session id> or refs/session-snapshots/<session id>.<n>",
    );
  }
  return ref;
}

const FORK_FIELDS: readonly string[] = [
  "ports",
  "parentSessionId",
  "title",
  "sessionId",
  "worktreeName",
  "branchName",
  "agentName",
  "issueId",
  "issueTitle",
  "issueUrl",
];

// The default title of a fork, kept within the 500 characters a title may have.
function forkTitle(title: string): string {
  const suffix = " (fork)";
  return title.length + suffix.length <= 500 ? title + suffix : title.slice(0, 500 - suffix.length) + suffix;
}

const CREATE_FIELDS: readonly string[] = [
  ...CREATE_SESSION_FIELDS,
  "sessionId",
  "worktreePath",
  "baseRef",
  "useExistingBranch",
  "ports",
  "parentSessionId",
];

/**
 * Creates, lists, changes and deletes sessions and repositories, and keeps session secrets, over
 * any {@linkcode SessionStore}. A create ends as a whole session (its row and sealed secret,
 * written in one transaction) or as nothing, wherever a process is killed. Every change emits
 * its event once, after it is committed (over a store with an event log, the log's follower
 * emits it; see {@linkcode SessionOrchestratorOptions.events}). Worktree sessions go through
 * `worktrees`, around the same create and delete steps as plain ones.
 *
 * @example A session with its secret and events, then deleted with its cleanup data
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateDatabaseKey, MemoryStore, SessionOrchestrator, SessionSecretChain } from "../mod.ts";
 *
 * const store = new MemoryStore();
 * const chain = new SessionSecretChain({ store, databaseKey: await generateDatabaseKey() });
 * const orchestrator = new SessionOrchestrator({ store, chain });
 * const seen: string[] = [];
 * orchestrator.events.subscribe((event) => seen.push(event.type));
 *
 * const repository = await orchestrator.createRepository({ path: "/src/app", name: "app" });
 * const session = await orchestrator.createSession({ repositoryId: repository.id, title: "Fix it", isWorktree: false });
 * assert.equal((await orchestrator.resolveSessionSecret(session.id))?.length, 32);
 * assert.deepEqual((await orchestrator.listSessions()).sessions.map((s) => s.id), [session.id]);
 *
 * const closed = await orchestrator.deleteSession(session.id);
 * assert.equal(closed?.session.id, session.id);
 * assert.equal(await orchestrator.resolveSessionSecret(session.id), null);
 * assert.deepEqual(seen, ["repository.created", "session.created", "session.deleted"]);
 * ```
 */
export class SessionOrchestrator {
  readonly #store: SessionStore;
  readonly #chain: SessionSecretChain | null;
  readonly #events: LifecycleEvents;
  readonly #worktrees: WorktreePort | null;
  readonly #canonicalPath: (path: string) => string | Promise<string>;
  readonly #isGitCheckout: ((path: string) => boolean | Promise<boolean>) | null;
  readonly #logError: (message: string, cause: unknown) => void;
  readonly #repositorySettings: (repository: Repository) => RepositorySettings | null | undefined;
  // What the worktree port may learn of the rows and ask to delete; built once.
  readonly #rows: WorktreeRows;
  // The store's event log, when it logs the events with the changes (its follower then emits them).
  readonly #log: EventLog | null;
  readonly #portRange: PortRange;
  readonly #portProbe: ((port: number) => boolean | Promise<boolean>) | null;
  readonly #defaultPorts: ((repository: Repository) => number | Promise<number>) | null;
  readonly #setups: SetupRuns | null;
  // Ports this orchestrator's creates in flight have picked: its other creates pick around them.
  readonly #picking = new Set<number>();

  /**
   * Composes the parts.
   *
   * @param options the store, and optionally the secret chain, the events, the worktree lifecycle
   */
  constructor(options: SessionOrchestratorOptions) {
    this.#store = options.store;
    this.#chain = options.chain ?? null;
    this.#events = options.events ?? new LifecycleEvents();
    this.#worktrees = options.worktrees ?? null;
    this.#canonicalPath = options.canonicalPath ?? ((path) => path);
    this.#isGitCheckout = options.isGitCheckout ?? null;
    this.#logError = options.logError ?? ((message, cause) => console.error(message, cause));
    this.#repositorySettings = options.repositorySettings ?? (() => null);
    this.#portRange = checkPortRange(options.portRange);
    this.#portProbe = options.portProbe ?? null;
    // The operator's settings answer for a repository when no function of its own is given.
    const settings = options.repositorySettings;
    this.#defaultPorts = options.defaultPorts ??
      (settings === undefined ? null : (repository) => settings(repository)?.ports ?? 0);
    this.#rows = {
      current: (id) => this.#read(() => this.#store.getSession(id), "reading a session"),
      holding: (claim) => this.#read(() => this.#holding(claim), "checking for existing sessions"),
      refuseTaken: (id, claim) => this.#refuseTaken(id, claim),
      repositories: () => this.#read(() => this.#store.listRepositories(), "listing repositories"),
      sessionsOf: async (repositoryId) => {
        const sessions = await this.#read(() => this.#store.listSessions({ repositoryId }), "listing sessions");
        // Another machine's sessions are its own server's to repair: their folders are on its disk.
        return sessions.filter((session) => this.#handles(session));
      },
      remove: (id) => this.#remove(id),
      discardOpened: (id, path) => this.#discardOpened(id, path),
      markArchived: (id) => this.#mark(id, "archived"),
      markRestored: (id) => this.#mark(id, "active"),
    };
    this.#log = eventLogOf(options.store);
    this.#setups = options.setupRunner === undefined ? null : new SetupRuns({
      runner: options.setupRunner,
      write: async (id, setup) => {
        const session = await this.#store.updateSession(id, { setup }, LOGGED).catch((error) => {
          throw toStorageError(error, "recording a setup");
        });
        if (session !== null) this.#announce(sessionUpdated(session));
        return session;
      },
      logError: this.#logError,
    });
  }

  /** Where changes are announced: subscribe to follow them. */
  get events(): LifecycleEvents {
    return this.#events;
  }

  /**
   * A feed of the events after `after` (the id of the last event a reader has, as `Last-Event-ID`
   * gives it), then of every new one, with no gap or duplicate between them: `GET /v1/events`
   * serializes it. The missed events are read back from the store's event log, whose ids survive
   * restarts, or, over a store without one, from the events' recent history. Events older than
   * what is kept come as one `gap` item, saying which ids were missed. An `after` that is not a
   * whole number or is newer than the newest event is `InvalidInput`. Without `after`, the feed
   * starts with the next event committed. Close it when done.
   */
  openEventFeed(options: EventFeedOptions = {}): Promise<EventFeed> {
    return EventFeed.open(this.#events, this.#log ?? this.#events, options);
  }

  /**
   * Over a store with an event log (one that several processes may share), follows it: every
   * logged change, this process's and every other's, is announced in {@linkcode events} in commit
   * order (over such a store the orchestrator announces nothing directly), and a secret stored or
   * a session deleted through another process is forgotten from this one's memory and keychain
   * copies, which it no longer matches (a failure there is logged). Resolves once following, with
   * the follower to close; `null`, doing nothing, over a store without a log. Call it once.
   */
  async followEventLog(): Promise<EventLogFollower | null> {
    const log = this.#log;
    if (log === null) return null;
    return await log.follow(
      (event, { id, own }) => {
        const sessionId = own ? null : staleSecretOf(event);
        if (sessionId !== null && this.#chain !== null) {
          this.#chain.forget(sessionId, { rowDeleted: true }).catch((error) =>
            this.#logError(`forgetting this process's copy of the secret of session ${sessionId} failed`, error)
          );
        }
        this.#events.emit(event, id);
      },
      {
        onError: (error) =>
          this.#logError("reading the event log failed; it is read again until the database answers", error),
      },
    );
  }

  /** The store it runs on. */
  get store(): SessionStore {
    return this.#store;
  }

  // --- repositories ---

  /** Adds a repository (its path in canonical form); `Conflict` when its id or path is taken. */
  async createRepository(input: NewRepository): Promise<Repository> {
    // The store checks every field; only a path that is a string is put in canonical form first,
    // and looked at for a git checkout when the caller did not say.
    let prepared = input;
    if (typeof input?.path === "string") {
      const path = await this.#canonicalPath(input.path);
      const detect = input.isGitRepository === undefined && this.#isGitCheckout !== null;
      prepared = { ...input, path, ...(detect ? { isGitRepository: await this.#isGitCheckout!(path) } : {}) };
    }
    const repository = await this.#store.createRepository(prepared, LOGGED).catch((error) => {
      throw toStorageError(error, "creating a repository");
    });
    this.#announce(repositoryCreated(repository));
    return repository;
  }

  /** The repository, or `null`. */
  getRepository(id: RepositoryId): Promise<Repository | null> {
    return this.#read(() => this.#store.getRepository(id), "reading a repository");
  }

  /** A page of repositories, oldest first. */
  async listRepositories(options: ListRepositoriesOptions = {}): Promise<RepositoryPage> {
    const { limit, after } = pageOf(requireRecord(options, "list options", ["limit", "cursor"]));
    const rows = await this.#read(() => this.#store.listRepositories({ limit: limit + 1, after }), "listing");
    return { repositories: rows.slice(0, limit), nextCursor: nextCursor(rows, limit) };
  }

  /** Removes a repository that has no sessions left (else `Conflict`); `null` when there was none. */
  async deleteRepository(id: RepositoryId): Promise<Repository | null> {
    const repository = await this.#store.deleteRepository(id, LOGGED).catch((error) => {
      throw toStorageError(error, "deleting a repository");
    });
    if (repository !== null) this.#announce(repositoryDeleted(repository));
    return repository;
  }

  // --- sessions ---

  /**
   * Creates a session and its secret. The repository must exist (`RepositoryNotFound`); bad
   * input is `InvalidInput` and a taken id, folder or branch `Conflict`, with nothing written.
   * A worktree session gets its worktree and branch from `worktrees` when there is one; without
   * it, `worktreePath` records a worktree the caller manages. With `ports` (else `defaultPorts`),
   * that many ports of `portRange` are leased to it with its row (see `Session.ports`): none that
   * another session holds or that `portProbe` finds bound; `Conflict` when too few are free.
   * A worktree create announces each of its phases (`plan`, `add`, `checkout`, `include`, `row`,
   * `setup`) as a transient `session.progress` event (see `LifecycleEvents.subscribeAll`).
   */
  async createSession(request: CreateSessionRequest): Promise<Session> {
    const checked = requireRecord(request, "session parameters", CREATE_FIELDS) as unknown as CreateSessionRequest;
    return await this.#create(checked, null, null);
  }

  /**
   * Forks a worktree session: a new session of the same repository with its own worktree and
   * branch, whose branch starts at the source's commit and whose worktree holds the source's
   * uncommitted work (staged as staged, untracked as untracked, byte for byte); the source is left
   * as it was (its work is saved as a snapshot of its own first, which stays). An archived source
   * gives what its archive saved. The fork's title is the request's, else the source's with
   * " (fork)"; its agent and issue fields are the source's unless given; its base branch is the
   * source's. Announces `session.created`. `SessionNotFound` for an unknown source; `InvalidInput`
   * for bad fields or a source with no worktree made by the worktree lifecycle; `Conflict`, with
   * nothing made, for another machine's source, a taken id, folder or branch, or a source worktree
   * that cannot be copied whole (as for an archive). A process killed midway leaves the new
   * session whole or not at all (`reconcile` undoes an unfinished fork).
   *
   * @example Fork a session to try another approach, keeping the first one as it is
   * ```ts ignore
   * const second = await orchestrator.forkSession(first.id, { title: "Dark mode, CSS variables" });
   * ```
   */
  async forkSession(id: SessionId, request: ForkSessionRequest = {}): Promise<Session> {
    const checked = requireRecord(request, "fork parameters", FORK_FIELDS) as ForkSessionRequest;
    const { session: source } = await this.#archivable(id, "fork");
    const inherited = Object.fromEntries(
      (["agentName", "issueId", "issueTitle", "issueUrl"] as const).flatMap((field) =>
        source[field] === null ? [] : [[field, source[field]]]
      ),
    );
    return await this.#create(
      {
        ...inherited,
        ...checked,
        title: checked.title ?? forkTitle(source.title),
        repositoryId: source.repositoryId,
        isWorktree: true,
      },
      source,
      null,
    );
  }

  // --- snapshots ---

  /**
   * The session snapshots a repository keeps (`refs/session-snapshots/…`: what forced deletes,
   * archives and forks saved), oldest first: each one's ref, session, commit, when and why it was
   * taken, how many paths it changed, and whether its session still exists. Optionally only one
   * session's. Changes nothing. `RepositoryNotFound` for an unknown repository; `InvalidInput`
   * without a worktree lifecycle or for a bad session id.
   */
  async listSnapshots(repositoryId: RepositoryId, options: ListSnapshotsOptions = {}): Promise<SnapshotList> {
    const checked = requireRecord(options, "snapshot list options", ["sessionId"]) as ListSnapshotsOptions;
    const sessionId = checked.sessionId === undefined ? null : parseId(checked.sessionId, "sessionId");
    const { repository, worktrees } = await this.#snapshotRepository(repositoryId);
    const records = (await worktrees.snapshots(repository))
      .filter((record) => sessionId === null || record.sessionId === sessionId);
    return { snapshots: await this.#withSessions(records) };
  }

  /**
   * Deletes a repository's old session snapshots: those taken more than `olderThanMs` ago (every
   * age when absent), optionally only one session's. A snapshot whose session still exists (active
   * or archived: an archive's restore needs it) is never deleted; it is reported as kept. Each ref
   * is deleted only while it still names the commit that was listed. With `dryRun` nothing changes
   * and the report says what would go. `RepositoryNotFound` for an unknown repository;
   * `InvalidInput` for bad options or without a worktree lifecycle.
   */
  async pruneSnapshots(repositoryId: RepositoryId, options: PruneSnapshotsOptions = {}): Promise<PruneSnapshotsReport> {
    const checked = requireRecord(options, "prune options", [
      "olderThanMs",
      "sessionId",
      "dryRun",
    ]) as PruneSnapshotsOptions;
    const { olderThanMs } = checked;
    if (olderThanMs !== undefined && (!Number.isSafeInteger(olderThanMs) || olderThanMs < 0)) {
      invalid("olderThanMs must be a whole number of milliseconds, 0 or more");
    }
    if (checked.dryRun !== undefined && typeof checked.dryRun !== "boolean") invalid("dryRun must be a boolean");
    const dryRun = checked.dryRun === true;
    const sessionId = checked.sessionId === undefined ? null : parseId(checked.sessionId, "sessionId");
    const { repository, worktrees } = await this.#snapshotRepository(repositoryId);
    const now = Date.now();
    const matching = (await worktrees.snapshots(repository)).filter((record) =>
      (sessionId === null || record.sessionId === sessionId) &&
      (olderThanMs === undefined || now - Date.parse(record.createdAt) > olderThanMs)
    );
    const listed = await this.#withSessions(matching);
    const kept = listed.filter((snapshot) => snapshot.sessionExists).map((snapshot) => ({
      ...snapshot,
      keptReason: `session ${snapshot.sessionId} still exists, and the snapshot is its own`,
    }));
    const candidates = listed.filter((snapshot) => !snapshot.sessionExists);
    if (dryRun || candidates.length === 0) return { dryRun, pruned: candidates, kept };
    const dropped = new Set(await worktrees.dropSnapshots(repository, candidates));
    return { dryRun, pruned: candidates.filter((snapshot) => dropped.has(snapshot.ref)), kept };
  }

  /**
   * Restores a snapshot's work into a new worktree session of the repository (for example the
   * work of a session deleted with `force`): its branch (new) starts at the commit the snapshot's
   * worktree had, and its worktree holds the snapshot's files as uncommitted changes, untracked
   * files untracked (what was staged is staged again when the snapshot is an archive's whose
   * record is still there; otherwise nothing is staged). The snapshot never lands on a branch and
   * its ref stays. Announces `session.created`. `ref` must be
   * `refs/session-snapshots/<session id>` or `….<n>` (else `InvalidInput`, before git runs);
   * `SnapshotNotFound` when the repository has no such snapshot; `RepositoryNotFound`,
   * `InvalidInput` and `Conflict` as for a create. A process killed midway leaves the new session
   * whole or not at all (`reconcile` undoes it).
   */
  async restoreSnapshot(
    repositoryId: RepositoryId,
    ref: string,
    request: RestoreSnapshotRequest = {},
  ): Promise<Session> {
    const snapshotRef = requireSnapshotRef(ref);
    const checked = requireRecord(
      request,
      "snapshot restore parameters",
      RESTORE_SNAPSHOT_FIELDS,
    ) as RestoreSnapshotRequest;
    if (this.#worktrees === null) invalid("restoring a snapshot needs a worktree lifecycle, and none is configured");
    return await this.#create(
      {
        ...checked,
        title: checked.title ?? `Restored ${snapshotRef.slice("refs/session-snapshots/".length)}`,
        repositoryId,
        isWorktree: true,
      },
      null,
      snapshotRef,
    );
  }

  // The repository and the port snapshots are read through; refused without either.
  /**
   * The repository's pool of ready worktrees (the operator's `pool`): its size and how many are
   * ready now, `{ size: 0, ready: 0 }` without one; asking starts a fill in the background when it
   * is short. `RepositoryNotFound` for an unknown repository.
   */
  async repositoryPool(repositoryId: RepositoryId): Promise<RepositoryPool> {
    const key = parseId(repositoryId, "repository id");
    const repository = await this.getRepository(key);
    if (repository === null) throw new SessionError("RepositoryNotFound", `no repository with id ${key}`);
    if (this.#worktrees?.pool === undefined || !repository.isGitRepository) return { size: 0, ready: 0 };
    return await this.#worktrees.pool(repository);
  }

  /** Starts filling the pool of every repository that keeps one (the server calls it once started). */
  async warmPools(): Promise<void> {
    if (this.#worktrees?.pool === undefined) return;
    const repositories = await this.#read(() => this.#store.listRepositories(), "listing repositories");
    for (const repository of repositories) {
      if (!repository.isGitRepository) continue;
      await this.#worktrees.pool(repository).catch((error) =>
        this.#logError(`starting the worktree pool of repository ${repository.id} failed`, error)
      );
    }
  }

  /** Stops the pools' fills and removes their ready worktrees (the server calls it as it stops). */
  async stopPools(): Promise<void> {
    await this.#worktrees?.stopPools?.();
  }

  async #snapshotRepository(repositoryId: RepositoryId): Promise<{ repository: Repository; worktrees: WorktreePort }> {
    const key = parseId(repositoryId, "repository id");
    const worktrees = this.#worktrees;
    if (worktrees === null) invalid("snapshots need a worktree lifecycle, and none is configured");
    const repository = await this.getRepository(key);
    if (repository === null) throw new SessionError("RepositoryNotFound", `no repository with id ${key}`);
    return { repository, worktrees };
  }

  // Each record with whether its session still has a row: one read per session.
  async #withSessions(records: SnapshotRecord[]): Promise<SessionSnapshot[]> {
    const ids = [...new Set(records.map((record) => record.sessionId))];
    const rows = await Promise.all(ids.map((id) => this.getSession(id)));
    const existing = new Set(ids.filter((_, i) => rows[i] !== null));
    return records.map((record) => ({ ...record, sessionExists: existing.has(record.sessionId) }));
  }

  // A create, its fields checked for shape: the one path of a plain create and of a fork.
  async #create(checked: CreateSessionRequest, forkOf: Session | null, fromSnapshot: string | null): Promise<Session> {
    const { sessionId, worktreePath, baseRef, useExistingBranch, ports, parentSessionId, ...params } = checked;
    const askedPorts = ports === undefined ? null : checkPortCount(ports, "ports");
    if (useExistingBranch !== undefined && typeof useExistingBranch !== "boolean") {
      invalid("useExistingBranch must be a boolean");
    }
    const managed = this.#worktrees !== null && params.isWorktree === true;
    if (managed && worktreePath !== undefined) {
      invalid("worktreePath is chosen by the worktree lifecycle; leave it out");
    }
    if (!managed && (baseRef !== undefined || useExistingBranch !== undefined)) {
      invalid(
        this.#worktrees === null
          ? "baseRef and useExistingBranch need a worktree lifecycle, and none is configured"
          : "baseRef and useExistingBranch apply to worktree sessions only",
      );
    }
    const draft: NewSession = {
      ...sessionDraft(params, sessionId, worktreePath),
      ...(parentSessionId === undefined || parentSessionId === null ? {} : { parentSessionId }),
      ...(managed
        ? { createdWorktree: true, createdBranch: useExistingBranch !== true, hostId: this.#worktrees!.hostId }
        : {}),
    };
    // Every field is checked once, here, before the repository is read, git runs or a secret is
    // made; a managed worktree's folder (and a name left out) is the lifecycle's to choose next.
    const row = buildSession(draft, nowIso(), { worktreePathPending: managed });
    let base: string | null = null;
    if (managed) {
      if (useExistingBranch === true && draft.branchName === undefined) invalid("useExistingBranch needs a branchName");
      if (baseRef !== undefined) base = requireBaseRef(baseRef);
    }
    const repository = await this.#read(() => this.#store.getRepository(draft.repositoryId), "reading a repository");
    if (repository === null) {
      throw new SessionError("RepositoryNotFound", `no repository with id ${draft.repositoryId}`);
    }
    if (row.parentSessionId !== null && (await this.getSession(row.parentSessionId)) === null) {
      throw new SessionError("SessionNotFound", `no session with id ${row.parentSessionId} (parentSessionId)`);
    }
    const portCount = askedPorts ?? (forkOf !== null ? forkOf.ports.length : await this.#defaultPortsOf(repository));
    const session = managed
      ? await this.#openWorktree(draft, row.title, repository, base, useExistingBranch === true, forkOf, {
        portCount,
        fromSnapshot,
      })
      : await this.#commit(draft, portCount);
    this.#announce(sessionCreated(session));
    return managed ? await this.#startSetup(session, repository) : session;
  }

  // --- setup: the operator's commands, run in a new worktree after its create answered ---

  // Starts the repository's setup in the session's worktree, when it has one; the session as then recorded.
  async #startSetup(session: Session, repository: Repository): Promise<Session> {
    const settings = this.#repositorySettings(repository);
    const commands = settings?.setup ?? [];
    if (commands.length === 0) return session;
    if (this.#setups === null) {
      this.#logError(
        `repository ${repository.name} has setup commands, but this orchestrator has no setupRunner: none ran`,
        null,
      );
      return session;
    }
    try {
      this.#progress(
        { sessionId: session.id, repositoryId: repository.id, parentSessionId: session.parentSessionId },
        { phase: "setup", total: commands.length },
      );
      return await this.#setups.start(session, commands, settings?.setupTimeoutMs ?? DEFAULT_SETUP_TIMEOUT_MS) ??
        session;
    } catch (error) {
      // The session is made and answered for; a setup that could not even be recorded is the log's.
      this.#logError(`starting the setup of session ${session.id} failed`, error);
      return session;
    }
  }

  /**
   * Runs a worktree session's setup again (after it failed or was interrupted; see
   * `RepositorySettings.setup`): the session with its setup `running`, which then goes on in the
   * background. `SessionNotFound` for an unknown id; `InvalidInput` for a session without a
   * worktree, a repository without setup commands, or no `setupRunner`; `Conflict` while its setup
   * runs, for an archived session, and for another machine's.
   *
   * @example Retry a setup that failed, and wait for its end
   * ```ts ignore
   * await orchestrator.runSetup(session.id);
   * const done = await orchestrator.waitForSetup(session.id);
   * console.log(done?.setup?.state); // "succeeded", or "failed" with its exitCode and logTail
   * ```
   */
  async runSetup(id: SessionId): Promise<Session> {
    const key = parseId(id, "session id");
    const session = await this.getSession(key);
    if (session === null) throw new SessionError("SessionNotFound", `no session with id ${key}`);
    if (!session.isWorktree || session.worktreePath === null || !session.createdWorktree) {
      invalid(`session ${key} has no worktree made by the worktree lifecycle, so it has no setup to run`);
    }
    if (this.#worktrees !== null && !this.#handles(session)) {
      throw new SessionError(
        "Conflict",
        `the worktree of session ${key} is on another machine (host id ${session.hostId}): run its setup there`,
      );
    }
    if (session.status === "archived") {
      throw new SessionError("Conflict", `session ${key} is archived: restore it before running its setup`);
    }
    if (this.#setups === null) invalid("running a setup needs a setupRunner, and none is configured");
    if (this.#setups.isRunning(key) || session.setup?.state === "running") {
      throw new SessionError("Conflict", `the setup of session ${key} is already running`);
    }
    const repository = await this.#read(() => this.#store.getRepository(session.repositoryId), "reading a repository");
    const commands = repository === null ? [] : this.#repositorySettings(repository)?.setup ?? [];
    if (repository === null || commands.length === 0) {
      invalid(`the repository of session ${key} has no setup commands in the operator's config`);
    }
    return await this.#setups.start(
      session,
      commands,
      this.#repositorySettings(repository)?.setupTimeoutMs ??
        DEFAULT_SETUP_TIMEOUT_MS,
    ) ?? session;
  }

  /**
   * Waits until the setup of a session that runs in this process has ended, and returns the
   * session as then recorded (`null` once it is gone). Returns at once when none runs here.
   */
  async waitForSetup(id: SessionId): Promise<Session | null> {
    const key = parseId(id, "session id");
    await this.#setups?.settled(key);
    return await this.getSession(key);
  }

  /**
   * Stops every setup running in this process, each recorded as `interrupted` (the server calls it
   * as it stops, so that none is left `running` behind it). The sessions stay.
   */
  async stopSetups(): Promise<void> {
    await this.#setups?.stopAll("the server stopped while it ran; run it again with slo setup <id>");
  }

  // Setups recorded as running that no process of this machine runs: their server was killed. They
  // are marked interrupted (unless `dryRun`) and reported, never run again by themselves.
  async #reconcileSetups(dryRun: boolean): Promise<ReconcileFinding[]> {
    const findings: ReconcileFinding[] = [];
    let after: ListPosition | undefined;
    for (;;) {
      const page = await this.#read(() => this.#store.listSessions({ limit: 500, after }), "listing sessions");
      for (const session of page) {
        if (session.setup?.state !== "running" || this.#setups?.isRunning(session.id)) continue;
        if (this.#worktrees !== null && !this.#handles(session)) continue;
        const setup = session.setup;
        if (!dryRun) {
          const reason = "its server stopped while it ran (killed or crashed); run it again with slo setup <id>";
          await this.#store.updateSession(session.id, {
            setup: { ...setup, state: "interrupted", reason, finishedAt: nowIso() },
          }, LOGGED).then((updated) => {
            if (updated !== null) this.#announce(sessionUpdated(updated));
          }).catch((error) => {
            throw toStorageError(error, "recording an interrupted setup");
          });
        }
        findings.push({
          kind: "setup-interrupted",
          sessionId: session.id,
          path: session.worktreePath,
          branch: session.branchName,
          action: dryRun ? "none" : "marked-interrupted",
          detail: `the setup of session ${session.id} was running command ${(setup.current ?? 0) + 1} of ` +
            `${setup.commands} when its server stopped; it is not run again by itself (slo setup ${session.id})`,
        });
      }
      if (page.length < 500) break;
      const last = page[page.length - 1];
      after = { createdAt: last.createdAt, id: last.id };
    }
    return findings;
  }

  /** The session, or `null`. */
  getSession(id: SessionId): Promise<Session | null> {
    return this.#read(() => this.#store.getSession(id), "reading a session");
  }

  /** A page of sessions, oldest first, optionally of one repository and one status. */
  async listSessions(options: ListSessionsOptions = {}): Promise<SessionPage> {
    const record = requireRecord(options, "list options", [
      "repositoryId",
      "status",
      "parentSessionId",
      "limit",
      "cursor",
    ]);
    const { limit, after } = pageOf(record);
    const filter = {
      ...(record.repositoryId === undefined ? {} : { repositoryId: record.repositoryId as string }),
      ...(record.status === undefined ? {} : { status: record.status as SessionStatus }),
      ...(record.parentSessionId === undefined ? {} : { parentSessionId: record.parentSessionId as string }),
    };
    const rows = await this.#read(() => this.#store.listSessions({ ...filter, limit: limit + 1, after }), "listing");
    return { sessions: rows.slice(0, limit), nextCursor: nextCursor(rows, limit) };
  }

  /**
   * Changes a session's title, status or issue fields; `null` when it does not exist. The status
   * `archived` is `archiveSession`'s alone (`InvalidInput` here), and an archived session's status
   * changes only by `restoreSession` (`Conflict` here): a status must never say a worktree is there,
   * or gone, when it is not.
   */
  async updateSession(id: SessionId, patch: SessionPatch): Promise<Session | null> {
    const status = (patch as { status?: unknown } | null | undefined)?.status;
    if (status === "archived") {
      invalid("the status archived is set by archiving the session (archiveSession, POST …/archive), not by an update");
    }
    if (status !== undefined) {
      const existing = await this.getSession(id);
      if (existing === null) return null;
      if (existing.status === "archived") {
        throw new SessionError(
          "Conflict",
          `session ${existing.id} is archived: restore it (restoreSession, POST …/restore) to make it ${status} again`,
        );
      }
    }
    const session = await this.#store.updateSession(id, patch, LOGGED).catch((error) => {
      throw toStorageError(error, "updating a session");
    });
    if (session !== null) this.#announce(sessionUpdated(session));
    return session;
  }

  /**
   * Deletes a session and returns its cleanup data, or `null` when it did not exist. A worktree
   * session made by `worktrees` is closed through it: its worktree is removed (never with
   * uncommitted work unless `force`: `Conflict`, and the session stays whole), and its branch with
   * `deleteBranch` when it made it. Otherwise the row goes in one atomic step and the caller
   * cleans up with the returned data. The secret goes with the row, from every layer.
   */
  async deleteSession(id: SessionId, options: CloseSessionOptions = {}): Promise<ClosedSession | null> {
    const key = parseId(id, "session id");
    const checked = requireRecord(options, "delete options", ["force", "deleteBranch"]) as CloseSessionOptions;
    const force = checked.force === true;
    const deleteBranch = checked.deleteBranch === true;
    // A setup still running in the worktree is stopped first: its processes would write on.
    await this.#setups?.stop(key, "its session was deleted");
    let session: Session | null = null;
    if (this.#worktrees !== null) {
      // The common case in one round trip where the store can: a session with no worktree goes at
      // once; only when nothing went is the row read, to close its worktree first (or to learn
      // there is none). A store without `deletePlainSession` is read first, as before.
      if (this.#store.deletePlainSession !== undefined) session = await this.#remove(key, "plain");
      if (session === null) {
        const stored = await this.getSession(key);
        if (stored === null) return null;
        if (hasWorktreeToClose(stored)) return await this.#closeWorktree(stored, { force, deleteBranch });
      }
    }
    session ??= await this.#remove(key);
    if (session === null) return null;
    return {
      session,
      worktreeRemoved: false,
      branchDeleted: false,
      branchKeptReason: deleteBranch ? "no worktree lifecycle manages this session's branch" : null,
      worktreeKeptReason: null,
      snapshotRef: null,
    };
  }

  /**
   * Archives a worktree session: saves its worktree's uncommitted work (tracked, staged and
   * untracked changes) under a snapshot ref of its own when there is any, removes the worktree
   * folder and git's record of it, and keeps the branch, the row (status `archived`, its folder and
   * branch still recorded) and the secret; announces `session.archived`. Answers what was kept.
   * `SessionNotFound` for an unknown id; `InvalidInput` for a session with no worktree made by the
   * worktree lifecycle (or none configured); `Conflict`, with nothing changed, for one already
   * archived, another machine's, or a worktree that cannot be archived whole (see
   * `WorktreePort.archive`). A process killed midway leaves it active with its work or archived
   * with its snapshot, and `reconcile` finishes or undoes it.
   */
  async archiveSession(id: SessionId): Promise<ArchivedSession> {
    const { session, repository } = await this.#archivable(id, "archive");
    if (session.status === "archived") throw new SessionError("Conflict", `session ${session.id} is already archived`);
    await this.#setups?.stop(session.id, "its session was archived");
    return await this.#worktrees!.archive(session, repository, this.#rows);
  }

  /**
   * Restores an archived session: its worktree back at its folder, on its branch at the commit it
   * had, with the archived work back as uncommitted changes (staged stays staged, untracked files
   * untracked, byte for byte, modes included); the snapshot never lands on the branch and its ref
   * stays. The row is `active` again; announces `session.restored`. `SessionNotFound` for an
   * unknown id; `InvalidInput` as for an archive; `Conflict`, with nothing changed, for a session
   * that is not archived, a folder that is taken, or a branch that is gone, checked out elsewhere,
   * or moved while there is work to put back (see `WorktreePort.restore`).
   */
  async restoreSession(id: SessionId): Promise<Session> {
    const { session, repository } = await this.#archivable(id, "restore");
    if (session.status !== "archived") {
      throw new SessionError("Conflict", `session ${session.id} is not archived, so there is nothing to restore`);
    }
    const leased = await this.#releaseTakenPorts(session);
    // A new folder: it gets the checkout's included files again, and the repository's setup runs in it.
    const include = this.#repositorySettings(repository)?.include ?? [];
    const restored = await this.#worktrees!.restore(leased, repository, this.#rows, { include });
    return await this.#startSetup(restored, repository);
  }

  /**
   * A worktree session's git state: uncommitted or untracked work, commits ahead of and behind
   * its base (its `baseBranch`, else the repository's default branch), whether and how its work
   * already landed on the base, and its folder's size on disk (see `SessionGitStatus`). Changes
   * nothing. For an archived session, `dirty` says whether its archive saved work and
   * `diskBytes` is 0. `SessionNotFound` for an unknown id; `InvalidInput` for a session with no
   * worktree (or no worktree lifecycle configured); `Conflict` for another machine's session,
   * whose folder is not on this disk; `RepositoryNotFound` when its repository row is gone.
   */
  async sessionStatus(id: SessionId): Promise<SessionGitStatus> {
    const key = parseId(id, "session id");
    const session = await this.getSession(key);
    if (session === null) throw new SessionError("SessionNotFound", `no session with id ${key}`);
    if (this.#worktrees === null) invalid("a session's status needs a worktree lifecycle, and none is configured");
    if (!session.isWorktree || session.worktreePath === null || session.branchName === null) {
      invalid(`session ${key} has no worktree, so it has no git status`);
    }
    if (!this.#handles(session)) {
      throw new SessionError(
        "Conflict",
        `the worktree of session ${key} is on another machine (host id ${session.hostId}; this one is ` +
          `${this.#worktrees.hostId}): ask a server on that machine for its status`,
      );
    }
    const repository = await this.#read(() => this.#store.getRepository(session.repositoryId), "reading a repository");
    if (repository === null) {
      throw new SessionError("RepositoryNotFound", `no repository with id ${session.repositoryId}`);
    }
    return await this.#worktrees.status(session, repository);
  }

  /**
   * Cleans up finished work: for each worktree session this lifecycle made on this machine, reads
   * its git state and decides (see `gcDecision`): landed and clean → delete the worktree (and its
   * branch only when merged and made here, so no commit outside the base is lost); landed but
   * dirty, or active and idle past `idleMs` → archive (its work saved first, restorable); anything
   * else → keep. Nothing it did not make is touched, a delete is never forced (work that appears
   * meanwhile makes it fail, and the session stays), and `dryRun` changes nothing. A session whose
   * action fails keeps its finding with the error; the others go on.
   */
  async gc(options: GcOptions = {}): Promise<GcReport> {
    const dryRun = options.dryRun === true;
    const idleMs = options.idleMs;
    if (idleMs !== undefined && (!Number.isSafeInteger(idleMs) || idleMs <= 0)) {
      invalid("idleMs must be a positive whole number of milliseconds");
    }
    const worktrees = this.#worktrees;
    if (worktrees === null) invalid("gc needs a worktree lifecycle, and none is configured");
    const repositories = new Map<RepositoryId, Promise<Repository | null>>();
    const findings: GcFinding[] = [];
    let reclaimedBytes = 0;
    const now = Date.now();
    for (let cursor: string | null = null, first = true; first || cursor !== null; first = false) {
      const page: SessionPage = await this.listSessions({ limit: 1000, ...(cursor === null ? {} : { cursor }) });
      cursor = page.nextCursor;
      for (const session of page.sessions) {
        if (!session.isWorktree || !session.createdWorktree || session.branchName === null) continue;
        if (!this.#handles(session)) continue;
        let repository = repositories.get(session.repositoryId);
        if (repository === undefined) {
          repository = this.#read(() => this.#store.getRepository(session.repositoryId), "reading a repository");
          repositories.set(session.repositoryId, repository);
        }
        const known = await repository;
        const base = { sessionId: session.id, title: session.title, done: false, error: null };
        if (known === null) {
          findings.push({
            ...base,
            action: "keep",
            reason: "its repository row is gone",
            landed: null,
            dirty: null,
            diskBytes: 0,
            deleteBranch: false,
          });
          continue;
        }
        let status: SessionGitStatus;
        try {
          status = await worktrees.status(session, known);
        } catch (error) {
          findings.push({
            ...base,
            action: "keep",
            reason: "its git state could not be read",
            landed: null,
            dirty: null,
            diskBytes: 0,
            deleteBranch: false,
            error: errorMessage(error),
          });
          continue;
        }
        const decision = gcDecision(session, status, now, idleMs);
        const finding: GcFinding = {
          ...base,
          ...decision,
          landed: status.landed,
          dirty: status.dirty,
          diskBytes: status.diskBytes,
        };
        findings.push(finding);
        if (decision.action === "keep") continue;
        if (!dryRun) {
          try {
            if (decision.action === "delete") {
              await this.deleteSession(session.id, { deleteBranch: decision.deleteBranch });
            } else {
              await this.archiveSession(session.id);
            }
            finding.done = true;
          } catch (error) {
            finding.error = errorMessage(error);
            continue;
          }
        }
        reclaimedBytes += status.diskBytes;
      }
    }
    return { dryRun, findings, reclaimedBytes };
  }

  // --- secrets ---

  /**
   * Replaces a session's secret with one sealed by the caller under the database key, with the
   * session id as additional data. Ciphertext that does not open is `InvalidInput` and changes
   * nothing; every layer (store, keychain, memory) then holds the new secret.
   */
  async storeSessionSecret(id: SessionId, encryptedSecret: Uint8Array, nonce: Uint8Array): Promise<void> {
    const key = parseId(id, "session id");
    if ((await this.getSession(key)) === null) throw new SessionError("SessionNotFound", `no session with id ${key}`);
    await this.#requireChain().replace(key, { encryptedSecret, nonce }, LOGGED);
    this.#announce(secretStored(key));
  }

  /** The session's secret (a copy the caller may wipe), or `null` when no layer has it. */
  resolveSessionSecret(id: SessionId): Promise<Uint8Array | null> {
    // Not async: a memory hit is the hot path and costs no extra turn of the event loop.
    if (this.#chain === null) return Promise.reject(noChain());
    return this.#chain.resolve(id);
  }

  // --- scoped tokens ---

  /**
   * Mints a token scoped to the session: 32 random bytes (base64url), given out once in the answer
   * and stored as its SHA-256 hash only. With it, {@linkcode resolveToken} answers the session's
   * {@linkcode Scope}, and {@linkcode asScope} of that scope reaches the session (to read) and the
   * sessions made under it (to read and change). The token dies with its session, or when revoked.
   * `SessionNotFound` for an unknown session.
   *
   * @example A token for a session, and what it resolves to
   * ```ts
   * import assert from "node:assert/strict";
   * import { MemoryStore, SessionOrchestrator } from "../mod.ts";
   *
   * const orchestrator = new SessionOrchestrator({ store: new MemoryStore() });
   * const repository = await orchestrator.createRepository({ path: "/src/app", name: "app" });
   * const session = await orchestrator.createSession({ repositoryId: repository.id, title: "Agent", isWorktree: false });
   * const minted = await orchestrator.mintToken(session.id);
   * assert.deepEqual(await orchestrator.resolveToken(minted.token), {
   *   kind: "session",
   *   sessionId: session.id,
   *   tokenId: minted.id,
   * });
   * await orchestrator.revokeToken(session.id, minted.id);
   * assert.equal(await orchestrator.resolveToken(minted.token), null);
   * ```
   */
  async mintToken(sessionId: SessionId): Promise<MintedToken> {
    const key = parseId(sessionId, "session id");
    const token = generateSessionToken();
    const record = await this.#store.createSessionToken({ sessionId: key, hash: await hashToken(token) })
      .catch((error) => {
        throw toStorageError(error, "storing a session token");
      });
    return { token, id: record.id, sessionId: record.sessionId, createdAt: record.createdAt };
  }

  /** Revokes the session's token `tokenId`; the token's record, or `null` when the session has no such token. */
  revokeToken(sessionId: SessionId, tokenId: string): Promise<SessionToken | null> {
    return this.#read(() => this.#store.revokeSessionToken(sessionId, tokenId), "revoking a session token");
  }

  /** The tokens minted for the session (revoked ones too), oldest first; never their text. */
  listTokens(sessionId: SessionId): Promise<SessionToken[]> {
    return this.#read(() => this.#store.listSessionTokens(sessionId), "listing session tokens");
  }

  /**
   * The scope a scoped token grants, or `null` when it is not one (malformed, unknown, revoked, or
   * its session is gone). Looked up by the token's SHA-256 hash; the hash found is compared again in
   * constant time.
   */
  async resolveToken(token: string): Promise<Scope | null> {
    if (!looksLikeSessionToken(token)) return null;
    const hash = await hashToken(token);
    const record = await this.#read(() => this.#store.getSessionTokenByHash(hash), "reading a session token");
    if (record === null || !constantTimeEqual(record.hash, hash) || record.revokedAt !== null) return null;
    return { kind: "session", sessionId: record.sessionId, tokenId: record.id };
  }

  /**
   * This orchestrator as a caller of `scope` may use it (see {@linkcode ScopedOrchestrator}): every
   * rule of what a scoped token reaches is decided there, in one place.
   */
  asScope(scope: Scope): ScopedOrchestrator {
    return new ScopedOrchestrator(this, scope);
  }

  // --- repair ---

  /** Finishes or undoes what killed processes left; with `dryRun` it only reports. */
  async reconcile(options: ReconcileOptions = {}): Promise<ReconcileReport> {
    const checked = requireRecord(options, "reconcile options", ["dryRun"]) as ReconcileOptions;
    const dryRun = checked.dryRun === true;
    const report = this.#worktrees === null
      ? { dryRun, findings: [] }
      : await this.#worktrees.reconcile({ dryRun }, this.#rows);
    return {
      ...report,
      findings: [...report.findings, ...await this.#reconcilePorts(dryRun), ...await this.#reconcileSetups(dryRun)],
    };
  }

  // Leases whose session row is gone: released (unless `dryRun`), one finding per session.
  async #reconcilePorts(dryRun: boolean): Promise<ReconcileFinding[]> {
    let orphans: PortLease[];
    if (dryRun) {
      const leases = await this.#read(() => this.#store.listPortLeases(), "listing port leases");
      const gone = new Map<SessionId, boolean>();
      for (const lease of leases) {
        if (!gone.has(lease.sessionId)) gone.set(lease.sessionId, (await this.getSession(lease.sessionId)) === null);
      }
      orphans = leases.filter((lease) => gone.get(lease.sessionId) === true);
    } else {
      orphans = await this.#read(() => this.#store.releaseOrphanedPorts(), "releasing orphaned port leases");
    }
    const bySession = new Map<SessionId, number[]>();
    for (const lease of orphans) bySession.set(lease.sessionId, [...bySession.get(lease.sessionId) ?? [], lease.port]);
    return [...bySession].map(([sessionId, ports]) => ({
      kind: "orphan-port-lease",
      sessionId,
      path: null,
      branch: null,
      action: dryRun ? "none" : "lease-released",
      detail: `${dryRun ? "would release" : "released"} the lease of port${ports.length === 1 ? "" : "s"} ` +
        `${ports.join(", ")}, held by session ${sessionId}, whose row is gone`,
    }));
  }

  // --- backups ---

  /**
   * Writes a consistent copy of the store's database to `destination`, an absolute path on the
   * machine the store runs on, while it is in use: what a copy of the SQLite file alone misses
   * (every change still in its write-ahead log) is in it. The copy passes SQLite's integrity check
   * before it is put in place, and a server started on it serves what was committed when it was
   * made. A relative or `..` path, a missing folder, a folder, or the live database's own files are
   * `InvalidInput`; an existing file is `Conflict` unless `overwrite`; a store that cannot make one
   * (`MemoryStore`, Postgres: use `pg_dump`) is `InvalidInput`. Nothing is written when refused.
   */
  async backup(destination: string, options: BackupOptions = {}): Promise<StoreBackup> {
    const checked = requireRecord(options, "backup options", ["overwrite"]);
    if (checked.overwrite !== undefined && typeof checked.overwrite !== "boolean") {
      invalid("overwrite must be a boolean");
    }
    const store = backupCapabilityOf(this.#store);
    if (store === null) {
      invalid(
        "this store cannot write a backup: only a SQLite database opened by the platform (openSqliteStore) can " +
          "(a Postgres database is backed up with pg_dump)",
      );
    }
    const path = requireAbsolutePath(destination, "backup path");
    return await store.backup(path, { overwrite: checked.overwrite === true }).catch((error) => {
      throw toStorageError(error, "writing a backup");
    });
  }

  // --- worktree sessions: the port does git and the file system, the rows stay here ---

  // Names the worktree, then has the port make it and call back for the row, under its lock.
  async #openWorktree(
    draft: NewSession,
    title: string,
    repository: Repository,
    baseRef: string | null,
    useExistingBranch: boolean,
    forkOf: Session | null,
    { portCount, fromSnapshot }: { portCount: number; fromSnapshot: string | null },
  ): Promise<Session> {
    const worktrees = this.#worktrees!;
    const subject = {
      sessionId: draft.id,
      repositoryId: repository.id,
      parentSessionId: draft.parentSessionId ?? null,
    };
    this.#progress(subject, { phase: "plan" });
    const plan = worktrees.plan(repository, {
      sessionId: draft.id,
      title,
      ...(draft.worktreeName === undefined || draft.worktreeName === null ? {} : { worktreeName: draft.worktreeName }),
      ...(draft.branchName === undefined || draft.branchName === null ? {} : { branchName: draft.branchName }),
    });
    // The one draft: the caller's fields, checked above, with the folder and names the port chose.
    const named: NewSession = {
      ...draft,
      worktreeName: plan.worktreeName,
      branchName: plan.branchName,
      worktreePath: plan.worktreePath,
    };
    const settings = this.#repositorySettings(repository);
    const include = settings?.include ?? [];
    const sparse = settings?.sparse ?? [];
    return await worktrees.open(
      {
        sessionId: draft.id,
        repository,
        plan,
        baseRef,
        useExistingBranch,
        forkOf,
        fromSnapshot,
        include,
        sparse,
        // Asked only while someone listens: reading git's checkout counts costs a process of its own.
        ...(this.#events.transientListeners === 0
          ? {}
          : { onProgress: (progress: WorktreeProgress) => this.#progress(subject, progress) }),
      },
      this.#rows,
      (baseBranch, included) => {
        this.#progress(subject, { phase: "row" });
        return this.#commit({ ...named, baseBranch, included }, portCount);
      },
    );
  }

  async #closeWorktree(session: Session, options: CloseSessionOptions): Promise<ClosedSession | null> {
    const worktrees = this.#worktrees!;
    if (!this.#handles(session)) {
      // Its folder and branch are on another machine's disk: neither they nor the row are touched here.
      throw new SessionError(
        "Conflict",
        `the worktree of session ${session.id} is on another machine (host id ${session.hostId}; this one is ` +
          `${worktrees.hostId}): delete it through a server on that machine`,
      );
    }
    const repository = await this.#read(() => this.#store.getRepository(session.repositoryId), "reading a repository");
    return await worktrees.close(session, repository, options, this.#rows);
  }

  // The checks an archive and a restore share: a worktree session this lifecycle made, handled here.
  async #archivable(
    id: SessionId,
    what: "archive" | "restore" | "fork",
  ): Promise<{ session: Session; repository: Repository }> {
    const key = parseId(id, "session id");
    const session = await this.getSession(key);
    if (session === null) throw new SessionError("SessionNotFound", `no session with id ${key}`);
    if (this.#worktrees === null) invalid(`${what} needs a worktree lifecycle, and none is configured`);
    if (!session.isWorktree || session.worktreePath === null || session.branchName === null) {
      invalid(`session ${key} has no worktree, so there is nothing to ${what}`);
    }
    if (!session.createdWorktree) {
      const done = { archive: "archived", restore: "restored", fork: "forked" }[what];
      invalid(`the worktree of session ${key} was not made by the worktree lifecycle, so it cannot be ${done}`);
    }
    if (!this.#handles(session)) {
      throw new SessionError(
        "Conflict",
        `the worktree of session ${key} is on another machine (host id ${session.hostId}; this one is ` +
          `${this.#worktrees.hostId}): ${what} it through a server on that machine`,
      );
    }
    const repository = await this.#read(() => this.#store.getRepository(session.repositoryId), "reading a repository");
    if (repository === null) {
      throw new SessionError("RepositoryNotFound", `no repository with id ${session.repositoryId}`);
    }
    return { session, repository };
  }

  // An archive's or a restore's row step: the status, logged and announced as that phase's event.
  // Unchanged (and not announced again) when a finished step is retried.
  async #mark(id: SessionId, status: "archived" | "active"): Promise<Session | null> {
    const row = await this.getSession(id);
    if (row === null) return null;
    if ((row.status === "archived") === (status === "archived")) return row;
    const logAs = status === "archived" ? "session.archived" : "session.restored";
    const session = await this.#store.updateSession(id, { status }, { ...LOGGED, logAs }).catch((error) => {
      throw toStorageError(error, status === "archived" ? "archiving a session" : "restoring a session");
    });
    if (session !== null) this.#announce(status === "archived" ? sessionArchived(session) : sessionRestored(session));
    return session;
  }

  // Whether this machine handles the session's worktree: one recorded with no machine, or with this one.
  #handles(session: Session): boolean {
    const here = this.#worktrees?.hostId ?? null;
    return here === null || session.hostId === null || session.hostId === here;
  }

  // Which sessions hold the folder (any repository's) or the branch (this repository's): two
  // indexed lookups, however many sessions there are.
  async #holding(claim: WorktreeClaim): Promise<Session[]> {
    const [inFolder, onBranch] = await Promise.all([
      this.#store.listSessions({ worktreePath: claim.path, limit: 2 }),
      this.#store.listSessions({ repositoryId: claim.repositoryId, branchName: claim.branch, limit: 2 }),
    ]);
    return [...inFolder, ...onBranch];
  }

  // An open's claim on the rows: the id and, held by another session's row, the folder or the branch.
  async #refuseTaken(id: SessionId, claim: WorktreeClaim): Promise<void> {
    const [existing, holders] = await Promise.all([this.#store.getSession(id), this.#holding(claim)]).catch(
      (error) => {
        throw toStorageError(error, "checking for existing sessions");
      },
    );
    if (existing !== null) throw new SessionError("Conflict", `a session with id ${id} already exists`);
    if (holders.length > 0) {
      throw new SessionError(
        "Conflict",
        `session ${holders[0].id} already holds the folder ${claim.path} or the branch ${claim.branch}`,
      );
    }
  }

  // The undo of an open's row: only the row of this id that records the journaled folder is the open's.
  async #discardOpened(
    id: SessionId,
    path: string,
  ): Promise<{ action: "row-deleted" | "none"; detail: string } | null> {
    const row = await this.#read(() => this.#store.getSession(id), "reading a session");
    if (row !== null && row.worktreePath !== path) {
      // A session with this id that is not the journaled one (a reused id): not ours to delete.
      return {
        action: "none",
        detail: `session ${id} has the folder ${row.worktreePath}, not ${path}: its row was kept`,
      };
    }
    // The row (with its sealed secret) first, then the other copies: a failure between the two
    // leaves an orphan copy that a resolve drops, never a row without its secret. Logged like any
    // delete (a store with an event log logged the row's creation with it); announced by none,
    // since the create it undoes was never announced.
    const deleted = row === null ? null : await this.#store.deleteSession(id, LOGGED).catch((error) => {
      throw toStorageError(error, "deleting a session");
    });
    if (this.#chain !== null) await this.#chain.forget(id, { rowDeleted: deleted !== null });
    return deleted === null ? null : { action: "row-deleted", detail: `deleted the row of session ${id}` };
  }

  // --- ports ---

  // How many ports a new session of the repository gets by default: the operator's answer, checked.
  async #defaultPortsOf(repository: Repository): Promise<number> {
    if (this.#defaultPorts === null) return 0;
    return checkPortCount(await this.#defaultPorts(repository), "the default number of ports");
  }

  // Runs `write` with `count` free ports picked (none when 0): not leased in the store, not picked
  // by another create of this orchestrator, and bindable on loopback (`portProbe`). The store's
  // unique key decides between writers: when `write` fails with `Conflict` because another writer
  // leased one of the picks meanwhile, it runs again with new picks, up to LEASE_ATTEMPTS times.
  async #leasing<T>(
    sessionId: SessionId,
    count: number,
    keep: readonly number[],
    write: (ports: number[]) => Promise<T>,
  ): Promise<T> {
    if (count === 0) return await write([...keep]);
    const avoid = new Set<number>();
    for (let attempt = 1;; attempt++) {
      const picked = await this.#pickPorts(count, new Set([...avoid, ...keep]));
      try {
        return await write([...keep, ...picked]);
      } catch (error) {
        if (!(error instanceof SessionError) || error.kind !== "Conflict") throw error;
        const leases = await this.#read(() => this.#store.listPortLeases(), "listing port leases");
        const lost = leases.filter((lease) => picked.includes(lease.port) && lease.sessionId !== sessionId);
        if (lost.length === 0) throw error;
        for (const lease of lost) avoid.add(lease.port);
        if (attempt >= LEASE_ATTEMPTS) {
          throw new SessionError(
            "Conflict",
            `could not lease ${count} port${count === 1 ? "" : "s"} for session ${sessionId}: other sessions ` +
              `took the ports picked ${attempt} times in a row; try again`,
            { cause: error },
          );
        }
      } finally {
        for (const port of picked) this.#picking.delete(port);
      }
    }
  }

  // `count` ports of the range that no lease, no create in flight here and no listening socket
  // holds, from a random point of the range on (so that writers rarely pick the same ones), held
  // in #picking until the caller's write is done. `Conflict` when the range has too few.
  async #pickPorts(count: number, avoid: ReadonlySet<number>): Promise<number[]> {
    const leases = await this.#read(() => this.#store.listPortLeases(), "listing port leases");
    const leased = new Set(leases.map((lease) => lease.port));
    const { from, to } = this.#portRange;
    const size = to - from + 1;
    const start = Math.floor(Math.random() * size);
    const picked: number[] = [];
    try {
      for (let i = 0; i < size && picked.length < count; i++) {
        const port = from + (start + i) % size;
        if (leased.has(port) || avoid.has(port) || this.#picking.has(port)) continue;
        this.#picking.add(port);
        picked.push(port);
        if (this.#portProbe !== null && !(await this.#portProbe(port))) {
          picked.pop();
          this.#picking.delete(port);
        }
      }
    } catch (error) {
      for (const port of picked) this.#picking.delete(port);
      throw new SessionError("Storage", `checking whether a port is free failed: ${errorMessage(error)}`, {
        cause: error,
      });
    }
    if (picked.length < count) {
      for (const port of picked) this.#picking.delete(port);
      throw new SessionError(
        "Conflict",
        `only ${picked.length} of the ${count} ports asked for are free in ${from}–${to} (leased to other ` +
          `sessions or in use on this machine): delete sessions, or widen the port range`,
      );
    }
    return picked.sort((a, b) => a - b);
  }

  // A restore's ports: each one the archived session holds stays when it can still be bound on
  // loopback; one some program now listens on is released and replaced by a free one, in one store
  // step. The session as it then is.
  async #releaseTakenPorts(session: Session): Promise<Session> {
    if (session.ports.length === 0 || this.#portProbe === null) return session;
    const keep: number[] = [];
    for (const port of session.ports) {
      if (await this.#portProbe(port)) keep.push(port);
    }
    const taken = session.ports.length - keep.length;
    if (taken === 0) return session;
    const updated = await this.#leasing(
      session.id,
      taken,
      keep,
      (ports) => this.#store.setSessionPorts(session.id, ports, LOGGED),
    ).catch((error) => {
      throw toStorageError(error, "leasing ports");
    });
    if (updated === null) throw new SessionError("SessionNotFound", `no session with id ${session.id}`);
    this.#announce(sessionUpdated(updated));
    return updated;
  }

  // --- the steps every session's life shares ---

  // The row and its sealed secret, in one store transaction; nothing is announced here. Its
  // fields were checked by `createSession` (and the store checks what it writes).
  // With `portCount`, that many ports are leased with the row (see #leasing).
  async #commit(draft: NewSession, portCount = 0): Promise<Session> {
    // The event is logged with the row; a worktree session is announced once its lifecycle has returned it.
    const write = (sealed?: Parameters<SessionStore["createSession"]>[1]) =>
      this.#leasing(
        draft.id,
        portCount,
        [],
        (ports) => this.#store.createSession(portCount === 0 ? draft : { ...draft, ports }, sealed, LOGGED),
      ).catch(
        (error) => {
          throw toStorageError(error, "creating a session");
        },
      );
    if (this.#chain === null) return await write();
    // A keychain that fails after the commit takes the row (and its sealed secret) back with it.
    return await this.#chain.provisionWith(
      draft.id,
      (sealed) => write(sealed),
      // Logged like any delete: the row's creation is in the log, so followers must see it go.
      () => this.#store.deleteSession(draft.id, LOGGED),
    );
  }

  // Deletes the row (and the sealed secret with it), announces it, then forgets the other copies.
  // With `only: "plain"`, through the store's `deletePlainSession`: only a session without a
  // worktree to close.
  async #remove(id: SessionId, only: "any" | "plain" = "any"): Promise<Session | null> {
    const key = parseId(id, "session id");
    const deleting = only === "any"
      ? this.#store.deleteSession(key, LOGGED)
      : this.#store.deletePlainSession!(key, LOGGED);
    const session = await deleting.catch((error) => {
      throw toStorageError(error, "deleting a session");
    });
    if (session !== null) this.#announce(sessionDeleted(session));
    if (this.#chain !== null) {
      await this.#chain.forget(id, { rowDeleted: true }).catch((error) =>
        this.#logError(
          `session ${id} was deleted but forgetting its secret failed: ${errorMessage(error)}`,
          error,
        )
      );
    }
    return session;
  }

  // Announces a create's progress: transient, so this process's readers see it live and no log keeps it.
  #progress(subject: ProgressSubject, progress: Parameters<typeof progressEvent>[1]): void {
    this.#events.emitTransient(progressEvent(subject, progress));
  }

  // Emits a committed change's event, unless the store logged it with the change for its follower to emit.
  #announce(event: LifecycleEvent): void {
    if (this.#log === null) this.#events.emit(event);
  }

  #requireChain(): SessionSecretChain {
    if (this.#chain === null) throw noChain();
    return this.#chain;
  }

  #read<T>(work: () => Promise<T>, action: string): Promise<T> {
    return work().catch((error) => {
      throw toStorageError(error, action);
    });
  }
}

// Every change the orchestrator announces is logged with it by a store that keeps an event log.
const LOGGED: WriteOptions = { logEvent: true };
// A ref git will read as a ref, never as an option or two words.
function requireBaseRef(value: unknown): string {
  const baseRef = requireText(value, "baseRef");
  if (baseRef.startsWith("-") || /\s/.test(baseRef)) invalid(`baseRef ${JSON.stringify(baseRef)} is not a ref`);
  return baseRef;
}

// A number of ports to lease: a whole number from 0 to MAX_SESSION_PORTS.
function checkPortCount(value: unknown, field: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0 || value > MAX_SESSION_PORTS) {
    invalid(`${field} must be a whole number from 0 to ${MAX_SESSION_PORTS}, not ${JSON.stringify(value)}`);
  }
  return value;
}

function checkPortRange(range: PortRange | undefined): PortRange {
  if (range === undefined) return { ...DEFAULT_PORT_RANGE };
  const valid = (port: unknown) => typeof port === "number" && Number.isSafeInteger(port) && port >= 1 && port <= 65535;
  if (typeof range !== "object" || range === null || !valid(range.from) || !valid(range.to) || range.from > range.to) {
    invalid("portRange must be { from, to }: whole numbers from 1 to 65535, from at most to");
  }
  return { from: range.from, to: range.to };
}

function noChain(): SessionError {
  return new SessionError("InvalidInput", "no secret chain is configured, so sessions have no secrets");
}

function pageOf(record: Record<string, unknown>): { limit: number; after: ListPosition | undefined } {
  // Only an absent limit means the default; `null` is a wrong value, as the stores also say.
  const limit = record.limit === undefined ? DEFAULT_PAGE_SIZE : record.limit;
  if (typeof limit !== "number" || !Number.isSafeInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
    invalid(`limit must be a whole number from 1 to ${MAX_PAGE_SIZE}`);
  }
  const after = record.cursor === undefined ? undefined : decodeCursor(record.cursor as string);
  return { limit, after };
}

function nextCursor(rows: { createdAt: string; id: string }[], limit: number): string | null {
  return rows.length > limit ? encodeCursor(rows[limit - 1]) : null;
}

// The session whose secret copies an event from another process makes stale, or `null`.
function staleSecretOf(event: LifecycleEvent): SessionId | null {
  if (event.type === "session.deleted") return event.session.id;
  if (event.type === "session.secret.stored") return event.sessionId;
  return null;
}
