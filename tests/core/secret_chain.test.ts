// The memory and store layers of the chain; the keychain layer is tested on the real OS keychain
// in keychain.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  generateDatabaseKey,
  generateDatabaseKeyBytes,
  importDatabaseKey,
  MemoryStore,
  newSessionId,
  type SecretStore,
  SessionError,
  SessionSecretCache,
  SessionSecretChain,
  type SessionStore,
} from "../../mod.ts";
import { openSqliteStore } from "../../src/platform/mod.ts";
import { repositoryInput, tempDir } from "../fixtures/helpers.ts";

async function newSession(store: SessionStore): Promise<string> {
  const repository = (await store.listRepositories())[0] ?? await store.createRepository(repositoryInput());
  const session = await store.createSession({
    id: newSessionId(),
    repositoryId: repository.id,
    title: "t",
    isWorktree: false,
  });
  return session.id;
}

// Counts reads that reach the store, to prove which layer answered.
function countingStore(store: SessionStore): SecretStore & { reads: number } {
  const counted = {
    reads: 0,
    getSessionSecret: (id: string) => {
      counted.reads++;
      return store.getSessionSecret(id);
    },
    setSessionSecret: store.setSessionSecret.bind(store),
    deleteSessionSecret: store.deleteSessionSecret.bind(store),
  };
  return counted;
}

test("provision stores the secret sealed, caches it, and resolve answers from memory", async () => {
  const store = new MemoryStore();
  const id = await newSession(store);
  const counting = countingStore(store);
  const chain = new SessionSecretChain({ store: counting, databaseKey: await generateDatabaseKey() });
  const secret = await chain.provision(id);
  assert.equal(secret.length, 32);
  assert.ok(chain.cache.contains(id));
  const stored = await store.getSessionSecret(id);
  assert.equal(stored?.encryptedSecret.length, 48);
  assert.deepEqual(await chain.resolve(id), secret);
  assert.equal(counting.reads, 0);
});

test("a cold resolve opens the store's row and fills the cache", async () => {
  const store = new MemoryStore();
  const id = await newSession(store);
  const databaseKey = await generateDatabaseKey();
  const secret = await new SessionSecretChain({ store, databaseKey }).provision(id);
  const cold = new SessionSecretChain({ store, databaseKey });
  assert.ok(!cold.cache.contains(id));
  assert.deepEqual(await cold.resolve(id), secret);
  assert.ok(cold.cache.contains(id));
});

test("resolve is null when no layer has the secret, and InvalidInput for a malformed id", async () => {
  const chain = new SessionSecretChain({ store: new MemoryStore(), databaseKey: await generateDatabaseKey() });
  assert.equal(await chain.resolve(newSessionId()), null);
  await assert.rejects(chain.resolve("../x"), (e) => e instanceof SessionError && e.kind === "InvalidInput");
});

test("1,000 concurrent resolves of a cold id read the store once", async () => {
  const store = new MemoryStore();
  const id = await newSession(store);
  const databaseKey = await generateDatabaseKey();
  const secret = await new SessionSecretChain({ store, databaseKey }).provision(id);
  const counting = countingStore(store);
  const chain = new SessionSecretChain({ store: counting, databaseKey });
  const results = await Promise.all(Array.from({ length: 1000 }, () => chain.resolve(id)));
  assert.equal(counting.reads, 1);
  for (const result of results) assert.deepEqual(result, secret);
  // Each caller got its own copy.
  results[0]!.fill(0);
  assert.deepEqual(results[1], secret);
});

test("a tampered row or a row moved to another session fails with Encryption", async () => {
  const store = new MemoryStore();
  const a = await newSession(store);
  const b = await newSession(store);
  const databaseKey = await generateDatabaseKey();
  await new SessionSecretChain({ store, databaseKey }).provision(a);
  const row = (await store.getSessionSecret(a))!;
  await store.setSessionSecret({ sessionId: b, encryptedSecret: row.encryptedSecret, nonce: row.nonce });
  const chain = new SessionSecretChain({ store, databaseKey });
  await assert.rejects(chain.resolve(b), (e) => e instanceof SessionError && e.kind === "Encryption");
  const tampered = row.encryptedSecret.slice();
  tampered[0] ^= 1;
  await store.setSessionSecret({ sessionId: a, encryptedSecret: tampered, nonce: row.nonce });
  await assert.rejects(chain.resolve(a), (e) => e instanceof SessionError && e.kind === "Encryption");
  assert.ok(!chain.cache.contains(a));
});

test("forget leaves the secret in no layer", async () => {
  const store = new MemoryStore();
  const id = await newSession(store);
  const chain = new SessionSecretChain({ store, databaseKey: await generateDatabaseKey() });
  await chain.provision(id);
  await chain.forget(id);
  assert.ok(!chain.cache.contains(id));
  assert.equal(await store.getSessionSecret(id), null);
  assert.equal(await chain.resolve(id), null);
  assert.notEqual(await store.getSession(id), null);
});

