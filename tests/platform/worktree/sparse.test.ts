// Issue 23, sparse paths: the operator's `sparse` directories are set in cone mode between the
// `--no-checkout` add and the checkout, so a new worktree gets only the cone's files (and the
// top-level files) and never a full checkout first; a sparse create never claims a pool entry; a
// forced delete still saves all the work; bad values are refused when the config is loaded. On
// real git and a real SQLite file.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { LifecycleEvents, MAX_SPARSE_PATHS, SessionOrchestrator } from "../../../mod.ts";
import { loadOperatorConfig } from "../../../src/platform/operator_config.ts";
import type { WorktreeLifecycle } from "../../../src/platform/mod.ts";
import { assertNothingLeft, git, type WorktreeFixture, worktreeFixture } from "../../fixtures/git_fixtures.ts";
import { tempDir } from "../../fixtures/helpers.ts";

const SPARSE = ["src/app", "docs"];

// A checkout with files inside and outside the cone, at the top level and in a cone's parent folder.
function populate(repositoryPath: string): void {
  const files: Record<string, string> = {
    "top.txt": "top\n",
    "src/root.txt": "src root\n",
    "src/app/main.ts": "main\n",
    "src/app/deep/util.ts": "util\n",
    "src/lib/lib.ts": "lib\n",
    "docs/guide.md": "guide\n",
    "vendor/big/blob.bin": "blob\n",
  };
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(dirname(join(repositoryPath, name)), { recursive: true });
    writeFileSync(join(repositoryPath, name), content);
  }
  git(repositoryPath, "add", ".");
  git(repositoryPath, "commit", "-q", "-m", "files");
}

// The cone as git checks it out: the cone's directories whole, plus the files at the top level and
// directly in each of their parents (`src/root.txt`), and nothing else.
function inCone(name: string): boolean {
  const folder = name.includes("/") ? name.slice(0, name.lastIndexOf("/")) : "";
  return folder === "" || folder === "src" || SPARSE.some((directory) => name.startsWith(`${directory}/`));
}
const CONE_FILES = ["README.md", "docs/guide.md", "src/app/deep/util.ts", "src/app/main.ts", "src/root.txt", "top.txt"];

function orchestratorFor(
  f: WorktreeFixture,
  lifecycle: WorktreeLifecycle,
  events?: LifecycleEvents,
): SessionOrchestrator {
  return new SessionOrchestrator({
    store: f.store,
    chain: f.chain,
    events,
    worktrees: lifecycle,
    repositorySettings: () => ({ sparse: SPARSE }),
  });
}

function assertSparse(wt: string, repositoryPath: string): void {
  const tracked = git(wt, "ls-tree", "-r", "--name-only", "HEAD").trim().split("\n");
  assert.deepEqual(tracked.filter(inCone).sort(), CONE_FILES);
  for (const name of tracked) assert.equal(existsSync(join(wt, name)), inCone(name), name);
  assert.equal(existsSync(join(wt, "src/lib/lib.ts")), false);
  assert.equal(existsSync(join(wt, "vendor")), false);
  assert.equal(git(wt, "status", "--porcelain", "--untracked-files=all"), "");
  assert.deepEqual(git(wt, "sparse-checkout", "list").trim().split("\n").sort(), [...SPARSE].sort());
  // The files outside the cone are in the index, marked skip-worktree, not deleted.
  assert.match(git(wt, "ls-files", "-t", "--", "src/lib/lib.ts"), /^S src\/lib\/lib.ts/);
  // The main checkout stays full and not sparse; git keeps the cone in the worktree's own config.
  assert.equal(existsSync(join(repositoryPath, "src/lib/lib.ts")), true);
  assert.equal(git(repositoryPath, "config", "--get", "extensions.worktreeConfig").trim(), "true");
  assert.equal(git(repositoryPath, "config", "--bool", "--default", "false", "core.sparseCheckout").trim(), "false");
  assert.equal(git(wt, "config", "--bool", "core.sparseCheckoutCone").trim(), "true");
}

for (const listening of [false, true]) {
  test(`a sparse create checks out only the cone and the top-level files, clean (progress ${listening ? "on" : "off"})`, async () => {
    using f = await worktreeFixture();
    populate(f.repositoryPath);
    const events = new LifecycleEvents();
    const phases: string[] = [];
    if (listening) {
      events.subscribeAll((event) => {
        if (event.type === "session.progress") phases.push(event.phase);
      });
    }
    const orchestrator = orchestratorFor(f, f.lifecycle, events);
    const session = await orchestrator.createSession({
      repositoryId: f.repository.id,
      title: "sparse",
      isWorktree: true,
    });
    const wt = session.worktreePath!;
    assertSparse(wt, f.repositoryPath);
    assert.equal(git(wt, "symbolic-ref", "--short", "HEAD").trim(), session.branchName);
    if (listening) assert.ok(phases.includes("add") && phases.includes("checkout"), phases.join(","));
    await orchestrator.deleteSession(session.id, { deleteBranch: true });
    await assertNothingLeft(f);
  });
}

