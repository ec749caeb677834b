// `openOrchestrator` from `./platform`: the whole composition a script needs in one call, over a
// real SQLite file and real git, with no server.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openOrchestrator, WORKTREES_DIR_NAME } from "../../src/platform/open_orchestrator.ts";
import type { LifecycleEvent } from "../../src/events.ts";
import { asyncDisposable, tempDir } from "../fixtures/helpers.ts";
import { makeRepository } from "../fixtures/git_fixtures.ts";

// No keychain and no key from the environment: the key lives in a file of the data directory.
const QUIET = { keychain: null, env: {}, logError: () => {} };

test("openOrchestrator: one call opens a data directory whose worktree sessions last across opens; close is idempotent", async () => {
  using dir = tempDir("slo-open-");
  const dataDir = join(dir.path, "data");
  const checkout = join(dir.path, "checkout");
  mkdirSync(checkout);
  makeRepository(checkout);
  const first = await openOrchestrator({ dataDir, ...QUIET });
  assert.equal(first.keySource, "file");
  assert.equal(first.reconcileReport, null, "no reconcile unless asked");
  const repository = await first.orchestrator.createRepository({ name: "r", path: checkout });
  const session = await first.orchestrator.createSession({
    repositoryId: repository.id,
    title: "t",
    isWorktree: true,
  });
  // The default worktree port puts worktrees in the data directory.
  assert.ok(session.worktreePath!.startsWith(join(dataDir, WORKTREES_DIR_NAME)));
  assert.ok(existsSync(session.worktreePath!));
  const secret = await first.orchestrator.resolveSessionSecret(session.id);
  await first.close();
  await first.close();

  await using again = asyncDisposable(
    await openOrchestrator({ dataDir, ...QUIET, reconcile: true }),
    (opened) => opened.close(),
  );
  assert.deepEqual(again.reconcileReport, { dryRun: false, findings: [] });
  assert.equal((await again.orchestrator.getSession(session.id))?.worktreePath, session.worktreePath);
  assert.deepEqual(await again.orchestrator.resolveSessionSecret(session.id), secret);
  const closed = await again.orchestrator.deleteSession(session.id);
  assert.equal(closed?.worktreeRemoved, true);
});

test("openOrchestrator: two openings of one SQLite file see each other's changes as events, and forget a secret the other deleted", async () => {
  using dir = tempDir("slo-open-two-");
  const dataDir = join(dir.path, "data");
  const checkout = join(dir.path, "checkout");
  mkdirSync(checkout);
  makeRepository(checkout);
  await using a = asyncDisposable(await openOrchestrator({ dataDir, ...QUIET, worktrees: false }), (a) => a.close());
  await using b = asyncDisposable(await openOrchestrator({ dataDir, ...QUIET, worktrees: false }), (b) => b.close());
  const seen: LifecycleEvent[] = [];
  let wake: (() => void) | null = null;
  b.orchestrator.events.subscribe((event) => {
    seen.push(event);
    wake?.();
  });
  const until = async (check: () => boolean) => {
    while (!check()) await new Promise<void>((resolve) => (wake = resolve));
  };
  const repository = await a.orchestrator.createRepository({ name: "r", path: checkout });
  const session = await a.orchestrator.createSession({
    repositoryId: repository.id,
    title: "t",
    isWorktree: false,
  });
  await until(() => seen.some((event) => event.type === "session.created"));
  // b caches the secret, then a deletes the session: b's copy must go with the row.
  assert.ok(await b.orchestrator.resolveSessionSecret(session.id));
  await a.orchestrator.deleteSession(session.id);
  await until(() => seen.some((event) => event.type === "session.deleted"));
  assert.equal(await b.orchestrator.resolveSessionSecret(session.id), null);
  assert.deepEqual(seen.map((event) => event.type), ["repository.created", "session.created", "session.deleted"]);
});

test("openOrchestrator: a database that is not one is refused, and nothing stays open", async () => {
  using dir = tempDir("slo-open-bad-");
  writeFileSync(join(dir.path, "sessions.db"), "not a database at all, not even close".repeat(8));
  await assert.rejects(openOrchestrator({ dataDir: dir.path, ...QUIET }), /not a database/);
});
