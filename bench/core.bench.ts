// Core benchmarks (issues 3 and 13): createSession and deleteSession over the store the platform opens
// (`openSqliteStore`: bun:sqlite under Bun, node:sqlite under Deno, a WAL file) against the raw driver
// executing the same statements on the same connection, on an empty file and on one already holding
// 100k sessions (of other repositories, inserted with raw SQL).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSession, deleteSession } from "../mod.ts";
import { openSqliteStore } from "../src/platform/sqlite.ts";
import { SQL } from "../src/store/sqlite_store.ts";
import { compare, type Comparison } from "./harness.ts";
import { prefillSessions } from "./prefill.ts";
import { plainSessionRow } from "./rows.ts";

// Today's figures (bench/README.md before issue 13): every ratio stays at or above them.
const CREATE_TARGET = 0.92;
const DELETE_TARGET = 0.85;

function label(rows: number): string {
  return rows === 0 ? "empty" : `${rows / 1000}k sessions`;
}

/** Runs the core comparisons on a file that holds `rows` sessions first. */
export async function benchCore(rows = 0): Promise<Comparison[]> {
  const dir = mkdtempSync(join(tmpdir(), "slo-bench-"));
  try {
    const store = openSqliteStore(join(dir, "bench.db"));
    const database = store.database;
    if (rows > 0) prefillSessions(database, { sessions: rows });
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
    const createResult = await compare(`createSession (openSqliteStore, ${label(rows)}) vs raw select + insert`, {
      baseline: () => created.push(rawCreate()),
      subject: async () =>
        created.push(
          (await createSession(store, { repositoryId: repository.id, title: "Bench session", isWorktree: false }))
            .id,
        ),
      count,
      rounds,
      target: CREATE_TARGET,
    });

    // Every round deletes rows that exist: the ones the create benchmark just made.
    const deleteStatement = database.prepare(SQL.deleteSession);
    const needed = count * (rounds + 1) * 2;
    while (created.length < needed) created.push(rawCreate());
    let next = 0;
    const deleteResult = await compare(`deleteSession (openSqliteStore, ${label(rows)}) vs raw DELETE … RETURNING`, {
      baseline: () => {
        // all(): the raw form whose answer is committed (get() can answer a delete that a full disk undid).
        if (deleteStatement.all(created[next++]).length === 0) throw new Error("row missing");
      },
      subject: async () => {
        if (!(await deleteSession(store, created[next++]))) throw new Error("row missing");
      },
      count,
      rounds,
      target: DELETE_TARGET,
    });
    store.close();
    return [createResult, deleteResult];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
