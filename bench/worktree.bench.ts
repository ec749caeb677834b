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

/** Files of the generated repository of the pool row; `SLO_BENCH_POOL_FILES` changes it (40000 for the case). */
export const POOL_BENCH_FILES = Number(process.env.SLO_BENCH_POOL_FILES ?? 5000);

/**
 * The pool (issue 23): a session's create through the orchestrator and a `WorktreeLifecycle` with a
 * pool of 1, which claims the ready worktree (a move and a branch, no checkout), against a raw
 * `git worktree add -b` of the same commit on a generated repository of `files` files. Each round
 * times one of each; what is not the measured operation (the raw worktree's removal, the session's
 * close, the pool's background refill) runs between the timed parts, untimed.
 */
export async function benchWorktreePool(files = POOL_BENCH_FILES, rounds = 3): Promise<Comparison[]> {
  const dir = mkdtempSync(join(tmpdir(), "slo-bench-pool-"));
  try {
    const repo = join(dir, "repo");
    execFileSync("git", ["init", "-q", "-b", "main", repo], { env });
    for (let i = 0; i < files; i++) {
      const folder = join(repo, "src", `m${i % 100}`);
      if (i < 100) mkdirSync(folder, { recursive: true });
      writeFileSync(join(folder, `f${i}.ts`), `export const value${i} = ${i};\n`);
    }
    execFileSync("git", ["-C", repo, "add", "."], { env });
    execFileSync("git", ["-C", repo, "commit", "-q", "-m", "init"], { env });
    const store = openSqliteStore(join(dir, "bench.db"));
    const chain = new SessionSecretChain({ store, databaseKey: await generateDatabaseKey() });
    const lifecycle = new WorktreeLifecycle({ worktreesRoot: join(dir, "worktrees"), pool: 1 });
    const orchestrator = new SessionOrchestrator({ store, chain, worktrees: lifecycle });
    const repository = await store.createRepository({ path: repo, name: "repo", isGitRepository: true });
    const rawRoot = join(dir, "raw");
    mkdirSync(rawRoot);
    const raw: number[] = [];
    const pooled: number[] = [];
    for (let i = 0; i <= rounds; i++) {
      const path = join(rawRoot, `w${i}`);
      let start = performance.now();
      await gitAsync(["-C", repo, "worktree", "add", "-q", "-b", `raw/w${i}`, "--", path, "main"]);
      const rawNs = (performance.now() - start) * 1e6;
      await gitAsync(["-C", repo, "worktree", "remove", "--force", "--", path]);
      await gitAsync(["-C", repo, "branch", "-D", "--", `raw/w${i}`]);
      await lifecycle.pool(repository);
      await lifecycle.poolSettled();
      start = performance.now();
      const session = await orchestrator.createSession({
        repositoryId: repository.id,
        title: "bench",
        worktreeName: `p${i}`,
        isWorktree: true,
      });
      const pooledNs = (performance.now() - start) * 1e6;
      // The refill the claim started, then the close: neither is the create.
      await lifecycle.poolSettled();
      await orchestrator.deleteSession(session.id, { deleteBranch: true, force: true });
      // Round 0 warms up.
      if (i > 0) {
        raw.push(rawNs);
        pooled.push(pooledNs);
      }
    }
    await lifecycle.stopPools();
    store.close();
    const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
    const baselineNsPerOp = median(raw);
    const subjectNsPerOp = median(pooled);
    return [{
      name: `pooled worktree create vs raw git worktree add, ${files / 1000}k files`,
      baselineNsPerOp,
      subjectNsPerOp,
      ratio: baselineNsPerOp / subjectNsPerOp,
      target: files >= 40_000 ? 10 : 2,
    }];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
