// `deno task test`: runs the one suite under Deno, then every `@example` of mod.ts and src/ as a
// test (`deno test --doc`: each one type-checked and run, its assertions checked), then the suite
// under Bun (through `npx -y bun` when bun is not installed). It streams every output and ends
// with one line `N passed, N failed` summing all three. First it writes the generated OpenAPI client
// types (tests/fixtures/write_openapi_types.ts), which are not committed. Exits non-zero when any run fails a test,
// exits badly, or reports no count.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import process from "node:process";

const root = new URL("..", import.meta.url).pathname;
const extraArgs = process.argv.slice(2);

interface Counts {
  passed: number;
  failed: number;
}

// deno-lint-ignore no-control-regex
const stripAnsi = (text: string) => text.replace(/\u001b\[[0-9;]*m/g, "");

// A hung test must fail the run, not stall CI until its own limit.
const RUNTIME_TIMEOUT_MS = 25 * 60 * 1000;

function run(command: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: process.env });
    const timer = setTimeout(() => {
      output += `\n${command} ${args.join(" ")}: still running after ${RUNTIME_TIMEOUT_MS / 60000} minutes; killed\n`;
      child.kill("SIGKILL");
    }, RUNTIME_TIMEOUT_MS);
    let output = "";
    const relay = (target: NodeJS.WriteStream) => (chunk: Uint8Array) => {
      output += new TextDecoder().decode(chunk);
      target.write(chunk);
    };
    child.stdout.on("data", relay(process.stdout));
    child.stderr.on("data", relay(process.stderr));
    child.on("error", (error) => {
      output += String(error);
      resolve({ code: 127, output });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, output });
    });
  });
}

function denoCounts(output: string): Counts | null {
  const match = /(?:ok|FAILED) \| (\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed/.exec(stripAnsi(output));
  return match ? { passed: Number(match[1]), failed: Number(match[2]) } : null;
}

function bunCounts(output: string): Counts | null {
  const text = stripAnsi(output);
  const passed = /^\s*(\d+) pass\s*$/m.exec(text);
  const failed = /^\s*(\d+) fail\s*$/m.exec(text);
  return passed && failed ? { passed: Number(passed[1]), failed: Number(failed[1]) } : null;
}

// The names of the failed tests, as each runner lists them: Deno's FAILURES section ("name =>
// file:line"), Bun's "(fail) name" lines. Printed again at the end, where a log's tail shows them.
function denoFailures(output: string): string[] {
  const text = stripAnsi(output);
  const section = text.lastIndexOf(" FAILURES ");
  if (section === -1) return [];
  return text.slice(section).split("\n").filter((line) => line.includes(" => ")).map((line) => line.trim());
}

function bunFailures(output: string): string[] {
  // Bun lists each failure twice (as it runs, and in its summary): once here.
  const lines = stripAnsi(output).split("\n").filter((line) => line.startsWith("(fail) ")).map((line) => line.trim());
  return [...new Set(lines)];
}

function bunCommand(): [string, string[]] {
  const found = spawnSync("bun", ["--version"], { stdio: "ignore" });
  return found.status === 0 ? ["bun", []] : ["npx", ["-y", "bun"]];
}

const results: { runtime: string; code: number; counts: Counts | null; failures: string[] }[] = [];

// The OpenAPI client types are generated, not committed; `deno test` type-checks a test against them.
const types = await run(process.execPath, ["run", "-A", "tests/fixtures/write_openapi_types.ts"]);
const typesWritten = types.code === 0;
if (!typesWritten) console.log(`writing the OpenAPI client types failed (exit code ${types.code})`);

const deno = await run(process.execPath, ["test", "-A", ...extraArgs, "tests/"]);
results.push({
  runtime: "deno",
  code: deno.code,
  counts: denoCounts(deno.output),
  failures: denoFailures(deno.output),
});

// The documentation's examples. A directory is searched for doc blocks only, so no module of src/
// (the server entry, say) is run for itself. Filters given to the suite do not apply here.
const docs = await run(process.execPath, ["test", "-A", "--doc", "mod.ts", "src/"]);
results.push({
  runtime: "deno --doc",
  code: docs.code,
  counts: denoCounts(docs.output),
  failures: denoFailures(docs.output),
});

const [bun, bunPrefix] = bunCommand();
const manifest = JSON.parse(readFileSync(`${root}package.json`, "utf8"));
// Installed when any dependency (the tests' devDependencies too) is missing, not only without
// node_modules: a checkout whose package.json gained one since its last install would otherwise
// fail to import it.
const needed = Object.keys({ ...manifest.dependencies, ...manifest.devDependencies });
if (needed.some((name) => !existsSync(`${root}node_modules/${name}/package.json`))) {
  await run(bun, [...bunPrefix, "install"]);
}
const bunRun = await run(bun, [...bunPrefix, "test", "--timeout", "120000", ...extraArgs, "tests/"]);
results.push({
  runtime: "bun",
  code: bunRun.code,
  counts: bunCounts(bunRun.output),
  failures: bunFailures(bunRun.output),
});

let passed = 0;
let failed = 0;
let ok = true;
console.log("");
for (const { runtime, failures } of results) {
  for (const failure of failures) console.log(`${runtime} failed: ${failure}`);
}
for (const { runtime, code, counts } of results) {
  if (counts === null) {
    console.log(`${runtime}: no test count found (exit code ${code})`);
    ok = false;
    continue;
  }
  console.log(`${runtime}: ${counts.passed} passed, ${counts.failed} failed (exit code ${code})`);
  passed += counts.passed;
  failed += counts.failed;
  if (code !== 0 || counts.failed > 0 || counts.passed === 0) ok = false;
}
if (!typesWritten) ok = false;
console.log(`${passed} passed, ${failed} failed`);
process.exit(ok ? 0 : 1);
