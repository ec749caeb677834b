// A session that owns a real git worktree: open it, work in it, close it, and see reconcile repair
// a worktree folder that went missing. Uses a throwaway repository in a temp folder.
//
//   deno run -A examples/worktree.ts      (or: bun examples/worktree.ts)
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateDatabaseKey, SessionOrchestrator, SessionSecretChain } from "../mod.ts";
import { openSqliteStore, WorktreeLifecycle } from "../src/platform/mod.ts";

const dir = mkdtempSync(join(tmpdir(), "slo-example-"));
const git = (cwd: string, ...args: string[]) =>
  execFileSync("git", ["-C", cwd, "-c", "user.name=Example", "-c", "user.email=example@example.com", ...args], {
    encoding: "utf8",
  }).trim();

try {
  const repositoryPath = join(dir, "app");
  execFileSync("git", ["init", "-q", "-b", "main", repositoryPath]);
  writeFileSync(join(repositoryPath, "README.md"), "# app\n");
  git(repositoryPath, "add", "README.md");
  git(repositoryPath, "commit", "-q", "-m", "init");

  const store = openSqliteStore(join(dir, "sessions.db"));
  const chain = new SessionSecretChain({ store, databaseKey: await generateDatabaseKey() });
  const worktrees = new WorktreeLifecycle({ worktreesRoot: join(dir, "worktrees") });
  const orchestrator = new SessionOrchestrator({ store, chain, worktrees });
  const repository = await orchestrator.createRepository({ path: repositoryPath, name: "app", isGitRepository: true });

  const session = await orchestrator.createSession({
    repositoryId: repository.id,
    title: "Add dark mode",
    isWorktree: true,
  });
  console.log(`opened ${session.worktreePath} on ${session.branchName}`);
  console.log(`main checkout clean: ${git(repositoryPath, "status", "--porcelain") === ""}`);

  // The agent's work, committed on the session's branch.
  writeFileSync(join(session.worktreePath!, "dark.css"), "body { background: #111; }\n");
  git(session.worktreePath!, "add", "dark.css");
  git(session.worktreePath!, "commit", "-q", "-m", "dark mode");

  // A crash took the folder; reconcile puts it back on its branch, with the commit.
  rmSync(session.worktreePath!, { recursive: true, force: true });
  const report = await orchestrator.reconcile();
  console.log(`reconcile: ${report.findings.map((finding) => `${finding.kind} → ${finding.action}`).join(", ")}`);
  console.log(`commit back in the worktree: ${existsSync(join(session.worktreePath!, "dark.css"))}`);

  // The branch holds a commit that is on no other branch: deleteBranch keeps it unless forced.
  const closed = await orchestrator.deleteSession(session.id, { deleteBranch: true });
  console.log(`closed: worktree removed ${closed?.worktreeRemoved}, branch deleted ${closed?.branchDeleted}`);
  console.log(`branch kept because: ${closed?.branchKeptReason}`);
  console.log(`branches: ${git(repositoryPath, "branch", "--format=%(refname:short)").split("\n").join(", ")}`);
  store.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
