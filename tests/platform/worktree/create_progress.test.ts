// Issue 23, progress: every phase of a worktree create is a transient `session.progress` event
// (plan, add, checkout with its counts, include, row, setup), delivered live to `subscribeAll` and
// over `GET /v1/events` with no `id:` between the logged events; it is never logged, never
// replayed, and never moves the ids or the resume position. On real git, a real SQLite file and a
// real server.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  encodeBase64,
  generateDatabaseKeyBytes,
  type LifecycleEvent,
  LifecycleEvents,
  SessionOrchestrator,
  type SessionProgressEvent,
  type TransientEvent,
} from "../../../mod.ts";
import { ProcessSetupRunner, WorktreeLifecycle } from "../../../src/platform/mod.ts";
import { CheckoutProgressReader } from "../../../src/platform/_checkout_progress.ts";
import { git, makeRepository, worktreeFixture } from "../../fixtures/git_fixtures.ts";
import { type SseEvent, sseReader, startTestServer } from "../../fixtures/http_fixture.ts";
import { tempDir } from "../../fixtures/helpers.ts";
import { hc } from "hono/client";
import type { AppType } from "../../../src/http/mod.ts";
import type { ApiClient } from "../../../src/cli/client.ts";
import { followCreateProgress } from "../../../src/cli/create_progress.ts";
import { describeProgress, withProgress } from "../../../src/cli/progress.ts";
import { skipPostgres, testDatabase } from "../../fixtures/postgres_fixture.ts";

// A checkout of `count` more tracked files, and an ignored `.env` for the include.
function populate(repositoryPath: string, count: number): number {
  mkdirSync(join(repositoryPath, "src"), { recursive: true });
  for (let i = 0; i < count; i++) writeFileSync(join(repositoryPath, "src", `file${i}.txt`), `${i}\n`);
  writeFileSync(join(repositoryPath, ".gitignore"), ".env\n");
  git(repositoryPath, "add", ".");
  git(repositoryPath, "commit", "-q", "-m", "files");
  writeFileSync(join(repositoryPath, ".env"), "SECRET=1\n");
  return git(repositoryPath, "ls-files").split("\n").length;
}

// The phases in order, a phase's repeats (its counts) folded into one, with the logged events between.
function outline(events: Array<LifecycleEvent | TransientEvent>): string[] {
  const names = events.map((event) => event.type === "session.progress" ? `progress:${event.phase}` : event.type);
  return names.filter((name, i) => i === 0 || name !== names[i - 1] || !name.startsWith("progress:"));
}

const progressOf = (events: Array<LifecycleEvent | TransientEvent>, phase: string) =>
  events.filter((event): event is SessionProgressEvent => event.type === "session.progress" && event.phase === phase);

