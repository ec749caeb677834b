// The dashboard at /ui/: its files and headers, the one-time sign-in, the guards on its routes, and
// the page itself in a real browser (Debian's Chromium driven by playwright-core) against a real
// server process, signed in through the link `slo ui --print-url` prints.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { Hono } from "hono";
import { type Browser, chromium, type Page } from "playwright-core";
import { generateDatabaseKey, MemoryStore, SessionOrchestrator, SessionSecretChain } from "../../mod.ts";
import { createApp } from "../../src/http/mod.ts";
import { DASHBOARD_CSP } from "../../src/http/_dashboard.ts";
import { SIGN_IN_CODE_TTL_MS, SignInCodes } from "../../src/http/_sign_in.ts";
import { type CliWorld, cliWorld } from "../fixtures/cli_fixture.ts";
import { commitFile, git, makeRepository } from "../fixtures/git_fixtures.ts";
import { rawRequest, startTestServer } from "../fixtures/http_fixture.ts";
import { asyncDisposable } from "../fixtures/disposable.ts";
import { isBun, runCommand, runtimeName, tempDir } from "../fixtures/helpers.ts";
import { root, type ServerProcess } from "../fixtures/server_process.ts";
import { ASSETS_MODULE_PATH, REGENERATE_ASSETS_COMMAND, renderAssetsModule } from "../fixtures/ui_fixture.ts";

const CHROMIUM = "/usr/bin/chromium";
const haveBrowser = existsSync(CHROMIUM);
// CI sets REQUIRE_BROWSER=1, so a missing browser fails there instead of skipping.
const browserRequired = process.env.REQUIRE_BROWSER === "1";
const browserSkip = haveBrowser || browserRequired
  ? false
  : `no Chromium at ${CHROMIUM} (apt-get install chromium); REQUIRE_BROWSER=1 turns this skip into a failure`;

/** Bounds every wait in the page: generous, since the machine may be busy. */
const WAIT_MS = 30_000;

async function withBrowser<T>(work: (browser: Browser) => Promise<T>): Promise<T> {
  assert.ok(haveBrowser, `REQUIRE_BROWSER=1, but there is no Chromium at ${CHROMIUM}`);
  // A fresh profile each launch (playwright makes a temp user data dir); as root the sandbox must be off.
  await using browser = asyncDisposable(
    await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--no-sandbox",
        "--headless",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
      timeout: WAIT_MS,
    }),
    (browser) => browser.close(),
  );
  return await work(browser);
}

// deno-lint-ignore no-explicit-any
type Json = any;

/** A server process with its CLI world, and calls of its API as a script makes them. */
interface Dashboard {
  world: CliWorld;
  server: ServerProcess;
  url: string;
  api(path: string, init?: { method?: string; json?: unknown }): Promise<{ status: number; body: Json }>;
  /** The one-time link, as `slo ui --print-url` prints it. */
  signInUrl(): Promise<string>;
  /** A folder repository (no git), or a git one, added through the API; its id. */
  addRepository(name: string, options?: { git?: boolean }): Promise<string>;
  /** Stops the server and starts it again on the same port and data directory. */
  restart(): Promise<void>;
  /** Closes the world (its servers, its folder): the end of an `await using` block. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * A server process for the page, with the operator's config file giving each named repository its settings
 * (`configured`): those repositories are git ones at `<base>/<name>`, and `addRepository(name)` adds them.
 */
async function dashboard(
  prefix: string,
  options: { configured?: Record<string, Record<string, unknown>> } = {},
): Promise<Dashboard> {
  const world = cliWorld(prefix);
  const configured = options.configured ?? {};
  const args: string[] = [];
  if (Object.keys(configured).length > 0) {
    const repositories = Object.fromEntries(
      Object.entries(configured).map(([name, settings]) => {
        const path = join(world.base, name);
        makeRepository(path);
        return [path, settings];
      }),
    );
    const config = join(world.base, "config.json");
    writeFileSync(config, JSON.stringify({ repositories }));
    args.push("--config", config);
  }
  const state = { server: await world.serve({ args }) };
  const url = await state.server.url;
  const token = readFileSync(join(world.dataDir, "token"), "utf8").trim();
  const api = async (path: string, init: { method?: string; json?: unknown } = {}) => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (init.json !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(`${url}${path}`, {
      method: init.method ?? "GET",
      headers,
      body: init.json === undefined ? undefined : JSON.stringify(init.json),
    });
    return { status: response.status, body: await response.json() };
  };
  return {
    world,
    get server() {
      return state.server;
    },
    url,
    api,
    async signInUrl() {
      const run = await world.cli(["ui", "--print-url"]);
      assert.equal(run.code, 0, run.stderr);
      return run.stdout.trim();
    },
    async addRepository(name, options = {}) {
      const path = name in configured ? join(world.base, name) : mkdtempSync(join(world.base, `${name}-`));
      if (options.git && !(name in configured)) makeRepository(path);
      const created = await api("/v1/repositories", { method: "POST", json: { path, name } });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      return created.body.id;
    },
    async restart() {
      state.server.signal("SIGTERM");
      assert.equal((await state.server.closed).code, 0, state.server.output());
      state.server = await world.serve({ port: Number(new URL(url).port), args });
      assert.equal(await state.server.url, url);
    },
    [Symbol.asyncDispose]: () => world.close(),
  };
}

async function createSession(d: Dashboard, repositoryId: string, title: string, isWorktree = false): Promise<Json> {
  const created = await d.api("/v1/sessions", { method: "POST", json: { repositoryId, title, isWorktree } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body;
}

const row = (page: Page, id: string) => page.locator(`tr[data-session-id="${id}"]`);

/**
 * Opens the link in a fresh context (its own sessionStorage) and waits until the page is live; with
 * the problems the page reports from its first byte on: uncaught errors and CSP refusals.
 */
async function signIn(browser: Browser, link: string): Promise<{ page: Page; problems: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1200, height: 760 } });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("pageerror", (error) => problems.push(`pageerror: ${error.message}`));
  page.on("console", (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(`console: ${message.text()}`);
  });
  await page.goto(link);
  await page.locator("#connection.live").waitFor({ timeout: WAIT_MS });
  return { page, problems };
}

