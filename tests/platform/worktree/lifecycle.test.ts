// The worktree lifecycle on real git repositories: the happy path, names, refusals, rollback at
// every failing step, and what close keeps.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  generateDatabaseKey,
  LifecycleEvents,
  MemoryStore,
  SessionError,
  SessionSecretChain,
  type SessionStore,
} from "../../../mod.ts";
import { openSqliteStore } from "../../../src/platform/mod.ts";
import {
  assertNothingLeft,
  branches,
  commitFile,
  extraWorktrees,
  git,
  makeRepository,
  orchestratorOver,
  worktreeFixture,
} from "../../fixtures/git_fixtures.ts";
import { runScript, tempDir } from "../../fixtures/helpers.ts";

// A store that forwards to `store` except for the methods in `overrides`.
function delegate(store: SessionStore, overrides: Partial<SessionStore>): SessionStore {
  const methods = [
    "getRepository",
    "listRepositories",
    "getSession",
    "listSessions",
    "getSessionSecret",
    "createRepository",
    "deleteRepository",
    "createSession",
    "updateSession",
    "deleteSession",
    "setSessionSecret",
    "deleteSessionSecret",
  ] as const;
  const forwarded = Object.fromEntries(methods.map((name) => [name, (store[name] as () => unknown).bind(store)]));
  return { ...forwarded, ...overrides } as SessionStore;
}

const kind = (expected: string) => (error: unknown) => {
  assert.ok(error instanceof SessionError, `not a SessionError: ${error}`);
  assert.equal(error.kind, expected, error.message);
  return true;
};

test("open makes a worktree on a new branch outside the checkout; close removes it", async () => {
  using f = await worktreeFixture();
  const events: string[] = [];
  const bus = new LifecycleEvents();
  bus.subscribe((event) => events.push(event.type));
  const observed = f.orchestratorWith({ events: bus });
  const session = await observed.createSession({
    repositoryId: f.repository.id,
    title: "Add dark mode",
    worktreeName: "dark-mode",
    isWorktree: true,
  });
  const path = join(f.folder, "dark-mode");
  assert.equal(session.worktreePath, path);
  assert.equal(session.branchName, "session/dark-mode");
  assert.equal(session.baseBranch, "main");
  assert.equal(session.createdWorktree, true);
  assert.equal(session.createdBranch, true);
  assert.equal(git(path, "rev-parse", "--abbrev-ref", "HEAD"), "session/dark-mode");
  assert.equal(readFileSync(join(path, "README.md"), "utf8"), "hello\n");
  assert.deepEqual(extraWorktrees(f.repositoryPath), [path]);
  assert.equal(git(f.repositoryPath, "status", "--porcelain"), "");
  assert.equal((await f.chain.resolve(session.id))?.length, 32);
  assert.deepEqual(events, ["session.created"]);

  const closed = await observed.deleteSession(session.id, { deleteBranch: true });
  assert.equal(closed?.session.id, session.id);
  assert.equal(closed?.worktreeRemoved, true);
  assert.equal(closed?.branchDeleted, true);
  assert.equal(closed?.branchKeptReason, null);
  assert.equal(await f.chain.resolve(session.id), null);
  assert.deepEqual(events, ["session.created", "session.deleted"]);
  assert.equal(await observed.deleteSession(session.id), null);
  await assertNothingLeft(f);
});