test("a worktree create announces each phase in order, with the checkout's and the include's counts", async () => {
  using f = await worktreeFixture();
  const tracked = populate(f.repositoryPath, 120);
  const events = new LifecycleEvents();
  const orchestrator = new SessionOrchestrator({
    store: f.store,
    chain: f.chain,
    events,
    worktrees: f.lifecycle,
    repositorySettings: () => ({ include: [".env"], setup: [["true"]] }),
    setupRunner: new ProcessSetupRunner(),
  });
  const all: Array<{ event: LifecycleEvent | TransientEvent; id: string | null }> = [];
  const committed: string[] = [];
  events.subscribeAll((event, { id }) => all.push({ event, id }));
  events.subscribe((event) => committed.push(event.type));

  const session = await orchestrator.createSession({
    repositoryId: f.repository.id,
    title: "Progress",
    isWorktree: true,
  });
  for (let attempt = 0; attempt < 600; attempt++) {
    if ((await orchestrator.getSession(session.id))?.setup?.state !== "running") break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.equal((await orchestrator.getSession(session.id))?.setup?.state, "succeeded");

  // The worktree added, then checked out, is whole: every tracked file, on its branch, clean.
  const worktree = session.worktreePath!;
  assert.equal(git(worktree, "ls-files").split("\n").length, tracked);
  assert.equal(git(worktree, "status", "--porcelain", "--ignored=no"), "");
  assert.equal(git(worktree, "symbolic-ref", "HEAD"), `refs/heads/${session.branchName}`);
  assert.equal(git(worktree, "rev-parse", "HEAD"), git(f.repositoryPath, "rev-parse", "HEAD"));

  const seen = all.map(({ event }) => event);
  const phases = outline(seen);
  const setupAt = phases.indexOf("progress:setup");
  assert.deepEqual(phases.slice(0, setupAt + 1), [
    "progress:plan",
    "progress:add",
    "progress:checkout",
    "progress:include",
    "progress:row",
    "session.created",
    "progress:setup",
  ]);
  // After the setup's start, only its own state: session.updated, as before.
  assert.ok(phases.slice(setupAt + 1).length > 0 && phases.slice(setupAt + 1).every((t) => t === "session.updated"));

  // Every progress event is this session's and has no id; every logged one has its id.
  for (const { event, id } of all) {
    if (event.type === "session.progress") {
      assert.equal(id, null);
      assert.equal(event.sessionId, session.id);
    } else assert.match(id!, /^[1-9][0-9]*$/);
  }
  // The checkout streams from 0 to every tracked file, never going back.
  const checkout = progressOf(seen, "checkout");
  assert.deepEqual(checkout[0], {
    type: "session.progress",
    sessionId: session.id,
    repositoryId: f.repository.id,
    parentSessionId: null,
    phase: "checkout",
    done: 0,
    total: tracked,
  });
  assert.deepEqual(checkout.at(-1), { ...checkout[0], done: tracked });
  // Git's own counts between the two, read from its progress output.
  assert.ok(checkout.some((event) => event.done! > 0 && event.done! < tracked), JSON.stringify(checkout));
  for (let i = 1; i < checkout.length; i++) {
    assert.ok(checkout[i].done! >= checkout[i - 1].done!, JSON.stringify(checkout));
    assert.equal(checkout[i].total, tracked);
  }
  // The include says what it copied.
  const include = progressOf(seen, "include");
  assert.equal(include.length, 2);
  assert.deepEqual({ done: include[1].done, total: include[1].total }, { done: 1, total: 1 });
  assert.match(include[1].detail!, /^1 files and 0 links: \d+ bytes cloned, \d+ bytes copied$/);
  assert.deepEqual(progressOf(seen, "setup").map((event) => event.total), [1]);

  // Transient events reach `subscribeAll` only: a committed-event listener, the ids and the replay never see them.
  assert.ok(!committed.includes("session.progress"));
  assert.equal(events.lastId, String(all.filter(({ id }) => id !== null).length));
  const replayed = (await events.readAfter("0", 1000)).events;
  assert.ok(replayed.every(({ event }) => (event.type as string) !== "session.progress"));
  assert.deepEqual(replayed.map(({ id }) => id), all.flatMap(({ id }) => id === null ? [] : [id]));
});

test("a refused create announces what it reached and nothing after; a session without a worktree none", async () => {
  using f = await worktreeFixture();
  const events = new LifecycleEvents();
  const orchestrator = new SessionOrchestrator({ store: f.store, chain: f.chain, events, worktrees: f.lifecycle });
  const seen: Array<LifecycleEvent | TransientEvent> = [];
  events.subscribeAll((event) => seen.push(event));
  await orchestrator.createSession({ repositoryId: f.repository.id, title: "plain", isWorktree: false });
  assert.deepEqual(outline(seen), ["session.created"]);
  seen.length = 0;
  // The branch exists: refused under the lock, before the worktree is added.
  git(f.repositoryPath, "branch", "session/taken");
  await assert.rejects(
    orchestrator.createSession({
      repositoryId: f.repository.id,
      title: "t",
      isWorktree: true,
      worktreeName: "taken",
    }),
    { kind: "Conflict" },
  );
  assert.deepEqual(outline(seen), ["progress:plan"]);
});

test("a listener of transient events that throws stops neither the others nor the create", async () => {
  using f = await worktreeFixture();
  const events = new LifecycleEvents();
  const orchestrator = new SessionOrchestrator({ store: f.store, chain: f.chain, events, worktrees: f.lifecycle });
  const seen: string[] = [];
  events.subscribeAll(() => {
    throw new Error("a broken reader");
  });
  events.subscribeAll((event) => seen.push(event.type));
  const session = await orchestrator.createSession({ repositoryId: f.repository.id, title: "t", isWorktree: true });
  assert.ok(seen.includes("session.progress"));
  assert.equal((await orchestrator.getSession(session.id))?.id, session.id);
});

test("git's checkout progress is read from pieces cut anywhere, each count once", () => {
  const seen: string[] = [];
  const reader = new CheckoutProgressReader((done, total) => seen.push(`${done}/${total}`));
  const output = "Preparing worktree\nUpdating files:  33% (1/3)\rUpdating files:  66% (2/3)\r" +
    "Updating files: 100% (3/3)\rUpdating files: 100% (3/3), done.\n";
  for (const piece of output.match(/.{1,5}/gs)!) reader.push(piece);
  assert.deepEqual(seen, ["1/3", "2/3", "3/3"]);
});

// An open event stream of a server: each next event, bounded so a missing one fails instead of hanging.
async function stream(call: (path: string, init?: RequestInit) => Promise<Response>, lastEventId?: string) {
  const response = await call(
    "/v1/events",
    lastEventId === undefined ? {} : { headers: { "last-event-id": lastEventId } },
  );
  assert.equal(response.status, 200);
  const reader = sseReader(response, { progress: true });
  const next = async (): Promise<SseEvent> => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const event = await Promise.race([
        reader.next(),
        new Promise<never>((_, reject) => timer = setTimeout(() => reject(new Error("no event within 20 s")), 20_000)),
      ]);
      assert.ok(event !== null, "the stream ended");
      return event;
    } finally {
      clearTimeout(timer);
    }
  };
  return { next, close: () => reader.close() };
}

