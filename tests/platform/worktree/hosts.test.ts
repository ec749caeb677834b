// A worktree belongs to the machine that made it: each lifecycle records its host id on the
// sessions it opens, closes only its own machine's (another's is a Conflict naming the owner, with
// nothing touched), and reconcile ignores the other machines' sessions. Here two lifecycles with
// their own host ids and data folders share one store, as two machines share one database.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HOST_ID_ENV, HOST_ID_FILE, resolveHostId } from "../../../src/platform/mod.ts";
import { git, worktreeFixture } from "../../fixtures/git_fixtures.ts";
import { tempDir } from "../../fixtures/helpers.ts";

test("hosts: a worktree session records its machine, and another machine's lifecycle leaves it whole", async () => {
  using f = await worktreeFixture({ hostId: "machine-a" });
  const other = f.orchestratorWith({ hostId: "machine-b", worktreesRoot: join(f.dir, "b-worktrees") });
  const session = await f.orchestrator.createSession({
    repositoryId: f.repository.id,
    title: "On A",
    isWorktree: true,
  });
  assert.equal(session.hostId, "machine-a");
  assert.equal((await f.store.getSession(session.id))?.hostId, "machine-a");
  const plain = await f.orchestrator.createSession({
    repositoryId: f.repository.id,
    title: "Plain",
    isWorktree: false,
  });
  assert.equal(plain.hostId, null);
  const secret = await f.chain.resolve(session.id);

  // B refuses, forced or not, and names the owner; the row, the secret, the folder and the branch stay.
  for (const options of [{}, { force: true, deleteBranch: true }]) {
    await assert.rejects(other.deleteSession(session.id, options), (error: Error & { kind?: string }) => {
      assert.equal(error.kind, "Conflict");
      assert.match(error.message, /is on another machine \(host id machine-a; this one is machine-b\)/);
      assert.match(error.message, /delete it through a server on that machine/);
      return true;
    });
  }
  assert.deepEqual(await f.store.getSession(session.id), session);
  assert.deepEqual(await f.chain.resolve(session.id), secret);
  assert.ok(existsSync(session.worktreePath!));
  assert.equal(
    git(f.repositoryPath, "branch", "--list", session.branchName!).trim().replace(/^[*+] /, ""),
    session.branchName,
  );
  // A plain session has no machine: any server deletes it.
  assert.equal((await other.deleteSession(plain.id))?.session.id, plain.id);

  // B's reconcile does not see A's session, even with its folder gone; A's repairs it.
  rmSync(session.worktreePath!, { recursive: true });
  const byB = await other.reconcile();
  assert.deepEqual(byB.findings.filter((x) => x.sessionId === session.id), []);
  assert.equal(existsSync(session.worktreePath!), false);
  const byA = await f.orchestrator.reconcile();
  assert.ok(
    byA.findings.some((x) => x.sessionId === session.id && x.kind === "missing-worktree" && x.action === "recreated"),
    JSON.stringify(byA.findings),
  );
  assert.ok(existsSync(session.worktreePath!));

  // A closes its own.
  const closed = await f.orchestrator.deleteSession(session.id, { deleteBranch: true });
  assert.equal(closed?.worktreeRemoved, true);
  assert.equal(await f.store.getSession(session.id), null);
});

test("hosts: sessions recorded with no machine are handled by every lifecycle; a bad host id is refused", async () => {
  using f = await worktreeFixture();
  assert.equal(f.lifecycle.hostId, null);
  const session = await f.orchestrator.createSession({
    repositoryId: f.repository.id,
    title: "Legacy",
    isWorktree: true,
  });
  assert.equal(session.hostId, null);
  const scoped = f.orchestratorWith({ hostId: "machine-b" });
  assert.equal((await scoped.deleteSession(session.id))?.worktreeRemoved, true);
  for (const hostId of ["", "two words", "-leading", "x".repeat(129)]) {
    assert.throws(() => f.orchestratorWith({ hostId }), { name: "SessionError", kind: "InvalidInput" } as never);
  }
});

test("hosts: the host id comes from the environment, else the machine id (hashed), else a kept random id", () => {
  using dir = tempDir("slo-host-");
  const dataDir = join(dir.path, "data");
  assert.deepEqual(resolveHostId({ dataDir, env: { [HOST_ID_ENV]: "ci-runner-7" } }), {
    hostId: "ci-runner-7",
    source: "env",
  });
  assert.throws(() => resolveHostId({ dataDir, env: { [HOST_ID_ENV]: "has space" } }), (error: Error) => {
    assert.equal((error as { kind?: string }).kind, "InvalidInput");
    assert.match(error.message, new RegExp(`^${HOST_ID_ENV} must be`));
    return true;
  });

  // A machine id: the same derived id for every data directory, and never the machine id itself.
  const machineIdPath = join(dir.path, "machine-id");
  const machineId = "0123456789abcdef0123456789abcdef";
  writeFileSync(machineIdPath, `${machineId}\n`);
  const derived = resolveHostId({ dataDir, env: {}, machineIdPath });
  assert.equal(derived.source, "machine-id");
  assert.match(derived.hostId, /^[0-9a-f]{32}$/);
  assert.notEqual(derived.hostId, machineId);
  assert.deepEqual(resolveHostId({ dataDir: join(dir.path, "elsewhere"), env: {}, machineIdPath }), derived);
  assert.equal(existsSync(join(dataDir, HOST_ID_FILE)), false);

  // None (or a malformed one): a random id, kept in the data directory (0600) across calls.
  writeFileSync(machineIdPath, "not a machine id\n");
  const kept = resolveHostId({ dataDir, env: {}, machineIdPath });
  assert.equal(kept.source, "file");
  assert.match(kept.hostId, /^[0-9a-f]{32}$/);
  assert.deepEqual(resolveHostId({ dataDir, env: {}, machineIdPath: join(dir.path, "absent") }), kept);
  mkdirSync(join(dir.path, "other"));
  assert.notEqual(
    resolveHostId({ dataDir: join(dir.path, "other"), env: {}, machineIdPath: join(dir.path, "absent") }).hostId,
    kept.hostId,
  );
});