test("default names: a title slug with spaces and non-ASCII letters, a sessionsPath, branch kept by default", async () => {
  using f = await worktreeFixture();
  const session = await f.orchestrator.createSession({
    repositoryId: f.repository.id,
    title: "Écrire la doc  für Ünïcode",
    isWorktree: true,
  });
  assert.match(session.worktreeName!, /^écrire-la-doc-für-ünïcode-[0-9a-f]{8}$/);
  assert.equal(session.branchName, `session/${session.worktreeName}`);
  assert.equal(git(session.worktreePath!, "rev-parse", "--abbrev-ref", "HEAD"), session.branchName);

  const spaced = await f.orchestrator.createSession({
    repositoryId: f.repository.id,
    title: "t",
    worktreeName: "my wörk tree",
    isWorktree: true,
  });
  assert.equal(spaced.worktreePath, join(f.folder, "my wörk tree"));
  assert.equal(spaced.branchName, "session/my-wörk-tree");
  assert.ok(existsSync(join(spaced.worktreePath!, "README.md")));

  const sessionsPath = join(f.dir, "elsewhere");
  const other = join(f.dir, "other");
  makeRepository(other);
  const repository = await f.store.createRepository({
    path: other,
    name: "other",
    sessionsPath,
    isGitRepository: true,
  });
  const placed = await f.orchestrator.createSession({
    repositoryId: repository.id,
    title: "x",
    worktreeName: "x",
    isWorktree: true,
  });
  assert.equal(placed.worktreePath, join(sessionsPath, "x"));

  for (const s of [session, spaced, placed]) {
    const closed = await f.orchestrator.deleteSession(s.id);
    assert.equal(closed?.branchDeleted, false);
    assert.ok(!existsSync(s.worktreePath!));
  }
  assert.deepEqual(branches(f.repositoryPath), ["main", session.branchName!, spaced.branchName!].sort());
});

test("names that could be read as options or paths are refused before git runs", async () => {
  using f = await worktreeFixture();
  // A git that does not exist: if any of these reached git, the error would be WorktreeCreation.
  const lifecycle = f.orchestratorWith({ gitPath: join(f.dir, "no-such-git") });
  const base = { repositoryId: f.repository.id, title: "t", isWorktree: true as const };
  for (const worktreeName of ["--upload-pack=touch /tmp/pwned", "-b", "../../x", "/tmp/abs", "a/b", ".hidden"]) {
    await assert.rejects(lifecycle.createSession({ ...base, worktreeName }), kind("InvalidInput"), worktreeName);
  }
  for (const branchName of ["--upload-pack=x", "-b", "../../x", "/abs", "a..b", "x.lock", "a b"]) {
    await assert.rejects(
      lifecycle.createSession({ ...base, worktreeName: "ok", branchName }),
      kind("InvalidInput"),
      branchName,
    );
  }
  await assert.rejects(
    lifecycle.createSession({ ...base, worktreeName: "ok", baseRef: "--orphan" }),
    kind("InvalidInput"),
  );
  await assert.rejects(lifecycle.createSession({ ...base, title: "" }), kind("InvalidInput"));
  await assert.rejects(
    lifecycle.createSession({ ...base, repositoryId: crypto.randomUUID() }),
    kind("RepositoryNotFound"),
  );
  await assertNothingLeft(f);
});

test("git missing (gitPath to nothing) is a WorktreeCreation error, not a crash", async () => {
  using f = await worktreeFixture();
  const lifecycle = f.orchestratorWith({ gitPath: join(f.dir, "no-such-git") });
  await assert.rejects(
    lifecycle.createSession({ repositoryId: f.repository.id, title: "t", worktreeName: "w", isWorktree: true }),
    (error) => kind("WorktreeCreation")(error) && /git was not found/.test((error as Error).message),
  );
  await assertNothingLeft(f);
});

test("git missing from PATH is a WorktreeCreation error in a process that has no git, and nothing is left", async () => {
  using f = await worktreeFixture();
  const emptyBin = join(f.dir, "empty-bin");
  mkdirSync(emptyBin);
  const worker = new URL("../../fixtures/worktree_worker.ts", import.meta.url).pathname;
  const result = await runScript(
    worker,
    ["open-at", f.databasePath, f.worktreesRoot, f.keyHex, f.repository.id, "never", "w"],
    { env: { PATH: emptyBin } },
  );
  assert.notEqual(result.code, 0);
  assert.match(result.stderr, /WorktreeCreation|git was not found/);
  assert.doesNotMatch(result.stdout, /done/);
  await assertNothingLeft(f);
});

