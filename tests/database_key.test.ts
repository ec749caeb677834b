import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  decodeBase64,
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
  DATABASE_KEY_CHECK_FILE,
  DATABASE_KEY_ENV,
  DATABASE_KEY_FILE,
  keychainWorks,
  openDefaultKeychain,
  resolveDatabaseKey,
} from "../src/platform/mod.ts";
import { runScript, tempDir } from "./helpers.ts";

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
      // The keychain unavailable at a later start (locked, no session bus): refused, no new key file.
      await assert.rejects(
        resolveDatabaseKey({ dataDir: dir.path, env: {}, keychain: null }),
        (error: unknown) => isEncryptionError(error) && /cannot be found/.test((error as Error).message),
      );
      assert.throws(() => statSync(join(dir.path, DATABASE_KEY_FILE)));
    } finally {
      await keychain!.delete(service, DATABASE_KEY_ACCOUNT);
      dir.remove();
    }
  },
);

test("a data directory keeps its first key: a lost key is an error, never a new key", async () => {
  const dir = tempDir();
  try {
    const bytes = generateDatabaseKeyBytes();
    const first = await resolveDatabaseKey({
      dataDir: dir.path,
      env: { [DATABASE_KEY_ENV]: encodeBase64(bytes) },
      keychain: null,
    });
    assert.equal(first.source, "env");
    assert.ok(statSync(join(dir.path, DATABASE_KEY_CHECK_FILE)).isFile());
    // The key is gone from the environment and there is no keychain: no key file may be made.
    await assert.rejects(resolveDatabaseKey({ dataDir: dir.path, env: {}, keychain: null }), (error: unknown) => {
      assert.ok(isEncryptionError(error));
      assert.match((error as Error).message, /cannot be found/);
      return true;
    });
    assert.throws(() => statSync(join(dir.path, DATABASE_KEY_FILE)));
    // Another key is refused; the first one is still accepted.
    await assert.rejects(
      resolveDatabaseKey({
        dataDir: dir.path,
        env: { [DATABASE_KEY_ENV]: encodeBase64(generateDatabaseKeyBytes()) },
        keychain: null,
      }),
      (error: unknown) => isEncryptionError(error) && /not the key/.test((error as Error).message),
    );
    const again = await resolveDatabaseKey({
      dataDir: dir.path,
      env: { [DATABASE_KEY_ENV]: encodeBase64(bytes) },
      keychain: null,
    });
    assert.ok(await sameKey(first.key, again.key));
  } finally {
    dir.remove();
  }
});

test("processes deciding a new data directory's key at once all get the same key", async () => {
  const dir = tempDir();
  try {
    const script = new URL("./fixtures/database_key_worker.ts", import.meta.url).pathname;
    const results = await Promise.all(
      Array.from(
        { length: 4 },
        () => runScript(script, [join(dir.path, "data")], { env: { DBUS_SESSION_BUS_ADDRESS: "" } }),
      ),
    );
    for (const result of results) assert.equal(result.code, 0, result.stderr);
    // The key that stayed opens every process's probe: they all sealed with it.
    const { key } = await resolveDatabaseKey({ dataDir: join(dir.path, "data"), env: {}, keychain: null });
    for (const result of results) {
      const [nonce, encryptedSecret] = result.stdout.trim().split(" ").map((text) => decodeBase64(text));
      assert.deepEqual(await decryptSessionSecret(key, "probe", { nonce, encryptedSecret }), new Uint8Array(32));
    }
  } finally {
    dir.remove();
  }
});
