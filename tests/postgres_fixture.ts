/**
 * A real Postgres for the tests: `TEST_DATABASE_URL` names a server (`.ci/run` starts a throwaway
 * cluster and sets it), and each test file gets a fresh database of its own, with a random name,
 * dropped after the file. Without `TEST_DATABASE_URL` the Postgres tests skip, unless
 * `REQUIRE_POSTGRES=1` (CI) makes that an error.
 * @module
 */

import { after } from "node:test";
import { execFile, execFileSync } from "node:child_process";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import process from "node:process";
import postgres from "postgres";
import { openPostgresStore, type PostgresStore, type PostgresStoreOptions } from "../src/postgres/mod.ts";

/** The server the tests may create databases on, or `null`. */
export const testDatabaseUrl: string | null = process.env.TEST_DATABASE_URL || null;

if (testDatabaseUrl === null && process.env.REQUIRE_POSTGRES === "1") {
  throw new Error("REQUIRE_POSTGRES=1, but TEST_DATABASE_URL is not set");
}

/** `false` when Postgres tests can run, else why they skip: the `skip` option of `node:test`. */
export const skipPostgres: false | string = testDatabaseUrl === null
  ? "no TEST_DATABASE_URL (set REQUIRE_POSTGRES=1 to make this an error)"
  : false;

/** A database made for one test file. */
export interface TestDatabase {
  /** Its name. */
  name: string;
  /** Its URL. */
  url: string;
  /** Runs SQL on it as the test's own administrator (one connection). */
  admin: postgres.Sql;
}

/** `url` with its database replaced by `name`. */
export function withDatabase(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

/**
 * A fresh database for this test file (or `null` when Postgres tests skip), dropped once the file's
 * tests are done, whether they passed or not. Call it at the top level of the file.
 */
export async function testDatabase(): Promise<TestDatabase | null> {
  if (testDatabaseUrl === null) return null;
  const name = `slo_test_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const server = postgres(testDatabaseUrl, { max: 1, onnotice: () => {}, fetch_types: false });
  try {
    await server.unsafe(`CREATE DATABASE ${name}`);
  } catch (error) {
    await server.end({ timeout: 0 });
    throw error;
  }
  const url = withDatabase(testDatabaseUrl, name);
  const admin = postgres(url, { max: 1, onnotice: () => {}, fetch_types: false });
  after(async () => {
    await admin.end({ timeout: 1 });
    // FORCE ends the connections a failed test may have left open.
    await server.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await server.end({ timeout: 1 });
  });
  return { name, url, admin };
}

/** A store on a fresh schema of `database`: empty, and independent of every other one. */
export function openSchemaStore(
  database: TestDatabase,
  options: PostgresStoreOptions = {},
): Promise<PostgresStore> {
  return openPostgresStore(database.url, {
    schema: `case_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`,
    ...options,
  });
}

/** A Postgres cluster of a test's own, which it may stop and start (the shared one is never restarted). */
export interface OwnCluster {
  /** `postgres://postgres@127.0.0.1:<port>/postgres`. */
  url: string;
  /** Stops it (`pg_ctl stop -m fast`: open connections are ended). */
  stop(): Promise<void>;
  /** Starts it again on the same port, with the same data. */
  start(): Promise<void>;
  /** Stops it and removes its folder. */
  destroy(): void;
}

function postgresBin(): string | null {
  try {
    const versions = readdirSync("/usr/lib/postgresql").sort((a, b) => Number(a) - Number(b));
    const bin = versions.length === 0 ? null : `/usr/lib/postgresql/${versions.at(-1)}/bin`;
    return bin !== null && existsSync(`${bin}/initdb`) ? bin : null;
  } catch {
    return null;
  }
}

/**
 * Why an own cluster cannot be made here (`false` when it can): it needs the Postgres binaries and
 * root, to run them as the `postgres` user. With `REQUIRE_POSTGRES=1` (CI) that is an error, not a skip.
 */
export function skipOwnCluster(): false | string {
  const why = testDatabaseUrl === null
    ? skipPostgres
    : postgresBin() === null
    ? "no Postgres binaries in /usr/lib/postgresql"
    : process.getuid?.() !== 0
    ? "not root (the cluster runs as the postgres user)"
    : false;
  if (why !== false && process.env.REQUIRE_POSTGRES === "1" && testDatabaseUrl !== null) {
    throw new Error(`REQUIRE_POSTGRES=1, but a test's own Postgres cluster cannot be made: ${why}`);
  }
  return why;
}

/** Makes and starts a throwaway cluster on a free port (about a second); destroyed after the file. */
export async function ownCluster(): Promise<OwnCluster> {
  const bin = postgresBin()!;
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise((resolve) => probe.close(resolve));
  const root = `/tmp/pg-${port}`;
  const asPostgres = (command: string, ...args: string[]) =>
    execFileSync("runuser", ["-u", "postgres", "--", `${bin}/${command}`, ...args], { stdio: "pipe" });
  execFileSync("install", ["-d", "-o", "postgres", "-g", "postgres", "-m", "700", root]);
  asPostgres(
    "initdb",
    "-D",
    `${root}/data`,
    "-U",
    "postgres",
    "--auth=trust",
    "-E",
    "UTF8",
    "--locale=C.UTF-8",
    "--no-sync",
  );
  const options = `-p ${port} -k ${root} -c listen_addresses=127.0.0.1 -c max_connections=100`;
  const pgCtl = (...args: string[]) => asPostgres("pg_ctl", "-D", `${root}/data`, "-w", ...args);
  // Asynchronous, so that a test's load goes on while the cluster stops or starts.
  const pgCtlAsync = (...args: string[]) =>
    new Promise<void>((resolve, reject) =>
      execFile(
        "runuser",
        ["-u", "postgres", "--", `${bin}/pg_ctl`, "-D", `${root}/data`, "-w", ...args],
        (error) => error === null ? resolve() : reject(error),
      )
    );
  const startArgs = ["-l", `${root}/log`, "-o", options, "start"];
  pgCtl(...startArgs);
  let destroyed = false;
  const destroy = () => {
    if (destroyed) return;
    destroyed = true;
    try {
      pgCtl("-m", "immediate", "stop");
    } catch {
      // already stopped
    }
    rmSync(root, { recursive: true, force: true });
  };
  after(destroy);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: () => pgCtlAsync("-m", "fast", "stop"),
    start: () => pgCtlAsync(...startArgs),
    destroy,
  };
}
