import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  decryptSessionSecret,
  encodeBase64,
  encryptSessionSecret,
  generateDatabaseKeyBytes,
  generateSessionSecret,
  importDatabaseKey,
  SessionError,
} from "../mod.ts";
import {
  DATABASE_KEY_ACCOUNT,
  DATABASE_KEY_ENV,
  DATABASE_KEY_FILE,
  keychainWorks,
  openDefaultKeychain,
  resolveDatabaseKey,
} from "../src/platform/mod.ts";
import { tempDir } from "./helpers.ts";

const isEncryptionError = (error: unknown) => error instanceof SessionError && error.kind === "Encryption";

// Two CryptoKeys are the same key when one opens what the other sealed.
async function sameKey(a: CryptoKey, b: CryptoKey): Promise<boolean> {
  const secret = generateSessionSecret();
  const sealed = await encryptSessionSecret(a, "probe", secret);
  try {
    return encodeBase64(await decryptSessionSecret(b, "probe", sealed)) === encodeBase64(secret);
  } catch {
    return false;
  }
}

test("the environment variable wins", async () => {
  const dir = tempDir();
  try {
    const bytes = generateDatabaseKeyBytes();
    const resolved = await resolveDatabaseKey({
      dataDir: dir.path,
      env: { [DATABASE_KEY_ENV]: encodeBase64(bytes) },
      keychain: null,
    });
    assert.equal(resolved.source, "env");
    assert.equal(resolved.warning, null);
    assert.ok(await sameKey(resolved.key, await importDatabaseKey(bytes)));
    assert.throws(() => statSync(join(dir.path, DATABASE_KEY_FILE))); // no file was written
  } finally {
    dir.remove();
  }
});

test("a malformed or short key in the environment is refused", async () => {
  for (const value of ["not base64!", encodeBase64(new Uint8Array(16))]) {
    await assert.rejects(
      resolveDatabaseKey({ dataDir: "/nonexistent", env: { [DATABASE_KEY_ENV]: value }, keychain: null }),
      isEncryptionError,
    );
  }
});

test("without a keychain a 0600 key file is made once, with a warning, and reused", async () => {
  const dir = tempDir();
  try {
    const first = await resolveDatabaseKey({ dataDir: join(dir.path, "data"), env: {}, keychain: null });
    assert.equal(first.source, "file");
    assert.match(first.warning ?? "", /no OS keychain/);
    const file = join(dir.path, "data", DATABASE_KEY_FILE);
    if (process.platform !== "win32") assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(readFileSync(file, "utf8").trim().length, 44);
    const second = await resolveDatabaseKey({ dataDir: join(dir.path, "data"), env: {}, keychain: null });
    assert.equal(second.source, "file");
    assert.equal(second.warning, null);
    assert.ok(await sameKey(first.key, second.key));
  } finally {
    dir.remove();
  }
});

test("a key file readable by others is refused", { skip: process.platform === "win32" }, async () => {
  const dir = tempDir();
  try {
    const file = join(dir.path, DATABASE_KEY_FILE);
    writeFileSync(file, encodeBase64(generateDatabaseKeyBytes()));
    chmodSync(file, 0o644);
    await assert.rejects(resolveDatabaseKey({ dataDir: dir.path, env: {}, keychain: null }), (error: unknown) => {
      assert.ok(isEncryptionError(error));
      assert.match((error as Error).message, /chmod 600/);
      return true;
    });
  } finally {
    dir.remove();
  }
});

const keychain = openDefaultKeychain();
const keychainAvailable = keychain !== null && await keychainWorks(keychain);

test(
  "with a working keychain the key is created there on first use and read back afterwards",
  { skip: keychainAvailable ? false : "no OS keychain on this machine" },
  async () => {
    const dir = tempDir();
    const service = `slo-test-${crypto.randomUUID()}`;
    try {
      const first = await resolveDatabaseKey({ dataDir: dir.path, env: {}, keychain, keychainService: service });
      assert.equal(first.source, "keychain");
      assert.notEqual(await keychain!.get(service, DATABASE_KEY_ACCOUNT), null);
      const second = await resolveDatabaseKey({ dataDir: dir.path, env: {}, keychain, keychainService: service });
      assert.equal(second.source, "keychain");
      assert.ok(await sameKey(first.key, second.key));
      assert.throws(() => statSync(join(dir.path, DATABASE_KEY_FILE)));
    } finally {
      await keychain!.delete(service, DATABASE_KEY_ACCOUNT);
      dir.remove();
    }
  },
);
