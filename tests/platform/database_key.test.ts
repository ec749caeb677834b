import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  createSession,
  decodeBase64,
  decryptSessionSecret,
  encodeBase64,
  encryptSessionSecret,
  generateDatabaseKeyBytes,
  generateSessionSecret,
  importDatabaseKey,
  MemoryStore,
  SessionError,
  SessionSecretChain,
} from "../../mod.ts";
import {
  DATABASE_KEY_ACCOUNT,
  DATABASE_KEY_CHECK_FILE,
  DATABASE_KEY_ENV,
  DATABASE_KEY_FILE,
  keychainWorks,
  openDefaultKeychain,
  openSqliteStore,
  resolveDatabaseKey,
  sqliteSecretProbe,
  storeSecretProbe,
} from "../../src/platform/mod.ts";
import { DATABASE_FILE_NAME, startServer } from "../../src/server/serve.ts";
import { asyncDeferred, asyncDisposable, openSqliteFile, runScript, tempDir } from "../fixtures/helpers.ts";

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
  using dir = tempDir();
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
  using dir = tempDir();
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
});

test("a key file readable by others is refused", { skip: process.platform === "win32" }, async () => {
  using dir = tempDir();
  const file = join(dir.path, DATABASE_KEY_FILE);
  writeFileSync(file, encodeBase64(generateDatabaseKeyBytes()));
  chmodSync(file, 0o644);
  await assert.rejects(resolveDatabaseKey({ dataDir: dir.path, env: {}, keychain: null }), (error: unknown) => {
    assert.ok(isEncryptionError(error));
    assert.match((error as Error).message, /chmod 600/);
    return true;
  });
});

const keychain = openDefaultKeychain();
const keychainAvailable = keychain !== null && await keychainWorks(keychain);

test(
  "with a working keychain the key is created there on first use and read back afterwards",
  { skip: keychainAvailable ? false : "no OS keychain on this machine" },
  async () => {
    using dir = tempDir();
    const service = `slo-test-${crypto.randomUUID()}`;
    await using _key = asyncDeferred(() => keychain!.delete(service, DATABASE_KEY_ACCOUNT));
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
  },
);

test("a data directory keeps its first key: a lost key is an error, never a new key", async () => {
  using dir = tempDir();
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
});

test("processes deciding a new data directory's key at once all get the same key", async () => {
  using dir = tempDir();
  const script = new URL("../fixtures/database_key_worker.ts", import.meta.url).pathname;
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
});

// A data directory whose SQLite file holds one session with a secret sealed under `keyBytes`, as a
// server leaves it; then its check file is removed, as after a first start that never wrote one.
async function dataDirWithSealedSecret(dataDir: string, keyBytes: Uint8Array): Promise<string> {
  const databasePath = join(dataDir, DATABASE_FILE_NAME);
  using store = openSqliteFile(databasePath);
  const repository = await store.createRepository({ path: "/src/app", name: "app" });
  const session = await createSession(store, { repositoryId: repository.id, title: "t", isWorktree: false });
  const chain = new SessionSecretChain({ store, databaseKey: await importDatabaseKey(keyBytes) });
  await chain.provision(session.id);
  return databasePath;
}

test("a missing check file does not let a wrong key in: the key must open a secret already in the store", async () => {
  using dir = tempDir();
  const right = generateDatabaseKeyBytes();
  const wrong = generateDatabaseKeyBytes();
  const databasePath = await dataDirWithSealedSecret(dir.path, right);
  const checkFile = join(dir.path, DATABASE_KEY_CHECK_FILE);
  const probe = sqliteSecretProbe(databasePath);
  const withKey = (bytes: Uint8Array) =>
    resolveDatabaseKey({
      dataDir: dir.path,
      env: { [DATABASE_KEY_ENV]: encodeBase64(bytes) },
      keychain: null,
      probe,
    });

  await assert.rejects(withKey(wrong), (error) => {
    assert.ok(isEncryptionError(error), String(error));
    assert.match((error as Error).message, /cannot open the sealed secret of session/);
    assert.match((error as Error).message, new RegExp(DATABASE_KEY_ENV));
    return true;
  });
  assert.ok(!existsSync(checkFile), "no check file was written for the wrong key");

  const accepted = await withKey(right);
  assert.equal(accepted.source, "env");
  assert.ok(existsSync(checkFile), "the right key leaves its check");
  // From now on the check file alone refuses the wrong key, with or without the probe.
  await assert.rejects(withKey(wrong), isEncryptionError);
  await assert.rejects(
    resolveDatabaseKey({ dataDir: dir.path, env: { [DATABASE_KEY_ENV]: encodeBase64(wrong) }, keychain: null }),
    isEncryptionError,
  );
});

