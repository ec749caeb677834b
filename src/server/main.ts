/**
 * The server entry: `deno task serve` (or `bun src/server/main.ts`). Listens on 127.0.0.1:7717
 * with SQLite in the platform's data directory (or Postgres with `--database` or `DATABASE_URL`), prints where it listens and where the token is,
 * and on SIGINT or SIGTERM answers the requests in flight, closes the database and exits 0; a
 * second signal waits for the same stop. A refusal at start (a bad flag, a taken port, an unusable
 * data directory, a bad key) is one line on stderr and a non-zero exit: 2 for the command line,
 * 1 for the rest.
 *
 * @module
 */

import process from "node:process";
import { parseArgs } from "node:util";
import { join, resolve } from "node:path";
import { defaultDataDir } from "../platform/data_dir.ts";
import { WorktreeLifecycle } from "../platform/worktree_lifecycle.ts";
import {
  defaultConfigPath,
  loadOperatorConfig,
  type OperatorConfig,
  settingsFor,
} from "../platform/operator_config.ts";
import type { IncludedFiles } from "../included_files.ts";
import { DEFAULT_PORT, type RunningServer, startServer } from "./serve.ts";
import { handleStopSignals } from "./signals.ts";
import { describeStartFailure } from "./start_error.ts";

const USAGE = `Usage: deno task serve [options]      (or: bun src/server/main.ts [options])

The session-lifecycle-orchestrator local HTTP server.

Options:
  --port PORT        TCP port (default ${DEFAULT_PORT}; 0 picks a free one)
  --host HOST        interface to bind (default 127.0.0.1)
  --data-dir PATH    where the database, the API token and the worktrees live
                     (default ${defaultDataDir()})
  --socket PATH      listen on a Unix domain socket instead of TCP
  --max-connections N
                     close a connection past N open at once (with a header
                     timeout of 30 s unless --header-timeout says otherwise)
  --header-timeout SECONDS
                     close a connection that has not sent a request's headers
                     within SECONDS of opening or of its last answer (with at
                     most 512 connections unless --max-connections says otherwise).
                     Either flag serves with node:http, which holds both limits,
                     instead of the runtime's own faster server, which does not
  --debug            answer 500s with the full message (paths, git's output)
                     instead of a generic one; the log has it either way
  --database URL     keep sessions, repositories and sealed secrets in Postgres
                     (postgres://user:password@host:port/database; default: the
                     DATABASE_URL environment variable, else SQLite in the data directory);
                     worktree sessions then record this machine's host id
                     (SESSION_LIFECYCLE_HOST_ID, else derived from /etc/machine-id)
  --lock-timeout MS  with --database: how long a statement waits for a lock another
                     client holds before the request is answered 503 (default 2000)
  --statement-timeout MS
                     with --database: how long a statement may run (default 5000)
  --acquire-timeout MS
                     with --database: how long a request waits for a free database
                     connection (default 5000)
  --config FILE      the operator's settings per repository: the ignored files new
                     worktrees get ("include"), the setup commands run in them
                     ("setup"), the ports they lease ("ports"), and a periodic
                     gc ("gc": { "every": "1h", "idle": "7d" }); JSON, see the README
                     (default ${defaultConfigPath()}, read when it exists)
  --help             show this help

Every route but GET /v1/health needs "Authorization: Bearer <token>"; the token is in
<data dir>/token (mode 0600), made on first start. While it runs, <data dir>/server.json says
where it listens and where the token is, for clients such as "deno task cli". The API is
described at /v1/openapi.json.
`;

// One log line per worktree that got included files: what, and how the bytes were written.
function describeIncluded(sessionId: string, included: IncludedFiles): string {
  const skipped = included.skipped.length === 0 ? "" : `, ${included.skipped.length} skipped`;
  return `session ${sessionId}: included ${included.entries.length} path(s) (${included.files} file(s), ` +
    `${included.links} link(s), ${included.bytesCloned} bytes cloned, ${included.bytesCopied} copied${skipped})`;
}

// The other limit's value when only one of --max-connections and --header-timeout is given.
const DEFAULT_MAX_CONNECTIONS = 512;
const DEFAULT_HEADER_TIMEOUT_SECONDS = 30;

/** How long a stop may take before the process exits anyway. */
const STOP_GRACE_MS = 15_000;

// The Postgres URL from --database, else from DATABASE_URL (an empty one is unset), or undefined
// for SQLite. Only its form is checked here; the store says whether the database answers.
function databaseUrl(flag: string | undefined): string | undefined {
  const fromEnv = process.env.DATABASE_URL;
  const [url, where] = flag !== undefined ? [flag, "--database"] : [fromEnv || undefined, "DATABASE_URL"];
  if (url === undefined) return undefined;
  let protocol: string | null = null;
  try {
    protocol = new URL(url).protocol;
  } catch {
    // not a URL: refused below
  }
  if (protocol !== "postgres:" && protocol !== "postgresql:") {
    fail(`${where} must be a postgres:// URL (without it the server uses SQLite in the data directory)`);
  }
  return url;
}

// One line, not the whole usage: the line says what was wrong, and --help is a step away.
function fail(message: string): never {
  console.error(`error: ${message.replace(/\s+/g, " ").trim()}; see --help`);
  process.exit(2);
}

