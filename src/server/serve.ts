/**
 * The local server, shared by every runtime: the data directory, the API token, the database key,
 * the store (SQLite in the data directory, or Postgres), the app, and a graceful stop. The runtime-specific part is only the listener.
 * Internal: not in the package's exports; embedders mount `createApp` from the "./hono" export.
 *
 * @module
 */

import { mkdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import process from "node:process";
import { type EventLogFollower, eventLogOf, type LifecycleEvent, LifecycleEvents } from "../events.ts";
import type { ReconcileReport, WorktreePort } from "../lifecycle.ts";
import { SessionOrchestrator } from "../orchestrator.ts";
import { canonicalRepositoryPath, isGitCheckout } from "../platform/repository_path.ts";
import { SessionSecretChain } from "../secret_chain.ts";
import type { Keychain } from "../keychain.ts";
import { openSqliteStore, sqliteSecretProbe } from "../platform/sqlite.ts";
import type { SessionStore } from "../store/store.ts";
import { ensureApiToken } from "../platform/token_file.ts";
import { resolveDatabaseKey, type ResolvedDatabaseKey } from "../platform/database_key.ts";
import { keychainWorks, openDefaultKeychain } from "../platform/keychain.ts";
import { type ResolvedHostId, resolveHostId } from "../platform/host_id.ts";
import { type AppType, createApp } from "../http/app.ts";
import type { ErrorLogger } from "../http/errors.ts";
import { LOOPBACK_HOSTS } from "../http/guard.ts";
import { type DiscoveryRecord, removeDiscoveryFile, writeDiscoveryFile } from "./discovery.ts";
import { lockDataDir } from "./data_dir_lock.ts";
import { listen, type Listener, listenerUrl } from "./listen.ts";
import { claimSocketPath } from "./socket_file.ts";
import { describeStartFailure, StartError } from "./start_error.ts";
import { VERSION } from "./version.ts";

/** The port `deno task serve` listens on unless told otherwise. */
export const DEFAULT_PORT = 7717;

/** The SQLite file's name inside the data directory. */
export const DATABASE_FILE_NAME = "sessions.db";

/** A store the server owns: it closes it when it stops. */
export type ServerStore = SessionStore & {
  /** Closes the store's connections. */
  close(): void | Promise<void>;
};

/** What the server's parts need besides the store, to build a lifecycle over them. */
export interface ServerParts {
  /** The store the app uses. */
  store: ServerStore;
  /** The secret chain the app uses. */
  chain: SessionSecretChain;
  /** The events the app emits and streams. */
  events: LifecycleEvents;
  /** The data directory. */
  dataDir: string;
  /**
   * This machine's host id, for the worktree lifecycle, on a shared (Postgres) database; `null` on
   * SQLite, whose file is one machine's (so a data directory moved to another machine still works).
   */
  hostId: string | null;
}

/** The bounds of a Postgres server's waits, in milliseconds (`ServerOptions.databaseTimeouts`). */
export interface DatabaseTimeouts {
  /** How long a statement waits for a lock another client holds. */
  lockTimeoutMs?: number;
  /** How long a statement may run, its lock waits included. */
  statementTimeoutMs?: number;
  /** How long a request waits for a free connection of the pool. */
  acquireTimeoutMs?: number;
}

/** Options of {@linkcode startServer}. */
export interface ServerOptions {
  /** Where the database and the token live (see `defaultDataDir`). */
  dataDir: string;
  /**
   * A `postgres://` URL: the sessions, repositories, sealed secrets, the event log and the database
   * key check then live in that database (see the `./postgres` export) instead of SQLite in the data
   * directory, so several servers can share it: each server's event stream shows every server's
   * changes, in commit order, and worktree sessions record this machine's host id (closing another
   * machine's is a `Conflict`). A request that cannot reach the database, or waits past one of
   * `databaseTimeouts`, is answered 503 (kind `Storage`) with `Retry-After`. The token, the key
   * itself (a key file, the keychain or the environment) and the worktrees stay in the data directory.
   */
  database?: string;
  /**
   * On Postgres, the bounds of every wait, in milliseconds (see `PostgresStoreOptions`): for a lock
   * (`lockTimeoutMs`, 2000 by default), for a statement (`statementTimeoutMs`, 5000), and for a free
   * connection of the pool (`acquireTimeoutMs`, 5000).
   */
  databaseTimeouts?: DatabaseTimeouts;
  /** Interface to bind; `127.0.0.1` by default. */
  hostname?: string;
  /** TCP port; `0` picks a free one. 7717 by default. */
  port?: number;
  /**
   * Listen on this Unix domain socket instead of TCP. A socket file nobody listens on (left by a
   * killed server) is replaced; one another server listens on is refused.
   */
  socket?: string;
  /**
   * Builds the worktree lifecycle over the server's parts; none by default (`deno task serve`
   * passes `WorktreeLifecycle` with `worktrees/` in the data directory). It plugs into the
   * orchestrator, whose `reconcile()` runs before the first request is answered, so a crash's
   * leftovers are repaired at start.
   */
  lifecycle?: (parts: ServerParts) => WorktreePort;
  /** Extra Origin values to accept; none by default. */
  allowedOrigins?: readonly string[];
  /**
   * The OS keychain: home of the database key on first start, and the last layer of the secret
   * chain. `openDefaultKeychain()` by default; `null` for none (the key then lives in a file).
   */
  keychain?: Keychain | null;
  /**
   * Environment variables, for `SESSION_LIFECYCLE_DATABASE_KEY` and `SESSION_LIFECYCLE_HOST_ID`;
   * `process.env` by default.
   */
  env?: Record<string, string | undefined>;
  /** Receives the causes of 500 answers. `console.error` by default. */
  logError?: ErrorLogger;
  /** Send the full message of 500 answers (paths, git's output) instead of a generic one; for local debugging. */
  exposeErrorDetails?: boolean;
  /**
   * Keep the discovery file `<dataDir>/server.json` while running (true by default): written once
   * ready, removed by `stop()`. Either way the server holds the data directory's lock
   * (`server.lock`) while it runs, and a second server on it is refused.
   */
  discovery?: boolean;
}

/** A running server. */
export interface RunningServer {
  /** Where it listens. */
  url: string;
  /** The bound port, or `null` on a socket. */
  port: number | null;
  /** The bearer token clients send. */
  token: string;
  /** The file that holds it. */
  tokenPath: string;
  /** The SQLite file, or on Postgres the database's URL without its password. */
  databasePath: string;
  /** The discovery file (`<dataDir>/server.json`), or `null` when turned off. */
  discoveryPath: string | null;
  /** The parts the app runs on. */
  parts: ServerParts;
  /** The orchestrator every route calls. */
  orchestrator: SessionOrchestrator;
  /** The app itself. */
  app: AppType;
  /** Where the database key came from. */
  keySource: "env" | "keychain" | "file";
  /** This machine's host id and where it came from, on Postgres; `null` on SQLite. */
  host: ResolvedHostId | null;
  /** What the start-up `reconcile()` found and did, or `null` without a lifecycle. */
  reconcileReport: ReconcileReport | null;
  /** A note for the operator about the database key (for example a weaker key source), or `null`. */
  warning: string | null;
  /** Stops accepting, ends event streams, answers the requests in flight, closes the database. Idempotent. */
  stop(): Promise<void>;
}

// The loopback names, plus the bound address when it is a specific other one (not a wildcard).
function hostNames(hostname: string): readonly string[] {
  const name = hostname.includes(":") ? `[${hostname}]` : hostname.toLowerCase();
  const wildcard = name === "0.0.0.0" || name === "[::]";
  return LOOPBACK_HOSTS.includes(name) || wildcard ? LOOPBACK_HOSTS : [...LOOPBACK_HOSTS, name];
}

// The address a client on this machine uses: a wildcard bind is reached on loopback.
function clientUrl(listener: Listener, hostname: string): string {
  if (listener.path !== null) return listener.url;
  if (hostname === "0.0.0.0") return listenerUrl("127.0.0.1", listener.port, null);
  if (hostname === "::" || hostname === "[::]") return listenerUrl("::1", listener.port, null);
  return listener.url;
}

// Answered in the window between listening and the app being built (the Host allow-list needs the
// bound port): the API's error shape, so a client reads it like any other refusal.
function startingResponse(): Response {
  const body = { error: { kind: "Storage", message: "the server is starting; try again in a moment" } };
  return Response.json(body, { status: 503, headers: { "retry-after": "1" } });
}

// The URL the OpenAPI document gives clients: where a client on this machine reaches the server,
// and on a Unix socket `http://localhost`, the origin a client sends over the socket.
function documentedUrl(listener: Listener, hostname: string): string {
  return listener.port === null ? "http://localhost" : clientUrl(listener, hostname);
}

/**
 * Starts the local server: listens first (a taken port or a live socket is refused before
 * anything is written), then makes the data directory (mode 0700) and takes its lock for the
 * server's whole life (a second server on it is refused, however close their starts), makes the
 * token on first start, opens SQLite in it (or the Postgres database `database` names), and serves
 * the app with the runtime's native server. The Host allow-list is the loopback names with the
 * bound port. Every refusal is a `StartError` whose message is one line for the operator, and
 * leaves nothing running. Once ready it writes the discovery file `<dataDir>/server.json` (see
 * `./discovery.ts`), which `stop()` removes.
 *
 * @example
 * ```ts ignore
 * import { startServer } from "./serve.ts";
 *
 * const server = await startServer({ dataDir: "/tmp/slo", port: 0 });
 * const response = await fetch(`${server.url}/v1/sessions`, {
 *   headers: { authorization: `Bearer ${server.token}` },
 * });
 * console.log(await response.json()); // { sessions: [] }
 * await server.stop();
 * ```
 */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { dataDir } = options;
  const discovery = options.discovery ?? true;
  const hostname = options.hostname ?? "127.0.0.1";
  const logError = options.logError ?? ((message, cause) => console.error(message, cause));
  let app: AppType | null = null;
  // Listening comes first, so that a taken port or socket is refused before anything is written
  // (no data directory, token, key or database). Until the app is built, requests are answered
  // 503 "starting": the Host allow-list needs the bound port, known only once listening.
  // A socket file a killed server left would fail the listen; a live server's is refused.
  if (options.socket !== undefined) await claimSocketPath(options.socket);
  const listener: Listener = await listen(
    (request) => app === null ? startingResponse() : app.fetch(request),
    {
      ...(options.socket !== undefined ? { path: options.socket } : { hostname, port: options.port ?? DEFAULT_PORT }),
      // Out of file descriptors, say, under a flood of connections: the listener listens again.
      onListenError: (error) => logError("the server stopped accepting connections; it listens again", error),
    },
  );
  const shutdown = new AbortController();
  let releaseDataDir: (() => void) | null = null;
  let store: ServerStore | null = null;
  // A start refused after listening leaves nothing running and nothing locked.
  const abandon = async () => {
    shutdown.abort();
    await listener.shutdown().catch(() => {});
    if (store !== null) await closeQuietly(store);
    releaseDataDir?.();
    if (options.socket !== undefined) rmSync(options.socket, { force: true });
  };

  let orchestrator: SessionOrchestrator;
  let parts: ServerParts;
  let opened: Awaited<ReturnType<typeof openStore>>;
  let host: ResolvedHostId | null;
  let token: string;
  let tokenPath: string;
  let reconcileReport: ReconcileReport | null = null;
  let discoveryPath: string | null = null;
  const owner = { pid: process.pid, url: clientUrl(listener, hostname) };
  try {
    const requested = options.keychain === undefined ? openDefaultKeychain() : options.keychain;
    // A keychain that cannot answer (no unlocked collection) would fail every provision; leave it out.
    // One whose binding did not load is a broken install, refused before anything is written.
    const keychain = requested !== null && await keychainWorks(requested).catch(refuseStart) ? requested : null;
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    // Held until the server stops: a second server on this data directory is refused here, before
    // it reads or writes any of it, and a crashed one never holds it (the kernel drops the lock).
    releaseDataDir = await lockDataDir(dataDir);
    ({ token, path: tokenPath } = ensureApiToken(dataDir));
    // Worktrees are scoped by machine only where machines share the database.
    host = options.database === undefined ? null : resolveHostId({ dataDir, env: options.env });
    opened = await openStore(options, keychain);
    store = opened.store;
    // Over a store's event log, replay reads the log: the emitter need not keep events of its own.
    const events = new LifecycleEvents(eventLogOf(store) === null ? {} : { keep: 0 });
    const chain = new SessionSecretChain({ store, databaseKey: opened.key, keychain });
    parts = { store, chain, events, dataDir, hostId: host?.hostId ?? null };
    const worktrees = options.lifecycle?.(parts);
    orchestrator = new SessionOrchestrator({
      store,
      chain,
      events,
      worktrees,
      // Symlinks and spellings resolved, so one checkout is one repository however it is named.
      canonicalPath: canonicalRepositoryPath,
      isGitCheckout,
      logError: options.logError,
    });
    // On a shared database every server's changes come from the store's event log, in commit order:
    // followed before the first request, so a client's event stream misses nothing from then on.
    await followEventLog(parts, logError);
    if (worktrees !== undefined) reconcileReport = await orchestrator.reconcile();

    const allowedHosts = listener.port === null
      ? LOOPBACK_HOSTS
      : hostNames(hostname).map((host) => `${host}:${listener.port}`);
    app = createApp({
      orchestrator,
      token,
      allowedHosts,
      allowedOrigins: options.allowedOrigins ?? [],
      logError,
      exposeErrorDetails: options.exposeErrorDetails,
      signal: shutdown.signal,
      serverUrl: documentedUrl(listener, hostname),
    });

    if (discovery) {
      // No other server can be live on this data directory (this one holds its lock): whatever the
      // file says is stale, so it is replaced without asking the address it names, which after a
      // crash may well be this server's own.
      const record: DiscoveryRecord = {
        ...owner,
        socket: listener.path === null ? null : resolve(listener.path),
        version: VERSION,
        tokenFile: resolve(tokenPath),
        dataDir: resolve(dataDir),
        startedAt: new Date().toISOString(),
      };
      try {
        discoveryPath = writeDiscoveryFile(dataDir, record);
      } catch (error) {
        throw new StartError(
          `cannot write the discovery file in ${resolve(dataDir)}: ${(error as Error).message}`,
          { cause: error },
        );
      }
    }
  } catch (error) {
    app = null;
    await abandon();
    throw error;
  }

  const openedStore = opened.store;
  const release = releaseDataDir;
  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      // First, so that no client finds a server that is going away.
      try {
        if (discoveryPath !== null) removeDiscoveryFile(dataDir, owner);
      } catch {
        // A file that cannot be removed is stale once this process is gone; the next start replaces it.
      }
      shutdown.abort();
      try {
        await listener.shutdown();
      } finally {
        try {
          await openedStore.close();
        } finally {
          // Last: the data directory is free only once its database is closed.
          release();
          // A socket file left behind would make the next start fail with "address in use".
          if (options.socket !== undefined) rmSync(options.socket, { force: true });
        }
      }
    })();
    return stopping;
  };
  return {
    url: listener.url,
    port: listener.port,
    token,
    tokenPath,
    databasePath: opened.databasePath,
    discoveryPath,
    parts,
    orchestrator,
    app,
    keySource: opened.source,
    host,
    reconcileReport,
    warning: opened.warning,
    stop,
  };
}

