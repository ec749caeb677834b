// resolveDatabaseKey with a key check kept elsewhere than the data directory (as the Postgres store
// keeps it in the database): the check is read and claimed through the interface, no check file is
// written, and when another process claimed the check first for another key, this key is refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { encodeBase64, generateDatabaseKeyBytes, SessionError } from "../../mod.ts";
import {
  DATABASE_KEY_CHECK_FILE,
  DATABASE_KEY_ENV,
  type DatabaseKeyCheck,
  resolveDatabaseKey,
} from "../../src/platform/mod.ts";
import { tempDir } from "../fixtures/helpers.ts";

// A check in memory; `firstClaim` stands for a value another process claimed in between.
function memoryCheck(firstClaim: string | null = null): DatabaseKeyCheck & { value: string | null; claims: number } {
  const check = {
    location: "the key check in memory",
    value: null as string | null,
    claims: 0,
    read: () => Promise.resolve(check.value),
    claim: (value: string) => {
      check.claims++;
      check.value ??= firstClaim ?? value;
      return Promise.resolve(check.value);
    },
  };
  return check;
}

const envOf = (key: Uint8Array) => ({ [DATABASE_KEY_ENV]: encodeBase64(key) });

test("a key check passed in is read and claimed there, and no check file is written", async () => {
  using dir = tempDir();
  const check = memoryCheck();
  const key = generateDatabaseKeyBytes();
  await resolveDatabaseKey({ dataDir: dir.path, env: envOf(key), keychain: null, keyCheck: check });
  assert.equal(check.claims, 1);
  assert.notEqual(check.value, null);
  assert.ok(!existsSync(join(dir.path, DATABASE_KEY_CHECK_FILE)));
  // Held to it from then on: the same key passes without claiming again, another is refused.
  await resolveDatabaseKey({ dataDir: dir.path, env: envOf(key), keychain: null, keyCheck: check });
  assert.equal(check.claims, 1);
  await assert.rejects(
    resolveDatabaseKey({
      dataDir: dir.path,
      env: envOf(generateDatabaseKeyBytes()),
      keychain: null,
      keyCheck: check,
    }),
    (error: unknown) =>
      error instanceof SessionError && error.kind === "Encryption" &&
      /does not match the key check in memory/.test(error.message),
  );
});

test("a check another process claimed first for another key refuses this key", async () => {
  using dir = tempDir();
  // The value the other process's key left.
  const other = memoryCheck();
  await resolveDatabaseKey({
    dataDir: dir.path,
    env: envOf(generateDatabaseKeyBytes()),
    keychain: null,
    keyCheck: other,
  });
  const raced = memoryCheck(other.value);
  await assert.rejects(
    resolveDatabaseKey({
      dataDir: dir.path,
      env: envOf(generateDatabaseKeyBytes()),
      keychain: null,
      keyCheck: raced,
    }),
    (error: unknown) => error instanceof SessionError && error.kind === "Encryption",
  );
  assert.equal(raced.value, other.value, "the first claim is kept");
});
