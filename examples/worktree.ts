// A worktree session's whole life, through `SessionOrchestrator({ worktrees })` on a throwaway git
// repository in a temp folder: create, work, archive, restore, fork, forced delete (its snapshot
// kept), list the snapshots, restore one into a new session, prune, delete all. Each step prints a
// line and asserts what it prints; a failed assertion exits non-zero with the reason.
//
//   deno run -A examples/worktree.ts      (or: bun examples/worktree.ts)
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateDatabaseKey, SessionError, SessionOrchestrator, SessionSecretChain } from "../mod.ts";
import { openSqliteStore, WorktreeLifecycle } from "../src/platform/mod.ts";

const dir = mkdtempSync(join(tmpdir(), "slo-example-"));
const git = (cwd: string, ...args: string[]) =>
  execFileSync("git", ["-C", cwd, "-c", "user.name=Example", "-c", "user.email=example@example.com", ...args], {
    encoding: "utf8",
  }).trim();
const staged = (cwd: string) => git(cwd, "diff", "--cached", "--name-only").split("\n").filter((p) => p !== "");
const read = (cwd: string, file: string) => readFileSync(join(cwd, file), "utf8");

const store = openSqliteStore(join(dir, "sessions.db"));
try {
  const repositoryPath = join(dir, "app");
  execFileSync("git", ["init", "-q", "-b", "main", repositoryPath]);
  writeFileSync(join(repositoryPath, "README.md"), "# app\n");
  git(repositoryPath, "add", "README.md");
  git(repositoryPath, "commit", "-q", "-m", "init");

  const chain = new SessionSecretChain({ store, databaseKey: await generateDatabaseKey() });
  const worktrees = new WorktreeLifecycle({ worktreesRoot: join(dir, "worktrees") });
  const orchestrator = new SessionOrchestrator({ store, chain, worktrees });
  const repository = await orchestrator.createRepository({ path: repositoryPath, name: "app", isGitRepository: true });

  // 1. Create: a worktree and a branch of its own, outside the main checkout.
  const first = await orchestrator.createSession({
    repositoryId: repository.id,
    title: "Add dark mode",
    isWorktree: true,
  });
  const path = first.worktreePath!;
  assert.ok(existsSync(join(path, "README.md")));
  assert.equal(git(repositoryPath, "status", "--porcelain"), "");
  console.log(`1 created ${first.branchName} at ${path}; main checkout clean: true`);

  // 2. Work: a commit on the branch, then uncommitted work (a change, a staged file, an untracked file).
  writeFileSync(join(path, "dark.css"), "body { background: #111; }\n");
  git(path, "add", "dark.css");
  git(path, "commit", "-q", "-m", "dark mode");
  const head = git(path, "rev-parse", "HEAD");
  writeFileSync(join(path, "README.md"), "# app\n\nNow with a dark mode.\n");
  writeFileSync(join(path, "theme.ts"), "export const theme = 'dark';\n");
  git(path, "add", "theme.ts");
  writeFileSync(join(path, "notes.txt"), "try CSS variables next\n");
  console.log(`2 worked: 1 commit, README.md changed, theme.ts staged, notes.txt untracked`);

  // 3. Archive: the work saved as a snapshot, the folder removed, the branch, row and secret kept.
  const archived = await orchestrator.archiveSession(first.id);
  assert.equal(archived.session.status, "archived");
  assert.equal(archived.snapshotRef, `refs/session-snapshots/${first.id}`);
  assert.equal(archived.head, head);
  assert.equal(existsSync(path), false);
  assert.equal(git(repositoryPath, "rev-parse", first.branchName!), head);
  console.log(`3 archived: status ${archived.session.status}, snapshot ${archived.snapshotRef}, folder gone`);

  // 4. Restore: the worktree back on its branch at its commit, the work back as it was.
  const restored = await orchestrator.restoreSession(first.id);
  assert.equal(restored.status, "active");
  assert.equal(git(path, "rev-parse", "HEAD"), head);
  assert.equal(read(path, "README.md"), "# app\n\nNow with a dark mode.\n");
  assert.deepEqual(staged(path), ["theme.ts"]);
  assert.equal(read(path, "notes.txt"), "try CSS variables next\n");
  console.log(`4 restored: status ${restored.status}, work back (theme.ts staged, notes.txt untracked)`);

  // 5. Fork: a new session from the source's commit with the source's uncommitted work; the source untouched.
  const fork = await orchestrator.forkSession(first.id, { title: "Dark mode, CSS variables" });
  assert.notEqual(fork.worktreePath, path);
  assert.equal(git(fork.worktreePath!, "rev-parse", "HEAD"), head);
  assert.deepEqual(staged(fork.worktreePath!), ["theme.ts"]);
  assert.equal(read(fork.worktreePath!, "notes.txt"), "try CSS variables next\n");
  assert.deepEqual(staged(path), ["theme.ts"]);
  console.log(`5 forked: ${fork.branchName} holds the same work; the source is untouched`);

  // 6. Forced delete: a plain delete of a dirty worktree is refused; forced, the work is saved first.
  writeFileSync(join(fork.worktreePath!, "variables.css"), ":root { --bg: #111; }\n");
  const refusal = await orchestrator.deleteSession(fork.id).then(() => null, (error: unknown) => error);
  assert.ok(refusal instanceof SessionError && refusal.kind === "Conflict" && refusal.details?.wouldSnapshot);
  const closed = await orchestrator.deleteSession(fork.id, { force: true });
  assert.equal(closed?.worktreeRemoved, true);
  assert.equal(closed?.snapshotRef, `refs/session-snapshots/${fork.id}`);
  assert.equal(await orchestrator.getSession(fork.id), null);
  console.log(`6 deleted the fork: refused without force (${refusal.kind}), forced: snapshot ${closed?.snapshotRef}`);

  // 7. The snapshots the repository keeps: the archive's and the fork's source's (its session exists),
  //    and the forced delete's (its session is gone).
  const { snapshots } = await orchestrator.listSnapshots(repository.id);
  // Each one's size: the files it changed, as it holds them (README.md, theme.ts, notes.txt; then variables.css).
  const work = read(path, "README.md").length + read(path, "theme.ts").length + read(path, "notes.txt").length;
  const forkWork = work + ":root { --bg: #111; }\n".length;
  assert.deepEqual(
    snapshots.map((s) => [s.sessionId, s.reason, s.changedPaths, s.bytes, s.sessionExists]),
    [
      [first.id, "an archive", 3, work, true],
      [first.id, "a fork", 3, work, true],
      [fork.id, "a forced close", 4, forkWork, false],
    ],
  );
  for (const s of snapshots) {
    console.log(
      `7 snapshot ${s.ref}: ${s.reason}, ${s.changedPaths} path(s), ${s.bytes} B, session exists: ${s.sessionExists}`,
    );
  }

  // 8. The deleted fork's work, restored into a new session.
  const forkSnapshot = snapshots[2];
  const again = await orchestrator.restoreSnapshot(repository.id, forkSnapshot.ref, { title: "Variables, again" });
  assert.equal(git(again.worktreePath!, "rev-parse", "HEAD"), head);
  assert.equal(read(again.worktreePath!, "variables.css"), ":root { --bg: #111; }\n");
  assert.equal(read(again.worktreePath!, "theme.ts"), "export const theme = 'dark';\n");
  console.log(`8 restored ${forkSnapshot.ref} as "${again.title}": variables.css and theme.ts back`);

  // 9. Prune: only the snapshot whose session is gone goes; the others are kept, each with why.
  const pruned = await orchestrator.pruneSnapshots(repository.id);
  assert.deepEqual(pruned.pruned.map((s) => s.ref), [forkSnapshot.ref]);
  assert.equal(pruned.kept.length, 2);
  console.log(`9 pruned ${pruned.pruned.length}, kept ${pruned.kept.length} (${pruned.kept[0].keptReason})`);

  // 10. Delete all: both sessions hold work, so each forced delete saves it first; then prune the rest.
  for (const session of [first, again]) {
    const gone = await orchestrator.deleteSession(session.id, { force: true, deleteBranch: true });
    assert.equal(gone?.worktreeRemoved, true);
    assert.notEqual(gone?.snapshotRef, null);
  }
  const { sessions } = await orchestrator.listSessions();
  assert.equal(sessions.length, 0);
  const last = await orchestrator.pruneSnapshots(repository.id);
  assert.equal(last.kept.length, 0);
  assert.equal((await orchestrator.listSnapshots(repository.id)).snapshots.length, 0);
  assert.equal(
    git(repositoryPath, "worktree", "list", "--porcelain").split("\n").filter((l) => l.startsWith("worktree ")).length,
    1,
  );
  console.log(`10 deleted all: 0 sessions, ${last.pruned.length} snapshots pruned, 0 left, only the main worktree`);
} finally {
  store.close();
  rmSync(dir, { recursive: true, force: true });
}