test("a store with secrets but no key anywhere is a lost key: no new key file is made", async () => {
  using dir = tempDir();
  const databasePath = await dataDirWithSealedSecret(dir.path, generateDatabaseKeyBytes());
  await assert.rejects(
    resolveDatabaseKey({ dataDir: dir.path, env: {}, keychain: null, probe: sqliteSecretProbe(databasePath) }),
    (error) => isEncryptionError(error) && /cannot be found now/.test((error as Error).message),
  );
  assert.ok(!existsSync(join(dir.path, DATABASE_KEY_FILE)));
  assert.ok(!existsSync(join(dir.path, DATABASE_KEY_CHECK_FILE)));
});

test("an empty store, or none yet, accepts the first key and keeps its check", async () => {
  using dir = tempDir();
  // No database file at all (a first start), then a migrated one without secrets.
  const databasePath = join(dir.path, "first", DATABASE_FILE_NAME);
  assert.equal(await sqliteSecretProbe(databasePath)(), null);
  const first = await resolveDatabaseKey({
    dataDir: join(dir.path, "first"),
    env: {},
    keychain: null,
    probe: sqliteSecretProbe(databasePath),
  });
  assert.equal(first.source, "file");
  assert.ok(existsSync(join(dir.path, "first", DATABASE_KEY_CHECK_FILE)));
  assert.ok(!existsSync(databasePath), "the probe creates nothing");

  const emptyPath = join(dir.path, "empty", DATABASE_FILE_NAME);
  openSqliteStore(emptyPath).close();
  const bytes = generateDatabaseKeyBytes();
  const empty = await resolveDatabaseKey({
    dataDir: join(dir.path, "empty"),
    env: { [DATABASE_KEY_ENV]: encodeBase64(bytes) },
    keychain: null,
    probe: sqliteSecretProbe(emptyPath),
  });
  assert.ok(await sameKey(empty.key, await importDatabaseKey(bytes)));
  assert.ok(existsSync(join(dir.path, "empty", DATABASE_KEY_CHECK_FILE)));
});

test("storeSecretProbe finds a sealed secret through any store's reader", async () => {
  using dir = tempDir();
  const store = new MemoryStore();
  const probe = storeSecretProbe(store);
  assert.equal(await probe(), null);
  const repository = await store.createRepository({ path: "/src/app", name: "app" });
  await createSession(store, { repositoryId: repository.id, title: "no secret", isWorktree: false });
  const session = await createSession(store, { repositoryId: repository.id, title: "t", isWorktree: false });
  const right = generateDatabaseKeyBytes();
  await new SessionSecretChain({ store, databaseKey: await importDatabaseKey(right) }).provision(session.id);
  assert.equal((await probe())?.sessionId, session.id);
  const env = (bytes: Uint8Array) => ({ [DATABASE_KEY_ENV]: encodeBase64(bytes) });
  await assert.rejects(
    resolveDatabaseKey({ dataDir: dir.path, env: env(generateDatabaseKeyBytes()), keychain: null, probe }),
    isEncryptionError,
  );
  assert.equal(
    (await resolveDatabaseKey({ dataDir: dir.path, env: env(right), keychain: null, probe })).source,
    "env",
  );
});

test("server: a wrong key with the check file gone is refused at start; the right key still starts", async () => {
  using dir = tempDir();
  const right = generateDatabaseKeyBytes();
  await dataDirWithSealedSecret(dir.path, right);
  const start = (bytes: Uint8Array) =>
    startServer({ dataDir: dir.path, port: 0, keychain: null, env: { [DATABASE_KEY_ENV]: encodeBase64(bytes) } });
  await assert.rejects(start(generateDatabaseKeyBytes()), isEncryptionError);
  assert.ok(!existsSync(join(dir.path, DATABASE_KEY_CHECK_FILE)));
  await using server = asyncDisposable(await start(right), (server) => server.stop());
  assert.ok(existsSync(join(dir.path, DATABASE_KEY_CHECK_FILE)));
  const [session] = await server.parts.store.listSessions();
  assert.equal((await server.parts.chain.resolve(session.id))?.length, 32);
});
