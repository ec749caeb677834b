/**
 * Real git repositories and worktree lifecycles in temp folders, for the worktree tests.
 * @module
 */

import { execFileSync, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import assert from "node:assert/strict";
import {
  generateDatabaseKeyBytes,
  importDatabaseKey,
  type LifecycleEvents,
  type Repository,
  type Session,
  SessionOrchestrator,
  SessionSecretChain,
  type SessionStore,
} from "../mod.ts";
import {
  type ClosableSqliteStore,
  openSqliteStore,
  WorktreeLifecycle,
  type WorktreeLifecycleOptions,
} from "../src/platform/mod.ts";
import { runtimeArgv, tempDir } from "./helpers.ts";

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: "Test",
  GIT_AUTHOR_EMAIL: "test@example.com",
  GIT_COMMITTER_NAME: "Test",
  GIT_COMMITTER_EMAIL: "test@example.com",
  LC_ALL: "C",
};

/** Runs git synchronously in `cwd` and returns its trimmed stdout; throws on failure. */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", ["-C", cwd, ...args], {
    env: GIT_ENV,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  })
    .trim();
}

/** Makes a repository at `path` on `main` with one commit. */
export function makeRepository(path: string): void {
  execFileSync("git", ["init", "-q", "-b", "main", path], { env: GIT_ENV });
  git(path, "config", "user.name", "Test");
  git(path, "config", "user.email", "test@example.com");
  // A commit of thousands of files would start a detached `git gc --auto`, still packing objects
  // into the repository while the test's cleanup removes it (ENOTEMPTY).
  git(path, "config", "gc.auto", "0");
  writeFileSync(join(path, "README.md"), "hello\n");
  git(path, "add", "README.md");
  git(path, "commit", "-q", "-m", "init");
}

/** Commits a new file in `worktree`; returns the commit id. */
export function commitFile(worktree: string, name: string, content = "x\n"): string {
  writeFileSync(join(worktree, name), content);
  git(worktree, "add", "--", name);
  git(worktree, "commit", "-q", "-m", `add ${name}`);
  return git(worktree, "rev-parse", "HEAD");
}

/** Local branches of the repository. */
export function branches(repository: string): string[] {
  return git(repository, "for-each-ref", "--format=%(refname:short)", "refs/heads").split("\n").filter(Boolean).sort();
}

/** Paths of the repository's worktrees other than the main checkout. */
export function extraWorktrees(repository: string): string[] {
  return git(repository, "worktree", "list", "--porcelain")
    .split("\n")
    .filter((line) => line.startsWith("worktree "))
    .map((line) => line.slice("worktree ".length))
    .slice(1)
    .sort();
}

/** Worktree folders under `folder` (a repository's worktrees folder). */
export function foldersIn(folder: string): string[] {
  if (!existsSync(folder)) return [];
  return readdirSync(folder).filter((name) => name !== ".journal").map((name) => join(folder, name)).sort();
}

/** A repository, a SQLite store on a file, a chain and a lifecycle, all in one temp folder. */
export interface WorktreeFixture {
  dir: string;
  repositoryPath: string;
  worktreesRoot: string;
  databasePath: string;
  keyHex: string;
  store: ClosableSqliteStore;
  chain: SessionSecretChain;
  lifecycle: WorktreeLifecycle;
  /** The orchestrator over the store, the chain and `lifecycle`: what every test drives sessions through. */
  orchestrator: SessionOrchestrator;
  repository: Repository;
  /** The folder this repository's worktrees go in. */
  folder: string;
  /** A new lifecycle with other options. */
  lifecycleWith(options: Partial<WorktreeLifecycleOptions>): WorktreeLifecycle;
  /** A new orchestrator over the same store and chain, with a lifecycle of other options (and other events). */
  orchestratorWith(options: Partial<WorktreeLifecycleOptions> & { events?: LifecycleEvents }): SessionOrchestrator;
  cleanup(): void;
}

/**
 * An orchestrator over a new lifecycle of `options`: the store, the chain, the events and the
 * error log go to the orchestrator, the rest to the lifecycle.
 */
export function orchestratorOver(
  options: WorktreeLifecycleOptions & {
    store: SessionStore;
    chain: SessionSecretChain;
    events?: LifecycleEvents;
    logError?: (message: string, cause: unknown) => void;
  },
): SessionOrchestrator {
  const { store, chain, events, logError, ...lifecycle } = options;
  return new SessionOrchestrator({ store, chain, events, logError, worktrees: new WorktreeLifecycle(lifecycle) });
}

/** A worktree session of the fixture's repository whose title and worktree folder are both `name`. */
export async function namedWorktreeSession(
  f: WorktreeFixture,
  name: string,
  more: Record<string, string> = {},
): Promise<Session> {
  return await f.orchestrator.createSession({
    repositoryId: f.repository.id,
    title: name,
    worktreeName: name,
    isWorktree: true,
    ...more,
  });
}

