// Scripts outside the checkout that import its entries by path, run by the real deno and bun. Deno
// maps the npm imports through the checkout's deno.json, which such a script does not load unless
// told (`--config`): the keychain binding then fails to load, and that must be said, never taken for
// "no keychain" (which would keep the database key in a file for good). Bun resolves node_modules
// from the importing file's folder, so the checkout's own node_modules serve. The keychain cases use the real OS
// keychain and skip only when this machine has none and REQUIRE_KEYCHAIN is unset.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { DATABASE_KEY_ACCOUNT, keychainWorks, openDefaultKeychain } from "../../src/platform/mod.ts";
import { DATABASE_KEY_CHECK_FILE, DATABASE_KEY_FILE } from "../../src/platform/database_key.ts";
import { asyncDisposable } from "../fixtures/disposable.ts";
import { bunCommand, denoCommand, runCommand, tempDir } from "../fixtures/helpers.ts";

const root = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
const keychain = openDefaultKeychain();
const available = keychain !== null && await keychainWorks(keychain);
if (!available && process.env.REQUIRE_KEYCHAIN) {
  throw new Error("REQUIRE_KEYCHAIN is set but no working OS keychain was found");
}
const skip = available ? false : "no OS keychain on this machine (set REQUIRE_KEYCHAIN to make this an error)";

// What a user's script does: the platform entry by absolute path, the default keychain (its service
// is the test's own, removed after). It prints one JSON line and exits 1 on a refusal.
const KEY_SCRIPT = `
import process from "node:process";
import * as platform from "${root}/src/platform/mod.ts";

const [dataDir, keychainService] = process.argv.slice(2);
try {
  const { source, warning } = await platform.resolveDatabaseKey({
    dataDir,
    keychain: platform.openDefaultKeychain(),
    keychainService,
  });
  console.log(JSON.stringify({ ok: true, source, warning }));
} catch (error) {
  console.log(JSON.stringify({
    ok: false,
    kind: error.kind,
    bindingFailure: platform.isKeychainBindingFailure?.(error) ?? "no such export",
    message: error.message,
    cause: String(error.cause),
  }));
  process.exitCode = 1;
}
`;

const ENTRIES: Record<string, string> = {
  ".": "mod.ts",
  "./platform": "src/platform/mod.ts",
  "./hono": "src/http/mod.ts",
  "./testing": "src/testing/mod.ts",
  "./postgres": "src/postgres/mod.ts",
  "./cli": "src/cli/mod.ts",
  "./mcp": "src/mcp/mod.ts",
};

// Imports every entry by absolute path and says, per entry, whether it loaded.
const ENTRIES_SCRIPT = `
const entries = ${JSON.stringify(ENTRIES)};
const loaded = {};
for (const [name, file] of Object.entries(entries)) {
  try {
    loaded[name] = Object.keys(await import("${root}/" + file)).length > 0 ? "ok" : "empty";
  } catch (error) {
    loaded[name] = String(error.message).split("\\n")[0];
  }
}
console.log(JSON.stringify(loaded));
`;

interface KeyOutcome {
  ok: boolean;
  source?: string;
  warning?: string | null;
  kind?: string;
  bindingFailure?: boolean;
  message?: string;
  cause?: string;
}

// A temp folder outside the checkout holding the script, with a data directory beside it.
/** A temp folder outside the checkout with `script` in it; the end of a `using` block removes it. */
function outsideWorld(
  script: string,
): { dir: ReturnType<typeof tempDir>; script: string; dataDir: string } & Disposable {
  const dir = tempDir("slo-outside-");
  assert.ok(!dir.path.startsWith(`${root}/`), `${dir.path} must lie outside the checkout ${root}`);
  const file = join(dir.path, "script.ts");
  writeFileSync(file, script);
  return { dir, script: file, dataDir: join(dir.path, "data"), [Symbol.dispose]: dir.remove };
}

