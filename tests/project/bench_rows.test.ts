// The benchmarks' raw baselines bind the store's own insert statement with values of their own
// (bench/rows.ts). A session row they write must read back through the store as the very session
// the store would have written: otherwise a column added or moved makes the raw side fail (or
// write something else) and the ratios stop meaning anything.
import { test } from "node:test";
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { SqliteStore } from "../../mod.ts";
import { SQL } from "../../src/store/sqlite_store.ts";
import { plainSessionRow, SESSION_COLUMN_NAMES } from "../../bench/rows.ts";

test("bench rows: a raw plain-session row reads back through SqliteStore as the session the store makes", async () => {
  const database = new DatabaseSync(":memory:");
  const store = new SqliteStore(database);
  const repository = await store.createRepository({ path: "/bench/app", name: "app" });
  const made = await store.createSession({
    id: crypto.randomUUID(),
    repositoryId: repository.id,
    title: "Made",
    isWorktree: false,
  });

  const id = crypto.randomUUID();
  database.prepare(SQL.insertSession).run(...plainSessionRow(id, repository.id, "Made", made.createdAt));
  const raw = await store.getSession(id);
  assert.deepEqual(raw, { ...made, id });
  assert.equal(SESSION_COLUMN_NAMES.length, plainSessionRow(id, repository.id, "Made", made.createdAt).length);
});
