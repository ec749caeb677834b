import { test } from "node:test";
import assert from "node:assert/strict";
import {
  decodeBase64,
  decryptSessionSecret,
  encodeBase64,
  encryptSessionSecret,
  generateDatabaseKey,
  generateSessionSecret,
  importDatabaseKey,
  SessionError,
} from "../../mod.ts";

const isEncryptionError = (error: unknown) => error instanceof SessionError && error.kind === "Encryption";

test("a sealed secret opens with the same key and session id", async () => {
  const key = await generateDatabaseKey();
  const id = crypto.randomUUID();
  const secret = generateSessionSecret();
  const sealed = await encryptSessionSecret(key, id, secret);
  assert.equal(sealed.nonce.length, 12);
  assert.equal(sealed.encryptedSecret.length, 48); // 32 bytes + 16-byte tag
  assert.notDeepEqual(sealed.encryptedSecret.subarray(0, 32), secret);
  assert.deepEqual(await decryptSessionSecret(key, id, sealed), secret);
});

test("every seal uses a fresh nonce", async () => {
  const key = await generateDatabaseKey();
  const secret = generateSessionSecret();
  const nonces = new Set<string>();
  for (let i = 0; i < 100; i++) nonces.add(encodeBase64((await encryptSessionSecret(key, "s", secret)).nonce));
  assert.equal(nonces.size, 100);
});

test("database keys are AES-GCM, 32 bytes, non-extractable", async () => {
  const key = await importDatabaseKey(new Uint8Array(32).fill(7));
  assert.equal(key.extractable, false);
  assert.equal((key.algorithm as AesKeyAlgorithm).length, 256);
  await assert.rejects(crypto.subtle.exportKey("raw", key));
  await assert.rejects(importDatabaseKey(new Uint8Array(16)), isEncryptionError);
});

test("a wrong key fails with Encryption", async () => {
  const id = crypto.randomUUID();
  const sealed = await encryptSessionSecret(await generateDatabaseKey(), id, generateSessionSecret());
  await assert.rejects(decryptSessionSecret(await generateDatabaseKey(), id, sealed), isEncryptionError);
});

test("a secret sealed for another session fails with Encryption", async () => {
  const key = await generateDatabaseKey();
  const sealed = await encryptSessionSecret(key, crypto.randomUUID(), generateSessionSecret());
  await assert.rejects(decryptSessionSecret(key, crypto.randomUUID(), sealed), isEncryptionError);
});

test("a change in any byte of nonce, ciphertext or tag fails with Encryption", async () => {
  const key = await generateDatabaseKey();
  const id = crypto.randomUUID();
  const sealed = await encryptSessionSecret(key, id, generateSessionSecret());
  for (let i = 0; i < sealed.nonce.length; i++) {
    const nonce = sealed.nonce.slice();
    nonce[i] ^= 0x01;
    await assert.rejects(decryptSessionSecret(key, id, { ...sealed, nonce }), isEncryptionError, `nonce byte ${i}`);
  }
  // Bytes 0–31 are the ciphertext, 32–47 the tag.
  for (let i = 0; i < sealed.encryptedSecret.length; i++) {
    const encryptedSecret = sealed.encryptedSecret.slice();
    encryptedSecret[i] ^= 0x80;
    await assert.rejects(
      decryptSessionSecret(key, id, { ...sealed, encryptedSecret }),
      isEncryptionError,
      `byte ${i}`,
    );
  }
  await assert.rejects(
    decryptSessionSecret(key, id, { ...sealed, encryptedSecret: sealed.encryptedSecret.subarray(0, 40) }),
    isEncryptionError,
  );
  await assert.rejects(decryptSessionSecret(key, id, { ...sealed, nonce: new Uint8Array(8) }), isEncryptionError);
});

test("base64 round-trips and refuses malformed text", () => {
  for (const length of [0, 1, 2, 3, 32, 100_000]) {
    const bytes = crypto.getRandomValues(new Uint8Array(Math.min(length, 65536)));
    assert.deepEqual(decodeBase64(encodeBase64(bytes)), bytes);
  }
  for (const bad of ["abc", "a=bc", "@@@@", "YWJj\n"]) {
    assert.throws(() => decodeBase64(bad), (error) => error instanceof SessionError && error.kind === "InvalidInput");
  }
});
