// PostgresStore beyond the conformance suite, on a real Postgres: migrations applied once by stores
// opening at once, timestamps read back as the core wrote them in any session time zone, keyset
// order and index use, lost connections, refusals at open, and the database key check.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { SessionError } from "../../mod.ts";
import { openPostgresStore, POSTGRES_SCHEMA_VERSION } from "../../src/postgres/mod.ts";
import { pageQuery } from "../../src/postgres/postgres_store.ts";
import {
  closeStores,
  openSchemaStore,
  openTestStore,
  skipPostgres,
  testDatabase,
  withDatabase,
} from "../fixtures/postgres_fixture.ts";
import { asyncDeferred, asyncDisposable, repositoryInput } from "../fixtures/helpers.ts";

const database = await testDatabase();
const skip = skipPostgres;

const isKind = (kind: string) => (error: unknown) => error instanceof SessionError && error.kind === kind;

function sessionInput(repositoryId: string, title = "A session") {
  return { id: crypto.randomUUID(), repositoryId, title, isWorktree: false };
}

function schemaName(): string {
  return `t_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
}

test("postgres: stores opening a fresh database at once apply each migration exactly once", { skip }, async () => {
  const db = database!;
  for (let round = 0; round < 3; round++) {
    const schema = round === 0 ? "public" : schemaName();
    {
      await using stores = asyncDisposable(
        await Promise.all(Array.from({ length: 8 }, () => openPostgresStore(db.url, { schema }))),
        closeStores,
      );
      const applied = await db.admin.unsafe(`SELECT version FROM ${schema}.schema_migrations ORDER BY version`);
      assert.deepEqual(
        applied.map((row) => row.version),
        Array.from({ length: POSTGRES_SCHEMA_VERSION }, (_, i) => i + 1),
      );
      // Every store works on the one schema.
      const repository = await stores[0].createRepository(repositoryInput());
      for (const store of stores) assert.deepEqual(await store.getRepository(repository.id), repository);
    }
    // Opening again finds nothing to apply.
    const again = await openPostgresStore(db.url, { schema });
    await again.close();
    const [{ count }] = await db.admin.unsafe(`SELECT count(*)::int AS count FROM ${schema}.schema_migrations`);
    assert.equal(count, POSTGRES_SCHEMA_VERSION);
  }
});

test("postgres: a schema newer than this code is refused at open with Storage", { skip }, async () => {
  const db = database!;
  const schema = schemaName();
  await (await openPostgresStore(db.url, { schema })).close();
  await db.admin.unsafe(`INSERT INTO ${schema}.schema_migrations (version) VALUES (${POSTGRES_SCHEMA_VERSION + 1})`);
  await assert.rejects(openPostgresStore(db.url, { schema }), (error: unknown) => {
    assert.ok(isKind("Storage")(error));
    assert.match((error as Error).message, /newer than this library/);
    return true;
  });
});

test("postgres: the tables use uuid and timestamptz, with an index per list order", { skip }, async () => {
  const db = database!;
  const schema = schemaName();
  await (await openPostgresStore(db.url, { schema })).close();
  const columns = await db.admin.unsafe(
    `SELECT table_name, column_name, data_type FROM information_schema.columns
     WHERE table_schema = $1 AND (column_name LIKE '%id' OR column_name LIKE '%_at')`,
    [schema],
  );
  for (const { table_name, column_name, data_type } of columns) {
    if (column_name.endsWith("_at")) {
      assert.equal(data_type, "timestamp with time zone", `${table_name}.${column_name}`);
    } else if (
      ["repositories", "sessions", "session_secrets"].includes(table_name) &&
      !["issue_id", "host_id"].includes(column_name)
    ) {
      assert.equal(data_type, "uuid", `${table_name}.${column_name}`);
    }
  }
  const indexes = (await db.admin.unsafe(`SELECT indexname FROM pg_indexes WHERE schemaname = $1`, [schema]))
    .map((row) => row.indexname);
  for (
    const name of [
      "repositories_by_created",
      "sessions_by_created",
      "sessions_by_repository_created",
      "sessions_by_status_created",
    ]
  ) assert.ok(indexes.includes(name), name);
});

test(
  "postgres: records carry the very timestamps the core made, whatever the session time zone",
  { skip },
  async () => {
    const db = database!;
    // A time zone 5:45 ahead of UTC: any reading that leaks the session zone shows.
    await db.admin.unsafe(`ALTER DATABASE ${db.name} SET timezone = 'Asia/Kathmandu'`);
    await using _timezone = asyncDeferred(() => db.admin.unsafe(`ALTER DATABASE ${db.name} RESET timezone`));
    await using store = await openSchemaStore(db);
    const repository = await store.createRepository(repositoryInput());
    assert.match(repository.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.deepEqual(await store.getRepository(repository.id), repository);
    const session = await store.createSession(sessionInput(repository.id));
    assert.deepEqual(await store.getSession(session.id), session);
    // A whole second (".000") keeps its milliseconds; the session zone changes nothing.
    const updated = await store.updateSession(session.id, { lastAccessedAt: "2026-11-25T09:16:21Z" });
    assert.equal(updated?.lastAccessedAt, "2026-11-25T09:16:21.000Z");
    assert.deepEqual(await store.getSession(session.id), updated);
    assert.deepEqual((await store.listSessions({ limit: 1 }))[0], updated);
  },
);

test("postgres: keyset pages order by time, then by id within one millisecond", { skip }, async () => {
  const db = database!;
  const schema = schemaName();
  await using store = await openTestStore(db.url, { schema });
  const repository = await store.createRepository(repositoryInput());
  const sessions = [];
  for (let i = 0; i < 12; i++) sessions.push(await store.createSession(sessionInput(repository.id, `s${i}`)));
  // Three share one millisecond, others straddle an hour and a year boundary.
  const times = [
    "2025-12-31T23:59:59.999Z",
    "2026-01-01T00:00:00.000Z",
    "2026-01-01T09:59:59.999Z",
    "2026-01-01T10:00:00.000Z",
  ];
  for (const [i, session] of sessions.entries()) {
    await db.admin.unsafe(`UPDATE ${schema}.sessions SET created_at = $1::timestamptz WHERE id = $2`, [
      times[i % times.length],
      session.id,
    ]);
  }
  const expected = sessions
    .map((session, i) => ({ createdAt: times[i % times.length], id: session.id }))
    .sort((a, b) => a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : 1);
  const all = await store.listSessions();
  assert.deepEqual(all.map(({ createdAt, id }) => ({ createdAt, id })), expected);
  for (const limit of [1, 2, 5]) {
    const seen: string[] = [];
    let after: { createdAt: string; id: string } | undefined;
    for (;;) {
      const page = await store.listSessions(after === undefined ? { limit } : { limit, after });
      seen.push(...page.map((s) => s.id));
      if (page.length < limit) break;
      after = { createdAt: page[page.length - 1].createdAt, id: page[page.length - 1].id };
    }
    assert.deepEqual(seen, expected.map((s) => s.id), `pages of ${limit}`);
  }
});

test("postgres: every page query is answered from an index, without sorting", { skip }, async () => {
  const db = database!;
  const schema = schemaName();
  await using store = await openTestStore(db.url, { schema });
  const repository = await store.createRepository(repositoryInput());
  const [session] = await Promise.all(
    Array.from({ length: 50 }, (_, i) => store.createSession(sessionInput(repository.id, `s${i}`))),
  );
  const after = { createdAt: session.createdAt, id: session.id };
  const cases: ["sessions" | "repositories", [string, string][], string][] = [
    ["sessions", [], "sessions_by_created"],
    ["sessions", [["repository_id", repository.id]], "sessions_by_repository_created"],
    ["sessions", [["status", "active"]], "sessions_by_status_created"],
    ["sessions", [["repository_id", repository.id], ["status", "active"]], "sessions_by_"],
    ["repositories", [], "repositories_by_created"],
  ];
  await db.admin.begin(async (tx) => {
    await tx.unsafe(`SET LOCAL search_path = ${schema}`);
    await tx.unsafe("ANALYZE");
    // With scans and sorts priced out, a plan that still sorts has no index in list order.
    await tx.unsafe("SET LOCAL enable_seqscan = off");
    await tx.unsafe("SET LOCAL enable_sort = off");
    for (const [table, conditions, index] of cases) {
      for (const position of [null, after]) {
        const { text, params } = pageQuery(table, conditions, 10, position);
        const plan = (await tx.unsafe(`EXPLAIN ${text}`, params as never[])).map((row) => row["QUERY PLAN"])
          .join("\n");
        assert.doesNotMatch(plan, /Sort/, plan);
        assert.match(plan, new RegExp(`Index (Only )?Scan using ${index}`), plan);
      }
    }
  });
});

// A TCP proxy in front of the test server, to lose the connection on purpose.
async function proxyTo(target: string): Promise<{ url: string; cut(): Promise<void>; resume(): Promise<void> }> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  let server: Server;
  let listenPort = 0;
  const start = () =>
    new Promise<void>((resolve) => {
      server = createServer((client) => {
        const upstream = createConnection({ host: hostname, port: Number(port || 5432) });
        for (const socket of [client, upstream]) {
          sockets.add(socket);
          socket.on("close", () => sockets.delete(socket));
          socket.on("error", () => {});
        }
        client.pipe(upstream).pipe(client);
        client.on("close", () => upstream.destroy());
        upstream.on("close", () => client.destroy());
      });
      server.listen(listenPort, "127.0.0.1", () => {
        listenPort = (server.address() as { port: number }).port;
        resolve();
      });
    });
  await start();
  const url = new URL(target);
  url.hostname = "127.0.0.1";
  url.port = String(listenPort);
  return {
    url: url.toString(),
    cut: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
    resume: start,
  };
}

test("postgres: a lost connection is Storage with the cause, and the store works again once it is back", {
  skip,
}, async () => {
  const db = database!;
  await using proxy = asyncDisposable(await proxyTo(db.url), (proxy) => proxy.cut());
  const schema = schemaName();
  await using store = await openTestStore(proxy.url, { schema, maxConnections: 2, connectTimeoutSeconds: 2 });
  const repository = await store.createRepository(repositoryInput());
  // A query in flight when the connection goes: it waits on a lock another connection holds.
  await db.admin.begin(async (tx) => {
    await tx.unsafe(`LOCK TABLE ${schema}.repositories IN ACCESS EXCLUSIVE MODE`);
    const blocked = store.listRepositories();
    blocked.catch(() => {});
    // Cut once the query is seen waiting on the lock, not after a guessed delay.
    for (;;) {
      const [{ waiting }] = await tx.unsafe(
        `SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%repositories%'`,
      );
      if (waiting > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await proxy.cut();
    await assert.rejects(blocked, (error: unknown) => {
      assert.ok(isKind("Storage")(error), String(error));
      assert.match((error as Error).message, /^listing repositories failed: /);
      assert.ok((error as Error).cause instanceof Error);
      return true;
    });
  });
  // Nobody listens now: a new connection is refused, still Storage with the driver's error.
  await assert.rejects(store.getRepository(repository.id), (error: unknown) => {
    assert.ok(isKind("Storage")(error), String(error));
    const cause = (error as Error).cause as { code?: string };
    assert.ok(cause instanceof Error);
    assert.match(String(cause.code), /ECONNREFUSED|CONNECTION_CLOSED|CONNECTION_ENDED|CONNECT_TIMEOUT/);
    return true;
  });
  await proxy.resume();
  assert.deepEqual(await store.getRepository(repository.id), repository);
});

