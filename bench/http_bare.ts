// The HTTP benchmark's baseline server, in a process of its own: a bare Hono app on the same runtime,
// the same native listener (`Deno.serve` / `Bun.serve` through src/server/listen.ts), the same SQLite
// driver, file pragmas and schema (the file is opened by `openSqliteStore`, as the server's is), running
// the very statements the server's store runs (`SQL`), with none of the rest: no token, no Host guard,
// no validation, no sealing (random bytes stand for the sealed secret), no events, no lifecycle.
//   <runtime> bench/http_bare.ts <database file>
// Prints `listening on <url>`, and stops on SIGTERM or SIGINT.
import process from "node:process";
import { Hono } from "hono";
import { openSqliteStore } from "../src/platform/sqlite.ts";
import { listen } from "../src/server/listen.ts";
import { SQL } from "../src/store/sqlite_store.ts";
import { listRows, plainSessionRow, SESSION_COLUMN_NAMES } from "./rows.ts";

const store = openSqliteStore(process.argv[2]);
const database = store.database;
const selectRepository = database.prepare(SQL.getRepository);
const insertSession = database.prepare(SQL.insertSession);
const insertSecret = database.prepare(SQL.upsertSecret);
const begin = database.prepare("BEGIN IMMEDIATE");
const commit = database.prepare("COMMIT");
const rollback = database.prepare("ROLLBACK");
const remove = database.prepare(SQL.deleteSession);
const select = database.prepare(SQL.getSession);
// The query the store builds for a first page; a page of 100 asks for 101 rows to know if more follow.
// Read as the store reads list pages: arrays under Deno (node:sqlite), made into objects by column
// index (`rowBuilder`), the driver's own objects under Bun.
const page = listRows(database, `${SQL.listSessions} LIMIT ?`, SESSION_COLUMN_NAMES);

type Row = Record<string, unknown>;

const app = new Hono()
  .post("/v1/sessions", async (c) => {
    const body = await c.req.json();
    const id = crypto.randomUUID();
    const now = new Date().toISOString();
    if (!selectRepository.get(body.repositoryId)) return c.json({ error: "no such repository" }, 404);
    const row = plainSessionRow(id, body.repositoryId, body.title, now);
    // The session and its secret in one transaction, as the server writes them.
    begin.run();
    try {
      insertSession.run(...row);
      insertSecret.run(
        id,
        crypto.getRandomValues(new Uint8Array(48)),
        crypto.getRandomValues(new Uint8Array(12)),
        now,
        now,
      );
      commit.run();
    } catch (error) {
      rollback.run();
      throw error;
    }
    return c.json(Object.fromEntries(SESSION_COLUMN_NAMES.map((name, i) => [name, row[i]])), 201);
  })
  .delete("/v1/sessions/:id", (c) => {
    const row = remove.all(c.req.param("id"))[0];
    return row ? c.json(row as Row, 200) : c.json({ error: "no such session" }, 404);
  })
  .get("/v1/sessions/:id", (c) => {
    const row = select.get(c.req.param("id"));
    return row ? c.json(row as Row, 200) : c.json({ error: "no such session" }, 404);
  })
  .get("/v1/sessions", (c) => {
    const limit = Number(c.req.query("limit") ?? 100);
    const rows = page(limit + 1);
    const last = rows.length > limit ? rows[limit - 1] : null;
    return c.json({
      sessions: rows.slice(0, limit),
      nextCursor: last === null ? null : `${last.created_at} ${last.id}`,
    }, 200);
  });

const listener = await listen(app.fetch, { hostname: "127.0.0.1", port: 0 });
console.log(`listening on ${listener.url}`);
const stop = async () => {
  await listener.shutdown();
  store.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
