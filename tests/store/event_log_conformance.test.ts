// The event log's conformance cases, from the package's `./testing` entry, against SQLite's log:
// in memory over node:sqlite, and on a WAL file over the runtime's fastest driver (what the server
// ships with). Postgres's log runs the same cases in tests/postgres/event_log_conformance.test.ts.
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { SqliteStore } from "../../mod.ts";
import { openSqliteStore, sqliteDriverName } from "../../src/platform/sqlite.ts";
import { testEventLog } from "../../src/testing/mod.ts";
import { tempDir } from "../fixtures/helpers.ts";

testEventLog("SqliteStore event log (node:sqlite, :memory:)", () => {
  const database = new DatabaseSync(":memory:");
  return { store: new SqliteStore(database, { eventLog: true }), close: () => database.close() };
});

testEventLog(`openSqliteStore event log (${sqliteDriverName()}, WAL file)`, () => {
  const dir = tempDir("slo-event-log-");
  const store = openSqliteStore(join(dir.path, "sessions.db"), { eventLog: true });
  return {
    store,
    close: () => {
      store.close();
      dir.remove();
    },
  };
});
