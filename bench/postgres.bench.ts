// Postgres benchmarks (issue 14), run on their own: `deno run -A bench/postgres.bench.ts` (or
// `bun bench/postgres.bench.ts`), with TEST_DATABASE_URL or DATABASE_URL naming a server on which
// the role may create a database (one is made for the run and dropped after). Without either, it
// says so and exits 0.
//
// 1. A session's create (with its sealed secret) + delete through PostgresStore against raw
//    postgres.js (same pool size, prepared statements), at 1 and at 32 in flight, with and without
//    the event log. The raw side is always the plain insert and delete the store sends without a
//    log: the rows "with the event log" price the log (its insert, and the numbering of committed
//    events with its NOTIFY, which the store runs in the background) against what the same work
//    costs without one. Target: ratio ≥ 0.5.
//    `--check`: exit 1 when a row misses its target (bench/check.ts); `--no-servers`: part 1 only.
// 2. Throughput of 1, 2 and 4 real server processes on one database: POST + DELETE /v1/sessions
//    pairs, 32 in flight spread over the servers. A table, no target (on 2 cores the servers and
//    the load generator share the same cores).
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import postgres from "postgres";
import { encodeBase64, generateDatabaseKeyBytes, type NewSession } from "../mod.ts";
import { openPostgresStore, type PostgresStore } from "../src/postgres/mod.ts";
import { changeStatement, SESSION_COLUMNS, SQL } from "../src/postgres/postgres_store.ts";
import { checkLines, exitCode, judge, type RowFigures, tableLines } from "./check.ts";
import { plainSessionValues } from "./rows.ts";

const root = new URL("..", import.meta.url).pathname;
const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";
const runtime = isBun
  ? `Bun ${(globalThis as unknown as { Bun: { version: string } }).Bun.version}`
  : `Deno ${(globalThis as unknown as { Deno: { version: { deno: string } } }).Deno.version.deno}`;

/** One comparison's figures and its target (bench/check.ts). */
export type PostgresComparison = RowFigures;

/** One server count's figures. */
export interface ServerFigures {
  servers: number;
  pairsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

type Operation = (index: number) => Promise<unknown>;

// `ops` operations with `concurrency` in flight; the time per operation, in ns.
async function timeRound(operation: Operation, ops: number, concurrency: number, offset: number): Promise<number> {
  let next = 0;
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < ops) await operation(offset + next++);
  }));
  return ((performance.now() - start) * 1e6) / ops;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

// Alternating rounds after one warm-up round each, so machine noise hits both alike.
async function compare(
  name: string,
  baseline: Operation,
  subject: Operation,
  options: { ops: number; concurrency: number; rounds: number; target: number },
): Promise<PostgresComparison> {
  const { ops, concurrency, rounds, target } = options;
  let offset = 0;
  const round = async (operation: Operation) => {
    const ns = await timeRound(operation, ops, concurrency, offset);
    offset += ops;
    return ns;
  };
  await round(baseline);
  await round(subject);
  const baselineTimes: number[] = [];
  const subjectTimes: number[] = [];
  for (let i = 0; i < rounds; i++) {
    baselineTimes.push(await round(baseline));
    subjectTimes.push(await round(subject));
  }
  const baselineNsPerOp = median(baselineTimes);
  const subjectNsPerOp = median(subjectTimes);
  return { name, baselineNsPerOp, subjectNsPerOp, ratio: baselineNsPerOp / subjectNsPerOp, target };
}