const database = await testDatabase();

for (const store of ["SQLite", "Postgres"] as const) {
  test(
    `the server's event stream on ${store} carries a create's progress live, with no id, and a resume replays none`,
    {
      skip: store === "Postgres" && skipPostgres,
    },
    async () => {
      using repoDir = tempDir("slo-progress-repo-");
      const repositoryPath = join(repoDir.path, "repo");
      makeRepository(repositoryPath);
      const tracked = populate(repositoryPath, 30);
      await using t = await startTestServer({
        lifecycle: () => new WorktreeLifecycle({ worktreesRoot: join(repoDir.path, "worktrees") }),
        ...(store === "Postgres"
          ? {
            database: database!.url,
            env: { SESSION_LIFECYCLE_DATABASE_KEY: encodeBase64(generateDatabaseKeyBytes()) },
          }
          : {}),
      });
      const live = await stream(t.call);
      const ready = await live.next();
      assert.equal(ready.event, "ready");
      const repository = await (await t.call("/v1/repositories", {
        method: "POST",
        json: { path: repositoryPath, name: "repo", isGitRepository: true },
      })).json();
      const repositoryCreated = await live.next();
      assert.equal(repositoryCreated.event, "repository.created");
      const answer = await t.call("/v1/sessions", {
        method: "POST",
        json: { repositoryId: repository.id, title: "Streamed", isWorktree: true },
      });
      assert.equal(answer.status, 201);
      const session = await answer.json();

      const between: SseEvent[] = [];
      for (;;) {
        const event = await live.next();
        if (event.event === "session.created") {
          // The next logged event: its id right after the last, the progress events taking none.
          assert.equal(event.id, String(BigInt(repositoryCreated.id!) + 1n));
          break;
        }
        between.push(event);
      }
      await live.close();
      assert.ok(between.length >= 5, JSON.stringify(between));
      for (const event of between) {
        assert.equal(event.event, "session.progress");
        assert.equal(event.id, null, "a progress event has no id: line");
        assert.equal(JSON.parse(event.data).sessionId, session.id);
      }
      const data = between.map((event) => JSON.parse(event.data) as SessionProgressEvent);
      assert.deepEqual(outline(data), [
        "progress:plan",
        "progress:add",
        "progress:checkout",
        "progress:include",
        "progress:row",
      ]);
      assert.deepEqual(progressOf(data, "checkout").at(-1), {
        type: "session.progress",
        sessionId: session.id,
        repositoryId: repository.id,
        parentSessionId: null,
        phase: "checkout",
        done: tracked,
        total: tracked,
      });

      // A resume from before the create replays the logged events only, with no gap.
      const resumed = await stream(t.call, repositoryCreated.id!);
      assert.equal((await resumed.next()).id, repositoryCreated.id);
      const replayed = await resumed.next();
      assert.deepEqual([replayed.event, replayed.id], [
        "session.created",
        String(BigInt(repositoryCreated.id!) + 1n),
      ]);
      // Live again: the next change is the next event, no progress left over from the replay.
      await t.call(`/v1/sessions/${session.id}`, { method: "PATCH", json: { title: "Renamed" } });
      const next = await resumed.next();
      assert.deepEqual([next.event, next.id], ["session.updated", String(BigInt(repositoryCreated.id!) + 2n)]);
      await resumed.close();
    },
  );
}

