// Input checks that protect the file system and git: limits in bytes where they count bytes, no
// invisible characters in names, and a refused worktree name reported as such.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { branchNameProblem, createSession, MemoryStore, newSessionId, SessionError } from "../../mod.ts";
import { MAX_BRANCH_NAME_BYTES, MAX_WORKTREE_NAME_BYTES } from "../../src/limits.ts";
import { requireBranchName } from "../../src/branch_names.ts";
import { requireWorktreeName } from "../../src/_path_checks.ts";
import { utf8ByteLength } from "../../src/_field_checks.ts";
import { branchForWorktreeName, defaultWorktreeName } from "../../src/platform/worktree_names.ts";
import { WorktreeLifecycle } from "../../src/platform/mod.ts";
import { assertNothingLeft, branches, git, makeRepository, worktreeFixture } from "../fixtures/git_fixtures.ts";
import { startTestApp } from "../fixtures/http_fixture.ts";
import { tempDir } from "../fixtures/helpers.ts";

/** Matches a `SessionError` of kind InvalidInput whose message names `field` (and not `notField`). */
const invalidField = (field: string, notField?: string) => (error: unknown) => {
  assert.ok(error instanceof SessionError, String(error));
  assert.equal(error.kind, "InvalidInput", error.message);
  assert.ok(error.message.startsWith(`${field} `), error.message);
  if (notField !== undefined) assert.ok(!error.message.includes(notField), error.message);
  return true;
};

const SESSION_ID = "1b4e28ba-2fa1-41d2-883f-0016d3cca427";

// Each one is invisible or reorders text, so a name holding it looks like another name.
const INVISIBLE: Record<string, string> = {
  "zero-width space": "\u200b",
  "zero-width non-joiner": "\u200c",
  "zero-width joiner": "\u200d",
  "word joiner": "\u2060",
  "byte order mark": "\ufeff",
  "left-to-right embedding": "\u202a",
  "right-to-left embedding": "\u202b",
  "pop directional formatting": "\u202c",
  "left-to-right override": "\u202d",
  "right-to-left override": "\u202e",
  "left-to-right isolate": "\u2066",
  "right-to-left isolate": "\u2067",
  "first strong isolate": "\u2068",
  "pop directional isolate": "\u2069",
  "left-to-right mark": "\u200e",
  "right-to-left mark": "\u200f",
  "arabic letter mark": "\u061c",
  "C1 control (first)": "\u0080",
  "next line (C1)": "\u0085",
  "C1 control (last)": "\u009f",
  "soft hyphen": "\u00ad",
  "tag character": "\u{e0041}",
  "line separator": "\u2028",
  "hangul filler": "\u3164",
  "lone surrogate": "\ud800",
};

test("a worktree name is limited to 255 UTF-8 bytes, not 255 characters", () => {
  assert.throws(() => requireWorktreeName("é".repeat(200)), (error) => {
    invalidField("worktreeName")(error);
    assert.match((error as Error).message, /255 bytes.*400/);
    return true;
  });
  assert.equal(requireWorktreeName("é".repeat(127)), "é".repeat(127)); // 254 bytes
  assert.equal(requireWorktreeName("a".repeat(MAX_WORKTREE_NAME_BYTES)).length, 255);
  assert.throws(() => requireWorktreeName("a".repeat(256)), invalidField("worktreeName"));
  assert.throws(() => requireWorktreeName("😀".repeat(64)), invalidField("worktreeName")); // 256 bytes
});

test("a branch name is limited in bytes, and each component leaves room for git's .lock file", () => {
  assert.equal(requireBranchName(`a/${"b".repeat(250)}`), `a/${"b".repeat(250)}`);
  assert.throws(() => requireBranchName("b".repeat(251)), invalidField("branchName"));
  assert.match(branchNameProblem("b".repeat(251)) ?? "", /component.*250 bytes/);
  assert.throws(() => requireBranchName(`x/${"é".repeat(126)}`), invalidField("branchName")); // 252-byte component
  const long = Array.from({ length: 6 }, () => "c".repeat(42)).join("/"); // 257 bytes
  assert.throws(() => requireBranchName(long), invalidField("branchName"));
  assert.match(branchNameProblem(long) ?? "", new RegExp(`${MAX_BRANCH_NAME_BYTES} bytes`));
});

test("invisible and bidirectional-control characters are refused in titles, worktree names and branch names", async () => {
  const store = new MemoryStore();
  const repository = await store.createRepository({ path: "/src/app", name: "app" });
  const base = { repositoryId: repository.id, title: "t", isWorktree: true, worktreeName: "w", branchName: "b" };
  for (const [what, character] of Object.entries(INVISIBLE)) {
    const text = `fix${character}login`;
    for (const field of ["title", "worktreeName", "branchName"] as const) {
      await assert.rejects(
        createSession(store, { ...base, [field]: text }, undefined, "/wt/w"),
        invalidField(field),
        `${what} in ${field}`,
      );
    }
    assert.ok(branchNameProblem(text) !== null, what);
  }
  // The message names the character, since it cannot be seen.
  assert.throws(() => requireWorktreeName("a\u202eb"), /U\+202E/);
  assert.deepEqual(await store.listSessions(), [], "nothing was written");
});

