/**
 * Internal: the dashboard's routes under `/ui/`: the page's three static files and the one-time
 * sign-in. They are registered before the token check (the files carry no data, and the sign-in
 * is gated by its code), after the Host and Origin checks, which hold for them as for the API.
 *
 * @module
 */

import type { Context, Env, Hono, MiddlewareHandler } from "hono";
import { DASHBOARD_ASSETS } from "./ui/_assets.ts";
import { jsonContentType } from "./content_type.ts";
import { errorResponse } from "./errors.ts";
import type { SignInCodes } from "./_sign_in.ts";

/**
 * The page's Content-Security-Policy: its own files only, nothing inline, nothing from anywhere
 * else, no form posts, no framing. The API's JSON is read with `fetch` from the same origin.
 */
export const DASHBOARD_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
  "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** Where the dashboard's page is, from the app's root. */
export const DASHBOARD_PATH = "/ui/";

// On every answer under /ui/, errors included.
const securityHeaders: MiddlewareHandler = async (c, next) => {
  await next();
  c.header("Content-Security-Policy", DASHBOARD_CSP);
  c.header("X-Content-Type-Options", "nosniff");
  c.header("Referrer-Policy", "no-referrer");
  c.header("X-Frame-Options", "DENY");
  c.header("Cross-Origin-Opener-Policy", "same-origin");
  c.header("Cross-Origin-Resource-Policy", "same-origin");
};

/**
 * The page's link, with `code` in its fragment, for the request `c` that asked for it (made
 * through the API at `<prefix>/v1/ui/sign-in-codes`): the same scheme, Host and mount prefix, so
 * the browser reaches the server as the caller did.
 */
export function dashboardUrl(c: Context, code: string): string {
  const url = new URL(c.req.url);
  const host = c.req.header("host") ?? url.host;
  const prefix = url.pathname.replace(/\/v1\/ui\/sign-in-codes\/?$/, "");
  return `${url.protocol}//${host}${prefix}${DASHBOARD_PATH}#code=${code}`;
}

/**
 * Registers `/ui` (a redirect to `/ui/`, so the page's relative links resolve), the page's files,
 * and `POST /ui/sign-in`: `{ "code" }` → `{ "token" }` for a live code, which is then used up;
 * 401 `Unauthorized` for a used, expired or unknown one.
 */
export function mountDashboard(app: Hono<Env>, options: { token: string; codes: SignInCodes }): void {
  app.use("/ui", securityHeaders);
  app.use("/ui/*", securityHeaders);
  // Relative, so it holds under a mount prefix too.
  app.get("/ui", (c) => c.redirect("ui/", 308));
  for (const [name, asset] of Object.entries(DASHBOARD_ASSETS)) {
    const path = name === "index.html" ? DASHBOARD_PATH : `${DASHBOARD_PATH}${name}`;
    app.get(path, (c) => {
      c.header("Content-Type", asset.type);
      // Revalidated on each load, so a newer server's page is never mixed with an older script.
      c.header("Cache-Control", "no-cache");
      return c.body(asset.body, 200);
    });
  }
  app.use("/ui/sign-in", jsonContentType());
  app.post("/ui/sign-in", async (c) => {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      return errorResponse(c, "InvalidInput", 'the body must be JSON: { "code": "…" }');
    }
    const code = (body as { code?: unknown } | null)?.code;
    if (typeof code !== "string" || code.length === 0 || code.length > 256) {
      return errorResponse(c, "InvalidInput", "body.code must be the sign-in link's code");
    }
    if (!await options.codes.redeem(code)) {
      return errorResponse(
        c,
        "Unauthorized",
        'this sign-in link was used already or has expired; run "slo ui" for a new one',
      );
    }
    c.header("Cache-Control", "no-store");
    return c.json({ token: options.token }, 200);
  });
}
