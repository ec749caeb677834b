// HTTP benchmark (issue 5): a load run through the real server (token check, Host guard, zod
// validation, createSession + secret provisioning, deleteSession + forget, SQLite WAL file)
// against a bare Hono route on the same runtime and server executing the same raw SQLite
// statements the server's create and delete run (repository select, session insert, secret
// insert; DELETE … RETURNING, whose cascade takes the secret). What the ratio measures is thus
// everything but storage: auth, Host guard, validation, the WebCrypto seal, events, JSON. Loopback only, keep-alive, 32 requests in flight, a bounded number of create+delete
// pairs per round; rounds alternate so machine noise hits both alike.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { Hono } from "hono";
import { SqliteStore } from "../mod.ts";
import { listen } from "../src/server/listen.ts";
import { startServer } from "../src/server/serve.ts";
import { SQL } from "../src/store/sqlite_store.ts";
import type { Comparison } from "./harness.ts";
import { plainSessionRow } from "./rows.ts";

const CONCURRENCY = 32;
const PAIRS = 1500;
const ROUNDS = 5;

/** One load run's figures. */
export interface LoadFigures {
  name: string;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

interface Target {
  url: string;
  headers: Record<string, string>;
  createPath: string;
  body: string;
  deletePath: (id: string) => string;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

// Each worker creates then deletes, one request at a time; CONCURRENCY workers run at once.
async function load(target: Target, pairs: number): Promise<{ seconds: number; latencies: number[] }> {
  const latencies: number[] = [];
  let remaining = pairs;
  const timed = async (input: string, init: RequestInit) => {
    const start = performance.now();
    const response = await fetch(input, init);
    const body = await response.json();
    latencies.push(performance.now() - start);
    if (!response.ok) throw new Error(`${init.method} ${input}: ${response.status} ${JSON.stringify(body)}`);
    return body;
  };
  const worker = async () => {
    while (remaining-- > 0) {
      const created = await timed(`${target.url}${target.createPath}`, {
        method: "POST",
        headers: target.headers,
        body: target.body,
      });
      await timed(`${target.url}${target.deletePath(created.id)}`, { method: "DELETE", headers: target.headers });
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return { seconds: (performance.now() - start) / 1000, latencies };
}

/** Runs the HTTP comparison and returns it with each side's requests per second, p50 and p99. */
export async function benchHttp(): Promise<{ comparison: Comparison; figures: LoadFigures[] }> {
  const dir = mkdtempSync(join(tmpdir(), "slo-bench-http-"));
  try {
    const server = await startServer({ dataDir: join(dir, "server"), port: 0, keychain: null, env: {} });
    const repository = await server.parts.store.createRepository({ path: "/bench/app", name: "app" });

    // The baseline: the same runtime, server adapter and framework, and the raw statements.
    const database = new DatabaseSync(join(dir, "baseline.db"));
    const raw = new SqliteStore(database); // only to migrate the schema and set the same pragmas
    await raw.createRepository({ id: repository.id, path: "/bench/app", name: "app" });
    const selectRepository = database.prepare(SQL.getRepository);
    const insert = database.prepare(SQL.insertSession);
    const insertSecret = database.prepare(SQL.upsertSecret);
    const remove = database.prepare(SQL.deleteSession);
    const bare = new Hono()
      .post("/s", async (c) => {
        const body = await c.req.json();
        const id = crypto.randomUUID();
        const now = new Date().toISOString();
        if (!selectRepository.get(body.repositoryId)) return c.json({ error: "missing" }, 404);
        insert.run(...plainSessionRow(id, body.repositoryId, body.title, now));
        // The row the server writes for the session's sealed secret (48 bytes of ciphertext, a 12-byte nonce).
        insertSecret.run(
          id,
          crypto.getRandomValues(new Uint8Array(48)),
          crypto.getRandomValues(new Uint8Array(12)),
          now,
          now,
        );
        return c.json({ id }, 201);
      })
      .delete("/s/:id", (c) => {
        const row = remove.get(c.req.param("id"));
        return row ? c.json(row, 200) : c.json({ error: "missing" }, 404);
      });
    const baselineListener = await listen(bare.fetch, { hostname: "127.0.0.1", port: 0 });

    const body = JSON.stringify({ repositoryId: repository.id, title: "Bench session", isWorktree: false });
    const subject: Target = {
      url: server.url,
      headers: { authorization: `Bearer ${server.token}`, "content-type": "application/json" },
      createPath: "/v1/sessions",
      body,
      deletePath: (id) => `/v1/sessions/${id}`,
    };
    const baseline: Target = {
      url: baselineListener.url,
      headers: { "content-type": "application/json" },
      createPath: "/s",
      body,
      deletePath: (id) => `/s/${id}`,
    };

    await load(baseline, PAIRS / 5);
    await load(subject, PAIRS / 5);
    type Run = { seconds: number; latencies: number[] };
    const runs: { baseline: Run[]; subject: Run[] } = { baseline: [], subject: [] };
    for (let round = 0; round < ROUNDS; round++) {
      runs.baseline.push(await load(baseline, PAIRS));
      runs.subject.push(await load(subject, PAIRS));
    }
    await baselineListener.shutdown();
    await server.stop();
    database.close();

    const summarize = (name: string, list: { seconds: number; latencies: number[] }[]) => {
      const median = [...list].sort((a, b) => a.seconds - b.seconds)[Math.floor(list.length / 2)];
      const sorted = list.flatMap((run) => run.latencies).sort((a, b) => a - b);
      return {
        figures: {
          name,
          requestsPerSecond: (PAIRS * 2) / median.seconds,
          p50Ms: percentile(sorted, 0.5),
          p99Ms: percentile(sorted, 0.99),
        },
        nsPerRequest: (median.seconds * 1e9) / (PAIRS * 2),
      };
    };
    const b = summarize("bare Hono route, the same raw SQLite statements", runs.baseline);
    const s = summarize("server: POST /v1/sessions + DELETE /v1/sessions/{id}", runs.subject);
    return {
      comparison: {
        name: `HTTP create+delete, ${CONCURRENCY} keep-alive connections (server vs bare Hono + raw SQLite)`,
        baselineNsPerOp: b.nsPerRequest,
        subjectNsPerOp: s.nsPerRequest,
        ratio: b.nsPerRequest / s.nsPerRequest,
        target: 0.5,
      },
      figures: [b.figures, s.figures],
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Prints load figures as a table. */
export function reportLoad(figures: LoadFigures[]): void {
  console.log("| load run | requests/s | p50 ms | p99 ms |");
  console.log("| --- | ---: | ---: | ---: |");
  for (const f of figures) {
    console.log(`| ${f.name} | ${f.requestsPerSecond.toFixed(0)} | ${f.p50Ms.toFixed(2)} | ${f.p99Ms.toFixed(2)} |`);
  }
}

if (import.meta.main) {
  const { report } = await import("./harness.ts");
  const { comparison, figures } = await benchHttp();
  report([comparison]);
  reportLoad(figures);
}