test("provision for an unknown session fails with SessionNotFound and caches nothing", async () => {
  const chain = new SessionSecretChain({ store: new MemoryStore(), databaseKey: await generateDatabaseKey() });
  const id = newSessionId();
  await assert.rejects(chain.provision(id), (e) => e instanceof SessionError && e.kind === "SessionNotFound");
  assert.ok(!chain.cache.contains(id));
});

test("chains sharing a cache see each other's secrets", async () => {
  const store = new MemoryStore();
  const id = await newSession(store);
  const cache = new SessionSecretCache();
  const databaseKey = await generateDatabaseKey();
  const first = new SessionSecretChain({ store, databaseKey, cache });
  const second = new SessionSecretChain({ store: countingStore(store), databaseKey, cache: cache.clone() });
  const secret = await first.provision(id);
  assert.deepEqual(await second.resolve(id), secret);
});

test("a restart (new cache, same SQLite file, same key) recovers every secret, and no plaintext is on disk", async () => {
  using dir = tempDir();
  const file = join(dir.path, "sessions.db");
  const keyBytes = generateDatabaseKeyBytes();
  const before = openSqliteStore(file);
  const chain = new SessionSecretChain({ store: before, databaseKey: await importDatabaseKey(keyBytes) });
  const secrets = new Map<string, Uint8Array>();
  for (let i = 0; i < 20; i++) {
    const id = await newSession(before);
    secrets.set(id, await chain.provision(id));
  }
  before.close();

  const after = openSqliteStore(file);
  const restarted = new SessionSecretChain({ store: after, databaseKey: await importDatabaseKey(keyBytes) });
  for (const [id, secret] of secrets) assert.deepEqual(await restarted.resolve(id), secret);
  after.close();

  const onDisk = readdirSync(dir.path).map((name) => readFileSync(join(dir.path, name)));
  for (const secret of secrets.values()) {
    for (const bytes of onDisk) assert.equal(Buffer.from(bytes).indexOf(Buffer.from(secret)), -1);
  }
});

test("forget after a session delete clears the caches without another store write", async () => {
  const store = new MemoryStore();
  const id = await newSession(store);
  const counting = { ...countingStore(store), deletes: 0 };
  counting.deleteSessionSecret = (sessionId: string) => {
    counting.deletes++;
    return store.deleteSessionSecret(sessionId);
  };
  const chain = new SessionSecretChain({ store: counting, databaseKey: await generateDatabaseKey() });
  await chain.provision(id);
  await store.deleteSession(id); // the secret row goes with the session
  await chain.forget(id, { rowDeleted: true });
  assert.equal(counting.deletes, 0);
  assert.ok(!chain.cache.contains(id));
  assert.equal(await chain.resolve(id), null);
});

// Delays the store's deletes, so that a resolve can start while a forget is half done.
function slowDeletes(store: SessionStore, milliseconds: number): SecretStore {
  return {
    getSessionSecret: (id) => store.getSessionSecret(id),
    setSessionSecret: (input) => store.setSessionSecret(input),
    deleteSessionSecret: async (id) => {
      await new Promise((resolve) => setTimeout(resolve, milliseconds));
      return store.deleteSessionSecret(id);
    },
  };
}

test("a resolve called while a forget is under way waits for it and finds nothing", async () => {
  const store = new MemoryStore();
  const id = await newSession(store);
  const databaseKey = await generateDatabaseKey();
  await new SessionSecretChain({ store, databaseKey }).provision(id);
  const chain = new SessionSecretChain({ store: slowDeletes(store, 20), databaseKey });
  const forgetting = chain.forget(id);
  const resolved = await chain.resolve(id);
  await forgetting;
  assert.equal(resolved, null);
  assert.ok(!chain.cache.contains(id));
  assert.equal(await store.getSessionSecret(id), null);
});

test("a forget called while a cold load is under way clears what that load filled", async () => {
  const store = new MemoryStore();
  const id = await newSession(store);
  const databaseKey = await generateDatabaseKey();
  const secret = await new SessionSecretChain({ store, databaseKey }).provision(id);
  const chain = new SessionSecretChain({ store, databaseKey });
  const loading = chain.resolve(id);
  await chain.forget(id);
  assert.deepEqual(await loading, secret); // it started first, so it may answer
  assert.ok(!chain.cache.contains(id));
  assert.equal(await store.getSessionSecret(id), null);
  assert.equal(await chain.resolve(id), null);
});

test("invalidate makes the next resolve read the replaced sealed secret", async () => {
  const store = new MemoryStore();
  const id = await newSession(store);
  const databaseKey = await generateDatabaseKey();
  const chain = new SessionSecretChain({ store, databaseKey });
  const first = await chain.provision(id);
  const other = new SessionSecretChain({ store, databaseKey });
  const second = await other.provision(id); // replaces the sealed row behind the first chain's back
  assert.deepEqual(await chain.resolve(id), first);
  await chain.invalidate(id);
  assert.deepEqual(await chain.resolve(id), second);
});
