// Issue 22, included files: a new worktree gets the main checkout's ignored, untracked files that
// `.worktreeinclude` or the operator's `include` patterns name, on real git and real files. Never a
// file git does not ignore, never over a file, never through a symbolic link, never an unlisted
// ignored folder; modes kept; what was copied is recorded and named by the delete. The
// copy-on-write test mounts a real XFS file system with reflinks (needs root and mkfs.xfs; skipped
// otherwise, unless REQUIRE_REFLINK=1 makes that an error, as in CI).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RepositorySettings, SessionOrchestrator } from "../../../mod.ts";
import { includeFiles } from "../../../src/platform/mod.ts";
import { commitFile, git, makeRepository, type WorktreeFixture, worktreeFixture } from "../../fixtures/git_fixtures.ts";
import { deferred, isBun } from "../../fixtures/helpers.ts";

function withSettings(f: WorktreeFixture, settings: RepositorySettings | null): SessionOrchestrator {
  return new SessionOrchestrator({
    store: f.store,
    chain: f.chain,
    worktrees: f.lifecycle,
    repositorySettings: () => settings,
  });
}

function write(path: string, content: string, mode?: number): void {
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, content);
  if (mode !== undefined) chmodSync(path, mode);
}

// A checkout with one of every kind of thing an include must tell apart.
function populate(repo: string): void {
  write(join(repo, ".gitignore"), ".env*\nnode_modules/\n.cache/\n*.local.json\nbuild/\nscratch.txt\n");
  git(repo, "add", ".gitignore");
  git(repo, "commit", "-q", "-m", "ignores");
  write(join(repo, ".env"), "SECRET=1\n", 0o600);
  write(join(repo, ".env.test"), "SECRET=2\n", 0o640);
  write(join(repo, "config", "app.local.json"), "{}\n", 0o644);
  write(join(repo, "node_modules", "x", ".env"), "from a package\n");
  write(join(repo, ".cache", "tool", "run.sh"), "#!/bin/sh\n", 0o755);
  write(join(repo, "build", "out.bin"), "binary\n");
  write(join(repo, "notes.env.md"), "untracked, not ignored\n");
  write(join(repo, "scratch.txt"), "ignored but not named\n");
}

test("a worktree gets exactly the ignored files that are named, with their modes", async () => {
  using f = await worktreeFixture();
  populate(f.repositoryPath);
  write(join(f.repositoryPath, ".worktreeinclude"), "# patterns, gitignore syntax\n.env*\n*.local.json\n");
  const orchestrator = withSettings(f, { include: [".cache/", "notes*"] });
  const session = await orchestrator.createSession({
    repositoryId: f.repository.id,
    title: "include",
    isWorktree: true,
  });
  const wt = session.worktreePath!;
  assert.equal(readFileSync(join(wt, ".env"), "utf8"), "SECRET=1\n");
  assert.equal(statSync(join(wt, ".env")).mode & 0o777, 0o600);
  assert.equal(statSync(join(wt, ".env.test")).mode & 0o777, 0o640);
  assert.equal(readFileSync(join(wt, "config", "app.local.json"), "utf8"), "{}\n");
  // A folder named whole comes whole, an executable stays one.
  assert.equal(statSync(join(wt, ".cache", "tool", "run.sh")).mode & 0o777, 0o755);
  // `.env*` does not reach into node_modules/, an ignored folder no pattern names.
  assert.equal(existsSync(join(wt, "node_modules")), false);
  // Not named, or named but not ignored (git would show it as untracked work in the worktree).
  assert.equal(existsSync(join(wt, "build")), false);
  assert.equal(existsSync(join(wt, "scratch.txt")), false);
  assert.equal(existsSync(join(wt, "notes.env.md")), false);
  // The worktree is clean to git: everything copied is ignored there too.
  assert.equal(git(wt, "status", "--porcelain"), "");
  // The create's answer says what it got, and the session keeps it.
  assert.deepEqual(session.included?.entries, [".cache/", ".env", ".env.test", "config/app.local.json"]);
  assert.deepEqual((await orchestrator.getSession(session.id))?.included, session.included);

  const closed = await orchestrator.deleteSession(session.id, { force: true });
  assert.deepEqual(closed?.session.included?.entries, [".cache/", ".env", ".env.test", "config/app.local.json"]);
  assert.equal(closed?.session.included?.files, 4);
  const bytes = closed!.session.included!.bytesCloned + closed!.session.included!.bytesCopied;
  assert.equal(bytes, "SECRET=1\n".length + "SECRET=2\n".length + "{}\n".length + "#!/bin/sh\n".length);
});

