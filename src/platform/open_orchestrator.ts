/**
 * The orchestrator over a data directory, composed in one call: the store (SQLite in the data
 * directory, or a Postgres database), the database key, the OS keychain, the secret chain, the
 * machine's host id and the worktree port. `deno task serve` is built on it; so can a script be.
 *
 * @module
 */

import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import process from "node:process";
import { type EventLogFollower, eventLogOf, LifecycleEvents } from "../events.ts";
import type { Keychain } from "../keychain.ts";
import type { ReconcileReport, WorktreePort } from "../lifecycle.ts";
import { type PortRange, SessionOrchestrator } from "../orchestrator.ts";
import type { Repository } from "../types.ts";
import { portIsFree } from "./port_probe.ts";
import { SessionSecretChain } from "../secret_chain.ts";
import type { SessionStore } from "../store/store.ts";
import type { RepositorySettings } from "../repository_settings.ts";
import type { SetupRunner } from "../setup.ts";
import { resolveDatabaseKey, type ResolvedDatabaseKey } from "./database_key.ts";
import { type ResolvedHostId, resolveHostId } from "./host_id.ts";
import { keychainWorks, openDefaultKeychain } from "./keychain.ts";
import { canonicalRepositoryPath, isGitCheckout } from "./repository_path.ts";
import { openSqliteStore, sqliteSecretProbe } from "./sqlite.ts";
import { WorktreeLifecycle } from "./worktree_lifecycle.ts";

/** The SQLite file's name inside the data directory. */
export const DATABASE_FILE_NAME = "sessions.db";

/** The worktrees' folder inside the data directory, where the default worktree port puts them. */
export const WORKTREES_DIR_NAME = "worktrees";

/** A store the opened orchestrator owns: `close()` closes it. */
export type OwnedStore = SessionStore & {
  /** Closes the store's connections. */
  close(): void | Promise<void>;
};

/** The bounds of a Postgres store's waits, in milliseconds (see `PostgresStoreOptions`). */
export interface DatabaseTimeouts {
  /** How long a statement waits for a lock another client holds. */
  lockTimeoutMs?: number;
  /** How long a statement may run, its lock waits included. */
  statementTimeoutMs?: number;
  /** How long a request waits for a free connection of the pool. */
  acquireTimeoutMs?: number;
}

/** The parts an orchestrator is opened over, for building a worktree port on them. */
export interface OrchestratorParts {
  /** The store. */
  store: OwnedStore;
  /** The secret chain. */
  chain: SessionSecretChain;
  /** The events the orchestrator announces. */
  events: LifecycleEvents;
  /** The data directory. */
  dataDir: string;
  /**
   * This machine's host id on a shared (Postgres) database; `null` on SQLite, whose file is one
   * machine's (so a data directory moved to another machine still works).
   */
  hostId: string | null;
}

/** Options of {@linkcode openOrchestrator}. */
export interface OpenOrchestratorOptions {
  /** Where the database (on SQLite), the key file or check, the host id and the worktrees live. Made (0700) when missing. */
  dataDir: string;
  /**
   * A `postgres://` URL: the sessions, secrets and event log then live in that database, which
   * several processes and machines may share; SQLite in `<dataDir>/sessions.db` by default.
   */
  database?: string;
  /** On Postgres, the bounds of every wait (2000, 5000 and 5000 ms by default). */
  databaseTimeouts?: DatabaseTimeouts;
  /**
   * The OS keychain, used as given: the database key's home on first use and the secret chain's
   * last layer; `null` for none. By default this machine's, when it really stores secrets (see
   * {@linkcode usableKeychain}).
   */
  keychain?: Keychain | null;
  /** Environment variables (`SESSION_LIFECYCLE_DATABASE_KEY`, `SESSION_LIFECYCLE_HOST_ID`); `process.env` by default. */
  env?: Record<string, string | undefined>;
  /**
   * The worktree port: by default a `WorktreeLifecycle` with its worktrees in `<dataDir>/worktrees`;
   * a function builds one over the parts; `false` for none (sessions without worktrees only).
   */
  worktrees?: false | ((parts: OrchestratorParts) => WorktreePort);
  /** Run `reconcile()` before answering, so a crash's leftovers are repaired first (false by default). */
  reconcile?: boolean;
  /** Receives failures that are logged rather than thrown. `console.error` by default. */
  logError?: (message: string, cause: unknown) => void;
  /**
   * The operator's settings per repository (see `SessionOrchestratorOptions.repositorySettings`);
   * {@linkcode settingsFor} over a loaded config file gives them. None by default.
   */
  repositorySettings?: (repository: Repository) => RepositorySettings | null | undefined;
  /** Runs the repositories' setup commands (see `SessionOrchestratorOptions.setupRunner`); none by default. */
  setupRunner?: SetupRunner;
  /** The ports sessions are leased from (see `SessionOrchestratorOptions.portRange`); 41000–41999 by default. */
  portRange?: PortRange;
  /** How many ports a new session of a repository gets by default (see `SessionOrchestratorOptions.defaultPorts`). */
  defaultPorts?: (repository: Repository) => number | Promise<number>;
}

