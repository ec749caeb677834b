// A store of your own: a driver that keeps every record in one JSON file, written only against the
// published entries (the package root; `./testing` runs the conformance suite on it, see
// tests/project/examples_custom_store.test.ts). The checked front (`createSessionStore`) does the ids, the input
// checks, the timestamps and the error kinds; the driver only reads and writes records and says which
// key a write would break. Run as a script, it shows the store under an orchestrator.
//
//   deno run -A examples/custom_store.ts      (or: bun examples/custom_store.ts)
import assert from "node:assert/strict";
import { mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createSessionStore,
  decodeBase64,
  encodeBase64,
  type ListPosition,
  type PageQuery,
  type PortLease,
  type Repository,
  type Session,
  SessionOrchestrator,
  type SessionPatch,
  type SessionQuery,
  type SessionStore,
  type SessionStoreDriver,
  type SessionToken,
  StoreDriverError,
  type StoredSessionSecret,
  type StoredSessionToken,
  type UniqueKey,
} from "../mod.ts";

// What the file holds. Bytes go as base64, everything else as the records are.
interface FileState {
  repositories: Repository[];
  sessions: Session[];
  secrets: (Omit<StoredSessionSecret, "encryptedSecret" | "nonce"> & { encryptedSecret: string; nonce: string })[];
  leases: PortLease[];
  tokens: StoredSessionToken[];
}

const empty = (): FileState => ({ repositories: [], sessions: [], secrets: [], leases: [], tokens: [] });

/**
 * A driver over one JSON file: each call reads the file, and each write replaces it whole (a temp
 * file renamed over it, so a crash leaves the old file or the new one). Calls run one at a time, so
 * each is atomic. Fine for a few hundred sessions; a real backend would index.
 */