test("an existing branch or folder is Conflict and nothing is left behind", async () => {
  using f = await worktreeFixture();
  git(f.repositoryPath, "branch", "session/taken");
  const userCommit = git(f.repositoryPath, "rev-parse", "session/taken");
  await assert.rejects(
    f.orchestrator.createSession({
      repositoryId: f.repository.id,
      title: "t",
      worktreeName: "taken",
      isWorktree: true,
    }),
    kind("Conflict"),
  );
  assert.equal(git(f.repositoryPath, "rev-parse", "session/taken"), userCommit);
  mkdirSync(join(f.folder, "occupied"), { recursive: true });
  writeFileSync(join(f.folder, "occupied", "mine.txt"), "user data");
  await assert.rejects(
    f.orchestrator.createSession({
      repositoryId: f.repository.id,
      title: "t",
      worktreeName: "occupied",
      isWorktree: true,
    }),
    kind("Conflict"),
  );
  assert.equal(readFileSync(join(f.folder, "occupied", "mine.txt"), "utf8"), "user data");
  assert.deepEqual(extraWorktrees(f.repositoryPath), []);
  assert.deepEqual(branches(f.repositoryPath), ["main", "session/taken"]);
  assert.deepEqual(await f.store.listSessions(), []);
});

test("a folder that is not a git repository, or a worktree path inside the checkout, is refused", async () => {
  using f = await worktreeFixture();
  const plain = join(f.dir, "plain");
  mkdirSync(plain);
  const repository = await f.store.createRepository({ path: plain, name: "plain" });
  await assert.rejects(
    f.orchestrator.createSession({ repositoryId: repository.id, title: "t", worktreeName: "w", isWorktree: true }),
    (error) => kind("InvalidInput")(error) && /not a git repository/.test((error as Error).message),
  );
  const inside = f.orchestratorWith({ worktreesRoot: join(f.repositoryPath, ".worktrees") });
  await assert.rejects(
    inside.createSession({ repositoryId: f.repository.id, title: "t", worktreeName: "w", isWorktree: true }),
    (error) => kind("InvalidInput")(error) && /inside the checkout/.test((error as Error).message),
  );
  await assertNothingLeft(f);
});

test("a store that fails after the worktree was made leaves no worktree, branch, row or secret", async () => {
  using f = await worktreeFixture();
  // Another session already holds the path the store is asked for: the store refuses the row.
  const failing = delegate(f.store, {
    createSession: () => Promise.reject(new SessionError("Conflict", "worktree path taken")),
  });
  const lifecycle = orchestratorOver({ store: failing, chain: f.chain, worktreesRoot: f.worktreesRoot });
  await assert.rejects(
    lifecycle.createSession({ repositoryId: f.repository.id, title: "t", worktreeName: "w", isWorktree: true }),
    kind("Conflict"),
  );
  await assertNothingLeft(f);

  // A SqliteStore whose connection is closed after the repository was read.
  const broken = openSqliteStore(join(f.dir, "broken.db"));
  broken.close();
  const closing = delegate(f.store, { createSession: (input) => broken.createSession(input) });
  await assert.rejects(
    orchestratorOver({ store: closing, chain: f.chain, worktreesRoot: f.worktreesRoot }).createSession({
      repositoryId: f.repository.id,
      title: "t",
      worktreeName: "w2",
      isWorktree: true,
    }),
    (error) => kind("Storage")(error) && (error as Error).cause !== undefined,
  );
  await assertNothingLeft(f);
});

test("a row-and-secret write that fails leaves no worktree, branch, row or secret", async () => {
  using f = await worktreeFixture();
  // The real store, with its one transaction that writes the row and the sealed secret failing.
  const store = new Proxy(f.store, {
    get: (target, key) =>
      key === "createSession"
        ? () => Promise.reject(new Error("disk full"))
        : (target[key as keyof SessionStore] as (...args: unknown[]) => unknown).bind(target),
  });
  const chain = new SessionSecretChain({ store, databaseKey: await generateDatabaseKey() });
  const lifecycle = orchestratorOver({ store, chain, worktreesRoot: f.worktreesRoot });
  await assert.rejects(
    lifecycle.createSession({ repositoryId: f.repository.id, title: "t", worktreeName: "w", isWorktree: true }),
    (error) => kind("Storage")(error) && /disk full/.test((error as Error).message),
  );
  await assertNothingLeft(f);
});