function withDatabase(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

/** Part 1: the store against raw postgres.js on the same statements. */
export async function benchStore(url: string): Promise<PostgresComparison[]> {
  const results: PostgresComparison[] = [];
  for (const logged of [false, true]) {
    const schema = `bench_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
    const store: PostgresStore = await openPostgresStore(url, { schema, maxConnections: 10, eventLog: logged });
    const raw = postgres(url, {
      max: 10,
      onnotice: () => {},
      fetch_types: false,
      connection: { search_path: schema },
    });
    try {
      const repository = await store.createRepository({ path: `/bench/${schema}`, name: "app" });
      // A sealed secret of the right shape: both sides store the same bytes; sealing is not measured.
      const sealed = { encryptedSecret: new Uint8Array(48).fill(7), nonce: new Uint8Array(12).fill(1) };
      // The raw side, logged or not: the very statements the store sends for a create with its secret
      // and for a delete when it has no event log. (It used to run the log's statements too when the
      // store had a log, so both sides waited on the same counter row and the log's cost cancelled out.)
      const createSql = changeStatement(SQL.insertSessionCte + SQL.insertSecretOfSessionCte, null, null);
      const deleteSql = changeStatement(SQL.deleteSessionCte, SESSION_COLUMNS, null);
      const rawPair = async () => {
        const id = crypto.randomUUID();
        const now = new Date().toISOString();
        const row = plainSessionValues(id, repository.id, "Bench session", now, "boolean");
        await raw.unsafe(createSql, [...row, sealed.encryptedSecret, sealed.nonce] as never[], { prepare: true });
        const [deleted] = await raw.unsafe(deleteSql, [id] as never[], { prepare: true });
        if (deleted === undefined) throw new Error("the raw delete found nothing");
      };
      const options = logged ? { logEvent: true } : undefined;
      const storePair = async () => {
        const input: NewSession = {
          id: crypto.randomUUID(),
          repositoryId: repository.id,
          title: "Bench session",
          isWorktree: false,
        };
        const session = await store.createSession(input, sealed, options);
        if ((await store.deleteSession(session.id, options)) === null) throw new Error("the delete found nothing");
      };
      for (const concurrency of [1, 32]) {
        results.push(
          await compare(
            `create + delete${
              logged ? " with the event log" : ""
            }, ${concurrency} in flight: PostgresStore vs raw postgres.js${logged ? " (no log)" : ""}`,
            rawPair,
            storePair,
            { ops: concurrency === 1 ? 300 : 1500, concurrency, rounds: 5, target: 0.5 },
          ),
        );
      }
    } finally {
      await store.close();
      await raw.unsafe(`DROP SCHEMA ${schema} CASCADE`).catch(() => {});
      await raw.end({ timeout: 1 });
    }
  }
  return results;
}

interface RunningServer {
  url: string;
  token: string;
  stop(): Promise<void>;
}

// A real server process on `url` (the entry, in this runtime), in a data directory of its own.
async function startServerProcess(url: string, key: string): Promise<RunningServer> {
  const dataDir = mkdtempSync(join(tmpdir(), "slo-bench-pg-"));
  const command = isBun
    ? [process.execPath, join(root, "src/server/main.ts")]
    : [process.execPath, "run", "-A", join(root, "src/server/main.ts")];
  const child = spawn(command[0], [...command.slice(1), "--port", "0", "--data-dir", dataDir, "--database", url], {
    cwd: root,
    env: { ...process.env, SESSION_LIFECYCLE_DATABASE_KEY: key, DBUS_SESSION_BUS_ADDRESS: "", DATABASE_URL: "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stderr!.on("data", (chunk) => (output += chunk));
  const listening = await new Promise<string>((resolve, reject) => {
    child.stdout!.on("data", (chunk) => {
      output += chunk;
      const match = /listening on (\S+)/.exec(output);
      if (match) resolve(match[1]);
    });
    child.on("close", () => reject(new Error(`a server exited before listening:\n${output}`)));
  });
  const closed = new Promise((resolve) => child.on("close", resolve));
  return {
    url: listening,
    token: readFileSync(join(dataDir, "token"), "utf8").trim(),
    stop: async () => {
      child.kill("SIGTERM");
      await closed;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

// POST + DELETE pairs for `seconds`, `concurrency` in flight, worker i on server i mod n.
async function serverLoad(
  servers: RunningServer[],
  repositoryId: string,
  seconds: number,
  concurrency: number,
): Promise<{ pairs: number; latencies: number[]; elapsed: number }> {
  const latencies: number[] = [];
  let pairs = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  const body = JSON.stringify({ repositoryId, title: "Bench session", isWorktree: false });
  await Promise.all(Array.from({ length: concurrency }, async (_, worker) => {
    const server = servers[worker % servers.length];
    const headers = { authorization: `Bearer ${server.token}`, "content-type": "application/json" };
    while (performance.now() < end) {
      const began = performance.now();
      const created = await fetch(`${server.url}/v1/sessions`, { method: "POST", headers, body });
      const session = await created.json();
      if (created.status !== 201) throw new Error(`POST answered ${created.status}: ${JSON.stringify(session)}`);
      const deleted = await fetch(`${server.url}/v1/sessions/${session.id}`, { method: "DELETE", headers });
      await deleted.body?.cancel();
      if (deleted.status !== 200) throw new Error(`DELETE answered ${deleted.status}`);
      latencies.push(performance.now() - began);
      pairs++;
    }
  }));
  return { pairs, latencies, elapsed: (performance.now() - start) / 1000 };
}

/** Part 2: 1, 2 and 4 servers on one database. */
export async function benchServers(url: string): Promise<ServerFigures[]> {
  const key = encodeBase64(generateDatabaseKeyBytes());
  const figures: ServerFigures[] = [];
  for (const count of [1, 2, 4]) {
    const servers = await Promise.all(Array.from({ length: count }, () => startServerProcess(url, key)));
    try {
      const headers = { authorization: `Bearer ${servers[0].token}`, "content-type": "application/json" };
      const created = await fetch(`${servers[0].url}/v1/repositories`, {
        method: "POST",
        headers,
        body: JSON.stringify({ path: `/bench/servers-${count}-${crypto.randomUUID()}`, name: "app" }),
      });
      const repository = await created.json();
      await serverLoad(servers, repository.id, 1, 32); // warm-up
      const { pairs, latencies, elapsed } = await serverLoad(servers, repository.id, 4, 32);
      latencies.sort((a, b) => a - b);
      figures.push({
        servers: count,
        pairsPerSecond: pairs / elapsed,
        p50Ms: latencies[Math.floor(latencies.length * 0.5)],
        p99Ms: latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))],
      });
    } finally {
      await Promise.all(servers.map((server) => server.stop()));
    }
  }
  return figures;
}

async function main(): Promise<void> {
  const check = process.argv.includes("--check");
  const serverUrl = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL;
  if (!serverUrl) {
    console.log("postgres bench: skipped (set TEST_DATABASE_URL or DATABASE_URL)");
    return;
  }
  const name = `slo_bench_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {}, fetch_types: false });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  const url = withDatabase(serverUrl, name);
  let met = true;
  try {
    console.log(`runtime: ${runtime}`);
    const comparisons = await benchStore(url);
    const judged = judge(comparisons);
    met = judged.met;
    for (const line of tableLines(judged.rows)) console.log(line);
    if (check) { for (const line of checkLines(judged.rows)) console.log(line); }
    // `--no-servers`: part 1 only (a brief check of its rows).
    const servers = process.argv.includes("--no-servers") ? [] : await benchServers(url);
    if (servers.length > 0) {
      console.log("");
      console.log("| servers on one database | POST + DELETE pairs/s | requests/s | pair p50 ms | pair p99 ms |");
      console.log("| ---: | ---: | ---: | ---: | ---: |");
    }
    for (const f of servers) {
      console.log(
        `| ${f.servers} | ${f.pairsPerSecond.toFixed(0)} | ${(2 * f.pairsPerSecond).toFixed(0)} | ${
          f.p50Ms.toFixed(2)
        } | ${f.p99Ms.toFixed(2)} |`,
      );
    }
  } finally {
    await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
    await admin.end({ timeout: 1 });
  }
  process.exitCode = exitCode({ check, met });
}

if (import.meta.main) await main();
