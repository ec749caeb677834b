// The OS keychain layer, on the real keychain (GNOME Keyring over the Secret Service in CI).
// A test here skips only when this machine has no keychain and REQUIRE_KEYCHAIN is unset.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  encodeBase64,
  generateDatabaseKeyBytes,
  importDatabaseKey,
  newSessionId,
  SessionError,
  SessionOrchestrator,
  SessionSecretChain,
} from "../../mod.ts";
import { keychainWorks, openDefaultKeychain, openSqliteStore } from "../../src/platform/mod.ts";
import { openSqliteFile, repositoryInput, runScript, tempDir } from "../fixtures/helpers.ts";

const keychain = openDefaultKeychain();
const available = keychain !== null && await keychainWorks(keychain);
if (!available && process.env.REQUIRE_KEYCHAIN) {
  throw new Error("REQUIRE_KEYCHAIN is set but no working OS keychain was found");
}
const skip = available ? false : "no OS keychain on this machine (set REQUIRE_KEYCHAIN to make this an error)";
const worker = new URL("../fixtures/keychain_worker.ts", import.meta.url).pathname;

// Each test files its entries under a service of its own and removes them afterwards.
function testService(): string {
  return `slo-test-${crypto.randomUUID()}`;
}

test("the OS keychain stores, reads and deletes a secret", { skip }, async () => {
  const service = testService();
  assert.equal(await keychain!.get(service, "account"), null);
  await keychain!.set(service, "account", "value ü");
  assert.equal(await keychain!.get(service, "account"), "value ü");
  await keychain!.set(service, "account", "replaced");
  assert.equal(await keychain!.get(service, "account"), "replaced");
  assert.equal(await keychain!.delete(service, "account"), true);
  assert.equal(await keychain!.get(service, "account"), null);
  assert.equal(await keychain!.delete(service, "account"), false);
});

test("without a session bus the keychain fails at once with a clear SessionError", async () => {
  const env: Record<string, string> = { DBUS_SESSION_BUS_ADDRESS: "" };
  const result = await runScript(worker, ["raw-get", testService(), "account"], { env });
  assert.equal(result.code, 0, result.stderr);
  // It answers (the test would otherwise run into its time limit) with a clear error.
  const [word, kind] = result.stdout.trim().split(" ");
  assert.equal(word, "error");
  assert.equal(kind, "Storage");
  // With no session bus in the environment there is nothing to talk to on Linux.
  if (process.platform === "linux") assert.equal(openDefaultKeychain({}), null);
});

test("bad keychain names are InvalidInput", { skip }, async () => {
  await assert.rejects(keychain!.get("", "a"), (e) => e instanceof SessionError && e.kind === "InvalidInput");
});

test(
  "provision writes the keychain; a resolve without the store row falls back to it and refills the store",
  { skip },
  async () => {
    using dir = tempDir();
    const service = testService();
    const store = openSqliteStore(join(dir.path, "s.db"));
    const repository = await store.createRepository(repositoryInput());
    const id = newSessionId();
    await store.createSession({ id, repositoryId: repository.id, title: "t", isWorktree: false });
    const databaseKey = await importDatabaseKey(generateDatabaseKeyBytes());
    const chain = new SessionSecretChain({ store, databaseKey, keychain, keychainService: service });
    const secret = await chain.provision(id);
    assert.equal(await keychain!.get(service, id), encodeBase64(secret));

    await store.deleteSessionSecret(id);
    const cold = new SessionSecretChain({ store, databaseKey, keychain, keychainService: service });
    assert.deepEqual(await cold.resolve(id), secret);
    assert.ok(cold.cache.contains(id));
    const refilled = await store.getSessionSecret(id);
    assert.notEqual(refilled, null);
    // The refilled row is sealed: a third chain with no keychain opens it from the store alone.
    const storeOnly = new SessionSecretChain({ store, databaseKey });
    assert.deepEqual(await storeOnly.resolve(id), secret);

    await cold.forget(id);
    assert.equal(await keychain!.get(service, id), null);
    assert.equal(await store.getSessionSecret(id), null);
    assert.ok(!cold.cache.contains(id));
    assert.equal(
      await new SessionSecretChain({ store, databaseKey, keychain, keychainService: service }).resolve(id),
      null,
    );
    store.close();
  },
);

