// examples/custom_store.ts: a store written only against the published entries (a JSON-file
// driver behind `createSessionStore`) passes the whole conformance suite of `./testing`, and runs
// as a script.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { testSessionStore } from "../../src/testing/mod.ts";
import { openJsonFileStore } from "../../examples/custom_store.ts";
import { runScript, tempDir } from "../fixtures/helpers.ts";

testSessionStore("JSON-file store (examples/custom_store.ts)", () => {
  const dir = tempDir();
  return { store: openJsonFileStore(join(dir.path, "sessions.json")), close: () => dir.remove() };
});

test("examples/custom_store.ts runs: the JSON-file store under an orchestrator, every step asserted", async () => {
  const result = await runScript(new URL("../../examples/custom_store.ts", import.meta.url).pathname);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /a JSON-file store: created and deleted session [0-9a-f-]{36}/);
});
