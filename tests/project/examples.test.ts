import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { openSqliteStore } from "../../src/platform/mod.ts";
import { runScript, tempDir } from "../fixtures/helpers.ts";

// The examples assert what they show; a failed assertion exits non-zero with the reason on stderr.
test("examples/basic.ts: the orchestrator over a SQLite file, every step asserted", async () => {
  using dir = tempDir();
  const file = join(dir.path, "example.db");
  const script = new URL("../../examples/basic.ts", import.meta.url).pathname;
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
});

test("examples/low_level.ts: createSession, storeSessionSecret and deleteSession, every step asserted", async () => {
  const script = new URL("../../examples/low_level.ts", import.meta.url).pathname;
  const result = await runScript(script);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /created session [0-9a-f-]{36}; cached keys: 1, secret stored/);
  assert.match(
    result.stdout,
    /remove worktree \/home\/me\/.local\/share\/slo\/worktrees\/app\/dark-mode, branch session\/dark-mode/,
  );
});

test("examples/worktree.ts runs a worktree session's whole life on a real repository, every step asserted", async () => {
  const script = new URL("../../examples/worktree.ts", import.meta.url).pathname;
  const result = await runScript(script);
  assert.equal(result.code, 0, result.stderr);
  const lines = result.stdout.trim().split("\n");
  const id = "[0-9a-f-]{36}";
  const expected = [
    /^1 created session\/add-dark-mode-[0-9a-f]{8} at \S+\/add-dark-mode-[0-9a-f]{8}; main checkout clean: true$/,
    /^2 worked: 1 commit, README.md changed, theme.ts staged, notes.txt untracked$/,
    new RegExp(`^3 archived: status archived, snapshot refs/session-snapshots/${id}, folder gone$`),
    /^4 restored: status active, work back \(theme.ts staged, notes.txt untracked\)$/,
    /^5 forked: session\/dark-mode-css-variables-[0-9a-f]{8} holds the same work; the source is untouched$/,
    new RegExp(
      `^6 deleted the fork: refused without force \\(Conflict\\), forced: snapshot refs/session-snapshots/${id}$`,
    ),
    new RegExp(`^7 snapshot refs/session-snapshots/${id}: an archive, 3 path\\(s\\), 81 B, session exists: true$`),
    new RegExp(`^7 snapshot refs/session-snapshots/${id}\\.2: a fork, 3 path\\(s\\), 81 B, session exists: true$`),
    new RegExp(
      `^7 snapshot refs/session-snapshots/${id}: a forced close, 4 path\\(s\\), 103 B, session exists: false$`,
    ),
    new RegExp(`^8 restored refs/session-snapshots/${id} as "Variables, again": variables.css and theme.ts back$`),
    new RegExp(`^9 pruned 1, kept 2 \\(session ${id} still exists, and the snapshot is its own\\)$`),
    /^10 deleted all: 0 sessions, 4 snapshots pruned, 0 left, only the main worktree$/,
  ];
  assert.equal(lines.length, expected.length, result.stdout);
  expected.forEach((pattern, i) => assert.match(lines[i], pattern));
});