test("ui: the page, its script and styles are served with a strict CSP and nosniff, from the embedded sources", async () => {
  assert.ok(
    readFileSync(ASSETS_MODULE_PATH, "utf8") === renderAssetsModule(),
    `src/http/ui/_assets.ts is not what the files in src/http/ui/ make; run: ${REGENERATE_ASSETS_COMMAND}`,
  );
  await using t = await startTestServer();
  for (
    const [path, type] of [
      ["/ui/", "text/html; charset=utf-8"],
      ["/ui/dashboard.js", "text/javascript; charset=utf-8"],
      ["/ui/dashboard.css", "text/css; charset=utf-8"],
      ["/ui/dom.js", "text/javascript; charset=utf-8"],
      ["/ui/fork.js", "text/javascript; charset=utf-8"],
      ["/ui/progress.js", "text/javascript; charset=utf-8"],
      ["/ui/recent_events.js", "text/javascript; charset=utf-8"],
      ["/ui/setup.js", "text/javascript; charset=utf-8"],
      ["/ui/snapshots.js", "text/javascript; charset=utf-8"],
    ]
  ) {
    const response = await fetch(`${t.server.url}${path}`);
    assert.equal(response.status, 200, path);
    assert.equal(response.headers.get("content-type"), type, path);
    assert.equal(
      response.headers.get("content-security-policy"),
      "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
      path,
    );
    assert.equal(response.headers.get("x-content-type-options"), "nosniff", path);
    assert.equal(response.headers.get("referrer-policy"), "no-referrer", path);
    assert.equal(response.headers.get("set-cookie"), null, path);
    const body = await response.text();
    const name = path === "/ui/" ? "index.html" : path.slice("/ui/".length);
    assert.equal(body, readFileSync(join(root, "src/http/ui", name), "utf8"), path);
  }
  assert.equal(DASHBOARD_CSP.includes("unsafe"), false);
  const html = readFileSync(join(root, "src/http/ui/index.html"), "utf8");
  // Nothing inline: every script has a src, no style attribute or element, no event attribute.
  assert.doesNotMatch(html, /<script(?![^>]*\ssrc=)/);
  assert.doesNotMatch(html, /<style|\sstyle=|\son[a-z]+=/i);
  // No asset from anywhere else.
  assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//);
  for (
    const script of [
      "dashboard.js",
      "dom.js",
      "fork.js",
      "progress.js",
      "recent_events.js",
      "setup.js",
      "snapshots.js",
    ]
  ) {
    assert.doesNotMatch(
      readFileSync(join(root, "src/http/ui", script), "utf8"),
      /innerHTML|outerHTML|insertAdjacentHTML/,
      script,
    );
  }
  // `/ui` leads to the page, relative so that it holds under a mount prefix.
  const bare = await fetch(`${t.server.url}/ui`, { redirect: "manual" });
  assert.equal(bare.status, 308);
  assert.equal(bare.headers.get("location"), "ui/");
  await bare.body?.cancel();
});

test("ui: the page's script type-checks against the DOM (deno check, checkJs, strict)", {
  skip: isBun ? "deno check is Deno's" : false,
  timeout: 120_000,
}, async () => {
  // A program of its own: the DOM's types would clash with Deno's in the rest of the package.
  using dir = tempDir("slo-ui-check-");
  const config = join(dir.path, "deno.json");
  writeFileSync(
    config,
    JSON.stringify({ compilerOptions: { lib: ["dom", "dom.iterable", "esnext"], checkJs: true, strict: true } }),
  );
  const checked = await runCommand([
    process.execPath,
    "check",
    "--config",
    config,
    join(root, "src/http/ui/dashboard.js"),
  ]);
  assert.equal(checked.code, 0, checked.stderr);
});

test("ui: an app mounted under a prefix serves the page there, and its sign-in link names the prefix", async () => {
  const store = new MemoryStore();
  const chain = new SessionSecretChain({ store, databaseKey: await generateDatabaseKey() });
  const token = "a-long-enough-token-for-the-ui-test";
  const user = new Hono().route(
    "/orchestrator",
    createApp({ orchestrator: new SessionOrchestrator({ store, chain }), token }),
  );
  const page = await user.request("http://localhost:7717/orchestrator/ui/", { headers: { host: "localhost:7717" } });
  assert.equal(page.status, 200);
  assert.match(await page.text(), /src="dashboard.js"/);
  const minted = await user.request("http://localhost:7717/orchestrator/v1/ui/sign-in-codes", {
    method: "POST",
    headers: { host: "localhost:7717", authorization: `Bearer ${token}` },
  });
  assert.equal(minted.status, 201);
  assert.match((await minted.json()).url, /^http:\/\/localhost:7717\/orchestrator\/ui\/#code=/);
});

test("ui: a sign-in code is made only with the token, works once, and gives the API token; a wrong one is 401", async () => {
  await using t = await startTestServer();
  const anonymous = await fetch(`${t.server.url}/v1/ui/sign-in-codes`, { method: "POST" });
  assert.equal(anonymous.status, 401);
  await anonymous.body?.cancel();
  const minted = await t.callJson("/v1/ui/sign-in-codes", { method: "POST" });
  assert.equal(minted.status, 201);
  const link = new URL(minted.body.url);
  assert.equal(`${link.origin}${link.pathname}`, `${t.server.url}/ui/`);
  // The code is in the fragment, which a browser never sends; not in the path or the query.
  assert.equal(link.search, "");
  const code = new URLSearchParams(link.hash.slice(1)).get("code")!;
  assert.match(code, /^[A-Za-z0-9_-]{43}$/);
  assert.ok(Date.parse(minted.body.expiresAt) > Date.now());
  assert.equal(minted.body.url.includes(t.server.token), false);

  const redeem = (body: unknown) =>
    fetch(`${t.server.url}/ui/sign-in`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  const first = await redeem({ code });
  assert.equal(first.status, 200);
  assert.equal(first.headers.get("cache-control"), "no-store");
  assert.deepEqual(await first.json(), { token: t.server.token });
  const again = await redeem({ code });
  assert.equal(again.status, 401);
  assert.match((await again.json()).error.message, /used already or has expired/);
  const made = await redeem({ code: "not-a-code-this-server-made" });
  assert.equal(made.status, 401);
  await made.body?.cancel();
  const malformed = await redeem({ code: 42 });
  assert.equal(malformed.status, 400);
  await malformed.body?.cancel();
  const plain = await fetch(`${t.server.url}/ui/sign-in`, { method: "POST", body: JSON.stringify({ code }) });
  assert.equal(plain.status, 415);
  await plain.body?.cancel();
});

test("ui: a sign-in code stops working when it expires, and two redemptions of one code get it once", async () => {
  let now = 1_000_000;
  const codes = new SignInCodes({ now: () => now });
  const late = await codes.mint();
  assert.equal(late.expiresAt.getTime(), now + SIGN_IN_CODE_TTL_MS);
  now += SIGN_IN_CODE_TTL_MS;
  assert.equal(await codes.redeem(late.code), false);
  const raced = await codes.mint();
  const outcomes = await Promise.all([codes.redeem(raced.code), codes.redeem(raced.code)]);
  assert.deepEqual(outcomes.sort(), [false, true]);
});

test("ui: the Host and Origin checks hold on every /ui/ route; the page's own origin passes", async () => {
  await using t = await startTestServer();
  const own = new URL(t.server.url).host;
  for (const path of ["/ui/", "/ui/dashboard.js", "/ui"]) {
    const rebound = await rawRequest(`${t.server.url}${path}`, { headers: { host: "evil.example" } });
    assert.equal(rebound.status, 403, path);
    const foreign = await rawRequest(`${t.server.url}${path}`, {
      headers: { host: own, origin: "https://evil.example" },
    });
    assert.equal(foreign.status, 403, path);
  }
  const post = (headers: Record<string, string>) =>
    rawRequest(`${t.server.url}/ui/sign-in`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({ code: "x" }),
    });
  const foreign = await post({ host: own, origin: "https://evil.example" });
  assert.equal(foreign.status, 403);
  assert.equal(JSON.parse(foreign.body).error.kind, "Forbidden");
  assert.equal((await post({ host: "evil.example", origin: "http://evil.example" })).status, 403);
  // Another port of the same name is another origin.
  const port = Number(new URL(t.server.url).port);
  assert.equal((await post({ host: own, origin: `http://127.0.0.1:${port + 1}` })).status, 403);
  // The page's own origin reaches the route, which refuses the unknown code.
  assert.equal((await post({ host: own, origin: t.server.url })).status, 401);
});

test(
  "ui: slo ui without a browser opener prints the one-time link; --json adds its expiry; a socket server is refused",
  {
    timeout: 120_000,
  },
  async () => {
    {
      await using world = cliWorld("slo-ui-cli-");
      const server = await world.serve();
      const url = await server.url;
      // No program to open a browser with (PATH is an empty folder): the link is printed, and it works.
      const emptyBin = join(world.base, "empty-bin");
      mkdirSync(emptyBin);
      const printed = await world.cli(["ui"], { env: { PATH: emptyBin } });
      assert.equal(printed.code, 0, printed.stderr);
      assert.match(printed.stderr, /could not open a browser \(there is no \S+\); open this link/);
      const link = printed.stdout.trim();
      assert.match(link, new RegExp(`^${url}/ui/#code=[A-Za-z0-9_-]{43}$`));
      const code = new URL(link).hash.slice("#code=".length);
      const redeemed = await fetch(`${url}/ui/sign-in`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ code }),
      });
      assert.equal(redeemed.status, 200);
      await redeemed.body?.cancel();
      const json = await world.cli(["ui", "--json"]);
      assert.equal(json.code, 0, json.stderr);
      const body = JSON.parse(json.stdout);
      assert.deepEqual(Object.keys(body).sort(), ["expiresAt", "url"]);
      assert.notEqual(body.url, link);
    }
    await using socketWorld = cliWorld("slo-ui-sock-");
    await socketWorld.serve({ socket: join(socketWorld.base, "api.sock") });
    const refused = await socketWorld.cli(["ui", "--print-url"]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /^error: the server listens on a Unix socket .*, which a browser cannot reach/);
    assert.equal(refused.stdout, "");
  },
);

