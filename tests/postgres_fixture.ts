/**
 * A real Postgres for the tests: `TEST_DATABASE_URL` names a server (`.ci/run` starts a throwaway
 * cluster and sets it), and each test file gets a fresh database of its own, with a random name,
 * dropped after the file. Without `TEST_DATABASE_URL` the Postgres tests skip, unless
 * `REQUIRE_POSTGRES=1` (CI) makes that an error.
 * @module
 */

import { after } from "node:test";
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
