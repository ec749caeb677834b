// The store conformance suite from `./testing` against PostgresStore on a real Postgres: one
// database for this file, a fresh schema (migrated from nothing) for every case.
import { test } from "node:test";
import { testSessionStore } from "../../src/testing/mod.ts";
import { openSchemaStore, skipPostgres, testDatabase } from "../fixtures/postgres_fixture.ts";

const database = await testDatabase();

if (database === null) {
  test("PostgresStore: the store conformance suite", { skip: skipPostgres }, () => {});
} else {
  testSessionStore("PostgresStore", async () => {
    const store = await openSchemaStore(database);
    return { store, close: () => store.close() };
  });
}
