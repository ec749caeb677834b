// HTTP benchmark: the real server, started as `deno task serve` starts it (src/server/main.ts, worktree
// lifecycle on, SQLite in its data directory, `--port 0 --data-dir <tmp>`), in a process of its own,
// against a bare Hono app on the same runtime running the same SQL on the same driver and pragmas
// (bench/http_bare.ts), also in its own process. A third process (bench/http_client.ts) loads them
// over 32 keep-alive connections: create + delete, get, and a page of the list (`?limit=100`), each
// side in turn, rounds alternating so machine noise hits both alike. Both files hold the same number
// of sessions. The ratio is thus the cost of everything but storage and the framework: the token,
// the Host guard, zod validation, the WebCrypto seal, the lifecycle's checks, events, the full JSON.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { createInterface, type Interface } from "node:readline";
import { openSqliteStore } from "../src/platform/sqlite.ts";
import { DATABASE_FILE_NAME } from "../src/server/serve.ts";
import type { Comparison } from "./harness.ts";
import type { LoadRequest, LoadResult } from "./http_client.ts";
import { prefillSessions } from "./prefill.ts";

const CONCURRENCY = 32;
const ROUNDS = 5;
/** Sessions in each side's file before the load. */
const SESSIONS = 1000;

const root = new URL("..", import.meta.url).pathname;
const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";

/** One load run's figures. */
export interface LoadFigures {
  name: string;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
}

interface Scenario {
  scenario: LoadRequest["scenario"];
  name: string;
  requests: number;
  target: number;
}

const SCENARIOS: Scenario[] = [
  { scenario: "create-delete", name: "create + delete (POST, DELETE /v1/sessions)", requests: 3000, target: 0.8 },
  { scenario: "get", name: "get (GET /v1/sessions/{id})", requests: 6000, target: 0.7 },
  { scenario: "list", name: "list, a page of 100 (GET /v1/sessions?limit=100)", requests: 1500, target: 0.5 },
];

/** The argv that runs `script` in this runtime, as `deno task serve` / `bun src/server/main.ts` do. */
function runtimeArgv(script: string, args: string[]): [string, string[]] {
  return isBun ? [process.execPath, [script, ...args]] : [process.execPath, ["run", "-A", script, ...args]];
}

function start(script: string, args: string[]): { child: ChildProcess; lines: Interface; output: string[] } {
  const [command, argv] = runtimeArgv(join(root, script), args);
  const child = spawn(command, argv, { cwd: root, stdio: ["pipe", "pipe", "pipe"], env: process.env });
  const output: string[] = [];
  const lines = createInterface({ input: child.stdout! });
  child.stderr!.on("data", (chunk) => output.push(String(chunk)));
  return { child, lines, output };
}

// Resolves with the first stdout line matching `pattern`; rejects if the process ends first.
function waitForLine(
  process: { child: ChildProcess; lines: Interface; output: string[] },
  pattern: RegExp,
): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const onLine = (line: string) => {
      process.output.push(line);
      const match = pattern.exec(line);
      if (match !== null) {
        process.lines.off("line", onLine);
        process.child.off("exit", onExit);
        resolve(match);
      }
    };
    const onExit = (code: number | null) =>
      reject(new Error(`exited with ${code} before printing ${pattern}:\n${process.output.join("\n")}`));
    process.lines.on("line", onLine);
    process.child.once("exit", onExit);
  });
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

// The client process: one load at a time, asked on its stdin, answered on its stdout.
function startClient(): { run(load: LoadRequest): Promise<LoadResult>; close(): Promise<void> } {
  const client = start("bench/http_client.ts", []);
  const answers: ((line: string) => void)[] = [];
  client.lines.on("line", (line) => answers.shift()?.(line));
  return {
    run: (load) =>
      new Promise((resolve, reject) => {
        answers.push((line) => {
          const answer = JSON.parse(line);
          if (answer.error !== undefined) reject(new Error(`load ${load.scenario} on ${load.url}: ${answer.error}`));
          else resolve(answer);
        });
        client.child.stdin!.write(JSON.stringify(load) + "\n");
      }),
    close: () => {
      client.child.stdin!.end();
      return new Promise((resolve) => {
        if (client.child.exitCode !== null) resolve();
        else client.child.once("exit", () => resolve());
      });
    },
  };
}