test("postgres: an unreachable database, a bad URL or a bad option is refused at open, never naming the password", {
  skip,
}, async () => {
  // A port nobody listens on.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const port = (probe.address() as { port: number }).port;
  await new Promise((resolve) => probe.close(resolve));
  await assert.rejects(
    openPostgresStore(`postgres://someone:hunter2@127.0.0.1:${port}/nowhere`, { connectTimeoutSeconds: 2 }),
    (error: unknown) => {
      assert.ok(isKind("Storage")(error), String(error));
      assert.match((error as Error).message, /^opening the Postgres database postgres:\/\/someone:\*\*\*@127\.0\.0\.1/);
      assert.doesNotMatch((error as Error).message, /hunter2/);
      assert.ok((error as Error).cause instanceof Error);
      return true;
    },
  );
  for (const url of ["not a url", "mysql://127.0.0.1/x", "/var/lib/sessions.db"]) {
    await assert.rejects(openPostgresStore(url), isKind("InvalidInput"), url);
  }
  const url = database!.url;
  for (const schema of ["Upper", "pg_x", "a-b", "1a", ""]) {
    await assert.rejects(openPostgresStore(url, { schema }), isKind("InvalidInput"), schema);
  }
  await assert.rejects(openPostgresStore(url, { maxConnections: 0 }), isKind("InvalidInput"));
  // A database that does not exist on a server that does.
  await assert.rejects(
    openPostgresStore(withDatabase(url, "slo_no_such_database")),
    (error: unknown) => isKind("Storage")(error) && /does not exist/.test((error as Error).message),
  );
});