test("a sparse create never claims a pool entry: it is made cold and the pool stays full", async () => {
  using f = await worktreeFixture();
  populate(f.repositoryPath);
  const lifecycle = f.lifecycleWith({ pool: 1, logError: () => {} });
  const orchestrator = orchestratorFor(f, lifecycle);
  // Asked first: the pool starts filling when the repository is first seen.
  assert.deepEqual(await orchestrator.repositoryPool(f.repository.id), { size: 1, ready: 0 });
  await lifecycle.poolSettled();
  assert.deepEqual(await orchestrator.repositoryPool(f.repository.id), { size: 1, ready: 1 });
  const session = await orchestrator.createSession({
    repositoryId: f.repository.id,
    title: "sparse",
    isWorktree: true,
  });
  const wt = session.worktreePath!;
  // git's record is named after the session's folder, not a pool entry's.
  const name = wt.split("/").pop()!;
  assert.match(readFileSync(join(wt, ".git"), "utf8"), new RegExp(`/worktrees/${name}\n?$`));
  assertSparse(wt, f.repositoryPath);
  await lifecycle.poolSettled();
  assert.deepEqual(await orchestrator.repositoryPool(f.repository.id), { size: 1, ready: 1 });
  await orchestrator.deleteSession(session.id, { deleteBranch: true });
  await lifecycle.stopPools();
  await assertNothingLeft(f);
});

test("a forced delete of a sparse worktree keeps its work inside the cone in the snapshot, and every other file", async () => {
  using f = await worktreeFixture();
  populate(f.repositoryPath);
  const orchestrator = orchestratorFor(f, f.lifecycle);
  const session = await orchestrator.createSession({
    repositoryId: f.repository.id,
    title: "sparse",
    isWorktree: true,
  });
  const wt = session.worktreePath!;
  writeFileSync(join(wt, "src/app/main.ts"), "main changed\n");
  writeFileSync(join(wt, "src/app/new.ts"), "new\n");
  writeFileSync(join(wt, "docs/staged.md"), "staged\n");
  git(wt, "add", "docs/staged.md");
  const closed = await orchestrator.deleteSession(session.id, { force: true, deleteBranch: true });
  const ref = `refs/session-snapshots/${session.id}`;
  assert.equal(closed?.snapshotRef, ref);
  assert.equal(existsSync(wt), false);
  const show = (name: string) => `${git(f.repositoryPath, "show", `${ref}:${name}`)}\n`;
  assert.equal(show("src/app/main.ts"), "main changed\n");
  assert.equal(show("src/app/new.ts"), "new\n");
  assert.equal(show("docs/staged.md"), "staged\n");
  // The files outside the cone are saved as they were, not as deletions.
  assert.equal(show("src/lib/lib.ts"), "lib\n");
  assert.equal(show("vendor/big/blob.bin"), "blob\n");
  assert.equal(
    git(f.repositoryPath, "diff", "--name-only", `${ref}^`, ref).trim().split("\n").sort().join(","),
    [
      "docs/staged.md",
      "src/app/main.ts",
      "src/app/new.ts",
    ].join(","),
  );
});

test("bad sparse values are refused when the config is loaded", () => {
  using dir = tempDir("slo-sparse-config-");
  const load = (sparse: unknown) => {
    const path = join(dir.path, "config.json");
    writeFileSync(path, JSON.stringify({ repositories: { "/src/app": { sparse } } }));
    return loadOperatorConfig(path, { required: true });
  };
  const good = load(["src/app", "docs/guide", "a b"]);
  assert.deepEqual(good.repositories.get("/src/app")?.sparse, ["src/app", "docs/guide", "a b"]);
  const cases: Array<[unknown, RegExp]> = [
    ["src/app", /sparse must be an array of directory paths/],
    [["/src/app"], /sparse\[0\] must be a relative directory path/],
    [["ok", "src/../etc"], /sparse\[1\] must not hold a \.\. segment/],
    [[".."], /must not hold a \.\. segment/],
    [["-x"], /sparse\[0\] must not start with -/],
    [["a\0b"], /NUL or a line break/],
    [["a\nb"], /NUL or a line break/],
    [[""], /non-empty string/],
    [[7], /non-empty string/],
    [Array.from({ length: MAX_SPARSE_PATHS + 1 }, (_, i) => `d${i}`), /more than 64 directories/],
  ];
  for (const [sparse, expected] of cases) {
    assert.throws(() => load(sparse), (error: Error) => {
      assert.equal((error as { kind?: string }).kind, "InvalidInput", error.message);
      assert.match(error.message, expected);
      return true;
    });
  }
  assert.equal(load(Array.from({ length: MAX_SPARSE_PATHS }, (_, i) => `d${i}`)) !== null, true);
});
