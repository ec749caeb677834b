import { test } from "node:test";
import assert from "node:assert/strict";
import {
  branchNameProblem,
  isSessionError,
  isUuid,
  newRepositoryId,
  newSessionId,
  SESSION_ERROR_KINDS,
  SessionError,
} from "../../mod.ts";

test("SessionError carries its kind, message and cause", () => {
  const cause = new Error("disk full");
  const error = new SessionError("Storage", "writing failed", { cause });
  assert.ok(error instanceof Error);
  assert.equal(error.name, "SessionError");
  assert.equal(error.kind, "Storage");
  assert.equal(error.message, "writing failed");
  assert.equal(error.cause, cause);
  assert.ok(isSessionError(error, "Storage"));
  assert.ok(!isSessionError(error, "Conflict"));
  assert.ok(!isSessionError(new Error("x")));
});

test("every design error kind exists", () => {
  assert.deepEqual([...SESSION_ERROR_KINDS].sort(), [
    "Conflict",
    "Encryption",
    "Forbidden",
    "InsufficientStorage",
    "InvalidInput",
    "RepositoryNotFound",
    "SessionNotFound",
    "SnapshotNotFound",
    "Storage",
    "WorktreeCreation",
  ]);
});

test("newSessionId makes distinct UUID v7 strings, each later in order than the one before", () => {
  // 5,000 in a tight loop: several share a millisecond, and some overflow its counter.
  const before = Date.now();
  const ids = Array.from({ length: 5000 }, () => newSessionId());
  assert.equal(new Set(ids).size, ids.length);
  for (const id of ids) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  for (let i = 1; i < ids.length; i++) assert.ok(ids[i - 1] < ids[i], `${ids[i - 1]} before ${ids[i]}`);
  // The first 48 bits are the Unix time in milliseconds when the id was made (never earlier).
  const millisecond = parseInt(ids[0].replaceAll("-", "").slice(0, 12), 16);
  assert.ok(millisecond >= before && millisecond < before + 86_400_000, `${millisecond} is the time, ${before}`);
  assert.ok(isUuid(newRepositoryId()));
  assert.ok(!isUuid("not-a-uuid"));
  assert.ok(!isUuid(42));
});

test("branch names follow git check-ref-format --branch", () => {
  for (const good of ["main", "session/fix-login", "feature/ü-λ", "a.b", "v1.2/x_y"]) {
    assert.equal(branchNameProblem(good), null, good);
  }
  for (
    const bad of [
      "-b",
      "--upload-pack=evil",
      "HEAD",
      "@",
      "a..b",
      "a b",
      "a~1",
      "a^",
      "a:b",
      "a?",
      "a*",
      "a[",
      "a\\b",
      "a@{1}",
      "/a",
      "a/",
      "a//b",
      "a.",
      ".hidden",
      "x/.y",
      "x.lock",
      "x/y.lock/z",
      "tab\there",
    ]
  ) {
    assert.notEqual(branchNameProblem(bad), null, bad);
  }
});