test("an emoji's variation selector is fine in a title but not in a name; names must be NFC", async () => {
  const store = new MemoryStore();
  const repository = await store.createRepository({ path: "/src/app", name: "app" });
  const session = await createSession(store, { repositoryId: repository.id, title: "Fix ❤\ufe0f", isWorktree: false });
  assert.equal(session.title, "Fix ❤\ufe0f");
  assert.throws(() => requireWorktreeName("heart-❤\ufe0f"), invalidField("worktreeName"));
  assert.throws(() => requireBranchName("heart-❤\ufe0f"), invalidField("branchName"));
  // "é" precomposed and "e" + combining acute look alike (and are one folder on macOS).
  assert.equal(requireWorktreeName("caf\u00e9"), "café");
  assert.throws(() => requireWorktreeName("cafe\u0301"), /NFC/);
  assert.throws(() => requireBranchName("cafe\u0301"), /NFC/);
});

test("default worktree names from long non-ASCII titles stay within the byte limit, cut between characters", () => {
  const titles = [
    "é".repeat(300),
    "日本語のタイトル".repeat(40),
    `a${"𝐀".repeat(60)}`, // astral letters at an odd UTF-16 offset: a cut by code units splits a pair
    "ש".repeat(100) + " fix",
    "İstanbul ".repeat(30), // lower-casing decomposes İ
    `title\u200bwith\u202einvisible\u3164chars`,
    "e\u0301".repeat(100),
  ];
  for (const title of titles) {
    const name = defaultWorktreeName(title, SESSION_ID);
    assert.equal(requireWorktreeName(name), name, title);
    assert.ok(utf8ByteLength(name) <= MAX_WORKTREE_NAME_BYTES, title);
    assert.ok(!/\p{Cs}/u.test(name), `no half of a surrogate pair in ${JSON.stringify(name)}`);
    assert.ok(name.endsWith(`-${SESSION_ID.slice(-8)}`), name);
    assert.equal(requireBranchName(branchForWorktreeName("session/", name)), branchForWorktreeName("session/", name));
  }
  assert.equal(defaultWorktreeName(`a${"𝐀".repeat(60)}`, SESSION_ID), `a${"𝐀".repeat(31)}-${SESSION_ID.slice(-8)}`);
});

test("every accepted worktree name gives a valid default branch, whatever the prefix", () => {
  const names = [
    "a".repeat(255),
    "é".repeat(127),
    `${"x".repeat(249)}.lock`,
    "name.lock",
    "x.lock-ish",
    "HEAD",
    "@",
    "a@{b",
    "x..y",
    "dark mode ü",
    "~^[ x\u00a0y",
    "Résumé tweaks",
  ];
  for (const prefix of ["session/", "", "team/agents-", "a/b/"]) {
    for (const name of names) {
      const accepted = requireWorktreeName(name);
      const branch = branchForWorktreeName(prefix, accepted);
      assert.equal(branchNameProblem(branch), null, `${prefix} + ${name} gave ${JSON.stringify(branch)}`);
      assert.ok(branch.startsWith(prefix), branch);
    }
  }
  assert.equal(branchForWorktreeName("session/", "Résumé tweaks"), "session/Résumé-tweaks");
  assert.equal(utf8ByteLength(branchForWorktreeName("session/", "é".repeat(127))), 254);
});

test("worktree: a 400-byte worktree name is InvalidInput naming worktreeName, before git or the disk", async () => {
  using f = await worktreeFixture();
  const base = { repositoryId: f.repository.id, title: "t", isWorktree: true as const };
  await assert.rejects(
    f.orchestrator.createSession({ ...base, worktreeName: "é".repeat(200) }),
    invalidField("worktreeName"),
  );
  await assert.rejects(
    f.orchestrator.createSession({ ...base, worktreeName: "fix\u202elogin" }),
    invalidField("worktreeName", "branchName"),
  );
  await assertNothingLeft(f);

  // The longest accepted name works end to end: the folder is made and the derived branch fits.
  const session = await f.orchestrator.createSession({ ...base, worktreeName: "a".repeat(255) });
  assert.ok(existsSync(session.worktreePath!));
  assert.ok(utf8ByteLength(session.branchName!) <= MAX_BRANCH_NAME_BYTES);
  assert.deepEqual(branches(f.repositoryPath), ["main", session.branchName!].sort());
  await f.orchestrator.deleteSession(session.id, { deleteBranch: true });
  await assertNothingLeft(f);
});

test("http+git: a worktree name of 200 × é is a 400 naming worktreeName, and nothing is made", async () => {
  using repoDir = tempDir("slo-http-names-");
  const repositoryPath = join(repoDir.path, "repo");
  makeRepository(repositoryPath);
  const worktreesRoot = join(repoDir.path, "worktrees");
  await using t = await startTestApp({
    lifecycle: () => new WorktreeLifecycle({ worktreesRoot }),
  });
  const repository = await t.callJson("/v1/repositories", {
    method: "POST",
    json: { path: repositoryPath, name: "repo", isGitRepository: true },
  });
  assert.equal(repository.status, 201);
  const answer = await t.callJson("/v1/sessions", {
    method: "POST",
    json: { repositoryId: repository.body.id, title: "t", isWorktree: true, worktreeName: "é".repeat(200) },
  });
  assert.equal(answer.status, 400, JSON.stringify(answer.body));
  assert.equal(answer.body.error.kind, "InvalidInput");
  assert.match(answer.body.error.message, /^worktreeName .*bytes/);
  assert.deepEqual(t.logged, []);
  assert.deepEqual(branches(repositoryPath), ["main"]);
  assert.equal(git(repositoryPath, "worktree", "list", "--porcelain").split("\n\n").filter(Boolean).length, 1);
  assert.deepEqual((await t.callJson("/v1/sessions")).body.sessions, []);
});

test("sessions with one title made back to back get different default worktree names", () => {
  // Time-ordered ids share their start within a minute; the name takes the random end.
  const names = new Set(Array.from({ length: 200 }, () => defaultWorktreeName("Fix the bug", newSessionId())));
  assert.equal(names.size, 200);
});
