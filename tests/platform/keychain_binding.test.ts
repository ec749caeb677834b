// A keychain binding that did not load is a broken install, not a machine without a keychain: the
// error names the cause and the fix, the probe rethrows it, no key file is made for it, and the
// server refuses to start before writing anything. In-process, with a keychain that fails as the
// real one does when `@napi-rs/keyring` cannot be imported (tests/project/outside_scripts.test.ts makes
// the real import fail).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { SessionError } from "../../mod.ts";
import type { Keychain } from "../../src/keychain.ts";
import { isKeychainBindingFailure, keychainWorks, resolveDatabaseKey } from "../../src/platform/mod.ts";
import { keychainBindingFailure } from "../../src/platform/keychain.ts";
import { startServer } from "../../src/server/serve.ts";
import { StartError } from "../../src/server/start_error.ts";
import { tempDir } from "../fixtures/helpers.ts";

// The runtimes' own errors for the import, as each one words them.
function moduleNotFound(message: string): Error {
  return Object.assign(new TypeError(message), { code: "ERR_MODULE_NOT_FOUND" });
}
const denoUnresolved = () =>
  moduleNotFound('Import "@napi-rs/keyring" not a dependency\n    at file:///ck/src/platform/keychain.ts:30:22\n');
const bunUnresolved = () =>
  moduleNotFound("Cannot find package '@napi-rs/keyring' imported from /ck/src/platform/keychain.ts");
const nativeMissing = () =>
  new Error(
    "Cannot find native binding. npm has a bug related to optional dependencies (https://github.com/npm/cli/issues/4828).",
  );

// A keychain whose every call fails as OsKeychain's does when its binding did not load.
function unloadableKeychain(cause: unknown = denoUnresolved()): Keychain {
  const fail = () => Promise.reject(keychainBindingFailure(cause, "deno", "/ck"));
  return { get: fail, set: fail, delete: fail };
}

test("a binding Deno cannot resolve: the message names --config <checkout>/deno.json and the JSR package", () => {
  const cause = denoUnresolved();
  const error = keychainBindingFailure(cause, "deno", "/ck");
  assert.ok(error instanceof SessionError);
  assert.equal(error.kind, "Storage");
  assert.equal(error.cause, cause);
  assert.ok(isKeychainBindingFailure(error));
  assert.doesNotMatch(error.message, /\n/);
  assert.match(
    error.message,
    /@napi-rs\/keyring could not be resolved \(Import "@napi-rs\/keyring" not a dependency\)/,
  );
  assert.ok(error.message.includes('"deno run --config /ck/deno.json ..."'), error.message);
  assert.ok(error.message.includes("jsr:@rengoku/session-lifecycle-orchestrator/platform"), error.message);
});

test("a binding Bun or Node cannot resolve: the message names the install in the checkout", () => {
  assert.match(
    keychainBindingFailure(bunUnresolved(), "bun", "/ck").message,
    /could not be resolved.*"bun install" in \/ck$/,
  );
  assert.match(keychainBindingFailure(bunUnresolved(), "node", "/ck").message, /"npm install" in \/ck$/);
});

test("a missing native binary: the message names the platform package", () => {
  const error = keychainBindingFailure(nativeMissing(), "bun", "/ck");
  assert.ok(isKeychainBindingFailure(error));
  assert.match(error.message, /could not be loaded \(Cannot find native binding\./);
  assert.ok(error.message.includes(`@napi-rs/keyring-${process.platform}-${process.arch}-*`), error.message);
  assert.ok(error.message.includes('"bun install" in /ck'), error.message);
});

test("only a binding failure is recognized: not a keychain's other errors, not a look-alike", () => {
  const failure = keychainBindingFailure(denoUnresolved(), "deno", "/ck");
  assert.equal(isKeychainBindingFailure(new SessionError("Storage", failure.message)), false);
  assert.equal(
    isKeychainBindingFailure(new SessionError("Storage", "OS keychain: reading a/b failed: AccessDenied")),
    false,
  );
  for (const value of [null, undefined, "error", 1, {}]) assert.equal(isKeychainBindingFailure(value), false);
});

test("keychainWorks rethrows a binding failure, and still answers false for a keychain that cannot answer", async () => {
  const keychain = unloadableKeychain();
  await assert.rejects(keychainWorks(keychain), (error) => isKeychainBindingFailure(error));
  const refusing: Keychain = {
    get: () => Promise.resolve(null),
    set: () => Promise.reject(new SessionError("Storage", "OS keychain: writing failed: no result found")),
    delete: () => Promise.resolve(false),
  };
  assert.equal(await keychainWorks(refusing), false);
});

test("resolveDatabaseKey with a keychain whose binding did not load: refused, and no key file is written", async () => {
  using dir = tempDir("slo-binding-");
  const dataDir = join(dir.path, "data");
  await assert.rejects(
    resolveDatabaseKey({ dataDir, env: {}, keychain: unloadableKeychain() }),
    (error) => isKeychainBindingFailure(error) && /--config \/ck\/deno\.json/.test(error.message),
  );
  assert.deepEqual(
    readdirSync(dataDir).filter((name) => name.startsWith("database.key") && !name.endsWith(".lock")),
    [],
  );
  // Without a keychain at all (no session bus) it is as before: a key file, with the warning.
  const none = await resolveDatabaseKey({ dataDir, env: {}, keychain: null });
  assert.equal(none.source, "file");
  assert.match(none.warning!, /no OS keychain available/);
});

test("startServer with a keychain whose binding did not load: a StartError with that line, before anything is written", async () => {
  using dir = tempDir("slo-binding-");
  const dataDir = join(dir.path, "data");
  const keychain = unloadableKeychain();
  await assert.rejects(startServer({ dataDir, port: 0, keychain, env: {} }), (error) => {
    assert.ok(error instanceof StartError, String(error));
    assert.ok(isKeychainBindingFailure(error.cause));
    assert.equal(error.message, (error.cause as Error).message);
    return true;
  });
  assert.equal(existsSync(dataDir), false, "the data directory (token, key, database) is not made");
});