// Emits every logged event into the server's events (its own changes too: the orchestrator leaves
// them to the log). A secret changed or a session deleted through another server is forgotten from
// this server's memory and keychain, whose copies it no longer matches.
async function followEventLog(parts: ServerParts, logError: ErrorLogger): Promise<EventLogFollower | null> {
  const log = eventLogOf(parts.store);
  if (log === null) return null;
  const stale = (event: LifecycleEvent) =>
    event.type === "session.deleted"
      ? event.session.id
      : event.type === "session.secret.stored"
      ? event.sessionId
      : null;
  return await log.follow(
    (event, { id, own }) => {
      const sessionId = own ? null : stale(event);
      if (sessionId !== null) {
        parts.chain.forget(sessionId, { rowDeleted: true }).catch((error) =>
          logError(`forgetting this server's copy of the secret of session ${sessionId} failed`, error)
        );
      }
      parts.events.emit(event, id);
    },
    {
      onError: (error) => logError("reading the event log failed; it is read again until the database answers", error),
    },
  );
}

// The store and the database key. On SQLite the key is decided first (the probe reads the file
// read-only) and the check lives in the data directory; on Postgres the store is opened first, and
// the check lives in the database, so that every server sharing it is held to one key.
async function openStore(
  options: ServerOptions,
  keychain: Keychain | null,
): Promise<ResolvedDatabaseKey & { store: ServerStore; databasePath: string }> {
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
  // Loaded only here, so a server on SQLite never loads the Postgres driver.
  const { openPostgresStore } = await import("../postgres/mod.ts");
  // With an event log: each server's changes reach every server's event stream. A connection attempt
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

// The one line describing `error` (a `SessionError` says its cause and fix) as the start's refusal.
function refuseStart(error: unknown): never {
  throw new StartError(describeStartFailure(error), { cause: error });
}

// Closing after a failed start: the failure is what the operator needs to read, not a close error.
async function closeQuietly(store: ServerStore): Promise<void> {
  try {
    await store.close();
  } catch {
    // see above
  }
}