test("a failure after each step of open is undone completely", async () => {
  using f = await worktreeFixture();
  for (const failAt of ["open:journal", "open:worktree", "open:row"]) {
    const lifecycle = f.orchestratorWith({
      onStep: (step) => {
        if (step === failAt) throw new Error(`injected at ${step}`);
      },
    });
    await assert.rejects(
      lifecycle.createSession({ repositoryId: f.repository.id, title: "t", worktreeName: "w", isWorktree: true }),
      (error) => kind("WorktreeCreation")(error) && (error as Error).message.includes(failAt),
    );
    await assertNothingLeft(f);
  }
});

test("a dirty worktree is kept without force (session whole) and removed with it", async () => {
  using f = await worktreeFixture();
  const session = await f.orchestrator.createSession({
    repositoryId: f.repository.id,
    title: "t",
    worktreeName: "dirty",
    isWorktree: true,
  });
  const path = session.worktreePath!;
  writeFileSync(join(path, "notes.txt"), "uncommitted work");
  await assert.rejects(f.orchestrator.deleteSession(session.id), kind("Conflict"));
  assert.equal(readFileSync(join(path, "notes.txt"), "utf8"), "uncommitted work");
  assert.ok(await f.store.getSession(session.id));
  assert.equal((await f.chain.resolve(session.id))?.length, 32);

  writeFileSync(join(path, "notes.txt"), "");
  git(path, "add", "notes.txt");
  writeFileSync(join(path, "README.md"), "changed\n");
  await assert.rejects(f.orchestrator.deleteSession(session.id), kind("Conflict"));
  assert.ok(existsSync(path));

  const closed = await f.orchestrator.deleteSession(session.id, { force: true, deleteBranch: true });
  assert.equal(closed?.worktreeRemoved, true);
  assert.equal(closed?.branchDeleted, true);
  await assertNothingLeft(f);
});

test("deleteBranch keeps a branch with unpushed commits unless forced, and deletes a merged one", async () => {
  using f = await worktreeFixture();
  const open = (name: string) =>
    f.orchestrator.createSession({ repositoryId: f.repository.id, title: "t", worktreeName: name, isWorktree: true });
  const ahead = await open("ahead");
  const commit = commitFile(ahead.worktreePath!, "feature.txt");
  const kept = await f.orchestrator.deleteSession(ahead.id, { deleteBranch: true });
  assert.equal(kept?.worktreeRemoved, true);
  assert.equal(kept?.branchDeleted, false);
  assert.match(kept!.branchKeptReason!, /1 commit/);
  assert.equal(git(f.repositoryPath, "rev-parse", "session/ahead"), commit);

  // Merged into main: nothing would be lost, so it goes.
  const merged = await open("merged");
  commitFile(merged.worktreePath!, "merged.txt");
  git(f.repositoryPath, "merge", "-q", "--ff-only", "session/merged");
  assert.equal((await f.orchestrator.deleteSession(merged.id, { deleteBranch: true }))?.branchDeleted, true);

  // Pushed to its upstream: also safe to delete.
  const remote = join(f.dir, "remote.git");
  git(f.dir, "init", "-q", "--bare", remote);
  git(f.repositoryPath, "remote", "add", "origin", remote);
  const pushed = await open("pushed");
  commitFile(pushed.worktreePath!, "pushed.txt");
  git(pushed.worktreePath!, "push", "-q", "-u", "origin", "session/pushed");
  assert.equal((await f.orchestrator.deleteSession(pushed.id, { deleteBranch: true }))?.branchDeleted, true);

  const forced = await open("forced");
  commitFile(forced.worktreePath!, "forced.txt");
  assert.equal(
    (await f.orchestrator.deleteSession(forced.id, { deleteBranch: true, force: true }))?.branchDeleted,
    true,
  );
  assert.deepEqual(branches(f.repositoryPath), ["main", "session/ahead"]);
});

