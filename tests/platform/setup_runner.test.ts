// ProcessSetupRunner's records of running commands, with real processes: the next runner on the same
// folder (the next start of a killed server) ends a command the first left running, but never a
// process that only shares its pid (a record whose start time or boot no longer matches).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Session, SetupRunRequest, SetupRunResult } from "../../mod.ts";
import { ProcessSetupRunner } from "../../src/platform/setup_runner.ts";
import { processExists } from "../../src/platform/_process.ts";
import { tempDir } from "../fixtures/helpers.ts";

const onLinux = process.platform === "linux";

// Starts `sleep 30` through a runner on `records`; resolves once its record is written.
async function startSleeping(records: string, worktree: string) {
  const controller = new AbortController();
  const session = { id: crypto.randomUUID(), worktreePath: worktree } as Session;
  const request: SetupRunRequest = {
    session,
    commands: [["sleep", "30"]],
    timeoutMs: 60_000,
    env: {},
    onCommand: () => {},
    onOutput: () => {},
    signal: controller.signal,
  };
  const finished: Promise<SetupRunResult> = new ProcessSetupRunner({ recordDir: records }).run(request);
  for (let attempt = 0; attempt < 200 && readdirSync(records).length === 0; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const [name] = readdirSync(records);
  assert.ok(name !== undefined, "the running command is recorded");
  return { session, finished, controller, record: join(records, name), pid: Number(name.replace(".json", "")) };
}

test(
  "setup runner: the next runner on the folder ends a command the last one left running",
  { skip: !onLinux },
  async () => {
    using dir = tempDir("slo-setup-records-");
    const records = join(dir.path, "setups");
    const running = await startSleeping(records, dir.path);
    assert.equal(processExists(running.pid), true);

    const orphans = await new ProcessSetupRunner({ recordDir: records }).stopOrphans();
    assert.deepEqual(orphans, [
      { sessionId: running.session.id, command: ["sleep", "30"], pid: running.pid, outcome: "stopped" },
    ]);
    const result = await running.finished;
    assert.equal(result.failed, 0);
    assert.equal(processExists(running.pid), false);
    assert.equal(existsSync(running.record), false, "the record goes with the command");
    assert.deepEqual(await new ProcessSetupRunner({ recordDir: records }).stopOrphans(), []);
  },
);

test("setup runner: a record whose process is not the one it started (another start time) is never acted on", {
  skip: !onLinux,
}, async () => {
  using dir = tempDir("slo-setup-records-");
  const records = join(dir.path, "setups");
  const running = await startSleeping(records, dir.path);
  try {
    // As after the command ended and its pid went to a newer process.
    const record = JSON.parse(readFileSync(running.record, "utf8"));
    writeFileSync(running.record, JSON.stringify({ ...record, identity: `${record.identity}0` }));
    writeFileSync(join(records, "broken.json"), "{ not json");

    const orphans = await new ProcessSetupRunner({ recordDir: records }).stopOrphans();
    assert.deepEqual(orphans.map((orphan) => [orphan.pid, orphan.outcome]), [[running.pid, "gone"]]);
    assert.equal(processExists(running.pid), true, "the process that only shares the pid still runs");
    assert.deepEqual(readdirSync(records), [], "the stale and the broken record are removed");
  } finally {
    running.controller.abort();
    await running.finished;
  }
  assert.equal(processExists(running.pid), false);
});
