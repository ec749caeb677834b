// The event log's conformance cases, from the package's `./testing` entry, against PostgresStore's
// log on a real Postgres: a fresh schema (migrated from nothing) for every case.
import { test } from "node:test";
import { testEventLog } from "../../src/testing/mod.ts";
import { openSchemaStore, skipPostgres, testDatabase } from "../fixtures/postgres_fixture.ts";

const database = await testDatabase();

if (database === null) {
  test("PostgresStore: the event log conformance cases", { skip: skipPostgres }, () => {});
} else {
  testEventLog("PostgresStore event log", async () => {
    const store = await openSchemaStore(database, { eventLog: true });
    return { store, close: () => store.close() };
  });
}