/** Parses the command line, starts the server, and stops it on SIGINT or SIGTERM. */
export async function main(args: string[]): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        port: { type: "string" },
        host: { type: "string" },
        "data-dir": { type: "string" },
        socket: { type: "string" },
        debug: { type: "boolean" },
        database: { type: "string" },
        "lock-timeout": { type: "string" },
        "statement-timeout": { type: "string" },
        "acquire-timeout": { type: "string" },
        config: { type: "string" },
        "max-connections": { type: "string" },
        "header-timeout": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    fail((error as Error).message);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  let port = DEFAULT_PORT;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!/^\d+$/.test(values.port) || port > 65535) fail(`--port must be a number from 0 to 65535`);
  }
  if (values.socket !== undefined && (values.port !== undefined || values.host !== undefined)) {
    fail("--socket cannot be combined with --port or --host");
  }
  const database = databaseUrl(values.database);
  const milliseconds = (flag: "lock-timeout" | "statement-timeout" | "acquire-timeout") => {
    const text = values[flag];
    if (text === undefined) return undefined;
    if (database === undefined) fail(`--${flag} needs --database (or DATABASE_URL): it bounds waits on Postgres`);
    const value = Number(text);
    if (!/^\d+$/.test(text) || value < 1 || value > 2_147_483_647) {
      fail(`--${flag} must be a whole number of milliseconds from 1`);
    }
    return value;
  };
  const databaseTimeouts = {
    lockTimeoutMs: milliseconds("lock-timeout"),
    statementTimeoutMs: milliseconds("statement-timeout"),
    acquireTimeoutMs: milliseconds("acquire-timeout"),
  };
  const whole = (flag: "max-connections" | "header-timeout", max: number): number | undefined => {
    const text = values[flag];
    if (text === undefined) return undefined;
    const value = Number(text);
    if (!/^\d+$/.test(text) || value < 1 || value > max) fail(`--${flag} must be a whole number from 1 to ${max}`);
    return value;
  };
  const maxConnections = whole("max-connections", 1_000_000);
  const headerTimeoutSeconds = whole("header-timeout", 3600);
  const connectionLimits = maxConnections === undefined && headerTimeoutSeconds === undefined ? undefined : {
    maxConnections: maxConnections ?? DEFAULT_MAX_CONNECTIONS,
    headerTimeoutMs: (headerTimeoutSeconds ?? DEFAULT_HEADER_TIMEOUT_SECONDS) * 1000,
  };
  const dataDir = values["data-dir"] ?? defaultDataDir();
  let config: OperatorConfig;
  try {
    // A file the operator named must be there; the default one need not.
    config = loadOperatorConfig(values.config ?? defaultConfigPath(), { required: values.config !== undefined });
  } catch (error) {
    console.error(`error: ${(error as Error).message}`);
    process.exit(2);
  }
  let server: RunningServer;
  try {
    server = await startServer({
      dataDir,
      hostname: values.host,
      port,
      socket: values.socket,
      connectionLimits,
      exposeErrorDetails: values.debug === true,
      database,
      databaseTimeouts,
      lifecycle: ({ hostId }) =>
        new WorktreeLifecycle({
          hostId,
          worktreesRoot: join(resolve(dataDir), "worktrees"),
          onIncluded: (sessionId, included) => console.log(describeIncluded(sessionId, included)),
          // The operator's `pool` per repository; none unless configured.
          pool: (repository) => settingsFor(config, repository)?.pool ?? 0,
        }),
      repositorySettings: (repository) => settingsFor(config, repository),
      periodicGc: config.gc,
    });
  } catch (error) {
    // The operator needs the reason and the way out, not the runtime's stack.
    console.error(`error: ${describeStartFailure(error)}`);
    process.exit(1);
  }
  if (server.warning !== null) console.warn(server.warning);
  for (const orphan of server.orphanedSetups) {
    const what = `process group ${orphan.pid} (session ${orphan.sessionId}: ${orphan.command.join(" ")})`;
    console.log(
      orphan.outcome === "stopped"
        ? `setup left running by a killed server: stopped ${what}`
        : orphan.outcome === "unknown"
        ? `setup left running by a killed server: ${what} may still run; it cannot be told from a newer process, so it is left alone`
        : `setup left running by a killed server: ${what} had ended`,
    );
  }
  const findings = server.reconcileReport?.findings ?? [];
  console.log(`reconcile at start: ${findings.length === 0 ? "nothing to repair" : `${findings.length} finding(s)`}`);
  for (const finding of findings) console.log(`  ${finding.kind}: ${finding.action} (${finding.detail})`);
  console.log(`token: ${server.tokenPath}`);
  if (server.discoveryPath !== null) console.log(`discovery: ${server.discoveryPath}`);
  console.log(`database: ${server.databasePath} (key from ${server.keySource})`);
  if (server.host !== null) console.log(`host id: ${server.host.hostId} (from ${server.host.source})`);
  console.log(
    config.path === null
      ? "config: none"
      : `config: ${config.path} (${config.repositories.size} repository setting(s)` +
        `${config.gc === null ? "" : `, gc every ${config.gc.everyMs / 1000} s`})`,
  );
  // Last, so a supervisor or test that waits for this line finds the rest already printed.
  console.log(`session-lifecycle-orchestrator listening on ${server.url}`);

  const stop = (signal: string) => {
    console.log(`${signal}: finishing requests in flight, then closing the database`);
    // A client that holds a response open without reading must not keep the process alive for ever.
    const forced = setTimeout(() => {
      console.error(`stopping took over ${STOP_GRACE_MS / 1000} s; exiting without waiting longer`);
      process.exit(1);
    }, STOP_GRACE_MS);
    (forced as { unref?: () => void }).unref?.();
    server.stop().then(
      () => {
        console.log("stopped: requests answered, database closed");
        process.exit(0);
      },
      (error) => {
        console.error("stopping failed:", error);
        process.exit(1);
      },
    );
  };
  handleStopSignals(
    stop,
    (signal) => console.log(`${signal}: already stopping; waiting for the database to close`),
  );
}

if (import.meta.main) await main(process.argv.slice(2));
