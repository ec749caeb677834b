// Refusals at start, as people meet them: a taken port, a data directory that cannot be one, a bad
// key, a bad flag. Each is one line on stderr naming the cause and the way out, no stack trace, and a
// non-zero exit. Real server processes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { tempDir } from "../fixtures/helpers.ts";
import { asyncDisposable } from "../fixtures/disposable.ts";
import { serveUntilExit } from "../fixtures/server_process.ts";

// The run printed exactly `expected` (a whole line) on stderr, nothing that looks like a stack,
// did not start listening, and exited with `code`.
function assertRefused(
  run: { code: number | null; stdout: string; stderr: string },
  code: number,
  expected: RegExp,
): void {
  const lines = run.stderr.trim().split("\n");
  assert.equal(lines.length, 1, `one line expected:\n${run.stderr}`);
  assert.match(lines[0], expected);
  assert.doesNotMatch(run.stderr + run.stdout, /^\s+at /m);
  assert.doesNotMatch(run.stdout, /listening on/);
  assert.equal(run.code, code, run.stderr);
}

test("server start: a taken port is one clear line and exit 1", async () => {
  using dir = tempDir("slo-port-");
  await using blocker = asyncDisposable(createServer(), (server) => new Promise((resolve) => server.close(resolve)));
  await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
  const port = (blocker.address() as { port: number }).port;
  const run = await serveUntilExit(["--port", String(port), "--data-dir", dir.path]);
  assertRefused(
    run,
    1,
    new RegExp(`^error: port ${port} on 127\\.0\\.0\\.1 is already in use; pass --port or stop the other server$`),
  );
});

test("server start: a data directory that is a file, or under one, is one line and exit 1", async () => {
  using dir = tempDir("slo-datadir-");
  const file = join(dir.path, "not-a-dir");
  writeFileSync(file, "x");
  assertRefused(
    await serveUntilExit(["--port", "0", "--data-dir", file]),
    1,
    /^error: cannot use .*not-a-dir: it exists and is not a directory$/,
  );
  assertRefused(
    await serveUntilExit(["--port", "0", "--data-dir", join(file, "data")]),
    1,
    /^error: cannot use .*not-a-dir\/data: a part of the path is not a directory$/,
  );
});

test("server start: a bad database key, a database that is not one, a bad address: one line and exit 1", async () => {
  using dir = tempDir("slo-refusals-");
  assertRefused(
    await serveUntilExit(["--port", "0", "--data-dir", join(dir.path, "a")], {
      SESSION_LIFECYCLE_DATABASE_KEY: "not base64!",
    }),
    1,
    /^error: SESSION_LIFECYCLE_DATABASE_KEY is not base64$/,
  );
  const corrupt = join(dir.path, "b");
  mkdirSync(corrupt);
  writeFileSync(join(corrupt, "sessions.db"), "this is not a SQLite database, not even close to one".repeat(4));
  assertRefused(
    await serveUntilExit(["--port", "0", "--data-dir", corrupt]),
    1,
    // The key check reads the store first (to prove a key against a sealed secret), so it is what meets the bad file.
    /^error: (opening the SQLite database|reading a sealed secret from \S+) failed: file is not a database$/,
  );
  assertRefused(
    await serveUntilExit(["--port", "0", "--host", "192.0.2.1", "--data-dir", join(dir.path, "c")]),
    1,
    /^error: cannot listen on 192\.0\.2\.1: it is not an address of this machine; pass another --host$/,
  );
  assertRefused(
    await serveUntilExit(["--socket", join(dir.path, "missing", "api.sock"), "--data-dir", join(dir.path, "d")]),
    1,
    /^error: cannot create socket .*missing\/api\.sock: its folder does not exist$/,
  );
});

test("server start: bad flags are one line pointing at --help, and exit 2", async () => {
  assertRefused(await serveUntilExit(["--nope"]), 2, /^error: Unknown option '--nope'; see --help$/);
  assertRefused(
    await serveUntilExit(["--port", "70000"]),
    2,
    /^error: --port must be a number from 0 to 65535; see --help$/,
  );
  assertRefused(
    await serveUntilExit(["--socket", "/tmp/x.sock", "--port", "1"]),
    2,
    /^error: --socket cannot be combined with --port or --host; see --help$/,
  );
  // The bounds of Postgres waits: only with a database, and only whole milliseconds.
  assertRefused(
    await serveUntilExit(["--lock-timeout", "1000"]),
    2,
    /^error: --lock-timeout needs --database \(or DATABASE_URL\): it bounds waits on Postgres; see --help$/,
  );
  for (const [flag, value] of [["--statement-timeout", "1.5"], ["--acquire-timeout", "0"], ["--lock-timeout", "x"]]) {
    assertRefused(
      await serveUntilExit([flag, value, "--database", "postgres://nobody@127.0.0.1:1/none"]),
      2,
      new RegExp(`^error: ${flag} must be a whole number of milliseconds from 1; see --help$`),
    );
  }
});