test("ui: signed out, the page shows the sign-in hint and no data, asks the API for nothing, and gets 401", {
  skip: browserSkip,
  timeout: 120_000,
}, async () => {
  await using d = await dashboard("slo-ui-out-");
  const repositoryId = await d.addRepository("secret-project");
  await createSession(d, repositoryId, "A title the signed-out page must not show");
  await withBrowser(async (browser) => {
    const page = await (await browser.newContext()).newPage();
    const asked: string[] = [];
    page.on("request", (request) => asked.push(request.url()));
    await page.goto(`${d.url}/ui/`);
    await page.locator("#signed-out").waitFor({ state: "visible", timeout: WAIT_MS });
    assert.match(await page.locator("#signed-out").innerText(), /slo ui/);
    assert.equal(await page.locator("#dashboard").isHidden(), true);
    const text = await page.locator("body").innerText();
    assert.doesNotMatch(text, /secret-project|must not show/);
    assert.deepEqual(asked.filter((url) => url.includes("/v1/")), []);
    // The API answers the page's own requests without the credential with 401.
    const statuses = await page.evaluate(async () => {
      const sessions = await fetch("../v1/sessions");
      const events = await fetch("../v1/events");
      await events.body?.cancel();
      const create = await fetch("../v1/sessions", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      });
      return [sessions.status, events.status, create.status];
    });
    assert.deepEqual(statuses, [401, 401, 401]);
  });
});

test("ui: signed in through the one-time link, the page lists repositories and sessions; the link works once", {
  skip: browserSkip,
  timeout: 180_000,
}, async () => {
  await using d = await dashboard("slo-ui-list-");
  const web = await d.addRepository("web-app", { git: true });
  const docs = await d.addRepository("docs");
  const sessions = [
    await createSession(d, web, "Add dark mode", true),
    await createSession(d, web, "Fix the login redirect", true),
    await createSession(d, docs, "Rewrite the quick start"),
  ];
  const link = await d.signInUrl();
  assert.match(link, new RegExp(`^${d.url}/ui/#code=`));
  await withBrowser(async (browser) => {
    const { page, problems } = await signIn(browser, link);
    for (const session of sessions) {
      const cells = await row(page, session.id).locator("th, td").allInnerTexts();
      assert.equal(cells[0], session.title);
      assert.equal(cells[1], session.status);
      assert.equal(cells[2], session.branchName ?? "—");
      assert.equal(cells[3], session.worktreePath ?? "—");
    }
    assert.deepEqual(await page.locator(".repository h3").allInnerTexts(), ["web-app", "docs"]);
    // Semantic tables: a row header per session, column headers per table.
    assert.equal(await page.getByRole("rowheader", { name: "Add dark mode" }).count(), 1);
    assert.equal(await page.getByRole("columnheader", { name: "Worktree" }).count(), 2);
    assert.equal(await page.getByRole("table").count(), 2);
    // The code left the address bar and this history entry; the credential is in no cookie.
    assert.equal(new URL(page.url()).hash, "");
    assert.deepEqual(await page.evaluate(`[location.href.includes("code="), document.cookie]`), [false, ""]);

    // A session's detail: its fields and git state.
    await row(page, sessions[0].id).getByRole("button", { name: /^Details / }).click();
    const detail = page.locator("#detail");
    await detail.waitFor({ state: "visible", timeout: WAIT_MS });
    const detailText = await detail.innerText();
    assert.match(detailText, new RegExp(sessions[0].id));
    assert.match(detailText, new RegExp(sessions[0].branchName.replace(/[/]/g, "\\/")));

    // The main view, kept as the run's artifact (and as the README's picture on request).
    await page.locator("#detail-close").click();
    await detail.waitFor({ state: "hidden", timeout: WAIT_MS });
    const artifacts = join(root, "tests", "artifacts");
    mkdirSync(artifacts, { recursive: true });
    const shot = await page.screenshot({ fullPage: false });
    writeFileSync(join(artifacts, `dashboard-${runtimeName}.png`), shot);
    if (process.env.UPDATE_SCREENSHOT === "1" && !isBun) writeFileSync(join(root, "docs", "dashboard.png"), shot);

    // Readable on a narrow window: nothing wider than the window.
    await page.setViewportSize({ width: 360, height: 760 });
    const width = await page.evaluate<number>("document.documentElement.scrollWidth");
    assert.ok(width <= 360, `the page is ${width}px wide in a 360px window`);

    // The same link again, in another browser context: refused, and nothing shown.
    const second = await (await browser.newContext()).newPage();
    await second.goto(link);
    await second.locator("#signed-out").waitFor({ state: "visible", timeout: WAIT_MS });
    assert.match(await second.locator("#signed-out-reason").innerText(), /used already or has expired/);
    assert.doesNotMatch(await second.locator("body").innerText(), /Add dark mode/);
    assert.deepEqual(problems, []);
  });
});