/** Sets up a {@linkcode WorktreeFixture}. */
export async function worktreeFixture(
  lifecycleOptions: Partial<WorktreeLifecycleOptions> = {},
): Promise<WorktreeFixture> {
  const temp = tempDir("slo-wt-");
  const repositoryPath = join(temp.path, "repo");
  makeRepository(repositoryPath);
  const worktreesRoot = join(temp.path, "worktrees");
  const databasePath = join(temp.path, "sessions.db");
  const store = openSqliteStore(databasePath);
  const keyBytes = generateDatabaseKeyBytes();
  const keyHex = Array.from(keyBytes, (b) => b.toString(16).padStart(2, "0")).join("");
  const chain = new SessionSecretChain({ store, databaseKey: await importDatabaseKey(keyBytes) });
  const repository = await store.createRepository({ path: repositoryPath, name: "repo", isGitRepository: true });
  const lifecycleWith = (more: Partial<WorktreeLifecycleOptions>) =>
    new WorktreeLifecycle({ worktreesRoot, ...lifecycleOptions, ...more });
  const orchestratorWith = ({ events, ...more }: Partial<WorktreeLifecycleOptions> & { events?: LifecycleEvents }) =>
    new SessionOrchestrator({ store, chain, events, worktrees: lifecycleWith(more) });
  const lifecycle = lifecycleWith({});
  return {
    dir: temp.path,
    repositoryPath,
    worktreesRoot,
    databasePath,
    keyHex,
    store,
    chain,
    lifecycle,
    orchestrator: new SessionOrchestrator({ store, chain, worktrees: lifecycle }),
    repository,
    folder: join(worktreesRoot, repository.id),
    lifecycleWith,
    orchestratorWith,
    cleanup() {
      store.close();
      temp.remove();
    },
  };
}

/**
 * Asserts that nothing is left of any session: no extra worktree, no branch but `keptBranches`,
 * no worktree folder, no journal entry, no row, no secret; and that the main checkout is clean.
 */
export async function assertNothingLeft(fixture: WorktreeFixture, keptBranches: string[] = []): Promise<void> {
  assert.deepEqual(extraWorktrees(fixture.repositoryPath), []);
  assert.deepEqual(branches(fixture.repositoryPath), ["main", ...keptBranches].sort());
  assert.deepEqual(foldersIn(fixture.folder), []);
  assert.deepEqual(foldersIn(join(fixture.worktreesRoot, ".journal")), []);
  assert.deepEqual(await fixture.store.listSessions(), []);
  assert.equal(git(fixture.repositoryPath, "status", "--porcelain"), "");
}

/** A child running tests/fixtures/worktree_worker.ts, stopped at a step and killed. */
export function runWorkerUntil(
  args: string[],
  marker: string,
): Promise<{ reached: boolean; stdout: string; stderr: string }> {
  const script = new URL("./fixtures/worktree_worker.ts", import.meta.url).pathname;
  const [command, ...rest] = runtimeArgv(script, args);
  return new Promise((resolve, reject) => {
    const child = spawn(command, rest, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let reached = false;
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
      if (!reached && stdout.includes(marker)) {
        reached = true;
        child.kill("SIGKILL");
      }
    });
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", () => resolve({ reached, stdout, stderr }));
  });
}

/** The refs under `prefix` (for example `refs/session-snapshots/`), by name. */
export function refsUnder(repository: string, prefix: string): string[] {
  return git(repository, "for-each-ref", "--format=%(refname)", prefix).split("\n").filter(Boolean);
}

/** `git status` of a worktree, every untracked file listed: what it holds beyond its commit. */
export function worktreeStatus(worktree: string): string {
  return git(worktree, "status", "--porcelain=v1", "--untracked-files=all");
}

/** The index as git lists it: mode, blob and path of every entry. */
export function indexEntries(worktree: string): string {
  return git(worktree, "ls-files", "--stage");
}

/** Every file of a worktree (not `.git`) with its bytes (base64) and mode. */
export function worktreeContents(worktree: string, folder = ""): Map<string, { bytes: string; mode: number }> {
  const found = new Map<string, { bytes: string; mode: number }>();
  for (const name of readdirSync(join(worktree, folder))) {
    if (folder === "" && name === ".git") continue;
    const relative = folder === "" ? name : `${folder}/${name}`;
    const stat = statSync(join(worktree, relative));
    if (stat.isDirectory()) {
      for (const [path, value] of worktreeContents(worktree, relative)) found.set(path, value);
    } else {
      found.set(relative, {
        bytes: readFileSync(join(worktree, relative)).toString("base64"),
        mode: stat.mode & 0o777,
      });
    }
  }
  return found;
}

/**
 * Gives a worktree every kind of work: committed, staged, changed after staging, unstaged, deleted
 * (staged and not), untracked (text, binary, executable, in a new folder), and a mode change.
 */
export function makeEveryKindOfWork(wt: string): void {
  commitFile(wt, "committed.txt", "on the branch\n");
  writeFileSync(join(wt, "tool.sh"), "#!/bin/sh\necho hi\n");
  git(wt, "add", "tool.sh");
  git(wt, "commit", "-q", "-m", "tool");
  writeFileSync(join(wt, "staged.txt"), "staged only\n");
  git(wt, "add", "staged.txt");
  writeFileSync(join(wt, "both.txt"), "staged version\n");
  git(wt, "add", "both.txt");
  writeFileSync(join(wt, "both.txt"), "staged version\nthen changed\n");
  writeFileSync(join(wt, "README.md"), "hello\nchanged, not staged\n");
  git(wt, "rm", "-q", "committed.txt");
  chmodSync(join(wt, "tool.sh"), 0o644);
  mkdirSync(join(wt, "new", "deep"), { recursive: true });
  writeFileSync(join(wt, "new", "deep", "notes.md"), "untracked\r\nwith CRLF\r\n");
  writeFileSync(join(wt, "blob.bin"), Uint8Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) % 256));
  writeFileSync(join(wt, "run.sh"), "#!/bin/sh\nexit 0\n");
  chmodSync(join(wt, "run.sh"), 0o755);
}
