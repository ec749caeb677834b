// Landed detection over real repositories: each way work reaches a base branch (a merge, a
// squash, cherry-picks, a rebase then fast-forward) and the ways it has not (unmerged, untouched,
// partly picked, undone), with the ahead and behind counts git itself gives.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Git } from "../../../src/platform/git.ts";
import { branchStanding } from "../../../src/platform/git_landed.ts";
import { commitFile, git, makeRepository } from "../../fixtures/git_fixtures.ts";
import { type TempDir, tempDir } from "../../fixtures/helpers.ts";

const gitRunner = new Git();

// A repository on main with a branch `feature` holding `commits` commits of its own.
function repositoryWithFeature(commits: number): TempDir {
  const temp = tempDir("slo-landed-");
  const path = join(temp.path, "repo");
  makeRepository(path);
  git(path, "checkout", "-q", "-b", "feature");
  for (let i = 1; i <= commits; i++) commitFile(path, `feature-${i}.txt`, `feature ${i}\n`);
  git(path, "checkout", "-q", "main");
  return { path, remove: temp.remove, [Symbol.dispose]: temp.remove };
}

const standing = (repository: string, branch = "feature", base = "main") =>
  branchStanding(gitRunner, { repository, branch, base });

test("landed: a --no-ff merge is merged", async () => {
  using r = repositoryWithFeature(2);
  commitFile(r.path, "main.txt");
  git(r.path, "merge", "-q", "--no-ff", "-m", "merge feature", "feature");
  assert.deepEqual(await standing(r.path), { ahead: 0, behind: 2, landed: "merged" });
});

test("landed: a squash merge committed on the base is squash-merged, also after the base changed those files", async () => {
  using temp = tempDir("slo-landed-");
  const path = join(temp.path, "repo");
  makeRepository(path);
  const lines = Array.from({ length: 10 }, (_, i) => `line ${i + 1}`);
  commitFile(path, "lines.txt", `${lines.join("\n")}\n`);
  git(path, "checkout", "-q", "-b", "feature");
  commitFile(path, "lines.txt", `${["line 1 on the branch", ...lines.slice(1)].join("\n")}\n`);
  commitFile(path, "feature.txt");
  git(path, "checkout", "-q", "main");
  commitFile(path, "main.txt");
  git(path, "merge", "-q", "--squash", "feature");
  git(path, "commit", "-q", "-m", "squashed feature");
  assert.deepEqual(await standing(path), { ahead: 2, behind: 2, landed: "squash-merged" });
  // The base goes on changing a file the branch changed, elsewhere in it: the branch's change is still in.
  commitFile(path, "lines.txt", `${["line 1 on the branch", ...lines.slice(1, 9), "line 10 on main"].join("\n")}\n`);
  assert.equal((await standing(path))?.landed, "squash-merged");
  // Until the base undoes part of it.
  commitFile(path, "lines.txt", `${[...lines.slice(0, 9), "line 10 on main"].join("\n")}\n`);
  assert.equal((await standing(path))?.landed, null);
});

test("landed: with a merge driver configured, no merge is test-run and a squash is still found by its files", async () => {
  using r = repositoryWithFeature(2);
  const marker = join(r.path, "..", "driver-ran");
  git(r.path, "config", "merge.evil.driver", `touch ${marker}`);
  writeFileSync(join(r.path, ".gitattributes"), "* merge=evil\n");
  git(r.path, "add", ".gitattributes");
  git(r.path, "commit", "-q", "-m", "attributes");
  git(r.path, "merge", "-q", "--squash", "feature");
  git(r.path, "commit", "-q", "-m", "squashed feature");
  assert.equal((await standing(r.path))?.landed, "squash-merged");
  commitFile(r.path, "feature-1.txt", "changed on main\n");
  assert.equal((await standing(r.path))?.landed, null);
  assert.equal(existsSync(marker), false);
});

test("landed: every commit cherry-picked onto the base is cherry-picked", async () => {
  using r = repositoryWithFeature(2);
  commitFile(r.path, "main.txt");
  const commits = git(r.path, "rev-list", "--reverse", "main..feature").split("\n");
  for (const commit of commits) git(r.path, "cherry-pick", commit);
  assert.deepEqual(await standing(r.path), { ahead: 2, behind: 3, landed: "cherry-picked" });
});

test("landed: a branch rebased onto the base and then fast-forwarded is merged", async () => {
  using r = repositoryWithFeature(2);
  commitFile(r.path, "main.txt");
  git(r.path, "rebase", "-q", "main", "feature");
  git(r.path, "checkout", "-q", "main");
  git(r.path, "merge", "-q", "--ff-only", "feature");
  assert.deepEqual(await standing(r.path), { ahead: 0, behind: 0, landed: "merged" });
});

test("landed: the base rebased onto the branch's old commits (its copy fast-forwarded) is cherry-picked", async () => {
  using r = repositoryWithFeature(2);
  commitFile(r.path, "main.txt");
  git(r.path, "checkout", "-q", "-b", "copy", "feature");
  git(r.path, "rebase", "-q", "main");
  git(r.path, "checkout", "-q", "main");
  git(r.path, "merge", "-q", "--ff-only", "copy");
  assert.equal((await standing(r.path))?.landed, "cherry-picked");
});

test("landed: unmerged work, a partly cherry-picked branch and a branch whose commits undo each other are not landed", async () => {
  using r = repositoryWithFeature(2);
  commitFile(r.path, "main.txt");
  assert.deepEqual(await standing(r.path), { ahead: 2, behind: 1, landed: null });
  git(r.path, "cherry-pick", git(r.path, "rev-list", "--reverse", "main..feature").split("\n")[0]);
  assert.deepEqual(await standing(r.path), { ahead: 2, behind: 2, landed: null });
  git(r.path, "checkout", "-q", "-b", "undone", "main");
  commitFile(r.path, "gone.txt");
  git(r.path, "rm", "-q", "gone.txt");
  git(r.path, "commit", "-q", "-m", "remove gone.txt");
  git(r.path, "checkout", "-q", "main");
  assert.deepEqual(await standing(r.path, "undone"), { ahead: 2, behind: 0, landed: null });
});

test("landed: a branch with no commits of its own is never landed, however far the base moved on", async () => {
  using r = repositoryWithFeature(0);
  assert.deepEqual(await standing(r.path), { ahead: 0, behind: 0, landed: null });
  commitFile(r.path, "a.txt");
  commitFile(r.path, "b.txt");
  assert.deepEqual(await standing(r.path), { ahead: 0, behind: 2, landed: null });
  // Without its reflog, the tip older than the session says the same.
  git(r.path, "reflog", "expire", "--expire=now", "--all");
  const createdAt = new Date(Date.now() + 1000).toISOString();
  assert.equal(
    (await branchStanding(gitRunner, { repository: r.path, branch: "feature", base: "main", createdAt }))
      ?.landed,
    null,
  );
});

test("landed: a missing branch or base answers null; names that could be options are refused", async () => {
  using r = repositoryWithFeature(1);
  assert.equal(await standing(r.path, "nope"), null);
  assert.equal(await standing(r.path, "feature", "nope"), null);
  await assert.rejects(standing(r.path, "-x"), { kind: "InvalidInput" });
  assert.equal(await standing(r.path, "feature", "--output=/tmp/x"), null);
  // A base given as a commit id works as well as a name.
  assert.equal((await standing(r.path, "feature", git(r.path, "rev-parse", "main")))?.ahead, 1);
});