test(
  "ui: a session made through the API appears without a reload; delete asks first, says what is lost, and can force",
  {
    skip: browserSkip,
    timeout: 180_000,
  },
  async () => {
    await using d = await dashboard("slo-ui-live-");
    const web = await d.addRepository("web-app", { git: true });
    await withBrowser(async (browser) => {
      const { page, problems } = await signIn(browser, await d.signInUrl());
      // A mark on this document: a reload would lose it.
      await page.evaluate(() => Object.assign(globalThis, { notReloaded: true }));
      const session = await createSession(d, web, "Made while the page is open", true);
      await row(page, session.id).waitFor({ state: "visible", timeout: WAIT_MS });
      assert.equal(await page.evaluate(() => (globalThis as { notReloaded?: boolean }).notReloaded), true);

      // Keyboard: the first Tab reaches the skip link, with a visible focus ring.
      await page.keyboard.press("Tab");
      assert.deepEqual(
        await page.evaluate(
          "[document.activeElement?.className, getComputedStyle(document.activeElement).outlineStyle]",
        ),
        ["skip", "solid"],
      );
      // The Delete button, pressed with the keyboard, asks first; Escape keeps the session.
      const remove = row(page, session.id).getByRole("button", { name: /^Delete / });
      await remove.focus();
      await page.keyboard.press("Enter");
      const dialog = page.locator("#confirm-delete");
      await dialog.waitFor({ state: "visible", timeout: WAIT_MS });
      // The safe choice has the focus.
      assert.equal(await page.evaluate("document.activeElement?.id"), "confirm-delete-cancel");
      const question = await dialog.innerText();
      assert.match(question, /cannot be undone/);
      assert.match(
        question,
        new RegExp(`worktree at ${session.worktreePath.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}`),
      );
      assert.match(question, /Force/);
      await page.keyboard.press("Escape");
      await dialog.waitFor({ state: "hidden", timeout: WAIT_MS });
      assert.equal((await d.api(`/v1/sessions/${session.id}`)).status, 200);

      // Work in the worktree: the delete is refused until forced, and the work is saved first.
      writeFileSync(join(session.worktreePath, "notes.txt"), "unsaved work\n");
      await remove.click();
      await dialog.waitFor({ state: "visible", timeout: WAIT_MS });
      await page.locator("#confirm-delete-ok").click();
      await page.locator("#confirm-delete-error").filter({ hasText: /force/i }).waitFor({ timeout: WAIT_MS });
      assert.equal((await d.api(`/v1/sessions/${session.id}`)).status, 200);
      await page.locator("#confirm-delete-force").check();
      await page.locator("#confirm-delete-ok").click();
      await row(page, session.id).waitFor({ state: "detached", timeout: WAIT_MS });
      // The row can leave before the notice is written: wait for the notice itself.
      const snapshotNotice = new RegExp(`refs/session-snapshots/${session.id}`);
      await page.locator("#notice").filter({ hasText: snapshotNotice }).waitFor({ timeout: WAIT_MS });
      assert.match(await page.locator("#notice").innerText(), snapshotNotice);
      assert.equal((await d.api(`/v1/sessions/${session.id}`)).status, 404);

      // A clean one goes at the first confirmation; one deleted elsewhere leaves the page too.
      const clean = await createSession(d, web, "Clean one", true);
      await row(page, clean.id).getByRole("button", { name: /^Delete / }).click();
      await page.locator("#confirm-delete-ok").click();
      await row(page, clean.id).waitFor({ state: "detached", timeout: WAIT_MS });
      assert.equal((await d.api(`/v1/sessions/${clean.id}`)).status, 404);
      const elsewhere = await createSession(d, web, "Deleted by a script");
      await row(page, elsewhere.id).waitFor({ state: "visible", timeout: WAIT_MS });
      assert.equal((await d.api(`/v1/sessions/${elsewhere.id}`, { method: "DELETE" })).status, 200);
      await row(page, elsewhere.id).waitFor({ state: "detached", timeout: WAIT_MS });
      assert.deepEqual(problems, []);
    });
  },
);