test(
  "a secret provisioned by one process is resolved by fresh processes from SQLite, then from the keychain",
  { skip },
  async () => {
    using dir = tempDir();
    const service = testService();
    const file = join(dir.path, "s.db");
    const key = encodeBase64(generateDatabaseKeyBytes());
    const provisioned = await runScript(worker, ["provision", file, key, service]);
    assert.equal(provisioned.code, 0, provisioned.stderr);
    const [id, secret] = provisioned.stdout.trim().split(" ");

    const fromStore = await runScript(worker, ["resolve", file, key, service, id]);
    assert.equal(fromStore.stdout.trim(), secret, fromStore.stderr);

    const store = openSqliteStore(file);
    await store.deleteSessionSecret(id);
    store.close();
    const fromKeychain = await runScript(worker, ["resolve", file, key, service, id]);
    assert.equal(fromKeychain.stdout.trim(), secret, fromKeychain.stderr);
    await keychain!.delete(service, id);
  },
);

test("a failing store write during provision removes the keychain entry again", { skip }, async () => {
  const service = testService();
  const store = openSqliteStore(":memory:");
  const chain = new SessionSecretChain({
    store,
    databaseKey: await importDatabaseKey(generateDatabaseKeyBytes()),
    keychain,
    keychainService: service,
  });
  const id = newSessionId(); // no such session: the store refuses the secret
  await assert.rejects(chain.provision(id), (e) => e instanceof SessionError && e.kind === "SessionNotFound");
  assert.equal(await keychain!.get(service, id), null);
  assert.ok(!chain.cache.contains(id));
  store.close();
});

test("a create refused for a taken id leaves the other session's keychain entry as it was", { skip }, async () => {
  const service = testService();
  using store = openSqliteFile(":memory:");
  const chain = new SessionSecretChain({
    store,
    databaseKey: await importDatabaseKey(generateDatabaseKeyBytes()),
    keychain,
    keychainService: service,
  });
  const orchestrator = new SessionOrchestrator({ store, chain });
  const repository = await orchestrator.createRepository({ path: "/src/app", name: "app" });
  const session = await orchestrator.createSession({ repositoryId: repository.id, title: "t", isWorktree: false });
  const entry = await keychain!.get(service, session.id);
  assert.notEqual(entry, null);
  await assert.rejects(
    orchestrator.createSession({ repositoryId: repository.id, title: "t", isWorktree: false, sessionId: session.id }),
    (e) => e instanceof SessionError && e.kind === "Conflict",
  );
  assert.equal(await keychain!.get(service, session.id), entry);
  // The row, the sealed secret and the keychain copy still agree.
  chain.cache.clear();
  assert.equal(encodeBase64((await orchestrator.resolveSessionSecret(session.id))!), entry);
  await orchestrator.deleteSession(session.id);
  assert.equal(await keychain!.get(service, session.id), null);
});

test(
  "a deleted session's secret is not served from a keychain copy its delete failed to remove",
  { skip },
  async () => {
    const service = testService();
    using store = openSqliteFile(":memory:");
    const databaseKey = await importDatabaseKey(generateDatabaseKeyBytes());
    const chain = new SessionSecretChain({ store, databaseKey, keychain, keychainService: service });
    const repository = await store.createRepository({ path: "/src/app", name: "app" });
    const session = await store.createSession({
      id: newSessionId(),
      repositoryId: repository.id,
      title: "t",
      isWorktree: false,
    });
    await chain.provision(session.id);
    // The row goes, and the chain is told nothing: as when a forget failed after a committed delete.
    await store.deleteSession(session.id);
    const fresh = new SessionSecretChain({ store, databaseKey, keychain, keychainService: service });
    assert.equal(await fresh.resolve(session.id), null);
    // The orphan copy is dropped, not kept for the next lookup.
    assert.equal(await keychain!.get(service, session.id), null);
  },
);
