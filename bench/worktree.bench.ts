// Worktree benchmark (issue 6): a session's open + close (deleting its branch) through
// WorktreeLifecycle — repository lock, intent journal, SQLite row, sealed secret — against the raw
// `git worktree add -b` + `git worktree remove` + `git branch -D` of the same repository, same run;
// on an empty database, and on one already holding 100k sessions (of other repositories, each with a
// worktree path and branch, inserted with raw SQL into the very file the lifecycle uses).
import { execFile, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateDatabaseKey, SessionOrchestrator, SessionSecretChain } from "../mod.ts";
import { openSqliteStore, WorktreeLifecycle } from "../src/platform/mod.ts";
import { compare, type Comparison } from "./harness.ts";
import { prefillSessions } from "./prefill.ts";

const env = {
  ...process.env,
  GIT_AUTHOR_NAME: "Bench",
  GIT_AUTHOR_EMAIL: "bench@example.com",
  GIT_COMMITTER_NAME: "Bench",
  GIT_COMMITTER_EMAIL: "bench@example.com",
  LC_ALL: "C",
};

function gitAsync(args: string[]): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile("git", args, { env }, (error) => (error ? reject(error) : resolve()))
  );
}

/**
 * Runs the worktree comparison on a repository of `files` small files (a modest real project), with
 * `sessions` other sessions in the database.
 */
export async function benchWorktree(sessions = 0, files = 200): Promise<Comparison[]> {
  const dir = mkdtempSync(join(tmpdir(), "slo-bench-wt-"));
  try {
    const repo = join(dir, "repo");
    execFileSync("git", ["init", "-q", "-b", "main", repo], { env });
    for (let i = 0; i < files; i++) {
      const folder = join(repo, "src", `m${i % 10}`);
      mkdirSync(folder, { recursive: true });
      writeFileSync(join(folder, `f${i}.ts`), `export const value${i} = ${i};\n`.repeat(20));
    }
    execFileSync("git", ["-C", repo, "add", "."], { env });
    execFileSync("git", ["-C", repo, "commit", "-q", "-m", "init"], { env });

    const store = openSqliteStore(join(dir, "bench.db"));
    const chain = new SessionSecretChain({ store, databaseKey: await generateDatabaseKey() });
    const worktreesRoot = join(dir, "worktrees");
    if (sessions > 0) prefillSessions(store.database, { sessions, worktreeRoot: worktreesRoot });
    const orchestrator = new SessionOrchestrator({
      store,
      chain,
      worktrees: new WorktreeLifecycle({ worktreesRoot }),
    });
    const repository = await store.createRepository({ path: repo, name: "repo", isGitRepository: true });
    const rawRoot = join(dir, "raw");
    mkdirSync(rawRoot);

    const held = sessions === 0 ? "empty" : `${sessions / 1000}k sessions`;
    const result = await compare(
      `worktree open + close (deleteBranch, ${held}) vs raw git worktree add + remove + branch -D`,
      {
        baseline: async (i) => {
          const path = join(rawRoot, `w${i}`);
          await gitAsync(["-C", repo, "worktree", "add", "-q", "-b", `raw/w${i}`, "--", path, "main"]);
          await gitAsync(["-C", repo, "worktree", "remove", "--", path]);
          await gitAsync(["-C", repo, "branch", "-D", "--", `raw/w${i}`]);
        },
        subject: async (i) => {
          const session = await orchestrator.createSession({
            repositoryId: repository.id,
            title: "bench",
            worktreeName: `w${i}`,
            isWorktree: true,
          });
          const closed = await orchestrator.deleteSession(session.id, { deleteBranch: true });
          if (!closed?.branchDeleted) throw new Error("branch kept");
        },
        count: 6,
        rounds: 7,
        target: 0.8,
      },
    );
    store.close();
    return [result];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The fixed cost of a worktree session (issue 23, "no fixed git tax"): open + close, keeping the
 * branch, through the orchestrator and `WorktreeLifecycle` on an empty database and a repository of
 * one file, against the raw `git worktree add -b` + `git worktree remove` of the same repository.
 * With nothing to check out, what is left is our own cost per cycle: the checks before git runs, the
 * lock, the journal, the row, and the hardening of every git call.
 */
export async function benchWorktreeOpenClose(): Promise<Comparison[]> {
  const dir = mkdtempSync(join(tmpdir(), "slo-bench-wt-open-"));
  try {
    const repo = join(dir, "repo");
    execFileSync("git", ["init", "-q", "-b", "main", repo], { env });
    writeFileSync(join(repo, "README.md"), "hello\n");
    execFileSync("git", ["-C", repo, "add", "."], { env });
    execFileSync("git", ["-C", repo, "commit", "-q", "-m", "init"], { env });
    const store = openSqliteStore(join(dir, "bench.db"));
    const chain = new SessionSecretChain({ store, databaseKey: await generateDatabaseKey() });
    const orchestrator = new SessionOrchestrator({
      store,
      chain,
      worktrees: new WorktreeLifecycle({ worktreesRoot: join(dir, "worktrees") }),
    });
    const repository = await store.createRepository({ path: repo, name: "repo", isGitRepository: true });
    const rawRoot = join(dir, "raw");
    mkdirSync(rawRoot);
    const result = await compare(
      "worktree open + close, empty repository and database, vs raw git worktree add + remove",
      {
        baseline: async (i) => {
          const path = join(rawRoot, `w${i}`);
          await gitAsync(["-C", repo, "worktree", "add", "-q", "-b", `raw/w${i}`, "--", path, "main"]);
          await gitAsync(["-C", repo, "worktree", "remove", "--", path]);
        },
        subject: async (i) => {
          const session = await orchestrator.createSession({
            repositoryId: repository.id,
            title: "bench",
            worktreeName: `w${i}`,
            isWorktree: true,
          });
          const closed = await orchestrator.deleteSession(session.id);
          if (!closed?.worktreeRemoved) throw new Error("worktree kept");
        },
        count: 8,
        rounds: 9,
        target: 0.8,
      },
    );
    store.close();
    return [result];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