// A file with one repository and SESSIONS sessions in it; its repository and session ids.
function seed(path: string): { repositoryId: string; ids: string[] } {
  const store = openSqliteStore(path);
  try {
    const { repositoryIds } = prefillSessions(store.database, { sessions: SESSIONS, repositories: 1 });
    const ids = (store.database.prepare("SELECT id FROM sessions").all() as { id: string }[]).map((row) => row.id);
    return { repositoryId: repositoryIds[0], ids };
  } finally {
    store.close();
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

function median(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
}

/** Runs the HTTP comparisons (of `scenarios`, all by default) and returns them with each side's requests per second, p50 and p99. */
export async function benchHttp(
  scenarios: readonly LoadRequest["scenario"][] = SCENARIOS.map((s) => s.scenario),
): Promise<{ comparisons: Comparison[]; figures: LoadFigures[]; notes: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), "slo-bench-http-"));
  const children: ChildProcess[] = [];
  try {
    const dataDir = join(dir, "server");
    mkdirSync(dataDir, { mode: 0o700 });
    const subjectData = seed(join(dataDir, DATABASE_FILE_NAME));
    const baselineData = seed(join(dir, "bare.db"));

    // SLO_BENCH_SERVER_ARGS: more of the server's flags (say `--max-connections 1000`), for a one-off measurement.
    const extraArgs = (process.env.SLO_BENCH_SERVER_ARGS ?? "").split(" ").filter(Boolean);
    const server = start("src/server/main.ts", ["--port", "0", "--data-dir", dataDir, ...extraArgs]);
    children.push(server.child);
    const bare = start("bench/http_bare.ts", [join(dir, "bare.db")]);
    children.push(bare.child);
    const [[, subjectUrl], [, baselineUrl]] = await Promise.all([
      waitForLine(server, /listening on (\S+)/),
      waitForLine(bare, /listening on (\S+)/),
    ]);
    const notes = server.output.filter((line) => line.startsWith("database:"));
    const token = readFileSync(join(dataDir, "token"), "utf8").trim();

    const client = startClient();
    const comparisons: Comparison[] = [];
    const figures: LoadFigures[] = [];
    try {
      for (const { scenario, name, requests, target } of SCENARIOS.filter((s) => scenarios.includes(s.scenario))) {
        const load = (side: "baseline" | "subject", count: number): Promise<LoadResult> =>
          client.run({
            url: side === "subject" ? subjectUrl : baselineUrl,
            token: side === "subject" ? token : undefined,
            scenario,
            requests: count,
            concurrency: CONCURRENCY,
            repositoryId: side === "subject" ? subjectData.repositoryId : baselineData.repositoryId,
            ids: side === "subject" ? subjectData.ids : baselineData.ids,
          });
        await load("baseline", requests / 3);
        await load("subject", requests / 3);
        const runs: { baseline: LoadResult[]; subject: LoadResult[] } = { baseline: [], subject: [] };
        for (let round = 0; round < ROUNDS; round++) {
          runs.baseline.push(await load("baseline", requests));
          runs.subject.push(await load("subject", requests));
        }
        const summarize = (side: string, list: LoadResult[]) => {
          const nsPerRequest = median(list.map((run) => (run.seconds * 1e9) / run.requests));
          const sorted = list.flatMap((run) => run.latenciesMs).sort((a, b) => a - b);
          figures.push({
            name: `${name}: ${side}`,
            requestsPerSecond: 1e9 / nsPerRequest,
            p50Ms: percentile(sorted, 0.5),
            p99Ms: percentile(sorted, 0.99),
          });
          return nsPerRequest;
        };
        const baselineNs = summarize("bare Hono + the same SQL", runs.baseline);
        const subjectNs = summarize("server (src/server/main.ts)", runs.subject);
        comparisons.push({
          name: `HTTP ${name}, ${CONCURRENCY} keep-alive connections, external client: server vs bare Hono`,
          baselineNsPerOp: baselineNs,
          subjectNsPerOp: subjectNs,
          ratio: baselineNs / subjectNs,
          target,
        });
      }
    } finally {
      await client.close();
    }
    return { comparisons, figures, notes };
  } finally {
    await Promise.all(children.map(stop));
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
  // `<runtime> bench/http.bench.ts [create-delete|get|list ...]`: those rows only.
  const picked = process.argv.slice(2) as LoadRequest["scenario"][];
  const { comparisons, figures, notes } = await benchHttp(picked.length > 0 ? picked : undefined);
  report(comparisons);
  reportLoad(figures);
  for (const note of notes) console.log(note);
}