export class JsonFileDriver implements SessionStoreDriver {
  readonly #path: string;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(path: string) {
    this.#path = path;
  }

  // Runs `work` on the file's state after every call before it; writes the state back when `write`.
  #use<T>(write: boolean, work: (state: FileState) => T): Promise<T> {
    const next = this.#queue.then(async () => {
      const state = await this.#load();
      const result = work(state);
      if (write) await this.#save(state);
      return result;
    });
    this.#queue = next.catch(() => {});
    return next;
  }

  async #load(): Promise<FileState> {
    try {
      return JSON.parse(await readFile(this.#path, "utf8")) as FileState;
    } catch (error) {
      if ((error as { code?: string }).code === "ENOENT") return empty();
      throw error;
    }
  }

  async #save(state: FileState): Promise<void> {
    const temp = `${this.#path}.${crypto.randomUUID()}.tmp`;
    await writeFile(temp, JSON.stringify(state), { mode: 0o600 });
    await rename(temp, this.#path);
  }

  getRepository(id: string): Promise<Repository | null> {
    return this.#use(false, (state) => state.repositories.find((repository) => repository.id === id) ?? null);
  }

  listRepositories({ limit, after }: PageQuery): Promise<Repository[]> {
    return this.#use(false, (state) => page(state.repositories, limit, after));
  }

  getSession(id: string): Promise<Session | null> {
    return this.#use(false, (state) => state.sessions.find((session) => session.id === id) ?? null);
  }

  listSessions(query: SessionQuery): Promise<Session[]> {
    const { repositoryId, status, worktreePath, branchName, parentSessionId, limit, after } = query;
    return this.#use(false, (state) => {
      const matching = state.sessions.filter((session) =>
        (repositoryId === null || session.repositoryId === repositoryId) &&
        (status === null || session.status === status) &&
        (worktreePath === null || session.worktreePath === worktreePath) &&
        (branchName === null || session.branchName === branchName) &&
        (parentSessionId === null || session.parentSessionId === parentSessionId)
      );
      return page(matching, limit, after);
    });
  }

  getSessionSecret(sessionId: string): Promise<StoredSessionSecret | null> {
    return this.#use(false, (state) => {
      const secret = state.secrets.find((secret) => secret.sessionId === sessionId);
      return secret === undefined ? null : {
        ...secret,
        encryptedSecret: decodeBase64(secret.encryptedSecret),
        nonce: decodeBase64(secret.nonce),
      };
    });
  }

  listPortLeases(): Promise<PortLease[]> {
    return this.#use(false, (state) => [...state.leases].sort((a, b) => a.port - b.port));
  }

  getSessionTokenByHash(hash: string): Promise<StoredSessionToken | null> {
    return this.#use(false, (state) => state.tokens.find((token) => token.hash === hash) ?? null);
  }

  listSessionTokens(sessionId: string): Promise<SessionToken[]> {
    return this.#use(false, (state) =>
      page(state.tokens.filter((token) => token.sessionId === sessionId), null, null)
        .map(({ id, sessionId, createdAt, revokedAt }) => ({ id, sessionId, createdAt, revokedAt })));
  }

  insertRepository(repository: Repository): Promise<void> {
    return this.#use(true, (state) => {
      if (state.repositories.some((other) => other.id === repository.id)) taken("repository.id");
      const holder = state.repositories.find((other) => other.path === repository.path);
      if (holder !== undefined) taken("repository.path", holder.id);
      state.repositories.push(repository);
    });
  }

  deleteRepository(id: string): Promise<Repository | null> {
    return this.#use(true, (state) => {
      const repository = state.repositories.find((repository) => repository.id === id);
      if (repository === undefined) return null;
      if (state.sessions.some((session) => session.repositoryId === id)) {
        throw new StoreDriverError("foreignKey", `sessions refer to repository ${id}`);
      }
      state.repositories = state.repositories.filter((other) => other.id !== id);
      return repository;
    });
  }

  insertSession(session: Session, secret: StoredSessionSecret | null): Promise<void> {
    return this.#use(true, (state) => {
      if (!state.repositories.some((repository) => repository.id === session.repositoryId)) {
        throw new StoreDriverError("foreignKey", `no repository ${session.repositoryId}`);
      }
      if (state.sessions.some((other) => other.id === session.id)) taken("session.id");
      const holder = session.worktreePath === null
        ? undefined
        : state.sessions.find((other) => other.worktreePath === session.worktreePath);
      if (holder !== undefined) taken("session.worktreePath", holder.id);
      refuseLeased(state, session.id, session.ports);
      state.sessions.push(session);
      if (secret !== null) state.secrets.push(encoded(secret));
      for (const port of session.ports) state.leases.push({ port, sessionId: session.id, leasedAt: session.createdAt });
    });
  }

  updateSession(id: string, changes: SessionPatch, updatedAt: string): Promise<Session | null> {
    return this.#use(true, (state) => {
      const index = state.sessions.findIndex((session) => session.id === id);
      if (index === -1) return null;
      state.sessions[index] = { ...state.sessions[index], ...changes, updatedAt };
      return state.sessions[index];
    });
  }

  setSessionPorts(id: string, ports: number[], now: string): Promise<Session | null> {
    return this.#use(true, (state) => {
      const index = state.sessions.findIndex((session) => session.id === id);
      if (index === -1) return null;
      refuseLeased(state, id, ports);
      const held = state.leases.filter((lease) => lease.sessionId === id && ports.includes(lease.port));
      const added = ports.filter((port) => !held.some((lease) => lease.port === port))
        .map((port) => ({ port, sessionId: id, leasedAt: now }));
      state.leases = [...state.leases.filter((lease) => lease.sessionId !== id), ...held, ...added];
      state.sessions[index] = { ...state.sessions[index], ports, updatedAt: now };
      return state.sessions[index];
    });
  }

  releaseOrphanedPorts(): Promise<PortLease[]> {
    return this.#use(true, (state) => {
      const live = new Set(state.sessions.map((session) => session.id));
      const orphaned = state.leases.filter((lease) => !live.has(lease.sessionId));
      state.leases = state.leases.filter((lease) => live.has(lease.sessionId));
      return orphaned;
    });
  }

  deleteSession(id: string): Promise<Session | null> {
    return this.#use(true, (state) => {
      const session = state.sessions.find((session) => session.id === id);
      if (session === undefined) return null;
      state.sessions = state.sessions.filter((other) => other.id !== id);
      state.secrets = state.secrets.filter((secret) => secret.sessionId !== id);
      state.leases = state.leases.filter((lease) => lease.sessionId !== id);
      state.tokens = state.tokens.filter((token) => token.sessionId !== id);
      return session;
    });
  }

  putSessionSecret(secret: StoredSessionSecret): Promise<void> {
    return this.#use(true, (state) => {
      if (!state.sessions.some((session) => session.id === secret.sessionId)) {
        throw new StoreDriverError("foreignKey", `no session ${secret.sessionId}`);
      }
      const old = state.secrets.find((other) => other.sessionId === secret.sessionId);
      state.secrets = state.secrets.filter((other) => other.sessionId !== secret.sessionId);
      state.secrets.push(encoded({ ...secret, createdAt: old?.createdAt ?? secret.createdAt }));
    });
  }

  deleteSessionSecret(sessionId: string): Promise<boolean> {
    return this.#use(true, (state) => {
      const before = state.secrets.length;
      state.secrets = state.secrets.filter((secret) => secret.sessionId !== sessionId);
      return state.secrets.length < before;
    });
  }

  insertSessionToken(token: StoredSessionToken): Promise<void> {
    return this.#use(true, (state) => {
      if (!state.sessions.some((session) => session.id === token.sessionId)) {
        throw new StoreDriverError("foreignKey", `no session ${token.sessionId}`);
      }
      if (state.tokens.some((other) => other.id === token.id || other.hash === token.hash)) taken("token");
      state.tokens.push(token);
    });
  }

  revokeSessionToken(sessionId: string, tokenId: string, now: string): Promise<SessionToken | null> {
    return this.#use(true, (state) => {
      const token = state.tokens.find((token) => token.id === tokenId && token.sessionId === sessionId);
      if (token === undefined) return null;
      token.revokedAt ??= now;
      return { id: token.id, sessionId: token.sessionId, createdAt: token.createdAt, revokedAt: token.revokedAt };
    });
  }
}