function lastJsonLine<T>(run: { stdout: string; stderr: string }): T {
  const line = run.stdout.trim().split("\n").at(-1) ?? "";
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new Error(`no JSON line from the script:\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  }
}

function keyFilesIn(dataDir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dataDir);
  } catch {
    return [];
  }
  return names.filter((name) => name === DATABASE_KEY_FILE || name === DATABASE_KEY_CHECK_FILE);
}

const testService = () => `slo-test-${crypto.randomUUID()}`;

test("deno, outside the checkout, without --config: the key is refused with the cause and the fix, and no key file is written", async () => {
  using world = outsideWorld(KEY_SCRIPT);
  // The binding fails to load before any bus is asked, so a machine without a keychain shows it too
  // once a bus address makes the default keychain the OS one.
  const env: Record<string, string> = process.env.DBUS_SESSION_BUS_ADDRESS
    ? {}
    : { DBUS_SESSION_BUS_ADDRESS: "unix:path=/nonexistent" };
  const [command, ...args] = denoCommand();
  const run = await runCommand([command, ...args, "run", "-A", world.script, world.dataDir, testService()], {
    cwd: world.dir.path,
    env: { ...env, SESSION_LIFECYCLE_DATABASE_KEY: "" },
  });
  const outcome = lastJsonLine<KeyOutcome>(run);
  assert.equal(outcome.ok, false, run.stdout);
  assert.equal(run.code, 1);
  assert.equal(outcome.kind, "Storage");
  assert.equal(outcome.bindingFailure, true);
  assert.ok(outcome.message!.includes("@napi-rs/keyring could not be resolved"), outcome.message);
  assert.ok(outcome.message!.includes(`--config ${root}/deno.json`), outcome.message);
  assert.ok(outcome.message!.includes("jsr:@rengoku/session-lifecycle-orchestrator/platform"), outcome.message);
  assert.doesNotMatch(outcome.message!, /no OS keychain available/);
  // The runtime's own error is the cause.
  assert.match(outcome.cause!, /@napi-rs\/keyring/);
  assert.deepEqual(keyFilesIn(world.dataDir), []);
});

test(
  "deno, outside the checkout, with --config <checkout>/deno.json: the key goes to the keychain",
  { skip },
  async () => {
    using world = outsideWorld(KEY_SCRIPT);
    const service = testService();
    // The test's own keychain entry, removed before its folder.
    await using _entry = asyncDisposable({}, () => keychain?.delete(service, DATABASE_KEY_ACCOUNT));
    const [command, ...args] = denoCommand();
    const run = await runCommand(
      [command, ...args, "run", "-A", "--config", `${root}/deno.json`, world.script, world.dataDir, service],
      { cwd: world.dir.path, env: { SESSION_LIFECYCLE_DATABASE_KEY: "" } },
    );
    const outcome = lastJsonLine<KeyOutcome>(run);
    assert.deepEqual(outcome, { ok: true, source: "keychain", warning: null }, run.stderr);
    assert.equal(run.code, 0);
    assert.deepEqual(keyFilesIn(world.dataDir), [DATABASE_KEY_CHECK_FILE]);
    assert.notEqual(await keychain!.get(service, DATABASE_KEY_ACCOUNT), null);
  },
);

test(
  "bun, outside the checkout: the binding resolves from the checkout's node_modules and the key goes to the keychain",
  {
    skip,
  },
  async () => {
    using world = outsideWorld(KEY_SCRIPT);
    const service = testService();
    // The test's own keychain entry, removed before its folder.
    await using _entry = asyncDisposable({}, () => keychain?.delete(service, DATABASE_KEY_ACCOUNT));
    const [command, ...args] = bunCommand();
    const run = await runCommand([command, ...args, world.script, world.dataDir, service], {
      cwd: world.dir.path,
      env: { SESSION_LIFECYCLE_DATABASE_KEY: "" },
    });
    const outcome = lastJsonLine<KeyOutcome>(run);
    assert.deepEqual(outcome, { ok: true, source: "keychain", warning: null }, run.stderr);
    assert.deepEqual(keyFilesIn(world.dataDir), [DATABASE_KEY_CHECK_FILE]);
  },
);

test("deno, outside the checkout: every entry loads with --config; without it only the entries without npm imports", async () => {
  using world = outsideWorld(ENTRIES_SCRIPT);
  const [command, ...args] = denoCommand();
  const run = (extra: string[]) =>
    runCommand([command, ...args, "run", "-A", ...extra, world.script], { cwd: world.dir.path });
  const withConfig = await run(["--config", `${root}/deno.json`]);
  assert.deepEqual(
    lastJsonLine(withConfig),
    Object.fromEntries(Object.keys(ENTRIES).map((name) => [name, "ok"])),
    withConfig.stderr,
  );
  const without = lastJsonLine<Record<string, string>>(await run([]));
  // The core and the conformance suite import no npm package; ./platform loads (its keychain
  // binding is loaded on first use, and then refused as the test above shows).
  for (const name of [".", "./testing", "./platform"]) assert.equal(without[name], "ok", name);
  for (const name of ["./hono", "./postgres", "./cli", "./mcp"]) {
    assert.match(without[name], /not a dependency/, `${name}: ${without[name]}`);
  }
});

test("bun, outside the checkout: every entry loads by path, with no flag", async () => {
  using world = outsideWorld(ENTRIES_SCRIPT);
  const [command, ...args] = bunCommand();
  const run = await runCommand([command, ...args, world.script], { cwd: world.dir.path });
  assert.deepEqual(
    lastJsonLine(run),
    Object.fromEntries(Object.keys(ENTRIES).map((name) => [name, "ok"])),
    run.stderr,
  );
});
