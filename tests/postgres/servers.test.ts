// Several servers on one database, as real server processes on one real Postgres: concurrent creates
// and deletes spread over 4 servers lose and double nothing; of 50 deletes of one session through
// all of them exactly one succeeds; every server's event stream shows every server's changes once,
// in the one commit order of the log; the key check in the database refuses a server started with
// another key while others run; and a worktree session belongs to the machine (host id) that made it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, rmSync } from "node:fs";
import {
  decodeBase64,
  encodeBase64,
  encryptSessionSecret,
  generateSessionSecret,
  importDatabaseKey,
} from "../../mod.ts";
import { join } from "node:path";
import { makeRepository } from "../fixtures/git_fixtures.ts";
import { asyncDisposable, tempDir } from "../fixtures/helpers.ts";
import { skipPostgres, testDatabase } from "../fixtures/postgres_fixture.ts";
import { serveUntilExit } from "../fixtures/server_process.ts";
import {
  type Answer,
  type ClusterServer,
  eventKey,
  listAllSessions,
  newDatabaseKey,
  startCluster,
  until,
} from "../fixtures/server_cluster.ts";

const database = await testDatabase();
const skip = skipPostgres;
// One key for every server of this file: the database holds its check from the first start on.
const key = newDatabaseKey();
const withKey = () => ({ SESSION_LIFECYCLE_DATABASE_KEY: key });

async function stopAll(servers: ClusterServer[]): Promise<void> {
  await Promise.all(servers.map((server) => server.stop()));
}