test("nothing named: nothing copied and nothing recorded", async () => {
  using f = await worktreeFixture();
  populate(f.repositoryPath);
  const session = await withSettings(f, null).createSession({
    repositoryId: f.repository.id,
    title: "plain",
    isWorktree: true,
  });
  assert.equal(existsSync(join(session.worktreePath!, ".env")), false);
  const closed = await f.orchestrator.deleteSession(session.id);
  assert.equal(closed?.session.included, null);
});

test("a link is copied as a link, never its target, and never written through", async () => {
  const outside = mkdtempSync(join(tmpdir(), "slo-outside-"));
  using _outside = deferred(() => rmSync(outside, { recursive: true, force: true }));
  using f = await worktreeFixture();
  const repo = f.repositoryPath;
  write(join(repo, ".gitignore"), ".env\nconf/\nsecrets.link\n");
  git(repo, "add", ".gitignore");
  git(repo, "commit", "-q", "-m", "ignores");
  write(join(outside, "private.key"), "do not copy\n");
  symlinkSync(join(outside, "private.key"), join(repo, "secrets.link"));
  // On a branch the worktree starts from, `conf` is a link (committed) to a folder outside:
  // copying the checkout's ignored conf/ into it would write outside the worktree.
  git(repo, "checkout", "-q", "-b", "linked");
  symlinkSync(outside, join(repo, "conf"));
  git(repo, "add", "-f", "conf");
  git(repo, "commit", "-q", "-m", "conf is a link");
  git(repo, "checkout", "-q", "main");
  write(join(repo, "conf", "local.json"), "{}\n");
  // A `.worktreeinclude` that is a link is not read: it could name anything.
  write(join(outside, "include"), "*\n");
  symlinkSync(join(outside, "include"), join(repo, ".worktreeinclude"));

  const orchestrator = withSettings(f, { include: ["secrets.link", "conf/"] });
  const session = await orchestrator.createSession({
    repositoryId: f.repository.id,
    title: "links",
    isWorktree: true,
    baseRef: "linked",
  });
  const wt = session.worktreePath!;
  assert.ok(lstatSync(join(wt, "secrets.link")).isSymbolicLink());
  assert.equal(readlinkSync(join(wt, "secrets.link")), join(outside, "private.key"));
  assert.equal(existsSync(join(outside, "local.json")), false, "nothing was written through the link");
  assert.equal(existsSync(join(wt, ".env")), false, "the linked .worktreeinclude was not read");
  const closed = await orchestrator.deleteSession(session.id, { force: true });
  assert.equal(closed?.session.included?.links, 1);
  assert.deepEqual(closed?.session.included?.skipped.map((entry) => entry.path), ["conf"]);
});

test("a file the worktree already has is never overwritten", async () => {
  using f = await worktreeFixture();
  const repo = f.repositoryPath;
  // Committed on a branch, ignored and untracked in the main checkout.
  git(repo, "checkout", "-q", "-b", "with-config");
  commitFile(repo, "settings.local", "from the branch\n");
  git(repo, "checkout", "-q", "main");
  write(join(repo, ".gitignore"), "settings.local\n");
  git(repo, "add", ".gitignore");
  git(repo, "commit", "-q", "-m", "ignores");
  write(join(repo, "settings.local"), "from the checkout\n");
  const orchestrator = withSettings(f, { include: ["settings.local"] });
  const session = await orchestrator.createSession({
    repositoryId: f.repository.id,
    title: "keep",
    isWorktree: true,
    baseRef: "with-config",
  });
  assert.equal(readFileSync(join(session.worktreePath!, "settings.local"), "utf8"), "from the branch\n");
  const closed = await orchestrator.deleteSession(session.id, { force: true });
  assert.deepEqual(closed?.session.included?.skipped, [{
    path: "settings.local",
    reason: "already in the worktree",
  }]);
  assert.equal(closed?.session.included?.files, 0);
});

