/**
 * Conformance cases for records: repositories, sessions and secrets, their validation, conflicts,
 * atomic deletes and concurrency. Internal to `./testing`.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { NewSession } from "../types.ts";
import { rejectsWithKind, repositoryInput, sealedSecret, sessionInput, type StoreCase } from "./support.ts";

/** The record cases, in the order they run. */
export const RECORD_CASES: readonly StoreCase[] = [
  {
    name: "creates, reads and lists repositories with null for absent values",
    run: async (store) => {
      const input = repositoryInput();
      const created = await store.createRepository(input);
      assert.equal(created.path, input.path);
      assert.equal(created.isGitRepository, false);
      assert.equal(created.sessionsPath, null);
      assert.equal(created.defaultBranch, null);
      assert.equal(created.defaultRemote, null);
      assert.equal(new Date(created.createdAt).toISOString(), created.createdAt);
      assert.deepEqual(await store.getRepository(created.id), created);
      assert.deepEqual(await store.listRepositories(), [created]);
    },
  },

  {
    name: "keeps a given repository id and every optional field",
    run: async (store) => {
      const id = crypto.randomUUID();
      const created = await store.createRepository({
        ...repositoryInput(),
        id,
        isGitRepository: true,
        sessionsPath: "/data/sessions",
        defaultBranch: "main",
        defaultRemote: "origin",
      });
      assert.equal(created.id, id);
      assert.deepEqual(await store.getRepository(id), created);
      assert.equal(created.defaultBranch, "main");
    },
  },

  {
    name: "refuses a duplicate repository id or path with Conflict",
    run: async (store) => {
      const first = await store.createRepository(repositoryInput());
      await rejectsWithKind(store.createRepository({ ...repositoryInput(), id: first.id }), "Conflict");
      await rejectsWithKind(store.createRepository({ path: first.path, name: "other" }), "Conflict");
      assert.equal((await store.listRepositories()).length, 1);
    },
  },

  {
    name: "stores a repository path in its lexical normal form, so one folder is one repository",
    run: async (store) => {
      const first = await store.createRepository({ path: "/tmp//r1/", name: "r1" });
      assert.equal(first.path, "/tmp/r1");
      assert.equal((await store.getRepository(first.id))?.path, "/tmp/r1");
      for (const spelling of ["/tmp/r1", "/tmp/./r1", "//tmp/r1//", "/tmp/r1/."]) {
        const id = crypto.randomUUID();
        await assert.rejects(store.createRepository({ id, path: spelling, name: "again" }), (error: unknown) => {
          assert.equal((error as { kind?: string }).kind, "Conflict", spelling);
          // The answer names the repository that has the path, not the id the refused one would have had.
          assert.ok((error as Error).message.includes(first.id), (error as Error).message);
          assert.ok(!(error as Error).message.includes(id), (error as Error).message);
          return true;
        });
      }
      const windows = await store.createRepository({ path: "c:/Users//me/app/", name: "w", sessionsPath: "/wt//x/" });
      assert.equal(windows.path, "C:\\Users\\me\\app");
      assert.equal(windows.sessionsPath, "/wt/x");
      assert.equal((await store.listRepositories()).length, 2);
    },
  },

  {
    name: "a duplicate repository id is a Conflict naming that id",
    run: async (store) => {
      const first = await store.createRepository(repositoryInput());
      await assert.rejects(
        store.createRepository({ id: first.id, path: "/elsewhere", name: "x" }),
        (error: unknown) =>
          (error as { kind?: string }).kind === "Conflict" && (error as Error).message.includes(`id ${first.id}`),
      );
    },
  },

  {
    name: "a worktree path is compared in its lexical normal form too",
    run: async (store) => {
      const repository = await store.createRepository(repositoryInput());
      const first = await store.createSession(
        sessionInput(repository.id, { isWorktree: true, worktreePath: "/wt//a/" }),
      );
      assert.equal(first.worktreePath, "/wt/a");
      await rejectsWithKind(
        store.createSession(sessionInput(repository.id, { isWorktree: true, worktreePath: "/wt/./a" })),
        "Conflict",
      );
    },
  },

  {
    name: "refuses a relative or traversing repository path with InvalidInput and writes nothing",
    run: async (store) => {
      await rejectsWithKind(store.createRepository({ path: "relative/path", name: "x" }), "InvalidInput");
      await rejectsWithKind(store.createRepository({ path: "/src/../etc", name: "x" }), "InvalidInput");
      await rejectsWithKind(store.createRepository({ path: "/src/app", name: "" }), "InvalidInput");
      assert.deepEqual(await store.listRepositories(), []);
    },
  },

  {
    name: "returns null for unknown ids and InvalidInput for malformed ones",
    run: async (store) => {
      assert.equal(await store.getRepository(crypto.randomUUID()), null);
      assert.equal(await store.getSession(crypto.randomUUID()), null);
      assert.equal(await store.getSessionSecret(crypto.randomUUID()), null);
      assert.equal(await store.deleteSession(crypto.randomUUID()), null);
      assert.equal(await store.deleteRepository(crypto.randomUUID()), null);
      assert.equal(await store.updateSession(crypto.randomUUID(), { title: "x" }), null);
      await rejectsWithKind(store.getSession("../../etc/passwd"), "InvalidInput");
      await rejectsWithKind(store.getRepository("1 OR 1=1"), "InvalidInput");
    },
  },

  {
    name: "creates a session with every field and reads it back",
    run: async (store) => {
      const repository = await store.createRepository(repositoryInput());
      const input = sessionInput(repository.id, {
        title: "Fix login",
        agentName: "claude",
        issueId: "42",
        issueTitle: "Login fails",
        issueUrl: "https://example.com/issues/42",
        isWorktree: true,
        worktreePath: "/data/worktrees/fix-login",
        worktreeName: "fix-login",
        branchName: "session/fix-login",
        baseBranch: "main",
        createdWorktree: true,
        createdBranch: true,
        hostId: "build-host-1",
      });
      const created = await store.createSession(input);
      assert.equal(created.status, "active");
      assert.equal(created.createdBranch, true);
      assert.equal(created.hostId, "build-host-1");
      assert.equal(created.lastAccessedAt, created.createdAt);
      assert.deepEqual(await store.getSession(input.id), created);
      // A plain session has no machine.
      const plain = await store.createSession(sessionInput(repository.id));
      assert.equal(plain.hostId, null);
      assert.equal((await store.getSession(plain.id))?.hostId, null);
    },
  },

  {
    name: "lists sessions oldest first (by creation time, then id) and filters by repository",
    run: async (store) => {
      const a = await store.createRepository(repositoryInput("a"));
      const b = await store.createRepository(repositoryInput("b"));
      const created = [];
      for (const repository of [a, b, a]) created.push(await store.createSession(sessionInput(repository.id)));
      // Sessions made within one millisecond share a creation time; the id then decides.
      created.sort((x, y) => x.createdAt.localeCompare(y.createdAt) || (x.id < y.id ? -1 : 1));
      const ids = created.map((s) => s.id);
      assert.deepEqual((await store.listSessions()).map((s) => s.id), ids);
      assert.deepEqual(
        (await store.listSessions({ repositoryId: a.id })).map((s) => s.id),
        created.filter((s) => s.repositoryId === a.id).map((s) => s.id),
      );
      assert.deepEqual(await store.listSessions({ repositoryId: crypto.randomUUID() }), []);
    },
  },

  {
    name: "refuses a session of an unknown repository with RepositoryNotFound",
    run: async (store) => {
      await rejectsWithKind(store.createSession(sessionInput(crypto.randomUUID())), "RepositoryNotFound");
      assert.deepEqual(await store.listSessions(), []);
    },
  },

  {
    name: "refuses a duplicate session id or worktree path with Conflict",
    run: async (store) => {
      const repository = await store.createRepository(repositoryInput());
      const first = await store.createSession(
        sessionInput(repository.id, { isWorktree: true, worktreePath: "/w/one" }),
      );
      await rejectsWithKind(store.createSession(sessionInput(repository.id, { id: first.id })), "Conflict");
      await rejectsWithKind(
        store.createSession(sessionInput(repository.id, { isWorktree: true, worktreePath: "/w/one" })),
        "Conflict",
      );
      assert.equal((await store.listSessions()).length, 1);
    },
  },

  {
    name: "refuses invalid sessions with InvalidInput and writes nothing",
    run: async (store) => {
      const repository = await store.createRepository(repositoryInput());
      const bad: Partial<NewSession>[] = [
        { title: "" },
        { title: "   " },
        { title: "x".repeat(501) },
        { isWorktree: true },
        { isWorktree: false, worktreePath: "/w/x" },
        { isWorktree: true, worktreePath: "relative" },
        { worktreeName: "../x" },
        { branchName: "-b" },
        { issueUrl: "javascript:alert(1)" },
        { status: "exploded" as never },
        // A host id belongs to a worktree session, and reads plainly.
        { hostId: "build-host-1" },
        { isWorktree: true, worktreePath: "/w/h", hostId: "" },
        { isWorktree: true, worktreePath: "/w/h", hostId: "two words" },
        { isWorktree: true, worktreePath: "/w/h", hostId: "h".repeat(129) },
      ];
      for (const overrides of bad) {
        await rejectsWithKind(store.createSession(sessionInput(repository.id, overrides)), "InvalidInput");
      }
      assert.deepEqual(await store.listSessions(), []);
    },
  },

  {
    name: "updates a session's title and status and bumps updatedAt",
    run: async (store) => {
      const repository = await store.createRepository(repositoryInput());
      const created = await store.createSession(sessionInput(repository.id));
      await new Promise((resolve) => setTimeout(resolve, 2));
      const updated = await store.updateSession(created.id, { title: "Renamed", status: "paused", agentName: null });
      assert.equal(updated?.title, "Renamed");
      assert.equal(updated?.status, "paused");
      assert.ok(updated!.updatedAt > created.updatedAt);
      assert.deepEqual(await store.getSession(created.id), updated);
      await rejectsWithKind(store.updateSession(created.id, { status: "gone" as never }), "InvalidInput");
      await rejectsWithKind(store.updateSession(created.id, { id: "x" } as never), "InvalidInput");
      // Times every store keeps and orders alike: years 0000 to 9999, in the one ISO form.
      await rejectsWithKind(
        store.updateSession(created.id, { lastAccessedAt: "+200000-01-01T00:00:00.000Z" }),
        "InvalidInput",
      );
      assert.deepEqual(await store.getSession(created.id), updated);
      const touched = await store.updateSession(created.id, { lastAccessedAt: "2030-01-02T03:04:05+01:00" });
      assert.equal(touched?.lastAccessedAt, "2030-01-02T02:04:05.000Z");
    },
  },

  {
    name: "keeps a session's setup state, refuses a malformed one, and clears it",
    run: async (store) => {
      const repository = await store.createRepository(repositoryInput());
      const created = await store.createSession(sessionInput(repository.id));
      assert.equal(created.setup, null);
      const setup = {
        state: "failed" as const,
        commands: 2,
        current: 1,
        command: ["npm", "run", "build"],
        exitCode: 2,
        reason: "exit code 2",
        startedAt: "2030-01-02T03:04:05.000Z",
        finishedAt: "2030-01-02T03:04:09.000Z",
        logTail: "line 1\nerror: ünïcode ✓\n",
      };
      const updated = await store.updateSession(created.id, { setup });
      assert.deepEqual(updated?.setup, setup);
      assert.deepEqual((await store.getSession(created.id))?.setup, setup);
      // A patch of other fields keeps it.
      assert.deepEqual((await store.updateSession(created.id, { title: "Other" }))?.setup, setup);
      for (const bad of [{ ...setup, state: "done" }, { ...setup, current: 5 }, { ...setup, extra: 1 }, "running"]) {
        await rejectsWithKind(store.updateSession(created.id, { setup: bad as never }), "InvalidInput");
      }
      assert.deepEqual((await store.getSession(created.id))?.setup, setup);
      assert.equal((await store.updateSession(created.id, { setup: null }))?.setup, null);
    },
  },

  {
    name: "keeps what a session's worktree got of the checkout's ignored files, and refuses a malformed record",
    run: async (store) => {
      const repository = await store.createRepository(repositoryInput());
      const included = {
        entries: [".env", "config/"],
        files: 3,
        links: 1,
        bytesCloned: 0,
        bytesCopied: 1234,
        skipped: [{ path: "settings.local", reason: "already in the worktree" }],
      };
      const created = await store.createSession({ ...sessionInput(repository.id), included });
      assert.deepEqual(created.included, included);
      assert.deepEqual((await store.getSession(created.id))?.included, included);
      assert.equal((await store.createSession(sessionInput(repository.id))).included, null);
      for (const bad of [{ ...included, files: -1 }, { ...included, entries: [1] }, { ...included, more: 1 }]) {
        await rejectsWithKind(
          store.createSession({ ...sessionInput(repository.id), included: bad as never }),
          "InvalidInput",
        );
      }
      assert.equal((await store.listSessions()).length, 2, "nothing written by a refused create");
    },
  },

  {
    name: "lists the sessions made under a session (parentSessionId), in order and in pages",
    run: async (store) => {
      const repository = await store.createRepository(repositoryInput());
      const parent = await store.createSession(sessionInput(repository.id));
      const other = await store.createSession(sessionInput(repository.id));
      const children = [];
      for (let i = 0; i < 3; i++) {
        children.push(await store.createSession({ ...sessionInput(repository.id), parentSessionId: parent.id }));
        await store.createSession({ ...sessionInput(repository.id), parentSessionId: other.id });
      }
      const ids = (sessions: { id: string }[]) => sessions.map((session) => session.id);
      assert.deepEqual(ids(await store.listSessions({ parentSessionId: parent.id })), ids(children));
      const first = await store.listSessions({ parentSessionId: parent.id, limit: 2 });
      assert.deepEqual(ids(first), ids(children.slice(0, 2)));
      assert.deepEqual(
        ids(await store.listSessions({ parentSessionId: parent.id, after: first[1] })),
        ids(children.slice(2)),
      );
      assert.deepEqual(await store.listSessions({ parentSessionId: children[0].id }), []);
      await rejectsWithKind(store.listSessions({ parentSessionId: "not-a-uuid" }), "InvalidInput");
    },
  },

  {
    name: "keeps the session a scoped token made a session with (parentSessionId), null by default",
    run: async (store) => {
      const repository = await store.createRepository(repositoryInput());
      const parent = await store.createSession(sessionInput(repository.id));
      assert.equal(parent.parentSessionId, null);
      const child = await store.createSession({ ...sessionInput(repository.id), parentSessionId: parent.id });
      assert.equal(child.parentSessionId, parent.id);
      assert.equal((await store.getSession(child.id))?.parentSessionId, parent.id);
      assert.deepEqual((await store.listSessions()).map((session) => session.parentSessionId), [null, parent.id]);
      await rejectsWithKind(
        store.createSession({ ...sessionInput(repository.id), parentSessionId: "not-a-uuid" }),
        "InvalidInput",
      );
      assert.equal((await store.listSessions()).length, 2, "nothing written by a refused create");
    },
  },

  {
    name: "keeps scoped tokens by hash: looked up, listed, revoked once, and gone with their session",
    run: async (store) => {
      const repository = await store.createRepository(repositoryInput());
      const session = await store.createSession(sessionInput(repository.id));
      const other = await store.createSession(sessionInput(repository.id));
      const hash = "a".repeat(64);
      const token = await store.createSessionToken({ sessionId: session.id, hash });
      assert.equal(token.sessionId, session.id);
      assert.equal(token.revokedAt, null);
      assert.equal(new Date(token.createdAt).toISOString(), token.createdAt);
      assert.equal("hash" in token, false, "a token record never carries its hash out");
      assert.deepEqual(await store.getSessionTokenByHash(hash), { ...token, hash });
      assert.equal(await store.getSessionTokenByHash("b".repeat(64)), null);
      await rejectsWithKind(store.createSessionToken({ sessionId: other.id, hash }), "Conflict");
      await rejectsWithKind(
        store.createSessionToken({ sessionId: crypto.randomUUID(), hash: "c".repeat(64) }),
        "SessionNotFound",
      );
      await rejectsWithKind(store.createSessionToken({ sessionId: session.id, hash: "A".repeat(64) }), "InvalidInput");
      await rejectsWithKind(store.getSessionTokenByHash("short"), "InvalidInput");
      const second = await store.createSessionToken({ sessionId: session.id, hash: "d".repeat(64) });
      assert.deepEqual(
        (await store.listSessionTokens(session.id)).map((t) => t.id).sort(),
        [token.id, second.id].sort(),
      );
      assert.deepEqual(await store.listSessionTokens(other.id), []);
      assert.equal(await store.revokeSessionToken(other.id, token.id), null, "only the session's own token");
      const revoked = await store.revokeSessionToken(session.id, token.id);
      assert.notEqual(revoked?.revokedAt, null);
      assert.equal((await store.revokeSessionToken(session.id, token.id))?.revokedAt, revoked?.revokedAt);
      assert.equal((await store.getSessionTokenByHash(hash))?.revokedAt, revoked?.revokedAt);
      await store.deleteSession(session.id);
      assert.equal(await store.getSessionTokenByHash(hash), null);
      assert.equal(await store.getSessionTokenByHash("d".repeat(64)), null);
      assert.deepEqual(await store.listSessionTokens(session.id), []);
      // A new session may take a dead token's place: nothing of it is left.
      const again = await store.createSession(sessionInput(repository.id, { id: session.id }));
      assert.deepEqual(await store.listSessionTokens(again.id), []);
    },
  },

  {
    name: "deletes a session atomically and returns the removed row",
    run: async (store) => {
      const repository = await store.createRepository(repositoryInput());
      const created = await store.createSession(sessionInput(repository.id));
      assert.deepEqual(await store.deleteSession(created.id), created);
      assert.equal(await store.getSession(created.id), null);
      assert.equal(await store.deleteSession(created.id), null);
    },
  },

  {
    name: "deletePlainSession removes a session without a worktree to close, and keeps one with a worktree",
    run: async (store) => {
      if (store.deletePlainSession === undefined) return;
      const repository = await store.createRepository(repositoryInput());
      const plain = await store.createSession(sessionInput(repository.id), sealedSecret());
      const worktree = await store.createSession(
        sessionInput(repository.id, {
          isWorktree: true,
          worktreePath: `/worktrees/${crypto.randomUUID()}`,
          branchName: "feature/plain-delete",
        }),
        sealedSecret(),
      );
      assert.deepEqual(await store.deletePlainSession(plain.id), plain);
      assert.equal(await store.getSession(plain.id), null);
      assert.equal(await store.getSessionSecret(plain.id), null);
      assert.equal(await store.deletePlainSession(plain.id), null);
      assert.equal(await store.deletePlainSession(worktree.id), null);
      assert.deepEqual(await store.getSession(worktree.id), worktree);
      assert.notEqual(await store.getSessionSecret(worktree.id), null);
      assert.equal(await store.deletePlainSession(crypto.randomUUID()), null);
      await assert.rejects(
        store.deletePlainSession("not-an-id"),
        (error: unknown) => (error as { kind?: string }).kind === "InvalidInput",
      );
      assert.deepEqual(await store.deleteSession(worktree.id), worktree);
    },
  },

  {
    name: "creates a session with its sealed secret: both are readable after",
    run: async (store) => {
      const repository = await store.createRepository(repositoryInput());
      const input = sessionInput(repository.id);
      const sealed = sealedSecret();
      const created = await store.createSession(input, sealed);
      assert.deepEqual(await store.getSession(input.id), created);
      const stored = await store.getSessionSecret(input.id);
      assert.equal(stored?.sessionId, input.id);
      assert.deepEqual(stored?.encryptedSecret, sealed.encryptedSecret);
      assert.deepEqual(stored?.nonce, sealed.nonce);
      assert.equal(new Date(stored!.createdAt).toISOString(), stored!.createdAt);
      // The store keeps its own copy: the caller wiping its buffers (as it should) changes nothing.
      const expected = sealed.encryptedSecret.slice();
      sealed.encryptedSecret.fill(0);
      assert.deepEqual((await store.getSessionSecret(input.id))?.encryptedSecret, expected);
      // Without a secret, the session is created alone.
      const plain = await store.createSession(sessionInput(repository.id));
      assert.equal(await store.getSessionSecret(plain.id), null);
    },
  },

  {
    name: "refuses an invalid sealed secret with InvalidInput and writes neither the session nor the secret",
    run: async (store) => {
      const repository = await store.createRepository(repositoryInput());
      const bad = [
        { encryptedSecret: new Uint8Array(48), nonce: new Uint8Array(8) },
        { encryptedSecret: new Uint8Array(48), nonce: new Uint8Array(16) },
        { encryptedSecret: new Uint8Array(48), nonce: new Uint8Array(0) },
        { encryptedSecret: new Uint8Array(0), nonce: new Uint8Array(12) },
        { encryptedSecret: "not bytes" as unknown as Uint8Array, nonce: new Uint8Array(12) },
      ];
      for (const sealed of bad) {
        const input = sessionInput(repository.id);
        await rejectsWithKind(store.createSession(input, sealed), "InvalidInput");
        assert.equal(await store.getSession(input.id), null);
        assert.equal(await store.getSessionSecret(input.id), null);
      }
      assert.deepEqual(await store.listSessions(), []);
    },
  },

  {
    name: "refuses a duplicate session id or worktree path with a secret as Conflict and keeps the existing secret",
    run: async (store) => {
      const repository = await store.createRepository(repositoryInput());
      const original = sealedSecret(1);
      const first = await store.createSession(
        sessionInput(repository.id, { isWorktree: true, worktreePath: "/w/taken" }),
        original,
      );
      const before = await store.getSessionSecret(first.id);
      await rejectsWithKind(
        store.createSession(sessionInput(repository.id, { id: first.id }), sealedSecret(2)),
        "Conflict",
      );
      assert.deepEqual(await store.getSession(first.id), first);
      assert.deepEqual(await store.getSessionSecret(first.id), before);
      assert.deepEqual(before?.encryptedSecret, original.encryptedSecret);
      // A taken worktree path: the newcomer's secret is not written under its own id either.
      const other = sessionInput(repository.id, { isWorktree: true, worktreePath: "/w/taken" });
      await rejectsWithKind(store.createSession(other, sealedSecret(3)), "Conflict");
      assert.equal(await store.getSession(other.id), null);
      assert.equal(await store.getSessionSecret(other.id), null);
      assert.deepEqual(await store.getSessionSecret(first.id), before);
      assert.equal((await store.listSessions()).length, 1);
    },
  },

  {
    name: "refuses a session with a secret for an unknown repository as RepositoryNotFound and stores no secret",
    run: async (store) => {
      const input = sessionInput(crypto.randomUUID());
      await rejectsWithKind(store.createSession(input, sealedSecret()), "RepositoryNotFound");
      assert.equal(await store.getSession(input.id), null);
      assert.equal(await store.getSessionSecret(input.id), null);
      assert.deepEqual(await store.listSessions(), []);
    },
  },

  {
    name: "removes the secret with its session",
    run: async (store) => {
      const repository = await store.createRepository(repositoryInput());
      const created = await store.createSession(sessionInput(repository.id));
      const encryptedSecret = crypto.getRandomValues(new Uint8Array(48));
      const nonce = crypto.getRandomValues(new Uint8Array(12));
      await store.setSessionSecret({ sessionId: created.id, encryptedSecret, nonce });
      const stored = await store.getSessionSecret(created.id);
      assert.deepEqual(stored?.encryptedSecret, encryptedSecret);
      assert.deepEqual(stored?.nonce, nonce);
      await store.deleteSession(created.id);
      assert.equal(await store.getSessionSecret(created.id), null);
      // A session made again with the same id does not inherit the old secret.
      await store.createSession(sessionInput(repository.id, { id: created.id }));
      assert.equal(await store.getSessionSecret(created.id), null);
    },
  },

  {
    name: "deletes a secret and keeps its session",
    run: async (store) => {
      const repository = await store.createRepository(repositoryInput());
      const created = await store.createSession(sessionInput(repository.id));
      await store.setSessionSecret({
        sessionId: created.id,
        encryptedSecret: new Uint8Array(8),
        nonce: new Uint8Array(12),
      });
      assert.equal(await store.deleteSessionSecret(created.id), true);
      assert.equal(await store.getSessionSecret(created.id), null);
      assert.equal(await store.deleteSessionSecret(created.id), false);
      assert.deepEqual(await store.getSession(created.id), created);
    },
  },

  {
    name: "replaces a secret and keeps its creation time",
    run: async (store) => {
      const repository = await store.createRepository(repositoryInput());
      const created = await store.createSession(sessionInput(repository.id));
      const nonce = crypto.getRandomValues(new Uint8Array(12));
      await store.setSessionSecret({ sessionId: created.id, encryptedSecret: new Uint8Array([1, 2, 3]), nonce });
      const first = await store.getSessionSecret(created.id);
      await store.setSessionSecret({ sessionId: created.id, encryptedSecret: new Uint8Array([4, 5]), nonce });
      const second = await store.getSessionSecret(created.id);
      assert.deepEqual(second?.encryptedSecret, new Uint8Array([4, 5]));
      assert.equal(second?.createdAt, first?.createdAt);
    },
  },

  {
    name: "returned secrets are copies",
    run: async (store) => {
      const repository = await store.createRepository(repositoryInput());
      const created = await store.createSession(sessionInput(repository.id));
      const encryptedSecret = new Uint8Array([9, 9, 9]);
      await store.setSessionSecret({ sessionId: created.id, encryptedSecret, nonce: new Uint8Array(12) });
      encryptedSecret.fill(0);
      const read = await store.getSessionSecret(created.id);
      read!.encryptedSecret.fill(1);
      assert.deepEqual((await store.getSessionSecret(created.id))?.encryptedSecret, new Uint8Array([9, 9, 9]));
    },
  },

  {
    name: "refuses a secret for an unknown session or with a bad nonce",
    run: async (store) => {
      await rejectsWithKind(
        store.setSessionSecret({
          sessionId: crypto.randomUUID(),
          encryptedSecret: new Uint8Array(4),
          nonce: new Uint8Array(12),
        }),
        "SessionNotFound",
      );
      const repository = await store.createRepository(repositoryInput());
      const created = await store.createSession(sessionInput(repository.id));
      await rejectsWithKind(
        store.setSessionSecret({ sessionId: created.id, encryptedSecret: new Uint8Array(4), nonce: new Uint8Array(8) }),
        "InvalidInput",
      );
      await rejectsWithKind(
        store.setSessionSecret({
          sessionId: created.id,
          encryptedSecret: new Uint8Array(0),
          nonce: new Uint8Array(12),
        }),
        "InvalidInput",
      );
      assert.equal(await store.getSessionSecret(created.id), null);
    },
  },

  {
    name: "refuses to delete a repository that still has sessions, then deletes it once they are gone",
    run: async (store) => {
      const repository = await store.createRepository(repositoryInput());
      const session = await store.createSession(sessionInput(repository.id));
      await rejectsWithKind(store.deleteRepository(repository.id), "Conflict");
      assert.notEqual(await store.getRepository(repository.id), null);
      await store.deleteSession(session.id);
      assert.deepEqual(await store.deleteRepository(repository.id), repository);
      assert.equal(await store.getRepository(repository.id), null);
    },
  },

  {
    name: "200 concurrent creates and deletes lose and duplicate nothing",
    run: async (store) => {
      const repository = await store.createRepository(repositoryInput());
      const created = await Promise.all(
        Array.from({ length: 200 }, (_, i) => store.createSession(sessionInput(repository.id, { title: `s${i}` }))),
      );
      assert.equal(new Set(created.map((s) => s.id)).size, 200);
      assert.equal((await store.listSessions({ repositoryId: repository.id })).length, 200);
      const toDelete = created.filter((_, i) => i % 2 === 0);
      const deleted = await Promise.all(toDelete.map((s) => store.deleteSession(s.id)));
      assert.ok(deleted.every((s) => s !== null));
      const left = (await store.listSessions()).map((s) => s.id).sort();
      assert.deepEqual(left, created.filter((_, i) => i % 2 === 1).map((s) => s.id).sort());
    },
  },

  {
    name: "of two concurrent deletes of one session exactly one gets it",
    run: async (store) => {
      const repository = await store.createRepository(repositoryInput());
      for (let round = 0; round < 20; round++) {
        const session = await store.createSession(sessionInput(repository.id));
        const results = await Promise.all([store.deleteSession(session.id), store.deleteSession(session.id)]);
        assert.equal(results.filter((r) => r !== null).length, 1);
        assert.equal(results.find((r) => r !== null)?.id, session.id);
      }
    },
  },
];