test(
  "servers: 4 servers take 500 concurrent creates and deletes, and every stream sees every change once, in commit order",
  {
    skip,
  },
  async () => {
    const db = database!;
    using repositoryDir = tempDir("slo-servers-repo-");
    await using servers = asyncDisposable(await startCluster(db.url, 4, withKey), stopAll);
    await using streams = asyncDisposable(
      await Promise.all(servers.map((server) => server.follow())),
      (streams) => Promise.all(streams.map((stream) => stream.close())),
    );
    // Where the log ends, every event committed so far numbered (the servers number in the background).
    const [{ last_id: startId }] = await db.admin.unsafe(
      "SELECT through_id::text AS last_id FROM number_lifecycle_events('slo_events_public')",
    );
    const repository = await servers[0].call("POST", "/v1/repositories", { path: repositoryDir.path, name: "app" });
    assert.equal(repository.status, 201, JSON.stringify(repository.body));
    const create = (i: number) =>
      servers[i % 4].call("POST", "/v1/sessions", {
        repositoryId: repository.body.id,
        title: `session ${i}`,
        isWorktree: false,
      });

    // 500 at once, spread over the 4 servers.
    const first = await Promise.all(Array.from({ length: 500 }, (_, i) => create(i)));
    for (const answer of first) assert.equal(answer.status, 201, JSON.stringify(answer.body));
    // Then 250 deletes, each through another server than made it, while 250 more are created.
    const doomed = first.slice(0, 250).map((answer) => answer.body);
    const [deletes, second] = await Promise.all([
      Promise.all(doomed.map((session, i) => servers[(i + 1) % 4].call("DELETE", `/v1/sessions/${session.id}`))),
      Promise.all(Array.from({ length: 250 }, (_, i) => create(500 + i))),
    ]);
    for (const [i, answer] of deletes.entries()) {
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal(answer.body.id, doomed[i].id);
    }
    for (const answer of second) assert.equal(answer.status, 201, JSON.stringify(answer.body));

    // None lost, none duplicated: exactly the kept sessions, each with its secret, seen alike by every server.
    const created = [...first, ...second].map((answer) => answer.body);
    assert.equal(new Set(created.map((session) => session.id)).size, 750);
    const kept = created.slice(250).map((session) => session.id).sort();
    const rows = await db.admin.unsafe(
      "SELECT s.id::text AS id, (x.session_id IS NOT NULL) AS sealed FROM sessions s LEFT JOIN session_secrets x ON x.session_id = s.id",
    );
    assert.deepEqual(rows.map((row) => row.id).sort(), kept);
    assert.ok(rows.every((row) => row.sealed), "every session has its sealed secret");
    for (const server of servers) {
      assert.deepEqual((await listAllSessions(server)).map((session) => session.id).sort(), kept);
    }
    // A secret sealed through one server opens through every other.
    const secrets = await Promise.all(servers.map((server) => server.call("GET", `/v1/sessions/${kept[0]}/secret`)));
    for (const secret of secrets) assert.deepEqual(secret, secrets[0]);

    // Events: 1 repository + 750 creates + 250 deletes on each of the 4 streams, in one order: the log's.
    const total = 1 + 750 + 250;
    await until(
      () => streams.every((stream) => stream.events.length >= total),
      () => `events: ${streams.map((stream) => stream.events.length).join(", ")} of ${total}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    const orders = streams.map((stream) => stream.events.map(eventKey));
    for (const order of orders) {
      assert.equal(order.length, total);
      assert.deepEqual(order, orders[0]);
    }
    assert.equal(new Set(orders[0]).size, total, "each change once");
    const logged = await db.admin.unsafe(
      "SELECT e.event::text AS event FROM lifecycle_events e WHERE e.id > $1::bigint ORDER BY e.id",
      [startId],
    );
    assert.deepEqual(
      logged.map((row) => {
        const event = JSON.parse(row.event);
        return eventKey({ event: event.type, data: row.event, id: null });
      }),
      orders[0],
    );
    const position = new Map(orders[0].map((entry, i) => [entry, i]));
    for (const session of doomed) {
      assert.ok(position.get(`session.created ${session.id}`)! < position.get(`session.deleted ${session.id}`)!);
    }
    // An event carries the record as the API answered it.
    const one = streams[3].events.find((event) => eventKey(event) === `session.created ${created[0].id}`)!;
    assert.deepEqual(JSON.parse(one.data).session, created[0]);
  },
);

test(
  "servers: 50 concurrent deletes of one session spread over the servers get exactly one 200",
  { skip },
  async () => {
    const db = database!;
    using repositoryDir = tempDir("slo-servers-delete-");
    await using servers = asyncDisposable(await startCluster(db.url, 4, withKey), stopAll);
    const repository = await servers[1].call("POST", "/v1/repositories", { path: repositoryDir.path, name: "app" });
    assert.equal(repository.status, 201);
    for (let round = 0; round < 3; round++) {
      const session = await servers[round].call("POST", "/v1/sessions", {
        repositoryId: repository.body.id,
        title: `contested ${round}`,
        isWorktree: false,
      });
      assert.equal(session.status, 201);
      const answers = await Promise.all(
        Array.from({ length: 50 }, (_, i) => servers[i % 4].call("DELETE", `/v1/sessions/${session.body.id}`)),
      );
      const statuses = answers.map((answer) => answer.status).sort();
      assert.deepEqual(
        statuses,
        [200, ...Array(49).fill(404)],
        JSON.stringify(answers.filter((a) => a.status !== 404)),
      );
      assert.equal(answers.find((answer) => answer.status === 200)!.body.id, session.body.id);
      for (const answer of answers.filter((answer) => answer.status === 404)) {
        assert.equal(answer.body.error.kind, "SessionNotFound");
      }
      const [{ count }] = await db.admin.unsafe("SELECT count(*)::int AS count FROM sessions WHERE id = $1", [
        session.body.id,
      ]);
      assert.equal(count, 0);
    }
  },
);

test("servers: with servers running on the database, one started with another key or none is refused", {
  skip,
}, async () => {
  const db = database!;
  using dir = tempDir("slo-servers-refused-");
  await using servers = asyncDisposable(await startCluster(db.url, 2, withKey), stopAll);
  const args = ["--port", "0", "--data-dir", dir.path, "--database", db.url];
  const refusals: { env: Record<string, string>; line: RegExp }[] = [
    {
      env: { SESSION_LIFECYCLE_DATABASE_KEY: newDatabaseKey() },
      line:
        /^error: the database key from SESSION_LIFECYCLE_DATABASE_KEY does not match the key check in postgres:\/\/\S+ \(table database_key_check\), so it is not the key the stored secrets were sealed with/,
    },
    {
      env: {},
      line:
        /^error: a database key was made earlier \(the key check in postgres:\/\/\S+ \(table database_key_check\) exists\) but cannot be found now/,
    },
  ];
  for (const { env, line } of refusals) {
    const run = await serveUntilExit(args, env);
    const lines = run.stderr.trim().split("\n");
    assert.equal(lines.length, 1, run.stderr);
    assert.match(lines[0], line);
    assert.doesNotMatch(run.stdout, /listening on/);
    assert.equal(run.code, 1);
  }
  // The running servers were not disturbed, and the check is still the one key's.
  for (const server of servers) assert.equal((await server.call("GET", "/v1/sessions?limit=1")).status, 200);
  const [{ count }] = await db.admin.unsafe("SELECT count(*)::int AS count FROM database_key_check");
  assert.equal(count, 1);
});

test(
  "servers: a worktree session belongs to the machine that made it; another machine's server gets 409 and touches nothing",
  {
    skip,
  },
  async () => {
    const db = database!;
    using dir = tempDir("slo-servers-hosts-");
    await using servers = asyncDisposable(
      await startCluster(db.url, 2, (i) => ({ ...withKey(), SESSION_LIFECYCLE_HOST_ID: `machine-${"ab"[i]}` })),
      stopAll,
    );
    const [a, b] = servers;
    assert.match(a.process.output(), /host id: machine-a \(from env\)/);
    const checkout = join(dir.path, "app");
    makeRepository(checkout);
    const repository = await a.call("POST", "/v1/repositories", {
      path: checkout,
      name: "app",
      isGitRepository: true,
    });
    assert.equal(repository.status, 201, JSON.stringify(repository.body));
    const session = await a.call("POST", "/v1/sessions", {
      repositoryId: repository.body.id,
      title: "On machine A",
      isWorktree: true,
    });
    assert.equal(session.status, 201, JSON.stringify(session.body));
    assert.equal(session.body.hostId, "machine-a");
    assert.ok(session.body.worktreePath.startsWith(join(a.dataDir, "worktrees")));
    const plain = await a.call("POST", "/v1/sessions", {
      repositoryId: repository.body.id,
      title: "Plain",
      isWorktree: false,
    });
    assert.equal(plain.body.hostId, null);
    const secret = await a.call("GET", `/v1/sessions/${session.body.id}/secret`);

    // Through B, forced or not: 409 naming the owner; the row, its secret and the worktree stay.
    for (const query of ["", "?force=true&deleteBranch=true"]) {
      const refused = await b.call("DELETE", `/v1/sessions/${session.body.id}${query}`);
      assert.equal(refused.status, 409, JSON.stringify(refused.body));
      assert.equal(refused.body.error.kind, "Conflict");
      assert.match(refused.body.error.message, /is on another machine \(host id machine-a; this one is machine-b\)/);
    }
    assert.deepEqual((await b.call("GET", `/v1/sessions/${session.body.id}`)).body, session.body);
    assert.deepEqual(await b.call("GET", `/v1/sessions/${session.body.id}/secret`), secret);
    const [row] = await db.admin.unsafe("SELECT host_id FROM sessions WHERE id = $1", [session.body.id]);
    assert.equal(row.host_id, "machine-a");
    assert.ok(existsSync(session.body.worktreePath));
    // A plain session has no machine: any server deletes it.
    assert.equal((await b.call("DELETE", `/v1/sessions/${plain.body.id}`)).status, 200);

    // With its folder gone, B's reconcile ignores A's session (it is A's to repair); A's repairs it.
    rmSync(session.body.worktreePath, { recursive: true });
    const about = (report: Answer) =>
      (report.body.findings as { sessionId: string; kind: string; action: string }[])
        .filter((finding) => finding.sessionId === session.body.id)
        .map((finding) => [finding.kind, finding.action]);
    const byB = await b.call("POST", "/v1/reconcile");
    assert.equal(byB.status, 200);
    assert.deepEqual(about(byB), []);
    assert.equal(existsSync(session.body.worktreePath), false);
    // B left git's record of the missing worktree alone; A drops it and puts the worktree back.
    assert.deepEqual(about(await a.call("POST", "/v1/reconcile")), [
      ["stale-registration", "pruned"],
      ["missing-worktree", "recreated"],
    ]);
    assert.ok(existsSync(session.body.worktreePath));

    const closed = await a.call("DELETE", `/v1/sessions/${session.body.id}?deleteBranch=true`);
    assert.equal(closed.status, 200, JSON.stringify(closed.body));
    assert.equal(closed.body.worktreeRemoved, true);
    assert.equal(existsSync(session.body.worktreePath), false);
  },
);

// Polls `read` until `done` holds for its answer; fails with the last answer after `timeoutMs`.
async function eventually(read: () => Promise<Answer>, done: (answer: Answer) => boolean, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await read();
    if (done(answer)) return answer;
    if (Date.now() > deadline) assert.fail(`still ${answer.status} ${JSON.stringify(answer.body)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

test("servers: a secret replaced or a session deleted through one server is no longer served from another's memory", {
  skip,
}, async () => {
  const db = database!;
  using dir = tempDir("slo-servers-secrets-");
  await using servers = asyncDisposable(await startCluster(db.url, 2, withKey), stopAll);
  const [a, b] = servers;
  const repository = await a.call("POST", "/v1/repositories", { path: dir.path, name: "app" });
  const session = await a.call("POST", "/v1/sessions", {
    repositoryId: repository.body.id,
    title: "Shared",
    isWorktree: false,
  });
  const secretOf = (server: ClusterServer) => server.call("GET", `/v1/sessions/${session.body.id}/secret`);
  const first = await secretOf(a); // now in A's memory layer too
  assert.equal(first.status, 200);
  assert.deepEqual(await secretOf(b), first);

  // B replaces it with one sealed under the shared key: A serves the new one once B's event reached it.
  const next = generateSessionSecret();
  const sealed = await encryptSessionSecret(await importDatabaseKey(decodeBase64(key)), session.body.id, next);
  const put = await b.call("PUT", `/v1/sessions/${session.body.id}/secret`, {
    encryptedSecret: encodeBase64(sealed.encryptedSecret),
    nonce: encodeBase64(sealed.nonce),
  });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  await eventually(() => secretOf(a), (answer) => answer.body.secret === encodeBase64(next));

  // B deletes the session: A no longer has its secret either.
  assert.equal((await b.call("DELETE", `/v1/sessions/${session.body.id}`)).status, 200);
  const gone = await eventually(() => secretOf(a), (answer) => answer.status === 404);
  assert.equal(gone.body.error.kind, "SessionNotFound");
});