/** What {@linkcode openOrchestrator} opened. */
export interface OpenedOrchestrator {
  /** The orchestrator. */
  orchestrator: SessionOrchestrator;
  /** The parts it runs on. */
  parts: OrchestratorParts;
  /** The SQLite file, or on Postgres the database's URL without its password. */
  databasePath: string;
  /** Where the database key came from. */
  keySource: "env" | "keychain" | "file";
  /** A note for the operator about the database key (for example a weaker key source), or `null`. */
  warning: string | null;
  /** This machine's host id and where it came from, on Postgres; `null` on SQLite. */
  host: ResolvedHostId | null;
  /** What the opening `reconcile()` found and did, or `null` when none ran. */
  reconcileReport: ReconcileReport | null;
  /** Stops following the event log and closes the store. Idempotent. */
  close(): Promise<void>;
}

/**
 * `requested` (this machine's keychain when `undefined`) if it really stores secrets, else `null`:
 * a Secret Service with no unlocked collection would fail every provision. A keychain binding
 * that did not load is thrown (see `isKeychainBindingFailure`), never taken for "no keychain".
 *
 * @example
 * ```ts ignore
 * import { usableKeychain } from "./open_orchestrator.ts";
 *
 * const keychain = await usableKeychain(); // null on a machine without a working keychain
 * ```
 */
export async function usableKeychain(
  requested?: Keychain | null,
  env: Record<string, string | undefined> = process.env,
): Promise<Keychain | null> {
  const keychain = requested === undefined ? openDefaultKeychain(env) : requested;
  return keychain !== null && await keychainWorks(keychain) ? keychain : null;
}

/**
 * Opens the orchestrator over a data directory: the keychain first (a broken install is refused
 * before anything is written), then the data directory, the host id on Postgres, the store and
 * its database key, the secret chain and the worktree port; on a store with an event log the
 * orchestrator follows it (see `SessionOrchestrator.followEventLog`). A failure part way closes
 * what was opened. The caller closes the result.
 *
 * @example
 * ```ts ignore
 * import { openOrchestrator } from "./open_orchestrator.ts";
 *
 * const { orchestrator, close } = await openOrchestrator({ dataDir: "/tmp/slo", reconcile: true });
 * try {
 *   console.log(await orchestrator.listSessions());
 * } finally {
 *   await close();
 * }
 * ```
 */
