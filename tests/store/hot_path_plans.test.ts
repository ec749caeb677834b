// Nothing on the create, open, close, delete or resolve path reads more than it needs: every
// statement those paths run is answered from an index, never by a scan of the sessions table
// (checked with SQLite's EXPLAIN QUERY PLAN on the statements as the store ran them), and a plain
// session's delete is one statement, with no read of the row before it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import {
  generateDatabaseKey,
  SessionOrchestrator,
  SessionSecretChain,
  type SqliteDatabase,
  SqliteStore,
  type SqliteValue,
} from "../../mod.ts";
import { WorktreeLifecycle } from "../../src/platform/mod.ts";
import { makeRepository } from "../fixtures/git_fixtures.ts";
import { disposable, tempDir } from "../fixtures/helpers.ts";

interface Ran {
  sql: string;
  params: SqliteValue[];
}

// The connection as the store sees it, recording every statement it runs.
function recording(database: DatabaseSync): { database: SqliteDatabase; ran: Ran[] } {
  const ran: Ran[] = [];
  return {
    ran,
    database: {
      exec: (sql) => database.exec(sql),
      prepare(sql) {
        const statement = database.prepare(sql);
        const record = (params: SqliteValue[]) => ran.push({ sql, params });
        return {
          run: (...params: SqliteValue[]) => (record(params), statement.run(...params)),
          get: (...params: SqliteValue[]) => (record(params), statement.get(...params)),
          all: (...params: SqliteValue[]) => (record(params), statement.all(...params)),
        };
      },
    },
  };
}

function assertIndexed(raw: DatabaseSync, ran: Ran[], what: string): void {
  const touching = ran.filter(({ sql }) =>
    /\b(sessions|session_secrets)\b/.test(sql) && !/^\s*(PRAGMA|BEGIN|COMMIT|ROLLBACK)/i.test(sql)
  );
  assert.ok(touching.length > 0, `${what}: no statement on sessions was recorded`);
  for (const { sql, params } of touching) {
    const plan = (raw.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[])
      .map((row) => row.detail);
    for (const detail of plan) {
      // SEARCH seeks by a key; any SCAN (even in an index's order) walks every row.
      assert.doesNotMatch(
        detail,
        /^SCAN (TABLE )?(sessions|session_secrets)\b/,
        `${what}: ${sql.trim()} → ${plan.join("; ")}`,
      );
    }
  }
}

test("hot paths: create, resolve, delete, worktree open and close read only through indexes", async () => {
  using dir = tempDir("slo-plans-");
  using raw = disposable(new DatabaseSync(join(dir.path, "sessions.db")), (raw) => raw.close());
  const { database, ran } = recording(raw);
  const store = new SqliteStore(database);
  const chain = new SessionSecretChain({ store, databaseKey: await generateDatabaseKey() });
  const worktrees = new WorktreeLifecycle({ worktreesRoot: join(dir.path, "worktrees") });
  const orchestrator = new SessionOrchestrator({ store, chain, worktrees });
  const checkout = join(dir.path, "repo");
  mkdirSync(checkout);
  makeRepository(checkout);
  const repository = await orchestrator.createRepository({ path: checkout, name: "repo", isGitRepository: true });

  const steps: [string, () => Promise<unknown>][] = [];
  let plainId = "";
  let worktreeId = "";
  steps.push(["plain create", async () => {
    plainId = (await orchestrator.createSession({ repositoryId: repository.id, title: "t", isWorktree: false })).id;
  }]);
  steps.push(["cold resolve", async () => {
    chain.cache.clear();
    assert.equal((await orchestrator.resolveSessionSecret(plainId))?.length, 32);
  }]);
  steps.push(["plain delete", () => orchestrator.deleteSession(plainId)]);
  steps.push(["worktree open", async () => {
    worktreeId = (await orchestrator.createSession({ repositoryId: repository.id, title: "w", isWorktree: true })).id;
  }]);
  steps.push(["worktree close", () => orchestrator.deleteSession(worktreeId, { deleteBranch: true })]);
  for (const [what, step] of steps) {
    ran.length = 0;
    await step();
    assertIndexed(raw, ran, what);
    if (what === "plain delete") {
      // One round trip: the row goes in one statement, with no read before it.
      const onSessions = ran.filter(({ sql }) =>
        /\bsessions\b/.test(sql) && !/^\s*(PRAGMA|BEGIN|COMMIT|ROLLBACK)/i.test(sql)
      );
      assert.deepEqual(onSessions.map(({ sql }) => sql.trim().split(/\s+/)[0]), ["DELETE"], what);
    }
  }
});
