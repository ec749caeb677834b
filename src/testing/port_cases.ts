/**
 * Conformance cases for port leases: one lease per port in the whole store, written with the session
 * row or by `setSessionPorts` all at once or not at all, released with the row. Internal to `./testing`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { rejectsWithKind, repositoryInput, sealedSecret, sessionInput, type StoreCase } from "./support.ts";

/** The port lease cases, in the order they run. */
export const PORT_CASES: readonly StoreCase[] = [
  {
    name: "leases a session's ports with its row, lists them, and releases them with its delete",
    run: async (store) => {
      const repository = await store.createRepository(repositoryInput());
      const plain = await store.createSession(sessionInput(repository.id));
      assert.deepEqual(plain.ports, []);
      const session = await store.createSession(sessionInput(repository.id, { ports: [41002, 41001] }), sealedSecret());
      assert.deepEqual(session.ports, [41001, 41002]);
      assert.deepEqual((await store.getSession(session.id))?.ports, [41001, 41002]);
      assert.deepEqual((await store.listSessions()).find((s) => s.id === session.id)?.ports, [41001, 41002]);
      const leases = await store.listPortLeases();
      assert.deepEqual(leases.map(({ port, sessionId }) => ({ port, sessionId })), [
        { port: 41001, sessionId: session.id },
        { port: 41002, sessionId: session.id },
      ]);
      assert.equal(new Date(leases[0].leasedAt).toISOString(), leases[0].leasedAt);
      const deleted = await store.deleteSession(session.id);
      assert.deepEqual(deleted?.ports, [41001, 41002]);
      assert.deepEqual(await store.listPortLeases(), []);
      // Free again: another session may take them.
      const next = await store.createSession(sessionInput(repository.id, { ports: [41001] }));
      assert.deepEqual(next.ports, [41001]);
    },
  },

  {
    name: "refuses a port another session holds with Conflict, writing neither the row, its secret nor any lease",
    run: async (store) => {
      const repository = await store.createRepository(repositoryInput());
      const holder = await store.createSession(sessionInput(repository.id, { ports: [41010] }));
      const id = crypto.randomUUID();
      await assert.rejects(
        store.createSession(sessionInput(repository.id, { id, ports: [41011, 41010, 41012] }), sealedSecret()),
        (error: unknown) => {
          assert.equal((error as { kind?: string }).kind, "Conflict");
          assert.match((error as Error).message, /41010/);
          return true;
        },
      );
      assert.equal(await store.getSession(id), null);
      assert.equal(await store.getSessionSecret(id), null);
      assert.deepEqual((await store.listPortLeases()).map((lease) => [lease.port, lease.sessionId]), [
        [41010, holder.id],
      ]);
    },
  },

  {
    name: "refuses bad port lists with InvalidInput and writes nothing",
    run: async (store) => {
      const repository = await store.createRepository(repositoryInput());
      const bad: unknown[] = [
        [0],
        [65536],
        [1.5],
        ["41000"],
        [41000, 41000],
        "41000",
        Array(17).fill(0).map((_, i) => 42000 + i),
      ];
      for (const ports of bad) {
        await rejectsWithKind(
          store.createSession(sessionInput(repository.id, { ports: ports as number[] })),
          "InvalidInput",
        );
      }
      assert.deepEqual(await store.listSessions(), []);
      const session = await store.createSession(sessionInput(repository.id, { ports: [41020] }));
      for (const ports of bad) {
        await rejectsWithKind(store.setSessionPorts(session.id, ports as number[]), "InvalidInput");
      }
      assert.deepEqual((await store.getSession(session.id))?.ports, [41020]);
      assert.deepEqual((await store.listPortLeases()).map((lease) => lease.port), [41020]);
    },
  },

  {
    name: "setSessionPorts keeps, releases and leases in one step, all or nothing",
    run: async (store) => {
      const repository = await store.createRepository(repositoryInput());
      const a = await store.createSession(sessionInput(repository.id, { ports: [41030, 41031] }));
      const b = await store.createSession(sessionInput(repository.id, { ports: [41040] }));
      const changed = await store.setSessionPorts(a.id, [41031, 41032]);
      assert.deepEqual(changed?.ports, [41031, 41032]);
      assert.deepEqual((await store.getSession(a.id))?.ports, [41031, 41032]);
      // One port of b's among them: nothing changes.
      await rejectsWithKind(store.setSessionPorts(a.id, [41031, 41033, 41040]), "Conflict");
      assert.deepEqual((await store.getSession(a.id))?.ports, [41031, 41032]);
      assert.deepEqual((await store.listPortLeases()).map((lease) => [lease.port, lease.sessionId]), [
        [41031, a.id],
        [41032, a.id],
        [41040, b.id],
      ]);
      assert.equal(await store.setSessionPorts(crypto.randomUUID(), [41050]), null);
      assert.deepEqual((await store.setSessionPorts(a.id, []))?.ports, []);
      assert.deepEqual((await store.listPortLeases()).map((lease) => lease.port), [41040]);
      // An update of other fields keeps the ports.
      assert.deepEqual((await store.updateSession(b.id, { title: "renamed" }))?.ports, [41040]);
      assert.deepEqual(await store.releaseOrphanedPorts(), []);
    },
  },

  {
    name: "of 40 concurrent creates wanting the same ports each port goes to exactly one",
    run: async (store) => {
      const repository = await store.createRepository(repositoryInput());
      const results = await Promise.allSettled(
        Array.from(
          { length: 40 },
          (_, i) =>
            store.createSession(sessionInput(repository.id, { title: `s${i}`, ports: [41060 + (i % 4), 41070] })),
        ),
      );
      const won = results.filter((result) => result.status === "fulfilled");
      assert.equal(won.length, 1);
      for (const result of results) {
        if (result.status === "rejected") assert.equal((result.reason as { kind?: string }).kind, "Conflict");
      }
      const winner = (won[0] as PromiseFulfilledResult<{ id: string; ports: number[] }>).value;
      assert.deepEqual(
        (await store.listPortLeases()).map((lease) => [lease.port, lease.sessionId]),
        winner.ports.map((port) => [port, winner.id]),
      );
      assert.equal((await store.listSessions()).length, 1);
    },
  },
];