export async function openOrchestrator(options: OpenOrchestratorOptions): Promise<OpenedOrchestrator> {
  const { dataDir } = options;
  const env = options.env ?? process.env;
  const keychain = options.keychain === undefined ? await usableKeychain(undefined, env) : options.keychain;
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  // Worktrees are scoped by machine only where machines share the database.
  const host = options.database === undefined ? null : resolveHostId({ dataDir, env });
  const opened = await openStore({ ...options, env }, keychain);
  const { store } = opened;
  let follower: EventLogFollower | null = null;
  try {
    // Over a store's event log, replay reads the log: the emitter need not keep events of its own.
    const events = new LifecycleEvents(eventLogOf(store) === null ? {} : { keep: 0 });
    const chain = new SessionSecretChain({ store, databaseKey: opened.key, keychain });
    const parts: OrchestratorParts = { store, chain, events, dataDir, hostId: host?.hostId ?? null };
    const worktrees = options.worktrees === false
      ? undefined
      : options.worktrees === undefined
      ? new WorktreeLifecycle({ hostId: parts.hostId, worktreesRoot: join(resolve(dataDir), WORKTREES_DIR_NAME) })
      : options.worktrees(parts);
    const orchestrator = new SessionOrchestrator({
      store,
      chain,
      events,
      worktrees,
      // Symlinks and spellings resolved, so one checkout is one repository however it is named.
      canonicalPath: canonicalRepositoryPath,
      isGitCheckout,
      logError: options.logError,
      repositorySettings: options.repositorySettings,
      setupRunner: options.setupRunner,
      // Each port is bound on loopback once before it is leased, then let go for the session's processes.
      portProbe: portIsFree,
      portRange: options.portRange,
      defaultPorts: options.defaultPorts,
    });
    // Before the first call is answered, so that an event stream misses nothing from then on.
    follower = await orchestrator.followEventLog();
    const reconcileReport = options.reconcile === true && worktrees !== undefined
      ? await orchestrator.reconcile()
      : null;
    let closing: Promise<void> | null = null;
    const close = () => {
      closing ??= (async () => {
        try {
          await orchestrator.stopPools().catch((error) =>
            options.logError?.("stopping the worktree pools failed", error)
          );
          await follower?.close();
        } finally {
          await store.close();
        }
      })();
      return closing;
    };
    return {
      orchestrator,
      parts,
      databasePath: opened.databasePath,
      keySource: opened.source,
      warning: opened.warning,
      host,
      reconcileReport,
      close,
    };
  } catch (error) {
    await follower?.close().catch(() => {});
    await closeQuietly(store);
    throw error;
  }
}

// The store and the database key. On SQLite the key is decided first (the probe reads the file
// read-only) and the check lives in the data directory; on Postgres the store is opened first, and
// the check lives in the database, so that every process sharing it is held to one key.
async function openStore(
  options: OpenOrchestratorOptions & { env: Record<string, string | undefined> },
  keychain: Keychain | null,
): Promise<ResolvedDatabaseKey & { store: OwnedStore; databasePath: string }> {
  const { dataDir, env } = options;
  if (options.database === undefined) {
    const databasePath = join(dataDir, DATABASE_FILE_NAME);
    // The probe lets a first check of the key use the secrets already sealed in the database.
    const probe = sqliteSecretProbe(databasePath);
    const resolved = await resolveDatabaseKey({ dataDir, env, keychain, probe });
    // With its event log: every change gets a durable id, so `GET /v1/events` can replay what a
    // client missed, across restarts too.
    return { ...resolved, store: openSqliteStore(databasePath, { eventLog: true }), databasePath };
  }
  // Loaded only here, so that a process on SQLite never loads the Postgres driver.
  const { openPostgresStore } = await import("../postgres/mod.ts");
  // With an event log: each process's changes reach every process's events. A connection attempt
  // that gets no answer gives up after 5 s (postgres.js waits 30 s by default): seen under Bun while
  // Postgres shuts down, when an attempt's startup message goes unanswered and every call waits on it.
  const store = await openPostgresStore(options.database, {
    eventLog: true,
    connectTimeoutSeconds: 5,
    ...options.databaseTimeouts,
  });
  try {
    const resolved = await resolveDatabaseKey({
      dataDir,
      env,
      keychain,
      keyCheck: store.databaseKeyCheck(),
      probe: store.sealedSecretProbe(),
    });
    return { ...resolved, store, databasePath: store.database };
  } catch (error) {
    await closeQuietly(store);
    throw error;
  }
}

// Closing after a failed open: the failure is what the caller needs to read, not a close error.
async function closeQuietly(store: OwnedStore): Promise<void> {
  try {
    await store.close();
  } catch {
    // see above
  }
}