test("postgres: a value Postgres cannot hold is InvalidInput; a closed store is Storage", { skip }, async () => {
  const store = await openSchemaStore(database!);
  const repository = await store.createRepository(repositoryInput());
  const session = await store.createSession(sessionInput(repository.id));
  // Valid for the core (Date parses it), past the range of timestamptz.
  await assert.rejects(
    store.updateSession(session.id, { lastAccessedAt: "+200000-01-01T00:00:00.000Z" }),
    isKind("InvalidInput"),
  );
  assert.deepEqual(await store.getSession(session.id), session);
  await store.close();
  await store.close();
  await assert.rejects(store.getSession(session.id), isKind("Storage"));
});

test("postgres: the database key check is claimed once; the first value kept wins", { skip }, async () => {
  const schema = schemaName();
  await using stores = asyncDisposable(
    await Promise.all([0, 1, 2, 3].map(() => openPostgresStore(database!.url, { schema }))),
    closeStores,
  );
  const checks = stores.map((store) => store.databaseKeyCheck());
  assert.equal(await checks[0].read(), null);
  assert.match(checks[0].location, /database_key_check/);
  const kept = await Promise.all(checks.map((check, i) => check.claim(`value-${i}`)));
  assert.equal(new Set(kept).size, 1, kept.join());
  for (const check of checks) assert.equal(await check.read(), kept[0]);
  assert.equal(await checks[1].claim("another"), kept[0]);
  // The probe: no secret, then one.
  const probe = stores[0].sealedSecretProbe();
  assert.equal(await probe(), null);
  const repository = await stores[0].createRepository(repositoryInput());
  const session = await stores[0].createSession(sessionInput(repository.id), {
    encryptedSecret: new Uint8Array([1, 2, 3]),
    nonce: new Uint8Array(12).fill(7),
  });
  assert.deepEqual(await probe(), {
    sessionId: session.id,
    encryptedSecret: new Uint8Array([1, 2, 3]),
    nonce: new Uint8Array(12).fill(7),
  });
});