test("a restored worktree gets the checkout's included files again, after its archived work", async () => {
  using f = await worktreeFixture();
  populate(f.repositoryPath);
  const orchestrator = withSettings(f, { include: [".env", "config/"] });
  const session = await orchestrator.createSession({
    repositoryId: f.repository.id,
    title: "arch",
    isWorktree: true,
  });
  writeFileSync(join(session.worktreePath!, "work.txt"), "uncommitted\n");
  await orchestrator.archiveSession(session.id);
  assert.equal(existsSync(session.worktreePath!), false);
  const restored = await orchestrator.restoreSession(session.id);
  assert.equal(readFileSync(join(restored.worktreePath!, ".env"), "utf8"), "SECRET=1\n");
  assert.equal(readFileSync(join(restored.worktreePath!, "config", "app.local.json"), "utf8"), "{}\n");
  assert.equal(readFileSync(join(restored.worktreePath!, "work.txt"), "utf8"), "uncommitted\n");
});

test("a fork gets the checkout's included files, not its source's copies of them", async () => {
  using f = await worktreeFixture();
  populate(f.repositoryPath);
  const orchestrator = withSettings(f, { include: [".env"] });
  const source = await orchestrator.createSession({ repositoryId: f.repository.id, title: "src", isWorktree: true });
  writeFileSync(join(source.worktreePath!, ".env"), "changed in the source\n");
  const fork = await orchestrator.forkSession(source.id, { title: "fork" });
  // A fork copies its source's work, which ignored files are not part of: its .env is the checkout's.
  assert.equal(readFileSync(join(fork.worktreePath!, ".env"), "utf8"), "SECRET=1\n");
});

test("includeFiles copies a folder of many files, and every byte is counted once", async () => {
  const root = mkdtempSync(join(tmpdir(), "slo-include-"));
  using _root = deferred(() => rmSync(root, { recursive: true, force: true }));
  const checkout = join(root, "app");
  makeRepository(checkout);
  write(join(checkout, ".gitignore"), "data/\n");
  let total = 0;
  for (let i = 0; i < 300; i++) {
    const content = `file ${i}\n`.repeat(i % 7 + 1);
    total += content.length;
    write(join(checkout, "data", `d${i % 10}`, `f${i}.txt`), content);
  }
  const worktree = join(root, "wt");
  mkdirSync(worktree);
  const report = await includeFiles({ checkout, worktree, patterns: ["data/"] });
  assert.deepEqual(report.entries, ["data/"]);
  assert.equal(report.files, 300);
  assert.equal(report.bytesCloned + report.bytesCopied, total);
  assert.equal(readFileSync(join(worktree, "data", "d3", "f123.txt"), "utf8"), "file 123\n".repeat(123 % 7 + 1));
});

// --- copy-on-write, on a real XFS with reflinks ---

const requireReflink = process.env.REQUIRE_REFLINK === "1";

function reflinkUnavailable(): string | null {
  if (process.getuid?.() !== 0) return "not root, so no file system can be mounted";
  try {
    execFileSync("mkfs.xfs", ["-V"], { stdio: "ignore" });
  } catch {
    return "mkfs.xfs is not installed (Debian's xfsprogs)";
  }
  return null;
}

const unavailable = reflinkUnavailable();
const skip = unavailable === null || requireReflink
  ? false
  : `${unavailable} (set REQUIRE_REFLINK=1 to make this an error)`;

test("on XFS with reflinks the bytes are cloned where the runtime can prove it", { skip }, async () => {
  if (unavailable !== null) throw new Error(`REQUIRE_REFLINK=1, but ${unavailable}`);
  const root = mkdtempSync(join(tmpdir(), "slo-xfs-"));
  const image = join(root, "xfs.img");
  const mount = join(root, "mnt");
  mkdirSync(mount);
  execFileSync("truncate", ["-s", "320M", image]);
  execFileSync("mkfs.xfs", ["-q", "-m", "reflink=1", image]);
  execFileSync("mount", ["-o", "loop", image, mount]);
  using _mount = deferred(() => {
    execFileSync("umount", [mount]);
    rmSync(root, { recursive: true, force: true });
  });
  const checkout = join(mount, "app");
  makeRepository(checkout);
  write(join(checkout, ".gitignore"), "*.bin\n");
  const content = "0123456789abcdef".repeat(64 * 1024); // 1 MiB
  write(join(checkout, "model.bin"), content);
  const worktree = join(mount, "wt");
  mkdirSync(worktree);
  const report = await includeFiles({ checkout, worktree, patterns: ["*.bin"] });
  assert.equal(readFileSync(join(worktree, "model.bin"), "utf8"), content);
  assert.equal(report.bytesCloned + report.bytesCopied, content.length);
  // Bun and Node fail a forced clone where none can be made, so a success there is one; Deno
  // copies while asked to clone, so nothing it does is counted as cloned.
  assert.equal(report.bytesCloned, isBun ? content.length : 0);
});
