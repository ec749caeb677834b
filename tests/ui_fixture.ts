/**
 * The dashboard's files as the server ships them: `src/http/ui/_assets.ts` holds the page, its
 * script and its styles as strings (the package runs from JSR too, where it cannot read files
 * beside its modules), generated from the files in `src/http/ui/`. `deno task ui:assets` writes it;
 * a test checks it is current.
 * @module
 */

import { readFileSync, writeFileSync } from "node:fs";
import process from "node:process";

const folder = new URL("../src/http/ui/", import.meta.url);

/** The generated module's path. */
export const ASSETS_MODULE_PATH: string = new URL("_assets.ts", folder).pathname;

/** The command that writes it. */
export const REGENERATE_ASSETS_COMMAND = "deno task ui:assets";

const FILES: [name: string, type: string][] = [
  ["index.html", "text/html; charset=utf-8"],
  ["dashboard.js", "text/javascript; charset=utf-8"],
  ["dashboard.css", "text/css; charset=utf-8"],
  ["dom.js", "text/javascript; charset=utf-8"],
  ["fork.js", "text/javascript; charset=utf-8"],
  ["progress.js", "text/javascript; charset=utf-8"],
  ["recent_events.js", "text/javascript; charset=utf-8"],
  ["setup.js", "text/javascript; charset=utf-8"],
  ["snapshots.js", "text/javascript; charset=utf-8"],
];

/** The module's text, from the files as they are now. */
export function renderAssetsModule(): string {
  const entries = FILES.map(([name, type]) => {
    const body = readFileSync(new URL(name, folder), "utf8");
    return `  ${JSON.stringify(name)}: {\n    type: ${JSON.stringify(type)},\n    body: ${
      JSON.stringify(body)
    },\n  },\n`;
  });
  return [
    "// Generated from the page's files beside this file (index.html, dashboard.js and the modules it",
    "// imports, dashboard.css) by tests/ui_fixture.ts; do not edit.",
    `// Regenerate with: ${REGENERATE_ASSETS_COMMAND}`,
    "/**",
    " * Internal: the dashboard's files, as strings, so the package serves them wherever it runs.",
    " *",
    " * @module",
    " */",
    "",
    "/** One file of the page. */",
    "export interface DashboardAsset {",
    "  /** Its Content-Type. */",
    "  type: string;",
    "  /** Its text. */",
    "  body: string;",
    "}",
    "",
    "/** The page's files by name; `index.html` is served at `/ui/`, the others beside it. */",
    "export const DASHBOARD_ASSETS: Readonly<Record<string, DashboardAsset>> = {",
    ...entries.map((entry) => entry.trimEnd()),
    "};",
    "",
  ].join("\n");
}

if (import.meta.main) {
  writeFileSync(ASSETS_MODULE_PATH, renderAssetsModule());
  process.stdout.write(`wrote ${ASSETS_MODULE_PATH}\n`);
}