/** A {@linkcode SessionStore} in the JSON file at `path`: the checked front over {@linkcode JsonFileDriver}. */
export function openJsonFileStore(path: string): SessionStore {
  return createSessionStore(new JsonFileDriver(path));
}

function taken(key: UniqueKey, holder: string | null = null, port: number | null = null): never {
  throw new StoreDriverError("unique", `${key} is taken`, { key, holder, port });
}

function refuseLeased(state: FileState, sessionId: string, ports: readonly number[]): void {
  for (const lease of state.leases) {
    if (lease.sessionId !== sessionId && ports.includes(lease.port)) taken("port", lease.sessionId, lease.port);
  }
}

function encoded(secret: StoredSessionSecret): FileState["secrets"][number] {
  return { ...secret, encryptedSecret: encodeBase64(secret.encryptedSecret), nonce: encodeBase64(secret.nonce) };
}

// Records in list order, `(createdAt, id)`, after `after`, at most `limit`.
function page<T extends ListPosition>(records: T[], limit: number | null, after: ListPosition | null): T[] {
  const order = (a: ListPosition, b: ListPosition) =>
    a.createdAt !== b.createdAt ? (a.createdAt < b.createdAt ? -1 : 1) : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  const sorted = records.filter((record) => after === null || order(record, after) > 0).sort(order);
  return limit === null ? sorted : sorted.slice(0, limit);
}

// Run as a script: the store under an orchestrator, each step asserted.
if (import.meta.main) {
  const dir = await mkdtemp(join(tmpdir(), "slo-json-store-"));
  try {
    const file = join(dir, "sessions.json");
    const orchestrator = new SessionOrchestrator({ store: openJsonFileStore(file) });
    const repository = await orchestrator.createRepository({ path: "/home/me/projects/app", name: "app" });
    const session = await orchestrator.createSession({
      repositoryId: repository.id,
      title: "Add dark mode",
      isWorktree: false,
    });
    // The front refuses bad input before the driver sees it, and the driver's refusals get their kinds.
    await assert.rejects(orchestrator.getSession("../../etc/passwd"), { kind: "InvalidInput" });
    await assert.rejects(orchestrator.createRepository({ path: "/home/me/projects/app", name: "twin" }), {
      kind: "Conflict",
    });
    // Another store on the same file sees what this one wrote.
    const again = openJsonFileStore(file);
    assert.equal((await again.getSession(session.id))?.title, "Add dark mode");
    await orchestrator.deleteSession(session.id);
    assert.equal(await again.getSession(session.id), null);
    console.log(`a JSON-file store: created and deleted session ${session.id} in ${file}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
