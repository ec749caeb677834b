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
import type { ReconcileReport, WorktreePort } from "../lifecycle.ts";
import type { SessionOrchestrator } from "../orchestrator.ts";
import type { Keychain } from "../keychain.ts";
import type { RepositorySettings } from "../repository_settings.ts";
import type { Repository } from "../types.ts";
import { ensureApiToken } from "../platform/token_file.ts";
import { type OrphanedSetup, ProcessSetupRunner } from "../platform/setup_runner.ts";
import type { PeriodicGcSettings } from "../platform/operator_config.ts";
import { startPeriodicGc } from "./periodic_gc.ts";
import type { ResolvedHostId } from "../platform/host_id.ts";
import {
  type DatabaseTimeouts,
  type OpenedOrchestrator,
  openOrchestrator,
  type OrchestratorParts,
  type OwnedStore,
  usableKeychain,
} from "../platform/open_orchestrator.ts";
import { type AppType, createApp } from "../http/app.ts";
import type { ErrorLogger } from "../http/errors.ts";
import { LOOPBACK_HOSTS } from "../http/guard.ts";
import { type DiscoveryRecord, removeDiscoveryFile, writeDiscoveryFile } from "./discovery.ts";
import { lockDataDir } from "./data_dir_lock.ts";
import { type ConnectionLimits, listen, type Listener, listenerUrl } from "./listen.ts";
import { claimSocketPath } from "./socket_file.ts";
import { describeStartFailure, StartError } from "./start_error.ts";
import { VERSION } from "./version.ts";

/** The folder of the data directory where running setup commands are recorded (see `ProcessSetupRunner`). */
export const SETUP_RECORDS_DIR_NAME = "setups";

/** The port `deno task serve` listens on unless told otherwise. */
export const DEFAULT_PORT = 7717;

export { DATABASE_FILE_NAME, type DatabaseTimeouts } from "../platform/open_orchestrator.ts";

/** A store the server owns: it closes it when it stops. */
export type ServerStore = OwnedStore;

/** What the server's parts are, to build a worktree port over them. */
export type ServerParts = OrchestratorParts;

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
   * Limits on the connections (how many at once, how long a request's headers may take): with
   * them the server listens with `node:http`, which enforces both, instead of the runtime's own
   * faster server, which enforces neither under Deno (Bun closes a connection idle for 60 s).
   */
  connectionLimits?: ConnectionLimits;
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
   * The operator's settings per repository, from its config file (`--config`): the files new
   * worktrees get. None by default; never taken from a request.
   */
  repositorySettings?: (repository: Repository) => RepositorySettings | null | undefined;
  /**
   * Run gc every so often (the operator config's `"gc": { "every": "1h", "idle": "7d" }`), each
   * run's line to `log`; none by default.
   */
  periodicGc?: PeriodicGcSettings | null;
  /** Receives the server's informational lines (a periodic gc's runs); `console.log` by default. */
  log?: (line: string) => void;
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
  /** The setup commands a killed server left running, ended (or left alone, see `outcome`) at this start. */
  orphanedSetups: OrphanedSetup[];
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
      connectionLimits: options.connectionLimits,
    },
  );
  const shutdown = new AbortController();
  let releaseDataDir: (() => void) | null = null;
  let opened: OpenedOrchestrator | null = null;
  // A start refused after listening leaves nothing running and nothing locked.
  const abandon = async () => {
    shutdown.abort();
    await listener.shutdown().catch(() => {});
    await opened?.close().catch(() => {});
    releaseDataDir?.();
    if (options.socket !== undefined) rmSync(options.socket, { force: true });
  };

  let token: string;
  let tokenPath: string;
  let orphanedSetups: OrphanedSetup[] = [];
  let discoveryPath: string | null = null;
  const owner = { pid: process.pid, url: clientUrl(listener, hostname) };
  try {
    // A binding that did not load is a broken install, refused before anything is written.
    const keychain = await usableKeychain(options.keychain, options.env).catch(refuseStart);
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    // Held until the server stops: a second server on this data directory is refused here, before
    // it reads or writes any of it, and a crashed one never holds it (the kernel drops the lock).
    releaseDataDir = await lockDataDir(dataDir);
    ({ token, path: tokenPath } = ensureApiToken(dataDir));
    // Before anything runs: a setup command a killed server left running still writes in its
    // worktree, and the reconcile below is about to record that setup as interrupted.
    const setupRunner = new ProcessSetupRunner({ recordDir: join(dataDir, SETUP_RECORDS_DIR_NAME) });
    orphanedSetups = await setupRunner.stopOrphans();
    // Reconciled before the first request is answered, so a crash's leftovers are repaired at start.
    opened = await openOrchestrator({
      dataDir,
      database: options.database,
      databaseTimeouts: options.databaseTimeouts,
      keychain,
      env: options.env,
      worktrees: options.lifecycle ?? false,
      reconcile: true,
      logError,
      repositorySettings: options.repositorySettings,
      setupRunner,
    });
    const { orchestrator } = opened;

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

  const { orchestrator, parts, databasePath, keySource, warning, host, reconcileReport } = opened!;
  const close = opened!.close;
  // After the opening reconcile, so that the pools start from a clean slate; filled in the background.
  await orchestrator.warmPools().catch((error) => logError("starting the worktree pools failed", error));
  const periodicGc = options.periodicGc === undefined || options.periodicGc === null
    ? null
    : startPeriodicGc(orchestrator, options.periodicGc, options.log ?? console.log, logError);
  const release = releaseDataDir!;
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
          await periodicGc?.stop();
          // Recorded as interrupted while the database is still open, so that none stays "running".
          await orchestrator.stopSetups().catch((error) => logError("stopping the setups failed", error));
          // No fill's git process outlives the server, and no ready worktree stays registered.
          await orchestrator.stopPools().catch((error) => logError("stopping the worktree pools failed", error));
          await close();
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
    databasePath,
    discoveryPath,
    parts,
    orchestrator,
    app,
    keySource,
    host,
    reconcileReport,
    orphanedSetups,
    warning,
    stop,
  };
}

// The one line describing `error` (a `SessionError` says its cause and fix) as the start's refusal.
function refuseStart(error: unknown): never {
  throw new StartError(describeStartFailure(error), { cause: error });
}