test(
  "ui: each worktree row shows its git state; archive then restore from the page without a reload; clean up shows " +
    "the dry run first and acts only on confirmation",
  {
    skip: browserSkip,
    timeout: 180_000,
  },
  async () => {
    await using d = await dashboard("slo-ui-archive-");
    const web = await d.addRepository("web-app", { git: true });
    const repositoryPath: string = (await d.api(`/v1/repositories/${web}`)).body.path;
    // One with work in progress, one whose work is merged into main, one without a worktree.
    const working = await createSession(d, web, "Work in progress", true);
    writeFileSync(join(working.worktreePath, "notes.txt"), "unsaved work\n");
    const shipped = await createSession(d, web, "Shipped", true);
    commitFile(shipped.worktreePath, "shipped.txt");
    git(repositoryPath, "merge", "-q", "--no-ff", "-m", "merge", shipped.branchName);
    const plain = await createSession(d, web, "No worktree");

    await withBrowser(async (browser) => {
      const { page, problems } = await signIn(browser, await d.signInUrl());
      await page.evaluate(() => Object.assign(globalThis, { notReloaded: true }));
      const cell = (id: string, column: string) => row(page, id).locator(`td[data-label="${column}"]`);
      const status = (id: string) => cell(id, "Status");

      // The git state, read per row from the status route: dirty, merged (main has moved on by the merge's two
      // commits), the disk each folder takes.
      await cell(working.id, "Git").filter({ hasText: /^dirty, 2 behind$/ }).waitFor({ timeout: WAIT_MS });
      await cell(shipped.id, "Git").filter({ hasText: /^clean, merged, 1 behind$/ }).waitFor({ timeout: WAIT_MS });
      assert.match(await cell(working.id, "Disk").innerText(), /^\d+(\.\d)? (B|KiB|MiB)$/);
      assert.equal(await cell(plain.id, "Git").innerText(), "—");
      assert.equal(await cell(plain.id, "Disk").innerText(), "—");
      // Only a worktree the server made can be archived.
      assert.equal(await row(page, plain.id).getByRole("button", { name: /^Archive / }).count(), 0);

      // Archive from the keyboard: the row says archived, its work is saved, the focus moves to Restore.
      await row(page, working.id).getByRole("button", { name: "Archive Work in progress" }).focus();
      await page.keyboard.press("Enter");
      await status(working.id).filter({ hasText: /^archived$/ }).waitFor({ timeout: WAIT_MS });
      const snapshot = new RegExp(`saved under refs/session-snapshots/${working.id}`);
      await page.locator("#notice").filter({ hasText: snapshot }).waitFor({ timeout: WAIT_MS });
      const archived = await d.api(`/v1/sessions/${working.id}`);
      assert.equal(archived.body.status, "archived");
      assert.equal(existsSync(working.worktreePath), false);
      await cell(working.id, "Disk").filter({ hasText: /^0 B$/ }).waitFor({ timeout: WAIT_MS });
      assert.equal(
        await page.evaluate("document.activeElement?.getAttribute('aria-label')"),
        "Restore Work in progress",
      );

      // Restore: active again, the work back in its folder, the git state read again.
      await page.keyboard.press("Enter");
      await status(working.id).filter({ hasText: /^active$/ }).waitFor({ timeout: WAIT_MS });
      assert.equal((await d.api(`/v1/sessions/${working.id}`)).body.status, "active");
      assert.equal(readFileSync(join(working.worktreePath, "notes.txt"), "utf8"), "unsaved work\n");
      await cell(working.id, "Git").filter({ hasText: /^dirty, 2 behind$/ }).waitFor({ timeout: WAIT_MS });
      await row(page, working.id).getByRole("button", { name: "Archive Work in progress" }).waitFor({
        timeout: WAIT_MS,
      });

      // The detail reads the git state afresh and shows all of it.
      await row(page, working.id).getByRole("button", { name: /^Details / }).click();
      await page.locator("#detail").filter({ hasText: /uncommitted work\s*yes/ }).waitFor({ timeout: WAIT_MS });
      assert.match(await page.locator("#detail").innerText(), /behind its base\s+2[\s\S]*landed\s+no/);
      // Its recent events, from the stream the page follows, the newest first.
      const events = page.locator("#detail ol.events li");
      assert.deepEqual(
        (await events.evaluateAll((items) => items.map((item) => item.getAttribute("data-event-type")))).slice(0, 2),
        ["session.restored", "session.archived"],
      );
      assert.match(await events.first().innerText(), /session\.restored active · Work in progress #\d+/);
      await page.locator("#detail-close").click();

      // An archive made elsewhere (a script) shows too, from its event.
      assert.equal((await d.api(`/v1/sessions/${working.id}/archive`, { method: "POST" })).status, 200);
      await status(working.id).filter({ hasText: /^archived$/ }).waitFor({ timeout: WAIT_MS });
      assert.equal((await d.api(`/v1/sessions/${working.id}/restore`, { method: "POST" })).status, 200);
      await status(working.id).filter({ hasText: /^active$/ }).waitFor({ timeout: WAIT_MS });

      // Clean up: first the dry run's findings, with nothing changed; Cancel has the focus and keeps all.
      await page.getByRole("button", { name: "Clean up…" }).click();
      const dialog = page.locator("#confirm-gc");
      await dialog.waitFor({ state: "visible", timeout: WAIT_MS });
      assert.equal(await page.evaluate("document.activeElement?.id"), "confirm-gc-cancel");
      const finding = (id: string) => dialog.locator(`tr[data-finding="${id}"]`);
      assert.equal(await finding(shipped.id).getAttribute("data-action"), "delete");
      assert.match(await finding(shipped.id).innerText(), /delete, with its branch[\s\S]*merged/);
      assert.equal(await finding(working.id).getAttribute("data-action"), "keep");
      assert.equal(await finding(plain.id).count(), 0);
      assert.match(await dialog.innerText(), /would delete 1, archive 0 and keep 1 worktree sessions/);
      assert.match(await dialog.innerText(), /Nothing has changed yet/);
      await page.keyboard.press("Escape");
      await dialog.waitFor({ state: "hidden", timeout: WAIT_MS });
      assert.equal((await d.api(`/v1/sessions/${shipped.id}`)).status, 200);
      assert.ok(existsSync(shipped.worktreePath));

      // Confirmed: it acts. The landed one leaves the page, its folder and branch gone; the others stay.
      await page.getByRole("button", { name: "Clean up…" }).click();
      await dialog.waitFor({ state: "visible", timeout: WAIT_MS });
      await page.locator("#confirm-gc-ok").click();
      await dialog.waitFor({ state: "hidden", timeout: WAIT_MS });
      await row(page, shipped.id).waitFor({ state: "detached", timeout: WAIT_MS });
      await page.locator("#notice").filter({ hasText: /Cleaned up: deleted 1 and archived 0 sessions/ }).waitFor({
        timeout: WAIT_MS,
      });
      assert.equal((await d.api(`/v1/sessions/${shipped.id}`)).status, 404);
      assert.equal(existsSync(shipped.worktreePath), false);
      assert.doesNotMatch(git(repositoryPath, "branch", "--list"), new RegExp(shipped.branchName));
      assert.equal(await row(page, working.id).count(), 1);
      assert.equal(await row(page, plain.id).count(), 1);

      // An idle limit, passed to gc as ?idle=: a bad one is the server's refusal, in the dialog; within the limit
      // the session is kept; past it, the dry run says it would be archived, and only the confirmed run does.
      await page.getByRole("button", { name: "Clean up…" }).click();
      await dialog.waitFor({ state: "visible", timeout: WAIT_MS });
      assert.match(await dialog.innerText(), /No idle limit/);
      const idle = page.getByLabel(/Also archive sessions idle longer than/);
      await idle.fill("soon");
      await idle.press("Enter");
      await page.locator("#confirm-gc-error").filter({ hasText: /idle must be a whole number and a unit/ }).waitFor({
        timeout: WAIT_MS,
      });
      await idle.fill("7d");
      await page.getByRole("button", { name: "Check again" }).click();
      await page.locator("#confirm-gc-summary").filter({ hasText: /idle longer than 7d are archived/ }).waitFor({
        timeout: WAIT_MS,
      });
      assert.equal(await page.locator("#confirm-gc-error").innerText(), "");
      assert.equal(await finding(working.id).getAttribute("data-action"), "keep");
      await idle.fill("1ms");
      await idle.press("Enter");
      await finding(working.id).and(page.locator('[data-action="archive"]')).waitFor({ timeout: WAIT_MS });
      assert.match(await finding(working.id).innerText(), /archive \(work saved\)[\s\S]*idle since/);
      assert.match(await dialog.innerText(), /idle longer than 1ms are archived/);
      assert.equal((await d.api(`/v1/sessions/${working.id}`)).body.status, "active");
      await page.locator("#confirm-gc-ok").click();
      await dialog.waitFor({ state: "hidden", timeout: WAIT_MS });
      await page.locator("#notice").filter({ hasText: /Cleaned up: deleted 0 and archived 1 sessions/ }).waitFor({
        timeout: WAIT_MS,
      });
      await status(working.id).filter({ hasText: /^archived$/ }).waitFor({ timeout: WAIT_MS });
      assert.equal((await d.api(`/v1/sessions/${working.id}`)).body.status, "archived");
      assert.equal(await page.evaluate(() => (globalThis as { notReloaded?: boolean }).notReloaded), true);
      assert.deepEqual(problems, []);
    });
  },
);

test("ui: Fork asks for the new title in a dialog, forks through the API, and the new session shows without a reload", {
  skip: browserSkip,
  timeout: 180_000,
}, async () => {
  await using d = await dashboard("slo-ui-fork-");
  const web = await d.addRepository("web-app", { git: true });
  const source = await createSession(d, web, "Add dark mode", true);
  writeFileSync(join(source.worktreePath, "notes.txt"), "unsaved work\n");
  const plain = await createSession(d, web, "No worktree");
  await withBrowser(async (browser) => {
    const { page, problems } = await signIn(browser, await d.signInUrl());
    await page.evaluate(() => Object.assign(globalThis, { notReloaded: true }));
    // Only a worktree session this server made can be forked.
    assert.equal(await row(page, plain.id).getByRole("button", { name: /^Fork / }).count(), 0);

    // From the keyboard: the dialog opens with the title field focused and the default title in it; Escape makes
    // nothing.
    await row(page, source.id).getByRole("button", { name: "Fork Add dark mode" }).focus();
    await page.keyboard.press("Enter");
    const dialog = page.locator("#fork");
    await dialog.waitFor({ state: "visible", timeout: WAIT_MS });
    assert.equal(await page.evaluate("document.activeElement?.id"), "fork-title-input");
    const title = page.getByLabel("Title of the new session");
    assert.equal(await title.inputValue(), "Add dark mode (fork)");
    assert.match(await dialog.innerText(), /Fork the session “Add dark mode”[\s\S]*uncommitted work copied in/);
    assert.deepEqual(
      await page.evaluate("[getComputedStyle(document.activeElement).outlineStyle]"),
      ["solid"],
    );
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden", timeout: WAIT_MS });
    assert.equal((await d.api("/v1/sessions")).body.sessions.length, 2);

    // A new title, and Enter: the fork is made, shows at once, and its work is the source's.
    await row(page, source.id).getByRole("button", { name: "Fork Add dark mode" }).click();
    await dialog.waitFor({ state: "visible", timeout: WAIT_MS });
    await title.fill("Dark mode, second try");
    await title.press("Enter");
    await dialog.waitFor({ state: "hidden", timeout: WAIT_MS });
    const forkRow = page.locator("tr[data-session-id]").filter({
      has: page.getByRole("rowheader", { name: "Dark mode, second try" }),
    });
    await forkRow.waitFor({ state: "visible", timeout: WAIT_MS });
    await page.locator("#notice").filter({ hasText: /Forked “Add dark mode” as “Dark mode, second try”/ }).waitFor({
      timeout: WAIT_MS,
    });
    const forkId = (await forkRow.getAttribute("data-session-id"))!;
    const made = await d.api(`/v1/sessions/${forkId}`);
    assert.equal(made.status, 200);
    assert.equal(made.body.title, "Dark mode, second try");
    assert.notEqual(made.body.branchName, source.branchName);
    assert.equal(readFileSync(join(made.body.worktreePath, "notes.txt"), "utf8"), "unsaved work\n");
    assert.equal(readFileSync(join(source.worktreePath, "notes.txt"), "utf8"), "unsaved work\n");
    // One row per session: the answer and the session.created event do not make two.
    assert.equal(await page.locator(`tr[data-session-id="${forkId}"]`).count(), 1);

    // A fork made elsewhere (a script) shows too, from its session.created event.
    assert.equal(
      (await d.api(`/v1/sessions/${source.id}/fork`, {
        method: "POST",
        json: { title: "Made by a script", worktreeName: "by-script" },
      })).status,
      201,
    );
    const scripted = page.locator("tr[data-session-id]").filter({
      has: page.getByRole("rowheader", { name: "Made by a script" }),
    });
    await scripted.waitFor({ state: "visible", timeout: WAIT_MS });

    // The fork's detail lists its recent events.
    await forkRow.getByRole("button", { name: /^Details / }).click();
    await page.locator("#detail ol.events li[data-event-type='session.created']").waitFor({ timeout: WAIT_MS });
    assert.equal(await page.evaluate(() => (globalThis as { notReloaded?: boolean }).notReloaded), true);
    assert.deepEqual(problems, []);
  });
});

test("ui: the event stream reconnects after the server restarts, with Last-Event-ID, and shows what came after", {
  skip: browserSkip,
  timeout: 180_000,
}, async () => {
  await using d = await dashboard("slo-ui-restart-");
  const docs = await d.addRepository("docs");
  await withBrowser(async (browser) => {
    const { page } = await signIn(browser, await d.signInUrl());
    const streams: (string | null)[] = [];
    page.on("request", (request) => {
      if (new URL(request.url()).pathname === "/v1/events") streams.push(request.headers()["last-event-id"] ?? null);
    });
    const before = await createSession(d, docs, "Before the restart");
    await row(page, before.id).waitFor({ state: "visible", timeout: WAIT_MS });

    await d.restart();
    const after = await createSession(d, docs, "After the restart");
    await row(page, after.id).waitFor({ state: "visible", timeout: WAIT_MS });
    await page.locator("#connection.live").waitFor({ timeout: WAIT_MS });
    assert.equal(await row(page, before.id).count(), 1);
    // It reconnected, naming the last event it had seen.
    assert.ok(streams.length > 0, "the page did not reconnect");
    assert.ok(streams.every((id) => id !== null && id !== ""), JSON.stringify(streams));

    // A change made while it was away shows too: the lists are fetched again on reconnecting.
    await d.restart();
    const missed = await createSession(d, docs, "Made before the page is back");
    await row(page, missed.id).waitFor({ state: "visible", timeout: WAIT_MS });
  });
});

test(
  "ui: a session's detail shows its ports and its failed setup with the output's end; Run setup again runs it live",
  {
    skip: browserSkip,
    timeout: 180_000,
  },
  async () => {
    // The first run fails, its output markup-like text; the second waits for the test's file, then succeeds.
    const script = 'cd "$SLO_WORKTREE_PATH"; echo "<b>oops</b>" >&2; ' +
      "if [ -f .slo-attempt ]; then while [ ! -f .slo-release ]; do sleep 0.05; done; echo fine; " +
      "else touch .slo-attempt; exit 2; fi";
    await using d = await dashboard("slo-ui-setup-", {
      configured: { "web-app": { ports: 2, setup: [["sh", "-c", script]] } },
    });
    const web = await d.addRepository("web-app", { git: true });
    await withBrowser(async (browser) => {
      const { page, problems } = await signIn(browser, await d.signInUrl());
      await page.evaluate(() => Object.assign(globalThis, { notReloaded: true }));
      const session = await createSession(d, web, "Needs setup", true);
      assert.equal(session.ports.length, 2);
      await row(page, session.id).getByRole("button", { name: /^Details / }).click();
      const detail = page.locator("#detail");
      const setup = detail.locator('section[data-part="setup"]');

      // The ports leased to it.
      assert.deepEqual(
        await detail.locator('section[data-part="ports"] li').allInnerTexts(),
        session.ports.map(String),
      );

      // Failed, live (the create answered while it ran): the badge, the command, why, the output as text.
      const badge = setup.locator(".badge");
      await setup.locator('.badge[data-setup-state="failed"]').waitFor({ timeout: WAIT_MS });
      assert.equal(await badge.innerText(), "failed");
      const text = await setup.innerText();
      // Its argument array, quoted as a shell would need it.
      assert.match(text, /failed command\s+1 of 1: sh -c 'cd "\$SLO_WORKTREE_PATH"; echo/);
      // Its events say so as they come.
      await detail.locator("ol.events li", { hasText: /setup failed/ }).first().waitFor({ timeout: WAIT_MS });
      assert.match(text, /reason\s+exit code 2/);
      assert.match(text, /exit code\s+2/);
      const log = setup.locator("pre.log");
      assert.match(await log.innerText(), /<b>oops<\/b>/);
      assert.equal(await log.evaluate((pre) => pre.children.length), 0);
      assert.equal(
        await page.evaluate<string>("getComputedStyle(document.querySelector('#detail pre.log')).overflowY"),
        "auto",
      );
      assert.equal(await log.getAttribute("tabindex"), "0");
      assert.match(await page.getByLabel("The end of its output").innerText(), /oops/);
      const stored = await d.api(`/v1/sessions/${session.id}`);
      assert.equal(stored.body.setup.state, "failed");
      // Readable on a narrow window too: nothing wider than the window.
      await page.setViewportSize({ width: 360, height: 760 });
      const width = await page.evaluate<number>("document.documentElement.scrollWidth");
      assert.ok(width <= 360, `the page with the detail is ${width}px wide in a 360px window`);
      await page.setViewportSize({ width: 1200, height: 760 });
      // The detail with its failed setup, kept as an artifact beside the main view's.
      mkdirSync(join(root, "tests", "artifacts"), { recursive: true });
      writeFileSync(
        join(root, "tests", "artifacts", `dashboard-detail-${runtimeName}.png`),
        await detail.screenshot(),
      );

      // Run setup again, from the keyboard: running, live; its button is gone and the focus is on the state.
      const again = page.getByRole("button", { name: "Run setup again for Needs setup" });
      await again.focus();
      await page.keyboard.press("Enter");
      await setup.locator('.badge[data-setup-state="running"]').waitFor({ timeout: WAIT_MS });
      assert.equal(await again.count(), 0);
      assert.equal((await d.api(`/v1/sessions/${session.id}`)).body.setup.state, "running");
      await page.locator("#notice").filter({ hasText: /Running the setup of “Needs setup” again/ }).waitFor({
        timeout: WAIT_MS,
      });
      assert.equal(
        await page.evaluate("document.activeElement?.getAttribute('data-focus')"),
        `setup-state:${session.id}`,
      );
      // With a visible focus ring.
      assert.equal(await page.evaluate("getComputedStyle(document.activeElement).outlineStyle"), "solid");

      // Released: it succeeds, from its session.updated event.
      writeFileSync(join(session.worktreePath, ".slo-release"), "");
      await setup.locator('.badge[data-setup-state="succeeded"]').waitFor({ timeout: WAIT_MS });
      await log.filter({ hasText: /fine/ }).waitFor({ timeout: WAIT_MS });
      assert.equal(await again.count(), 0);
      assert.doesNotMatch(await setup.innerText(), /failed command|reason/);
      assert.equal((await d.api(`/v1/sessions/${session.id}`)).body.setup.state, "succeeded");
      assert.equal(await page.evaluate(() => (globalThis as { notReloaded?: boolean }).notReloaded), true);
      assert.deepEqual(problems, []);
    });
  },
);

test(
  "ui: a session's snapshots show in its detail, live, and restore into a new session; a deleted one's from the repository's list",
  {
    skip: browserSkip,
    timeout: 180_000,
  },
  async () => {
    await using d = await dashboard("slo-ui-snapshots-");
    const web = await d.addRepository("web-app", { git: true });
    const source = await createSession(d, web, "Keeps its work", true);
    writeFileSync(join(source.worktreePath, "notes.txt"), "unsaved work\n");
    const doomed = await createSession(d, web, "Deleted by force", true);
    writeFileSync(join(doomed.worktreePath, "lost.txt"), "work of a deleted session\n");
    await withBrowser(async (browser) => {
      const { page, problems } = await signIn(browser, await d.signInUrl());
      await page.evaluate(() => Object.assign(globalThis, { notReloaded: true }));
      await row(page, source.id).getByRole("button", { name: /^Details / }).click();
      const part = page.locator('#detail section[data-part="snapshots"]');
      await part.filter({ hasText: "No snapshots." }).waitFor({ timeout: WAIT_MS });

      // A fork made by a script saves the source's work as a snapshot: the detail lists it, live.
      const forked = await d.api(`/v1/sessions/${source.id}/fork`, {
        method: "POST",
        json: { title: "Fork by a script", worktreeName: "by-script" },
      });
      assert.equal(forked.status, 201);
      const listed = (await d.api(`/v1/repositories/${web}/snapshots?sessionId=${source.id}`)).body.snapshots;
      assert.equal(listed.length, 1);
      const snapshotRow = part.locator(`tr[data-snapshot-ref="${listed[0].ref}"]`);
      await snapshotRow.waitFor({ timeout: WAIT_MS });
      const cells = await snapshotRow.locator("th, td").allInnerTexts();
      assert.equal(cells[1], "a fork");
      assert.equal(cells[2], "1");
      assert.equal(cells[3], listed[0].ref);

      // Restore it, from the keyboard: a dialog asks for the title, the new session shows without a reload.
      await snapshotRow.getByRole("button", { name: /^Restore .* into a new session$/ }).focus();
      await page.keyboard.press("Enter");
      const dialog = page.locator("#restore-snapshot");
      await dialog.waitFor({ state: "visible", timeout: WAIT_MS });
      assert.equal(await page.evaluate("document.activeElement?.id"), "restore-snapshot-title");
      const title = page.getByLabel("Title of the restored session");
      assert.equal(await title.inputValue(), "Keeps its work (restored)");
      assert.match(await dialog.innerText(), /a fork, 1 changed path/);
      await page.keyboard.press("Escape");
      await dialog.waitFor({ state: "hidden", timeout: WAIT_MS });
      assert.equal((await d.api("/v1/sessions")).body.sessions.length, 3);
      await snapshotRow.getByRole("button", { name: /^Restore / }).click();
      await dialog.waitFor({ state: "visible", timeout: WAIT_MS });
      await title.fill("Back from the fork's snapshot");
      await title.press("Enter");
      await dialog.waitFor({ state: "hidden", timeout: WAIT_MS });
      const restoredRow = page.locator("tr[data-session-id]").filter({
        has: page.getByRole("rowheader", { name: "Back from the fork's snapshot" }),
      });
      await restoredRow.waitFor({ timeout: WAIT_MS });
      await page.locator("#notice").filter({ hasText: /Restored refs\/session-snapshots\/.* as “Back from/ }).waitFor(
        {
          timeout: WAIT_MS,
        },
      );
      const restored = await d.api(`/v1/sessions/${await restoredRow.getAttribute("data-session-id")}`);
      assert.equal(readFileSync(join(restored.body.worktreePath, "notes.txt"), "utf8"), "unsaved work\n");
      await page.locator("#detail-close").click();

      // A forced delete keeps its work in a snapshot; its session is gone, the repository's list still has it.
      const deleted = await d.api(`/v1/sessions/${doomed.id}?force=true`, { method: "DELETE" });
      assert.equal(deleted.status, 200);
      await row(page, doomed.id).waitFor({ state: "detached", timeout: WAIT_MS });
      await page.getByRole("button", { name: "Snapshots of web-app…" }).click();
      const list = page.locator("#snapshots");
      await list.waitFor({ state: "visible", timeout: WAIT_MS });
      const gone = list.locator(`tr[data-snapshot-ref="refs/session-snapshots/${doomed.id}"]`);
      await gone.waitFor({ timeout: WAIT_MS });
      assert.equal(await gone.getAttribute("data-session-exists"), "false");
      assert.match(await gone.innerText(), new RegExp(`a forced close[\\s\\S]*deleted \\(${doomed.id}\\)`));
      assert.equal(await list.locator(`tr[data-snapshot-ref="${listed[0].ref}"]`).count(), 1);
      await gone.getByRole("button", { name: /^Restore / }).click();
      await dialog.waitFor({ state: "visible", timeout: WAIT_MS });
      // Its session is gone: no title is offered, the server's default is.
      assert.equal(await title.inputValue(), "");
      assert.equal(await title.getAttribute("placeholder"), `Restored ${doomed.id}`);
      await title.press("Enter");
      await dialog.waitFor({ state: "hidden", timeout: WAIT_MS });
      await list.waitFor({ state: "hidden", timeout: WAIT_MS });
      const back = page.locator("tr[data-session-id]").filter({
        has: page.getByRole("rowheader", { name: `Restored ${doomed.id}` }),
      });
      await back.waitFor({ timeout: WAIT_MS });
      const made = await d.api(`/v1/sessions/${await back.getAttribute("data-session-id")}`);
      assert.equal(readFileSync(join(made.body.worktreePath, "lost.txt"), "utf8"), "work of a deleted session\n");
      assert.equal(await page.evaluate(() => (globalThis as { notReloaded?: boolean }).notReloaded), true);
      assert.deepEqual(problems, []);
    });
  },
);

// What the page's create lines said, every state of them: a MutationObserver notes each text a line's words
// and counts ever had (a change of text puts in a new text node and takes out the old one, each kept as it
// was), each line's bar, and whether a session's line was still there when its row came; so a state is seen
// however briefly it showed, with no timing.
const WATCH_CREATES = `(() => {
  const lines = new Map();
  const rows = [];
  const noteOf = (line) => {
    if (!lines.has(line)) lines.set(line, { words: new Set(), counts: new Set(), bars: [] });
    return lines.get(line);
  };
  const texts = (nodes) => [...nodes].filter((node) => node instanceof Text).map((node) => node.data);
  const lookAtBar = (line, bar) => noteOf(line).bars.push({
    max: bar.max,
    label: line.querySelector("#" + CSS.escape(bar.getAttribute("aria-labelledby"))) === line.querySelector(".creating-words")
      ? "words"
      : "other",
  });
  const look = (line) => {
    const note = noteOf(line);
    const words = line.querySelector(".creating-words");
    const counts = line.querySelector(".creating-counts");
    note.words.add(words.textContent);
    note.counts.add(counts.textContent);
    const bar = line.querySelector("progress");
    if (bar !== null) lookAtBar(line, bar);
    note.region = [line.parentElement?.getAttribute("role"), line.parentElement?.getAttribute("aria-live")].join(" ");
    note.countsHidden = counts.getAttribute("aria-hidden");
  };
  new MutationObserver((records) => {
    for (const record of records) {
      const line = record.target instanceof Element ? record.target.closest(".creating-line") : null;
      if (line !== null && record.target !== line) {
        const part = record.target.matches(".creating-words") ? "words" : "counts";
        for (const text of [...texts(record.removedNodes), ...texts(record.addedNodes)]) noteOf(line)[part].add(text);
      }
      for (const node of record.addedNodes) {
        if (!(node instanceof Element)) continue;
        if (node.matches("progress") && line !== null) lookAtBar(line, node);
        if (node.matches(".creating-line")) look(node);
        node.querySelectorAll(".creating-line").forEach(look);
        for (const row of node.matches("tr[data-session-id]") ? [node] : node.querySelectorAll("tr[data-session-id]")) {
          const id = row.getAttribute("data-session-id");
          rows.push({ id, lineThere: document.querySelector('.creating-line[data-creating-session-id="' + id + '"]') !== null });
        }
      }
    }
  }).observe(document.getElementById("repositories"), { childList: true, subtree: true });
  window.__creates = () => ({
    rows,
    lines: [...lines].map(([line, note]) => ({
      sessionId: line.getAttribute("data-creating-session-id"),
      words: [...note.words],
      counts: [...note.counts],
      bars: note.bars,
      region: note.region,
      countsHidden: note.countsHidden,
      inPage: line.isConnected,
    })),
  });
})()`;

test(
  "ui: a create under way shows its progress under its repository, made through the API or the page, until its row comes",
  { skip: browserSkip, timeout: 240_000 },
  async () => {
    await using d = await dashboard("slo-ui-progress-");
    const big = await d.addRepository("big", { git: true });
    const other = await d.addRepository("other", { git: true });
    const repository = await d.api(`/v1/repositories/${big}`);
    assert.equal(repository.status, 200);
    // A few thousand small files, so the checkout has counts to show.
    const path = repository.body.path;
    for (let folder = 0; folder < 60; folder++) {
      mkdirSync(join(path, `d${folder}`));
      for (let file = 0; file < 50; file++) writeFileSync(join(path, `d${folder}`, `f${file}.txt`), `${file}\n`);
    }
    git(path, "add", ".");
    git(path, "commit", "-q", "-m", "many files");
    const tracked = git(path, "ls-files").split("\n").length;
    assert.ok(tracked > 3000);

    await withBrowser(async (browser) => {
      const { page, problems } = await signIn(browser, await d.signInUrl());
      await page.evaluate(WATCH_CREATES);
      const creating = page.locator(".creating-line");
      const seen = async (): Promise<Json> => await page.evaluate("window.__creates()");

      // Made elsewhere (a script through the API) while the page is open.
      const made = await createSession(d, big, "Made by a script", true);
      await row(page, made.id).waitFor({ timeout: WAIT_MS });
      // Its line is gone once its row is there (the same event takes the one away and draws the other).
      assert.equal(await creating.count(), 0);
      const log = await seen();
      assert.ok(log.rows.some((entry: Json) => entry.id === made.id && !entry.lineThere), JSON.stringify(log.rows));
      const lines = log.lines.filter((entry: Json) => entry.sessionId === made.id);
      assert.equal(lines.length, 1, JSON.stringify(log.lines));
      const [line] = lines;
      assert.equal(line.inPage, false);
      // Each phase, in words (what the polite live region says) ...
      for (
        const words of ["planning", "adding the worktree", "checking out files", "recording the session"]
      ) assert.ok(line.words.includes(`Creating a session… ${words}`), JSON.stringify(line.words));
      assert.equal(line.region, "status polite");
      // ... and the checkout's counts, shown but not read out at each change, and in a bar its words label.
      assert.equal(line.countsHidden, "true");
      assert.ok(line.counts.includes(`0/${tracked}`), JSON.stringify(line.counts));
      assert.ok(line.counts.includes(`${tracked}/${tracked}`), JSON.stringify(line.counts));
      for (const counts of line.counts) assert.match(counts, new RegExp(`^(\\d+/${tracked})?$`));
      assert.ok(line.bars.length >= 1);
      assert.deepEqual(line.bars[0], { max: tracked, label: "words" });
      // Under its own repository, and no other.
      assert.equal(await page.locator(`[data-repository-id="${other}"] .creating`).count(), 1);
      assert.equal(await page.locator(`[data-repository-id="${big}"] .creating`).getAttribute("role"), "status");

      // Made through the page's New session form: its line, with its title, shows at once.
      await page.locator("#new-repository").selectOption(big);
      await page.locator("#new-title").fill("From the form");
      await page.getByRole("button", { name: "Create" }).click();
      await page.getByRole("rowheader", { name: "From the form" }).waitFor({ timeout: WAIT_MS });
      const fromForm = (await seen()).lines.filter((entry: Json) =>
        entry.words.some((words: string) => words.startsWith("Creating “From the form”… "))
      );
      assert.equal(fromForm.length, 1, JSON.stringify((await seen()).lines));
      assert.ok(fromForm[0].words.includes("Creating “From the form”… starting"), JSON.stringify(fromForm[0].words));
      assert.equal(fromForm[0].inPage, false);
      await page.locator("#notice", { hasText: "Created session “From the form”." }).waitFor({ timeout: WAIT_MS });
      await creating.first().waitFor({ state: "detached", timeout: WAIT_MS });
      assert.equal(await creating.count(), 0);

      assert.deepEqual(problems, []);
    });
  },
);
