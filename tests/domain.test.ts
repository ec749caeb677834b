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
} from "../mod.ts";

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
    "InvalidInput",
    "RepositoryNotFound",
    "SessionNotFound",
    "Storage",
    "WorktreeCreation",
  ]);
});

test("newSessionId makes distinct UUID v4 strings", () => {
  const ids = new Set(Array.from({ length: 1000 }, () => newSessionId()));
  assert.equal(ids.size, 1000);
  for (const id of ids) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
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
