import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { openSqliteStore } from "../src/platform/mod.ts";
import { runScript, tempDir } from "./helpers.ts";

// The examples assert what they show; a failed assertion exits non-zero with the reason on stderr.
test("examples/basic.ts: the orchestrator over a SQLite file, every step asserted", async () => {
  const dir = tempDir();
  try {
    const file = join(dir.path, "example.db");
    const script = new URL("../examples/basic.ts", import.meta.url).pathname;
    const result = await runScript(script, [file]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /created session [0-9a-f-]{36} on branch session\/dark-mode/);
    assert.match(result.stdout, /pages: 2 \+ 1 sessions/);
    assert.match(result.stdout, /remove worktree \/home\/me\/.local\/share\/slo\/worktrees\/app\/dark-mode/);
    const deletedId = /deleted session ([0-9a-f-]{36})/.exec(result.stdout)?.[1];
    // What the script left in the file: the repository and its two other sessions, with their secrets.
    const store = openSqliteStore(file);
    assert.equal((await store.listRepositories()).length, 1);
    const sessions = await store.listSessions();
    assert.deepEqual(sessions.map((s) => s.title).sort(), ["Fix the login bug", "Write the docs"]);
    assert.ok(deletedId !== undefined && !sessions.some((s) => s.id === deletedId));
    assert.equal(await store.getSessionSecret(deletedId), null);
    for (const session of sessions) assert.notEqual(await store.getSessionSecret(session.id), null);
    store.close();
  } finally {
    dir.remove();
  }
});

test("examples/low_level.ts: createSession, storeSessionSecret and deleteSession, every step asserted", async () => {
  const script = new URL("../examples/low_level.ts", import.meta.url).pathname;
  const result = await runScript(script);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /created session [0-9a-f-]{36}; cached keys: 1, secret stored/);
  assert.match(
    result.stdout,
    /remove worktree \/home\/me\/.local\/share\/slo\/worktrees\/app\/dark-mode, branch session\/dark-mode/,
  );
});

test("examples/worktree.ts opens a real worktree, recovers it after a loss, and keeps a branch with work", async () => {
  const script = new URL("../examples/worktree.ts", import.meta.url).pathname;
  const result = await runScript(script);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /opened \S+\/add-dark-mode-[0-9a-f]{8} on session\/add-dark-mode-[0-9a-f]{8}/);
  assert.match(result.stdout, /main checkout clean: true/);
  assert.match(result.stdout, /missing-worktree → recreated/);
  assert.match(result.stdout, /commit back in the worktree: true/);
  assert.match(result.stdout, /closed: worktree removed true, branch deleted false/);
  assert.match(result.stdout, /has 1 commit\(s\) on neither main nor its upstream/);
  assert.match(result.stdout, /branches: main, session\/add-dark-mode-[0-9a-f]{8}/);
});