test("a user's existing branch (useExistingBranch) is checked out and never deleted", async () => {
  using f = await worktreeFixture();
  git(f.repositoryPath, "branch", "feature/mine");
  const session = await f.orchestrator.createSession({
    repositoryId: f.repository.id,
    title: "t",
    worktreeName: "mine",
    branchName: "feature/mine",
    useExistingBranch: true,
    isWorktree: true,
  });
  assert.equal(session.createdBranch, false);
  assert.equal(git(session.worktreePath!, "rev-parse", "--abbrev-ref", "HEAD"), "feature/mine");
  const closed = await f.orchestrator.deleteSession(session.id, { deleteBranch: true, force: true });
  assert.equal(closed?.branchDeleted, false);
  assert.match(closed!.branchKeptReason!, /not created by this session/);
  assert.deepEqual(branches(f.repositoryPath), ["feature/mine", "main"]);
  await assert.rejects(
    f.orchestrator.createSession({
      repositoryId: f.repository.id,
      title: "t",
      branchName: "feature/absent",
      useExistingBranch: true,
      isWorktree: true,
    }),
    kind("InvalidInput"),
  );
});

test("a non-worktree session gets a row and a secret, and close deletes both", async () => {
  const store = new MemoryStore();
  const chain = new SessionSecretChain({ store, databaseKey: await generateDatabaseKey() });
  using dir = tempDir();
  const lifecycle = orchestratorOver({ store, chain, worktreesRoot: join(dir.path, "wt") });
  const repository = await store.createRepository({ path: "/src/app", name: "app" });
  const session = await lifecycle.createSession({ repositoryId: repository.id, title: "t", isWorktree: false });
  assert.equal((await chain.resolve(session.id))?.length, 32);
  const closed = await lifecycle.deleteSession(session.id);
  assert.equal(closed?.worktreeRemoved, false);
  assert.equal(await store.getSession(session.id), null);
  assert.equal(await chain.resolve(session.id), null);
});

test("a ref lock held by another process is waited for, never deleted; one that stays fails cleanly", async () => {
  using f = await worktreeFixture();
  const lockFile = join(f.repositoryPath, ".git", "refs", "heads", "session", "locked.lock");
  mkdirSync(join(f.repositoryPath, ".git", "refs", "heads", "session"), { recursive: true });
  writeFileSync(lockFile, "");
  await assert.rejects(
    f.orchestrator.createSession({
      repositoryId: f.repository.id,
      title: "t",
      worktreeName: "locked",
      isWorktree: true,
    }),
    (error) => error instanceof SessionError && /lock/.test(error.message),
  );
  assert.ok(existsSync(lockFile), "the lock file of another process is never deleted");
  await assertNothingLeft(f);

  // Released while we retry: the open goes through.
  writeFileSync(lockFile, "");
  const opening = f.orchestrator.createSession({
    repositoryId: f.repository.id,
    title: "t",
    worktreeName: "locked",
    isWorktree: true,
  });
  const { rmSync } = await import("node:fs");
  setTimeout(() => rmSync(lockFile), 50);
  const session = await opening;
  assert.equal(git(session.worktreePath!, "rev-parse", "--abbrev-ref", "HEAD"), "session/locked");
});

test("baseRef takes every commit-ish git accepts, and one that names no commit is refused before anything is made", async () => {
  using f = await worktreeFixture();
  const first = git(f.repositoryPath, "rev-parse", "HEAD");
  commitFile(f.repositoryPath, "second.txt");
  git(f.repositoryPath, "tag", "v1", first);
  for (
    const [name, baseRef] of [["parent", "HEAD~1"], ["tag", "v1"], ["sha", first], ["short", first.slice(0, 10)]]
  ) {
    const session = await f.orchestrator.createSession({
      repositoryId: f.repository.id,
      title: name,
      worktreeName: name,
      isWorktree: true,
      baseRef,
    });
    assert.equal(git(session.worktreePath!, "rev-parse", "HEAD"), first, baseRef);
    // A ref name is recorded as given; `HEAD~1` as the commit it named then.
    assert.equal(session.baseBranch, baseRef === "HEAD~1" ? first : baseRef);
    await f.orchestrator.deleteSession(session.id, { deleteBranch: true });
  }
  for (const baseRef of ["no-such-branch", "HEAD~99", "--output=/tmp/x", "main..HEAD"]) {
    await assert.rejects(
      f.orchestrator.createSession({
        repositoryId: f.repository.id,
        title: "t",
        worktreeName: "bad",
        isWorktree: true,
        baseRef,
      }),
      kind("InvalidInput"),
      baseRef,
    );
  }
  await assertNothingLeft(f);
});
