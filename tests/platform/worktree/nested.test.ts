// Repositories nested in a worktree (an agent's `git init` or `git clone` there): a forced delete
// saves their committed and uncommitted work in the snapshot, restorable as the README says, and
// refuses (Conflict, naming it) one it cannot save.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SessionError } from "../../../mod.ts";
import { commitFile, git, makeRepository, worktreeFixture } from "../../fixtures/git_fixtures.ts";

test("a forced delete saves nested repositories (committed and uncommitted work, their refs), restorable", async () => {
  using f = await worktreeFixture();
  const session = await f.orchestrator.createSession({
    repositoryId: f.repository.id,
    title: "t",
    worktreeName: "nested",
    isWorktree: true,
  });
  const wt = session.worktreePath!;
  // A clone whose origin then goes away: only the nested repository has its unpushed commits.
  const origin = join(f.dir, "origin");
  makeRepository(origin);
  execFileSync("git", ["clone", "-q", "--", origin, join(wt, "vendor", "lib")]);
  rmSync(origin, { recursive: true });
  const lib = join(wt, "vendor", "lib");
  git(lib, "config", "user.name", "Test");
  git(lib, "config", "user.email", "test@example.com");
  const unpushed = commitFile(lib, "unpushed.txt", "only here\n");
  git(lib, "checkout", "-q", "-b", "side");
  const side = commitFile(lib, "side.txt", "on a side branch\n");
  git(lib, "checkout", "-q", "main");
  git(lib, "tag", "v1", side);
  writeFileSync(join(lib, "README.md"), "changed in the nested repository\n");
  writeFileSync(join(lib, "untracked.txt"), "untracked in the nested repository\n");
  // A fresh `git init` with no commit yet, and in it another repository with one.
  const scaffold = join(wt, "scaffold");
  mkdirSync(scaffold);
  git(scaffold, "init", "-q");
  writeFileSync(join(scaffold, "app.txt"), "scaffolded\n");
  makeRepository(join(scaffold, "inner"));
  const inner = commitFile(join(scaffold, "inner"), "inner.txt", "inner work\n");
  writeFileSync(join(wt, "top.txt"), "top-level work\n");

  const closed = await f.orchestrator.deleteSession(session.id, { force: true, deleteBranch: true });
  assert.equal(closed?.worktreeRemoved, true);
  assert.ok(!existsSync(wt));
  const ref = closed!.snapshotRef!;
  assert.equal(ref, `refs/session-snapshots/${session.id}`);
  // The repository is whole: every object the snapshot reaches is there.
  git(f.repositoryPath, "fsck", "--no-dangling", "--connectivity-only");

  // Restoring, as the README says.
  const restored = join(f.dir, "restored");
  git(f.repositoryPath, "worktree", "add", "-q", "--detach", "--", restored, ref);
  assert.equal(readFileSync(join(restored, "top.txt"), "utf8"), "top-level work\n");
  const links = git(f.repositoryPath, "ls-tree", "-r", ref).split("\n").filter((line) => line.startsWith("160000 "));
  const nested = new Map(links.map((line) => [line.split("\t")[1], line.split(" ")[2].split("\t")[0]]));
  assert.deepEqual([...nested.keys()].sort(), ["scaffold", "vendor/lib"]);
  const restore = (path: string, commit: string) => {
    const folder = join(restored, path);
    git(folder, "init", "-q");
    git(folder, "fetch", "-q", "--", f.repositoryPath, commit);
    git(folder, "reset", "-q", "--hard", "FETCH_HEAD");
    return folder;
  };
  const libBack = restore("vendor/lib", nested.get("vendor/lib")!);
  assert.equal(readFileSync(join(libBack, "README.md"), "utf8"), "changed in the nested repository\n");
  assert.equal(readFileSync(join(libBack, "untracked.txt"), "utf8"), "untracked in the nested repository\n");
  // Its refs are named in the snapshot's message, their commits fetched with it.
  const message = git(libBack, "log", "-1", "--format=%B");
  assert.match(message, new RegExp(`^${unpushed} refs/heads/main$`, "m"));
  assert.match(message, new RegExp(`^${side} refs/heads/side$`, "m"));
  assert.match(message, new RegExp(`^${side} refs/tags/v1$`, "m"));
  git(libBack, "reset", "-q", "--soft", "HEAD~1");
  assert.equal(git(libBack, "rev-parse", "HEAD"), unpushed);
  assert.equal(git(libBack, "cat-file", "-t", side), "commit");
  const scaffoldBack = restore("scaffold", nested.get("scaffold")!);
  assert.equal(readFileSync(join(scaffoldBack, "app.txt"), "utf8"), "scaffolded\n");
  // The repository nested in the nested one, saved the same way inside it.
  const innerLink = git(scaffoldBack, "ls-tree", "HEAD", "inner").split(" ")[2].split("\t")[0];
  const innerBack = restore("scaffold/inner", innerLink);
  assert.equal(readFileSync(join(innerBack, "inner.txt"), "utf8"), "inner work\n");
  git(innerBack, "reset", "-q", "--soft", "HEAD~1");
  assert.equal(git(innerBack, "rev-parse", "HEAD"), inner);
});

test("a nested repository that cannot be saved (a shallow clone) is a Conflict naming it; nothing is removed", async () => {
  using f = await worktreeFixture();
  const session = await f.orchestrator.createSession({
    repositoryId: f.repository.id,
    title: "t",
    worktreeName: "shallow",
    isWorktree: true,
  });
  const wt = session.worktreePath!;
  const origin = join(f.dir, "origin");
  makeRepository(origin);
  commitFile(origin, "second.txt");
  execFileSync("git", ["clone", "-q", "--depth", "1", "--", `file://${origin}`, join(wt, "dep")]);
  writeFileSync(join(wt, "dep", "work.txt"), "precious\n");
  await assert.rejects(
    f.orchestrator.deleteSession(session.id, { force: true, deleteBranch: true }),
    (e) => e instanceof SessionError && e.kind === "Conflict" && !e.forceable && /nested at dep /.test(e.message),
  );
  assert.equal(readFileSync(join(wt, "dep", "work.txt"), "utf8"), "precious\n");
  assert.notEqual(await f.store.getSession(session.id), null);
  assert.equal(git(f.repositoryPath, "for-each-ref", "refs/session-snapshots/"), "");
  assert.deepEqual((await f.orchestrator.reconcile()).findings, []);
  // Moved out of the worktree, the delete goes through.
  rmSync(join(wt, "dep"), { recursive: true });
  assert.equal((await f.orchestrator.deleteSession(session.id, { force: true }))?.worktreeRemoved, true);
});