test("slo new's line: a create's phases in words, and a label asked at each frame", async () => {
  assert.equal(describeProgress({ phase: "plan" }), "planning");
  assert.equal(describeProgress({ phase: "checkout", done: 0 }), "checking out files");
  assert.equal(describeProgress({ phase: "checkout", done: 450, total: 1000 }), "checking out files 450/1000 (45%)");
  assert.equal(describeProgress({ phase: "include", done: 2, total: 2 }), "copying included files");
  assert.equal(describeProgress({ phase: "later" }), "later");
  const writes: string[] = [];
  const terminal = { isTTY: true, write: (text: string) => writes.push(text) };
  let phase = "first";
  let release = () => {};
  const work = new Promise<void>((resolve) => release = resolve);
  const running = withProgress(terminal, () => phase, () => work, { delayMs: 0, intervalMs: 1 });
  while (writes.length === 0) await new Promise((resolve) => setTimeout(resolve, 1));
  phase = "second";
  const drawn = writes.length;
  while (writes.length === drawn) await new Promise((resolve) => setTimeout(resolve, 1));
  release();
  await running;
  assert.match(writes[0], /first$/);
  assert.match(writes[drawn], /second$/);
  // Not on a pipe: no line, so no label is asked for.
  await withProgress(
    { isTTY: false, write: () => assert.fail("drawn on a pipe") },
    () => assert.fail("asked"),
    () => Promise.resolve(),
  );
});

test("slo new follows its create's progress on the server's stream, and lets go of it", async () => {
  using repoDir = tempDir("slo-progress-cli-");
  const repositoryPath = join(repoDir.path, "repo");
  makeRepository(repositoryPath);
  populate(repositoryPath, 10);
  await using t = await startTestServer({
    lifecycle: () => new WorktreeLifecycle({ worktreesRoot: join(repoDir.path, "worktrees") }),
  });
  const api: ApiClient = hc<AppType>(t.server.url, { headers: { authorization: `Bearer ${t.server.token}` } });
  const repository = (await t.callJson("/v1/repositories", {
    method: "POST",
    json: { path: repositoryPath, name: "repo", isGitRepository: true },
  })).body;
  const follower = await followCreateProgress(api, repository.id);
  assert.equal(follower.describe(), null);
  const created = await t.callJson("/v1/sessions", {
    method: "POST",
    json: { repositoryId: repository.id, title: "Followed", isWorktree: true },
  });
  assert.equal(created.status, 201);
  // The row is the last phase before the answer; the follower reads it from the stream.
  for (let attempt = 0; attempt < 2000 && follower.describe() !== "recording the session"; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.equal(follower.describe(), "recording the session");
  await follower.stop();
  // Let go: the server's feed is closed (its subscriber count is back to none).
  for (let attempt = 0; attempt < 2000 && t.server.parts.events.size > 0; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.equal(t.server.parts.events.size, 0);
});

test("a scoped token's event stream carries the progress of the creates under its session only", async () => {
  using repoDir = tempDir("slo-progress-scope-");
  const repositoryPath = join(repoDir.path, "repo");
  makeRepository(repositoryPath);
  await using t = await startTestServer({
    lifecycle: () => new WorktreeLifecycle({ worktreesRoot: join(repoDir.path, "worktrees") }),
  });
  const as = (token: string) => ({ authorization: `Bearer ${token}` });
  const repository = (await t.callJson("/v1/repositories", {
    method: "POST",
    json: { path: repositoryPath, name: "repo", isGitRepository: true },
  })).body;
  const create = async (title: string, headers: Record<string, string> = {}) => {
    const created = await t.callJson("/v1/sessions", {
      method: "POST",
      json: { repositoryId: repository.id, title, isWorktree: true },
      headers,
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body as { id: string };
  };
  const own = await create("own");
  const minted = await t.callJson(`/v1/sessions/${own.id}/tokens`, { method: "POST" });
  assert.equal(minted.status, 201);
  const scoped = await stream((path, init) => t.call(path, { ...init, headers: as(minted.body.token) }));
  assert.equal((await scoped.next()).event, "ready");
  // Made with the server's token, under no session: none of it is the scope's.
  await create("hidden");
  const child = await create("child", as(minted.body.token));
  const seen: SseEvent[] = [];
  for (;;) {
    const event = await scoped.next();
    seen.push(event);
    if (event.event === "session.created") break;
  }
  await scoped.close();
  const created = seen.at(-1)!;
  assert.equal(JSON.parse(created.data).session.id, child.id);
  const progress = seen.slice(0, -1);
  assert.ok(progress.length >= 4, JSON.stringify(seen));
  for (const event of progress) {
    assert.equal(event.event, "session.progress");
    assert.equal(event.id, null);
    const data = JSON.parse(event.data);
    assert.deepEqual([data.sessionId, data.parentSessionId], [child.id, own.id]);
  }
});
