import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, readFileSync, statSync, writeFileSync } from "node:fs";
import process from "node:process";
import { join } from "node:path";
import { generateDatabaseKey, MemoryStore, SessionOrchestrator, SessionSecretChain } from "../../mod.ts";
import { createApp } from "../../src/http/mod.ts";
import { isAllowedHost, tokenMatches } from "../../src/http/guard.ts";
import { defaultDataDir } from "../../src/platform/data_dir.ts";
import { ensureApiToken } from "../../src/platform/token_file.ts";
import { tempDir } from "../fixtures/helpers.ts";
import { rawRequest, startTestServer } from "../fixtures/http_fixture.ts";

test("http: every route but health is 401 without a token or with a wrong one", async () => {
  await using t = await startTestServer();
  const routes: [string, string][] = [
    ["GET", "/v1/repositories"],
    ["POST", "/v1/repositories"],
    ["GET", "/v1/sessions"],
    ["POST", "/v1/sessions"],
    ["DELETE", `/v1/sessions/${crypto.randomUUID()}`],
    ["GET", `/v1/sessions/${crypto.randomUUID()}/secret`],
    ["POST", "/v1/reconcile"],
    ["GET", "/v1/events"],
    ["GET", "/v1/openapi.json"],
  ];
  const wrong = `${t.server.token.slice(0, -1)}${t.server.token.endsWith("A") ? "B" : "A"}`;
  for (const [method, path] of routes) {
    for (const authorization of [undefined, `Bearer ${wrong}`, `Basic ${t.server.token}`, "Bearer"]) {
      const response = await fetch(`${t.server.url}${path}`, {
        method,
        headers: authorization === undefined ? {} : { authorization },
      });
      assert.equal(response.status, 401, `${method} ${path} with ${authorization}`);
      assert.equal((await response.json()).error.kind, "Unauthorized");
      assert.match(response.headers.get("www-authenticate") ?? "", /^Bearer/);
    }
  }
  // The right token in a differently cased scheme works.
  const ok = await fetch(`${t.server.url}/v1/sessions`, { headers: { authorization: `bearer ${t.server.token}` } });
  assert.equal(ok.status, 200);
  await ok.body?.cancel();
  assert.deepEqual(await t.server.parts.store.listRepositories(), []);
});

test("http: a foreign Host is 403 even with the token, and loopback names with the port pass", async () => {
  await using t = await startTestServer();
  const port = t.server.port!;
  const authorization = `Bearer ${t.server.token}`;
  for (const host of ["evil.example", `evil.example:${port}`, `127.0.0.1:${port + 1}`, "localhost.evil.example"]) {
    for (const path of ["/v1/sessions", "/v1/health"]) {
      const response = await rawRequest(`${t.server.url}${path}`, { headers: { host, authorization } });
      assert.equal(response.status, 403, `${host} ${path}`);
      assert.equal(JSON.parse(response.body).error.kind, "Forbidden");
    }
  }
  for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `LOCALHOST:${port}`]) {
    const response = await rawRequest(`${t.server.url}/v1/sessions`, { headers: { host, authorization } });
    assert.equal(response.status, 200, host);
  }
});

test("http: a request with another Origin than the server's own is 403 by default, and no CORS headers are sent", async () => {
  await using t = await startTestServer();
  const port = t.server.port!;
  // Another site, a sandboxed page, another port of this name, another name of this address.
  for (
    const origin of ["https://evil.example", "null", `http://127.0.0.1:${port + 1}`, `http://localhost:${port}`]
  ) {
    const response = await fetch(`${t.server.url}/v1/sessions`, {
      headers: { authorization: `Bearer ${t.server.token}`, origin },
    });
    assert.equal(response.status, 403, origin);
    assert.equal((await response.json()).error.kind, "Forbidden");
    assert.equal(response.headers.get("access-control-allow-origin"), null);
  }
  const preflight = await fetch(`${t.server.url}/v1/sessions`, {
    method: "OPTIONS",
    headers: { origin: "https://evil.example", "access-control-request-method": "POST" },
  });
  assert.equal(preflight.status, 403);
  assert.equal(preflight.headers.get("access-control-allow-origin"), null);
  await preflight.body?.cancel();
});

