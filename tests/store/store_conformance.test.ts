// The store conformance suite, from the package's `./testing` entry, against every store this
// runtime has: MemoryStore, SqliteStore in memory and on a WAL file (node:sqlite), and under Bun
// SqliteStore over bun:sqlite. A store in another package runs it the same way.
import { testSessionStore } from "../../src/testing/mod.ts";
import { storeFactories } from "../fixtures/helpers.ts";

for (const factory of await storeFactories()) {
  testSessionStore(factory.name, factory.open);
}
