// The HTTP benchmark's load generator, in a process of its own so that it measures a server from the
// outside, as a real client does. It keeps `concurrency` keep-alive HTTP/1.1 connections (plain
// `node:net` sockets and a minimal parser, far lighter than `fetch`, so the servers get most of the CPU)
// and runs one load at a time, each asked for as one JSON line on stdin and answered as one on stdout:
//   { "url", "token"?, "scenario": "create-delete" | "get" | "list", "requests", "concurrency",
//     "repositoryId", "ids" }
//   → { "seconds", "requests", "latenciesMs": [...] }   or   { "error": "..." }
// Runs under Deno and Bun alike.
import { Buffer } from "node:buffer";
import { connect, type Socket } from "node:net";
import process from "node:process";
import { createInterface } from "node:readline";

/** One load run asked of the client. */
export interface LoadRequest {
  url: string;
  token?: string;
  scenario: "create-delete" | "get" | "list";
  /** Requests in all (a create + delete pair counts two). */
  requests: number;
  concurrency: number;
  repositoryId: string;
  /** Sessions to GET, in turn. */
  ids: string[];
}

/** What one load run measured. */
export interface LoadResult {
  seconds: number;
  requests: number;
  latenciesMs: number[];
}

interface Answer {
  status: number;
  body: string;
}

const HEADER_END = Buffer.from("\r\n\r\n");
const CRLF = Buffer.from("\r\n");

// One keep-alive connection; one request at a time on it.
class Connection {
  #socket: Socket;
  #buffer: Buffer = Buffer.alloc(0);
  #waiting: { resolve(answer: Answer): void; reject(error: Error): void } | null = null;
  #failure: Error | null = null;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => {
      this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
      this.#parse();
    });
    const fail = (error: Error) => {
      this.#failure ??= error;
      this.#waiting?.reject(error);
      this.#waiting = null;
    };
    socket.on("error", fail);
    socket.on("close", () => fail(new Error("connection closed")));
  }

  static open(host: string, port: number): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port }, () => {
        socket.off("error", reject);
        resolve(new Connection(socket));
      });
      socket.once("error", reject);
    });
  }

  request(head: string, body: string | null): Promise<Answer> {
    if (this.#failure !== null) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
      this.#socket.write(body === null ? head : head + body);
    });
  }

  close(): void {
    this.#socket.destroy();
  }

  // Completes the waiting request once its whole answer is in (Content-Length or chunked).
  #parse(): void {
    const buffer = this.#buffer;
    const headerEnd = buffer.indexOf(HEADER_END);
    if (headerEnd < 0 || this.#waiting === null) return;
    const head = buffer.toString("latin1", 0, headerEnd);
    const status = Number(head.slice(9, 12));
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    let body: string;
    let end: number;
    if (length !== null) {
      end = headerEnd + 4 + Number(length[1]);
      if (buffer.length < end) return;
      body = buffer.toString("utf8", headerEnd + 4, end);
    } else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
      const parts: Buffer[] = [];
      let at = headerEnd + 4;
      for (;;) {
        const lineEnd = buffer.indexOf(CRLF, at);
        if (lineEnd < 0) return;
        const size = parseInt(buffer.toString("latin1", at, lineEnd), 16);
        if (buffer.length < lineEnd + 2 + size + 2) return;
        if (size === 0) {
          end = lineEnd + 4;
          break;
        }
        parts.push(buffer.subarray(lineEnd + 2, lineEnd + 2 + size));
        at = lineEnd + 2 + size + 2;
      }
      body = Buffer.concat(parts).toString("utf8");
    } else {
      end = headerEnd + 4;
      body = "";
    }
    this.#buffer = buffer.subarray(end);
    const waiting = this.#waiting;
    this.#waiting = null;
    waiting.resolve({ status, body });
  }
}

const pools = new Map<string, Connection[]>();

/** Closes every connection the client keeps. */
export function closeConnections(): void {
  for (const connections of pools.values()) for (const connection of connections) connection.close();
  pools.clear();
}

/** Runs one load and measures it. */
export async function runLoad(load: LoadRequest): Promise<LoadResult> {
  const url = new URL(load.url);
  const host = `${url.hostname}:${url.port}`;
  const auth = load.token === undefined ? "" : `Authorization: Bearer ${load.token}\r\n`;
  const headers = `Host: ${host}\r\n${auth}Connection: keep-alive\r\n`;
  // The connections stay open from one load to the next, as a long-running client's would.
  const key = `${host} ${load.concurrency}`;
  let connections = pools.get(key);
  if (connections === undefined) {
    connections = await Promise.all(
      Array.from({ length: load.concurrency }, () => Connection.open(url.hostname, Number(url.port))),
    );
    pools.set(key, connections);
  }
  const latencies: number[] = [];
  const timed = async (connection: Connection, method: string, path: string, body: string | null, ok: number) => {
    const head = body === null
      ? `${method} ${path} HTTP/1.1\r\n${headers}\r\n`
      : `${method} ${path} HTTP/1.1\r\n${headers}Content-Type: application/json\r\nContent-Length: ${
        Buffer.byteLength(body)
      }\r\n\r\n`;
    const start = performance.now();
    const answer = await connection.request(head, body);
    latencies.push(performance.now() - start);
    if (answer.status !== ok) throw new Error(`${method} ${path}: ${answer.status} ${answer.body.slice(0, 300)}`);
    return answer.body;
  };
  const createBody = JSON.stringify({ repositoryId: load.repositoryId, title: "Bench session", isWorktree: false });
  let next = 0;
  const worker = async (connection: Connection) => {
    if (load.scenario === "create-delete") {
      while ((next += 2) <= load.requests) {
        const created = JSON.parse(await timed(connection, "POST", "/v1/sessions", createBody, 201));
        await timed(connection, "DELETE", `/v1/sessions/${created.id}`, null, 200);
      }
    } else if (load.scenario === "get") {
      for (let i = next++; i < load.requests; i = next++) {
        await timed(connection, "GET", `/v1/sessions/${load.ids[i % load.ids.length]}`, null, 200);
      }
    } else {
      for (let i = next++; i < load.requests; i = next++) {
        const page = JSON.parse(await timed(connection, "GET", "/v1/sessions?limit=100", null, 200));
        if (page.sessions.length !== 100) throw new Error(`a page of ${page.sessions.length} sessions`);
      }
    }
  };
  const start = performance.now();
  try {
    await Promise.all(connections.map(worker));
  } catch (error) {
    for (const connection of connections) connection.close();
    pools.delete(key);
    throw error;
  }
  return { seconds: (performance.now() - start) / 1000, requests: latencies.length, latenciesMs: latencies };
}

if (import.meta.main) {
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    if (line.trim() === "") continue;
    let answer: LoadResult | { error: string };
    try {
      answer = await runLoad(JSON.parse(line));
    } catch (error) {
      answer = { error: error instanceof Error ? error.message : String(error) };
    }
    process.stdout.write(JSON.stringify(answer) + "\n");
  }
  closeConnections();
}