test("http: the server's own Origin (its dashboard's) passes, but only where the Host check is on", async () => {
  {
    await using t = await startTestServer();
    // What a page the server itself served sends: its scheme, Host and port.
    const response = await fetch(`${t.server.url}/v1/sessions`, {
      method: "GET",
      headers: { authorization: `Bearer ${t.server.token}`, origin: t.server.url },
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("access-control-allow-origin"), null);
    await response.body?.cancel();
  }
  // Without the Host check, a rebound name's page would send an Origin matching its own Host.
  const store = new MemoryStore();
  const chain = new SessionSecretChain({ store, databaseKey: await generateDatabaseKey() });
  const token = "a-long-enough-token-for-this-test";
  const app = createApp({ orchestrator: new SessionOrchestrator({ store, chain }), token, allowedHosts: null });
  const rebound = await app.request("http://evil.example:7717/v1/sessions", {
    headers: { host: "evil.example:7717", origin: "http://evil.example:7717", authorization: `Bearer ${token}` },
  });
  assert.equal(rebound.status, 403);
});

test("http: an allowed Origin passes when configured", async () => {
  await using t = await startTestServer({ allowedOrigins: ["http://localhost:3000"] });
  const response = await fetch(`${t.server.url}/v1/sessions`, {
    headers: { authorization: `Bearer ${t.server.token}`, origin: "http://localhost:3000" },
  });
  assert.equal(response.status, 200);
  await response.body?.cancel();
});

test("http: isAllowedHost matches names with any port, or name:port exactly", () => {
  assert.equal(isAllowedHost("localhost:7717", ["localhost"]), true);
  assert.equal(isAllowedHost("[::1]:7717", ["[::1]"]), true);
  assert.equal(isAllowedHost("localhost:7717", ["localhost:7717"]), true);
  assert.equal(isAllowedHost("localhost:7718", ["localhost:7717"]), false);
  assert.equal(isAllowedHost("evil.example", ["localhost"]), false);
  assert.equal(isAllowedHost("localhost.evil.example", ["localhost"]), false);
  assert.equal(isAllowedHost("", ["localhost"]), false);
});

test("http: tokenMatches accepts only the exact token, whatever the length", () => {
  const token = "0123456789abcdef0123456789abcdef";
  const expected = new TextEncoder().encode(token);
  assert.equal(tokenMatches(token, expected), true);
  for (const other of ["", token.slice(0, -1), `${token}0`, token.toUpperCase(), `x${token.slice(1)}`, "\u0000"]) {
    assert.equal(tokenMatches(other, expected), false, other);
  }
});

test("http: the token file is made once with mode 0600 and reused; one readable by others is replaced", () => {
  using dir = tempDir();
  const dataDir = join(dir.path, "nested", "data");
  const first = ensureApiToken(dataDir);
  assert.equal(first.created, true);
  assert.match(first.token, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(first.path, join(dataDir, "token"));
  if (process.platform !== "win32") {
    assert.equal(statSync(first.path).mode & 0o777, 0o600);
    assert.equal(statSync(dataDir).mode & 0o077, 0);
  }
  const second = ensureApiToken(dataDir);
  assert.equal(second.created, false);
  assert.equal(second.token, first.token);
  assert.notEqual(ensureApiToken(join(dir.path, "other")).token, first.token);
  if (process.platform !== "win32") {
    chmodSync(first.path, 0o644);
    const rotated = ensureApiToken(dataDir);
    assert.equal(rotated.created, true);
    assert.notEqual(rotated.token, first.token);
    assert.equal(statSync(first.path).mode & 0o777, 0o600);
    assert.equal(readFileSync(first.path, "utf8").trim(), rotated.token);
  }
  // A truncated file is replaced by a new token.
  const before = ensureApiToken(dataDir).token;
  writeFileSync(first.path, "short");
  const replaced = ensureApiToken(dataDir);
  assert.equal(replaced.created, true);
  assert.notEqual(replaced.token, before);
  assert.equal(ensureApiToken(dataDir).token, replaced.token);
});

test("http: defaultDataDir follows XDG on Linux, Application Support on macOS, APPDATA on Windows", () => {
  const name = "session-lifecycle-orchestrator";
  assert.equal(defaultDataDir({ platform: "linux", home: "/home/me", env: {} }), `/home/me/.local/share/${name}`);
  assert.equal(
    defaultDataDir({ platform: "linux", home: "/home/me", env: { XDG_DATA_HOME: "/xdg" } }),
    `/xdg/${name}`,
  );
  assert.equal(
    defaultDataDir({ platform: "linux", home: "/home/me", env: { XDG_DATA_HOME: "relative" } }),
    `/home/me/.local/share/${name}`,
  );
  assert.equal(
    defaultDataDir({ platform: "darwin", home: "/Users/me", env: {} }),
    `/Users/me/Library/Application Support/${name}`,
  );
  assert.equal(
    defaultDataDir({ platform: "win32", home: "C:\\Users\\me", env: { APPDATA: "C:\\Users\\me\\AppData\\Roaming" } }),
    `C:\\Users\\me\\AppData\\Roaming\\${name}`,
  );
});