test("postgres: a role that may only read and write the tables opens a migrated schema; creating one needs more", {
  skip,
}, async () => {
  const db = database!;
  const schema = schemaName();
  const role = `slo_app_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  await (await openPostgresStore(db.url, { schema })).close();
  await db.admin.unsafe(`CREATE ROLE ${role} LOGIN`);
  await using _role = asyncDeferred(async () => {
    await db.admin.unsafe(`DROP OWNED BY ${role}`);
    await db.admin.unsafe(`DROP ROLE ${role}`);
  });
  await db.admin.unsafe(`GRANT USAGE ON SCHEMA ${schema} TO ${role}`);
  await db.admin.unsafe(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ${schema} TO ${role}`);
  const url = new URL(db.url);
  url.username = role;
  {
    await using store = await openTestStore(url.toString(), { schema });
    const repository = await store.createRepository(repositoryInput());
    const session = await store.createSession(sessionInput(repository.id));
    assert.deepEqual(await store.getSession(session.id), session);
    assert.deepEqual(await store.deleteSession(session.id), session);
  }
  // A schema it would have to create: refused with the server's reason.
  await assert.rejects(
    openPostgresStore(url.toString(), { schema: schemaName() }),
    (error: unknown) => isKind("Storage")(error) && /permission denied/.test((error as Error).message),
  );
});
