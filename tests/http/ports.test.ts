// Port leases over HTTP and the command line: `ports` in the create body (and `slo new --ports N`),
// the leased ports on the session (`GET`, `slo show`), bad counts refused with 400 InvalidInput
// and nothing written, and the ports released by the delete.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { createRepository, routeApp } from "../fixtures/http_fixture.ts";
import { assertFails, cliWorld, jsonOf } from "../fixtures/cli_fixture.ts";
import { makeRepository } from "../fixtures/git_fixtures.ts";
import type { Session } from "../../src/types.ts";

test("HTTP: ports in the create body are leased, shown on the session, refused when bad, released by the delete", async () => {
  await using t = await routeApp();
  const repositoryId = await createRepository(t);
  const base = { repositoryId, title: "With ports", isWorktree: false };
  for (const ports of [17, -1, 1.5, "2", null, [41000]]) {
    const bad = await t.callJson("/v1/sessions", { method: "POST", json: { ...base, ports } });
    assert.equal(bad.status, 400, JSON.stringify(ports));
    assert.equal(bad.body.error.kind, "InvalidInput");
  }
  const none = await t.callJson("/v1/sessions");
  assert.deepEqual(none.body.sessions, []);
  assert.deepEqual(await t.store.listPortLeases(), []);

  const created = await t.callJson<Session>("/v1/sessions", { method: "POST", json: { ...base, ports: 2 } });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.body.ports.length, 2);
  assert.ok(created.body.ports.every((port) => port >= 41000 && port <= 41999));
  const plain = await t.callJson<Session>("/v1/sessions", { method: "POST", json: base });
  assert.deepEqual(plain.body.ports, []);
  const read = await t.callJson<Session>(`/v1/sessions/${created.body.id}`);
  assert.deepEqual(read.body.ports, created.body.ports);
  assert.deepEqual(
    (await t.store.listPortLeases()).map((lease) => lease.port),
    created.body.ports,
  );

  const deleted = await t.callJson<Session>(`/v1/sessions/${created.body.id}`, { method: "DELETE" });
  assert.equal(deleted.status, 200);
  assert.deepEqual(deleted.body.ports, created.body.ports);
  assert.deepEqual(await t.store.listPortLeases(), []);
});

test("cli: slo new --ports N leases them, slo show lists them, a bad --ports is refused with nothing made", async () => {
  await using world = cliWorld("slo-cli-ports-");
  await world.serve();
  const repositoryPath = join(world.base, "app");
  makeRepository(repositoryPath);
  assert.equal((await world.cli(["repo", "add", repositoryPath])).code, 0);

  const created = await world.cli(["new", "app", "Serve it", "--ports", "2"]);
  assert.equal(created.code, 0, created.stderr);
  const ports = /^ports: {4}(\d+) (\d+)$/m.exec(created.stdout);
  assert.ok(ports, created.stdout);
  const id = /^created session (\S+)/m.exec(created.stdout)![1];

  const shown = await world.cli(["show", id]);
  assert.equal(shown.code, 0, shown.stderr);
  assert.match(shown.stdout, new RegExp(`^ports: +${ports[1]} ${ports[2]}$`, "m"));
  assert.deepEqual(jsonOf<Session>(await world.cli(["show", id, "--json"])).ports, [ports[1], ports[2]].map(Number));

  assertFails(
    await world.cli(["new", "app", "Too many", "--ports", "17"]),
    2,
    /ports.*16/,
  );
  assertFails(await world.cli(["new", "app", "Not a number", "--ports", "two"]), 2, /--ports must be a whole number/);
  assert.equal(jsonOf<Session[]>(await world.cli(["list", "--json"])).length, 1);

  const plain = await world.cli(["new", "app", "No ports", "--no-worktree"]);
  const plainId = /^created session (\S+)/m.exec(plain.stdout)![1];
  assert.match((await world.cli(["show", plainId])).stdout, /^ports: +none$/m);
});
