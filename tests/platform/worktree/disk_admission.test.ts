// Issue 24, disk admission: a worktree create whose checkout would not fit in the free space where
// worktrees go is refused with InsufficientStorage (HTTP 507) before anything is made, on a real
// small file system (a tmpfs, so this needs root: skipped otherwise, unless REQUIRE_FULL_DISK=1
// makes that an error, as in CI) with real git.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SessionError, SessionOrchestrator } from "../../../mod.ts";
import { statusOf } from "../../../src/http/errors.ts";
import { WorktreeLifecycle } from "../../../src/platform/mod.ts";
import { branches, git, worktreeFixture } from "../../fixtures/git_fixtures.ts";
import { deferred } from "../../fixtures/helpers.ts";

const required = process.env.REQUIRE_FULL_DISK === "1";
const unavailable = process.getuid?.() === 0 ? null : "not root, so no tmpfs can be mounted";
const skip = unavailable === null || required
  ? false
  : `${unavailable} (set REQUIRE_FULL_DISK=1 to make this an error)`;

test("a create whose checkout would not fit is refused before anything is made", { skip }, async () => {
  if (unavailable !== null) throw new Error(`REQUIRE_FULL_DISK=1, but ${unavailable}`);
  using f = await worktreeFixture();
  const mount = mkdtempSync(join(tmpdir(), "slo-small-disk-"));
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=8m", "tmpfs", mount]);
  using _mount = deferred(() => {
    execFileSync("umount", [mount]);
    rmSync(mount, { recursive: true, force: true });
  });
  // 12 MiB tracked: more than the 8 MiB file system holds.
  writeFileSync(join(f.repositoryPath, "big.bin"), new Uint8Array(12 * 1024 * 1024));
  git(f.repositoryPath, "add", "big.bin");
  git(f.repositoryPath, "commit", "-q", "-m", "big");
  const worktreesRoot = join(mount, "worktrees");
  const orchestrator = new SessionOrchestrator({
    store: f.store,
    chain: f.chain,
    worktrees: new WorktreeLifecycle({ worktreesRoot, diskHeadroomBytes: 1024 * 1024 }),
  });
  const before = branches(f.repositoryPath);
  await assert.rejects(
    orchestrator.createSession({ repositoryId: f.repository.id, title: "Too big", isWorktree: true }),
    (error: unknown) => {
      assert.ok(error instanceof SessionError && error.kind === "InsufficientStorage", String(error));
      assert.match(error.message, /checkout needs 12 MiB plus 1\.0 MiB to spare, and .* has [\d.]+ MiB free/);
      return true;
    },
  );
  assert.equal(statusOf("InsufficientStorage"), 507);
  // Nothing was made: no branch, no folder, no row, no journal entry.
  assert.deepEqual(branches(f.repositoryPath), before);
  assert.deepEqual((await orchestrator.listSessions()).sessions, []);
  mkdirSync(worktreesRoot, { recursive: true });
  assert.deepEqual(readdirSync(worktreesRoot).filter((name) => name !== ".journal"), []);

  // From a commit whose checkout fits, the same disk takes it.
  const small = await orchestrator.createSession({
    repositoryId: f.repository.id,
    title: "Small",
    isWorktree: true,
    baseRef: "HEAD~1",
  });
  assert.ok(small.worktreePath!.startsWith(worktreesRoot));
  await orchestrator.deleteSession(small.id, { deleteBranch: true });
});
