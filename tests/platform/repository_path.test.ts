// canonicalRepositoryPath against a real file system: one folder, one spelling.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, realpathSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SessionError } from "../../mod.ts";
import { canonicalRepositoryPath } from "../../src/platform/mod.ts";
import { openSqliteFile, tempDir } from "../fixtures/helpers.ts";
import { startTestApp } from "../fixtures/http_fixture.ts";

const isInvalid = (error: unknown) => error instanceof SessionError && error.kind === "InvalidInput";

test("spellings of one existing folder give one path: slashes, dot segments and symbolic links", {
  skip: process.platform === "win32",
}, () => {
  using dir = tempDir("slo-path-");
  // The temp folder itself may sit behind a link (macOS: /var → /private/var).
  const root = realpathSync(dir.path);
  mkdirSync(join(root, "r1", "sub"), { recursive: true });
  symlinkSync(join(root, "r1"), join(root, "link-to-r1"));
  symlinkSync(join(root, "r1", "sub"), join(root, "link-to-sub"));
  const r1 = join(root, "r1");
  for (
    const spelling of [
      r1,
      `${r1}/`,
      `${root}//r1`,
      `${root}/./r1/.`,
      `${r1}/sub/..`,
      `${root}/link-to-r1`,
      `${root}/link-to-r1/`,
      `${dir.path}/r1`,
      // `..` after a link is its target's parent, not the link's folder: resolved by the file system.
      `${root}/link-to-sub/..`,
    ]
  ) {
    assert.equal(canonicalRepositoryPath(spelling), r1, spelling);
  }
  assert.equal(canonicalRepositoryPath(`${root}/link-to-sub`), join(r1, "sub"));
});

test("a path that does not exist yet is resolved as far as it exists, the rest lexically", {
  skip: process.platform === "win32",
}, () => {
  using dir = tempDir("slo-path-");
  const root = realpathSync(dir.path);
  symlinkSync(root, join(root, "self"));
  assert.equal(canonicalRepositoryPath(`${root}/self/missing//a/../b/`), join(root, "missing", "b"));
  assert.equal(canonicalRepositoryPath("/"), "/");
});

test("relative, empty and unresolvable paths are InvalidInput", { skip: process.platform === "win32" }, () => {
  using dir = tempDir("slo-path-");
  for (const bad of ["relative/repo", "./repo", "../repo", "", "   "]) {
    assert.throws(() => canonicalRepositoryPath(bad), isInvalid, JSON.stringify(bad));
  }
  // A loop of links cannot be resolved.
  symlinkSync(join(dir.path, "loop-b"), join(dir.path, "loop-a"));
  symlinkSync(join(dir.path, "loop-a"), join(dir.path, "loop-b"));
  assert.throws(() => canonicalRepositoryPath(join(dir.path, "loop-a")), (error) => {
    assert.ok(isInvalid(error));
    assert.match((error as Error).message, /^path .* cannot be resolved \(ELOOP\)/);
    return true;
  });
  // A file on the way is not a folder: what follows it is kept lexically, as for a missing folder.
  writeFileSync(join(dir.path, "file"), "x");
  const root = realpathSync(dir.path);
  assert.equal(canonicalRepositoryPath(join(dir.path, "file", "repo")), join(root, "file", "repo"));
});

test("with canonical paths, a store refuses a second spelling of one repository", {
  skip: process.platform === "win32",
}, async () => {
  using dir = tempDir("slo-path-");
  using store = openSqliteFile(":memory:");
  mkdirSync(join(dir.path, "repo"));
  symlinkSync(join(dir.path, "repo"), join(dir.path, "alias"));
  const first = await store.createRepository({ path: canonicalRepositoryPath(join(dir.path, "repo")), name: "r" });
  await assert.rejects(
    store.createRepository({ path: canonicalRepositoryPath(join(dir.path, "alias")), name: "again" }),
    (error) => error instanceof SessionError && error.kind === "Conflict" && error.message.includes(first.id),
  );
});

test("server: a repository added under another spelling or through a symlink is the one already there (409 naming it)", async () => {
  using dir = tempDir("slo-repo-path-http-");
  await using t = await startTestApp();
  const real = join(dir.path, "r1");
  mkdirSync(real);
  symlinkSync(real, join(dir.path, "link"));
  const first = await t.callJson("/v1/repositories", { method: "POST", json: { path: `${real}/`, name: "r1" } });
  assert.equal(first.status, 201);
  assert.equal(first.body.path, realpathSync(real));
  for (const spelling of [real, `${dir.path}//r1`, join(dir.path, "link")]) {
    const again = await t.callJson("/v1/repositories", { method: "POST", json: { path: spelling, name: "again" } });
    assert.equal(again.status, 409, spelling);
    assert.match(again.body.error.message, new RegExp(first.body.id));
  }
});

test("server: a repository added without isGitRepository is looked at, by the server, for a git checkout", async () => {
  using dir = tempDir("slo-repo-git-");
  await using t = await startTestApp();
  const checkout = join(dir.path, "checkout");
  mkdirSync(join(checkout, ".git"), { recursive: true });
  const plain = join(dir.path, "plain");
  mkdirSync(plain);
  const git = await t.callJson("/v1/repositories", { method: "POST", json: { path: checkout, name: "c" } });
  assert.equal(git.body.isGitRepository, true);
  const notGit = await t.callJson("/v1/repositories", { method: "POST", json: { path: plain, name: "p" } });
  assert.equal(notGit.body.isGitRepository, false);
  // What the caller says stands.
  const told = await t.callJson("/v1/repositories", {
    method: "POST",
    json: { path: join(dir.path, "told"), name: "t", isGitRepository: true },
  });
  assert.equal(told.body.isGitRepository, true);
});
