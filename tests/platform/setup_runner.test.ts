// ProcessSetupRunner's records of running commands, with real processes: the next runner on the same
// folder (the next start of a killed server) ends a command the first left running, but never a
// process that only shares its pid (a record whose start time or boot no longer matches); and once
// the command itself exited, what it started in the background, if it started after the command.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import process from "node:process";
import { join } from "node:path";
import type { Session, SetupRunRequest, SetupRunResult } from "../../mod.ts";
import { ProcessSetupRunner } from "../../src/platform/setup_runner.ts";
import { processExists } from "../../src/platform/_process.ts";
import { processRuns, settle, tempDir } from "../fixtures/helpers.ts";

const onLinux = process.platform === "linux";

// Starts `command` (by default `sleep 30`) through a runner on `records`; resolves once its record is written.
async function startSleeping(records: string, worktree: string, command = ["sleep", "30"]) {
  const controller = new AbortController();
  const session = { id: crypto.randomUUID(), worktreePath: worktree } as Session;
  const request: SetupRunRequest = {
    session,
    commands: [command],
    timeoutMs: 60_000,
    env: {},
    onCommand: () => {},
    onOutput: () => {},
    signal: controller.signal,
  };
  const finished: Promise<SetupRunResult> = new ProcessSetupRunner({ recordDir: records }).run(request);
  await settle(() => readdirSync(records).length > 0, 200);
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

// The pids of the processes in group `pgid`, from /proc.
function groupMembers(pgid: number): number[] {
  return readdirSync("/proc").filter((entry) => /^\d+$/.test(entry)).filter((entry) => {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]) === pgid;
    } catch {
      return false;
    }
  }).map(Number);
}

// Starts `command`, a shell that starts `background` processes and waits, through a runner on
// `records`; resolves once they share its group, with the pids of all but the shell.
async function startGroup(records: string, worktree: string, command: string[], background: number) {
  const running = await startSleeping(records, worktree, command);
  await settle(() => groupMembers(running.pid).length >= background + 1);
  return { running, children: groupMembers(running.pid).filter((pid) => pid !== running.pid) };
}

test("setup runner: a command that exited while what it started lives on has its group ended by the next runner", {
  skip: !onLinux,
}, async () => {
  using dir = tempDir("slo-setup-records-");
  const records = join(dir.path, "setups");
  // The shell starts two sleeps in the background (its group) and waits; its kill below is the
  // command ending while the server is away, which leaves the sleeps running.
  const command = ["sh", "-c", "sleep 31 & sleep 32 & wait"];
  const { running, children } = await startGroup(records, dir.path, command, 2);
  assert.equal(children.length, 2, "the shell and its two sleeps share the group");
  process.kill(running.pid, "SIGKILL");
  await settle(() => !existsSync(`/proc/${running.pid}`));
  assert.equal(existsSync(`/proc/${running.pid}`), false, "the shell is gone, reaped");
  assert.ok(children.every(processExists), "its background sleeps still run");

  const orphans = await new ProcessSetupRunner({ recordDir: records }).stopOrphans();
  assert.deepEqual(orphans, [
    { sessionId: running.session.id, command, pid: running.pid, outcome: "stopped" },
  ]);
  await running.finished;
  assert.deepEqual(children.filter(processRuns), [], "the group went with the record");
  assert.deepEqual(groupMembers(running.pid), []);
  assert.equal(existsSync(running.record), false);
});

// A record changed as a pid taken again would make it look: a later start than the group's members
// had, or a run whose mark the members do not carry (a newer process's own group, say a daemon's).
const NOT_OURS: [string, (record: Record<string, unknown>) => Record<string, unknown>][] = [
  ["a member older than the command", (record) => {
    const [boot, start] = String(record.identity).split(":");
    return { ...record, identity: `${boot}:${BigInt(start) + 1_000_000n}` };
  }],
  ["members without the run's mark", (record) => ({ ...record, run: crypto.randomUUID() })],
];

for (const [what, change] of NOT_OURS) {
  test(`setup runner: a leaderless group with ${what} is not the command's, and stays`, {
    skip: !onLinux,
  }, async () => {
    using dir = tempDir("slo-setup-records-");
    const records = join(dir.path, "setups");
    const command = ["sh", "-c", "sleep 33 & wait"];
    const { running, children: [child] } = await startGroup(records, dir.path, command, 1);
    assert.ok(child !== undefined, "the sleep shares the group");
    writeFileSync(running.record, JSON.stringify(change(JSON.parse(readFileSync(running.record, "utf8")))));
    process.kill(running.pid, "SIGKILL");
    await settle(() => !existsSync(`/proc/${running.pid}`));
    const orphans = await new ProcessSetupRunner({ recordDir: records }).stopOrphans();
    assert.deepEqual(orphans.map((orphan) => orphan.outcome), ["gone"]);
    assert.equal(processExists(child), true, `a group with ${what} is left alone`);
    process.kill(-running.pid, "SIGKILL");
    await running.finished;
    // Killed; a zombie until whatever adopted it reaps it.
    await settle(() => !processRuns(child));
    assert.equal(processRuns(child), false);
  });
}
