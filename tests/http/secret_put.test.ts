// PUT /v1/sessions/{id}/secret takes only ciphertext that opens under the server's database key,
// for that session: anything else is 400 InvalidInput and the stored secret stays as it was.
import { test } from "node:test";
import assert from "node:assert/strict";
import { encodeBase64, encryptSessionSecret, generateDatabaseKey, generateSessionSecret } from "../../mod.ts";
import { routeApp } from "../fixtures/http_fixture.ts";
import { repositoryInput } from "../fixtures/helpers.ts";

test("http: PUT of a secret sealed under another key, for another session, or altered is 400 and changes nothing", async () => {
  await using t = await routeApp();
  const { body: repository } = await t.callJson("/v1/repositories", { method: "POST", json: repositoryInput() });
  const create = () =>
    t.callJson("/v1/sessions", {
      method: "POST",
      json: { repositoryId: repository.id, title: "t", isWorktree: false },
    });
  const { body: session } = await create();
  const { body: other } = await create();
  const before = (await t.callJson(`/v1/sessions/${session.id}/secret`)).body.secret;
  const storedBefore = await t.store.getSessionSecret(session.id);

  // Sealed under a key that is not the database key.
  const underOtherKey = await encryptSessionSecret(await generateDatabaseKey(), session.id, generateSessionSecret());
  // Under the database key, but the other session's: a sealed secret moved between rows.
  const otherRow = await t.store.getSessionSecret(other.id);
  assert.ok(otherRow !== null && storedBefore !== null);
  const moved = { encryptedSecret: otherRow.encryptedSecret, nonce: otherRow.nonce };
  // This session's own sealed secret with one bit changed.
  const altered = { encryptedSecret: storedBefore.encryptedSecret.slice(), nonce: storedBefore.nonce };
  altered.encryptedSecret[0] ^= 1;

  for (const sealed of [underOtherKey, moved, altered]) {
    const put = await t.callJson(`/v1/sessions/${session.id}/secret`, {
      method: "PUT",
      json: { encryptedSecret: encodeBase64(sealed.encryptedSecret), nonce: encodeBase64(sealed.nonce) },
    });
    assert.equal(put.status, 400);
    assert.equal(put.body.error.kind, "InvalidInput");
  }
  assert.equal((await t.callJson(`/v1/sessions/${session.id}/secret`)).body.secret, before);
  assert.deepEqual(await t.store.getSessionSecret(session.id), storedBefore);
});
