// Core benchmarks (issue 3): the orchestration over SqliteStore on a WAL file against the raw
// driver executing the same statements, and the secret cache against a bare Map.get plus copy.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { createSession, deleteSession, newSessionId, SessionSecretCache, SqliteStore } from "../mod.ts";
import { SQL } from "../src/store/sqlite_store.ts";
import { compare, type Comparison } from "./harness.ts";
import { plainSessionRow } from "./rows.ts";

/** Runs the core comparisons. */
export async function benchCore(): Promise<Comparison[]> {
  const dir = mkdtempSync(join(tmpdir(), "slo-bench-"));
  try {
    const database = new DatabaseSync(join(dir, "bench.db"));
    const store = new SqliteStore(database);
    const repository = await store.createRepository({ path: "/bench/app", name: "app" });
    const count = 2000;
    const rounds = 7;

    const selectRepository = database.prepare(SQL.getRepository);
    const insertSession = database.prepare(SQL.insertSession);
    const rawCreate = () => {
      const id = crypto.randomUUID();
      const now = new Date().toISOString();
      if (!selectRepository.get(repository.id)) throw new Error("missing repository");
      insertSession.run(...plainSessionRow(id, repository.id, "Bench session", now));
      return id;
    };
    const created: string[] = [];
    const create = compare("createSession (SqliteStore, WAL file) vs raw select + insert", {
      baseline: () => created.push(rawCreate()),
      subject: async () =>
        created.push(
          (await createSession(store, { repositoryId: repository.id, title: "Bench session", isWorktree: false }))
            .id,
        ),
      count,
      rounds,
      target: 0.5,
    });
    const createResult = await create;

    // Every round deletes rows that exist: the ones the create benchmark just made.
    const deleteStatement = database.prepare(SQL.deleteSession);
    const needed = count * (rounds + 1) * 2;
    while (created.length < needed) created.push(rawCreate());
    let next = 0;
    const deleteResult = await compare("deleteSession (SqliteStore, WAL file) vs raw DELETE … RETURNING", {
      baseline: () => {
        // all(): the raw form whose answer is committed (get() can answer a delete that a full disk undid).
        if (deleteStatement.all(created[next++]).length === 0) throw new Error("row missing");
      },
      subject: async () => {
        if (!(await deleteSession(store, created[next++]))) throw new Error("row missing");
      },
      count,
      rounds,
      target: 0.5,
    });
    database.close();

    const ids = Array.from({ length: 1024 }, () => newSessionId());
    const map = new Map<string, Uint8Array>();
    const cache = new SessionSecretCache();
    for (const id of ids) {
      const key = crypto.getRandomValues(new Uint8Array(32));
      map.set(id, key.slice());
      cache.insert(id, key);
    }
    let sink = 0;
    const cacheResult = await compare("SessionSecretCache.get vs Map.get + copy", {
      baseline: (i) => (sink += map.get(ids[i & 1023])!.slice()[0]),
      subject: (i) => (sink += cache.get(ids[i & 1023])![0]),
      count: 200_000,
      rounds,
      target: 0.5,
    });
    if (sink === -1) console.log(sink);
    return [createResult, deleteResult, cacheResult];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
