import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { openSqliteStore } from "../src/platform/mod.ts";
import { runScript, tempDir } from "./helpers.ts";

test("examples/basic.ts runs the seed's usage end to end", async () => {
  const dir = tempDir();
  try {
    const file = join(dir.path, "example.db");
    const script = new URL("../examples/basic.ts", import.meta.url).pathname;
    const result = await runScript(script, [file]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /created session [0-9a-f-]{36} on branch session\/dark-mode/);
    assert.match(result.stdout, /cached keys: 1, stored secret: true/);
    assert.match(result.stdout, /remove worktree \/home\/me\/.local\/share\/slo\/worktrees\/app\/dark-mode/);
    assert.match(result.stdout, /secret left in store: false, cached keys: 0/);
    assert.match(result.stdout, /deleting again: null/);
    // The repository stays; the session and its secret are gone from the file.
    const store = openSqliteStore(file);
    assert.equal((await store.listRepositories()).length, 1);
    assert.deepEqual(await store.listSessions(), []);
    store.close();
  } finally {
    dir.remove();
  }
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
