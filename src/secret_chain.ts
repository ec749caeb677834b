/**
 * The secret chain: memory → store (sealed with WebCrypto) → OS keychain.
 *
 * @module
 */

import { decodeBase64, encodeBase64 } from "./base64.ts";
import {
  decryptSessionSecret,
  encryptSessionSecret,
  generateSessionSecret,
  type SealedSecret,
  SECRET_LENGTH,
} from "./crypto.ts";
import { isSessionError, SessionError, toStorageError } from "./errors.ts";
import { parseId } from "./ids.ts";
import type { Keychain } from "./keychain.ts";
import { SessionSecretCache } from "./secret_cache.ts";
import type { SessionReader, SessionWriter, WriteOptions } from "./store/store.ts";

/** The keychain service name entries are filed under unless another is given. */
export const DEFAULT_KEYCHAIN_SERVICE = "session-lifecycle-orchestrator";

/** What the chain needs of a store. */
export type SecretStore =
  & Pick<SessionReader, "getSessionSecret">
  & Pick<SessionWriter, "setSessionSecret" | "deleteSessionSecret">;

/** Options of {@linkcode SessionSecretChain}. */
export interface SessionSecretChainOptions {
  /** Where sealed secrets are kept. */
  store: SecretStore;
  /** The AES-256-GCM key secrets are sealed under (see `importDatabaseKey`). */
  databaseKey: CryptoKey;
  /** The memory layer; share one between chains of a process with `clone()`. A new one by default. */
  cache?: SessionSecretCache;
  /** The last layer; none by default. */
  keychain?: Keychain | null;
  /** Keychain service name; entries use the session id as account. */
  keychainService?: string;
}

/**
 * Each session's 32-byte secret, from the fastest layer that has it: the in-memory cache, then
 * the store (sealed, opened with the database key), then the OS keychain. A hit in a lower layer
 * fills the layers above it, and concurrent lookups of one id share one load.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { generateDatabaseKey, MemoryStore, SessionSecretChain } from "../mod.ts";
 *
 * const store = new MemoryStore();
 * const repository = await store.createRepository({ path: "/src/app", name: "app" });
 * const session = await store.createSession({
 *   id: crypto.randomUUID(),
 *   repositoryId: repository.id,
 *   title: "t",
 *   isWorktree: false,
 * });
 * const chain = new SessionSecretChain({ store, databaseKey: await generateDatabaseKey() });
 * const secret = await chain.provision(session.id);
 * assert.deepEqual(await chain.resolve(session.id), secret);
 * assert.notEqual(await store.getSessionSecret(session.id), null); // sealed in the store
 * await chain.forget(session.id);
 * assert.equal(await chain.resolve(session.id), null);
 * ```
 */
export class SessionSecretChain {
  readonly #store: SecretStore;
  readonly #databaseKey: CryptoKey;
  readonly #cache: SessionSecretCache;
  readonly #keychain: Keychain | null;
  readonly #service: string;
  readonly #loads = new Map<string, Promise<Uint8Array | null>>();
  // Every load and change of one id runs after the previous one has finished, so a forget can never
  // be undone by a load that read a layer just before it was cleared, nor a provision by an older load.
  readonly #tails = new Map<string, Promise<unknown>>();

  /**
   * Composes the layers.
   *
   * @param options the layers and the database key
   */
  constructor(options: SessionSecretChainOptions) {
    this.#store = options.store;
    this.#databaseKey = options.databaseKey;
    this.#cache = options.cache ?? new SessionSecretCache();
    this.#keychain = options.keychain ?? null;
    this.#service = options.keychainService ?? DEFAULT_KEYCHAIN_SERVICE;
  }

  /** The memory layer. */
  get cache(): SessionSecretCache {
    return this.#cache;
  }

  /**
   * The session's secret (a copy), or `null` when no layer has it. A tampered or misplaced
   * sealed secret is `Encryption`, never a silent wrong key.
   */
  resolve(sessionId: string): Promise<Uint8Array | null> {
    // The hot path first: only valid ids are ever cached, so a hit needs no validation.
    const cached = this.#cache.get(sessionId);
    if (cached !== undefined) return Promise.resolve(cached);
    let id: string;
    try {
      id = parseId(sessionId, "session id");
    } catch (error) {
      return Promise.reject(error);
    }
    // Ids are cached lowercase: an id given in upper case may still be a hit.
    const hot = id === sessionId ? undefined : this.#cache.get(id);
    if (hot !== undefined) return Promise.resolve(hot);
    let load = this.#loads.get(id);
    if (load === undefined) {
      const started: Promise<Uint8Array | null> = this.#serially(id, () => this.#load(id)).finally(() => {
        if (this.#loads.get(id) === started) this.#loads.delete(id);
      });
      load = started;
      this.#loads.set(id, load);
    }
    return load.then((secret) => secret?.slice() ?? null);
  }

  async #load(id: string): Promise<Uint8Array | null> {
    // A provision queued ahead of this load may have filled the cache meanwhile.
    const cached = this.#cache.get(id);
    if (cached !== undefined) return cached;
    const sealed = await this.#store.getSessionSecret(id).catch((error) => {
      throw toStorageError(error, "reading a session secret");
    });
    if (sealed !== null) {
      const secret = await decryptSessionSecret(this.#databaseKey, id, sealed);
      this.#cache.insert(id, secret);
      return secret;
    }
    if (this.#keychain === null) return null;
    const stored = await this.#keychain.get(this.#service, id);
    if (stored === null) return null;
    const secret = decodeKeychainSecret(stored, id);
    const resealed = await encryptSessionSecret(this.#databaseKey, id, secret);
    try {
      await this.#store.setSessionSecret({ sessionId: id, ...resealed });
    } catch (error) {
      if (!isSessionError(error, "SessionNotFound")) throw toStorageError(error, "storing a session secret");
      // The session is gone: its keychain copy is an orphan (a forget that failed after the delete),
      // and a deleted session has no secret. It is dropped, not served.
      secret.fill(0);
      await this.#keychain.delete(this.#service, id).catch(() => false);
      return null;
    }
    this.#cache.insert(id, secret);
    return secret;
  }

  /**
   * Makes a new secret for the session, stores it sealed (and in the keychain when there is one),
   * caches it and returns it. When a layer fails, the layers already written are undone.
   */
  async provision(sessionId: string): Promise<Uint8Array> {
    const id = parseId(sessionId, "session id");
    let secret: Uint8Array | undefined;
    await this.provisionWith(
      id,
      (sealed, plain) => {
        secret = plain.slice();
        return this.#store.setSessionSecret({ sessionId: id, ...sealed });
      },
      () => this.#store.deleteSessionSecret(id),
    );
    return secret!;
  }

  /**
   * Makes a new secret for the session and hands it, sealed, to `persist`, which writes it (for
   * example together with the session's row, in one transaction) and returns what it wrote. The
   * keychain and memory copies are written only once `persist` has succeeded, so a refused or
   * killed create never leaves a plaintext copy behind nor overwrites another session's. When the
   * keychain then fails, `undo` takes back what `persist` wrote before the error is thrown.
   * `persist` also gets the plain secret, which it must not keep.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { generateDatabaseKey, MemoryStore, newSessionId, SessionSecretChain } from "../mod.ts";
   *
   * const store = new MemoryStore();
   * const repository = await store.createRepository({ path: "/src/app", name: "app" });
   * const chain = new SessionSecretChain({ store, databaseKey: await generateDatabaseKey() });
   * const id = newSessionId();
   * const session = await chain.provisionWith(id, (sealed) =>
   *   store.createSession({ id, repositoryId: repository.id, title: "t", isWorktree: false }, sealed)
   * );
   * assert.equal(session.id, id);
   * assert.equal((await chain.resolve(id))?.length, 32);
   * ```
   */
  async provisionWith<T>(
    sessionId: string,
    persist: (sealed: SealedSecret, secret: Uint8Array) => Promise<T>,
    undo: () => Promise<unknown> = () => Promise.resolve(),
  ): Promise<T> {
    // An async method: a bad id rejects, and everything up to the first await still runs at once.
    const id = parseId(sessionId, "session id");
    // A resolve from now on waits for this provision instead of sharing an older load.
    this.#loads.delete(id);
    return await this.#serially(id, async () => {
      const secret = generateSessionSecret();
      try {
        const sealed = await encryptSessionSecret(this.#databaseKey, id, secret);
        let written: T;
        try {
          written = await persist(sealed, secret);
        } catch (error) {
          throw toStorageError(error, "storing a session secret");
        }
        if (this.#keychain !== null) {
          try {
            await this.#keychain.set(this.#service, id, encodeBase64(secret));
          } catch (error) {
            await undo().catch(() => {});
            throw error;
          }
        }
        this.#cache.insert(id, secret);
        return written;
      } finally {
        secret.fill(0);
      }
    });
  }

  /**
   * Removes the session's secret from every layer. Every layer is tried even when one fails;
   * the first failure is then thrown. After `deleteSession`, whose row removal took the sealed
   * secret with it, pass `{ rowDeleted: true }` to skip the store's now pointless write.
   * A `resolve` called while this runs waits for it, and finds nothing.
   */
  async forget(sessionId: string, options: { rowDeleted?: boolean } = {}): Promise<void> {
    const id = parseId(sessionId, "session id");
    // Hot hits stop at once; the cache is cleared again once earlier loads have finished, and a
    // resolve from now on waits for this forget instead of sharing a load that started before it.
    this.#cache.remove(id)?.fill(0);
    this.#loads.delete(id);
    return await this.#serially(id, async () => {
      this.#cache.remove(id)?.fill(0);
      const failures: unknown[] = [];
      if (!options.rowDeleted) {
        await this.#store.deleteSessionSecret(id).catch((error) =>
          failures.push(toStorageError(error, "deleting a session secret"))
        );
      }
      if (this.#keychain !== null) {
        await this.#keychain.delete(this.#service, id).catch((error) => failures.push(error));
      }
      if (failures.length > 0) throw failures[0];
    });
  }

  /**
   * Replaces the session's secret with one sealed elsewhere under this chain's database key (with
   * the session id as additional data), and makes every layer agree: the store keeps the sealed
   * bytes, the keychain and the memory layer the opened secret. Ciphertext that does not open is
   * `InvalidInput` and changes nothing; a layer that fails puts the store's previous secret back.
   * `write` goes with the store's write (the change's event, for a store that logs events).
   */
  async replace(sessionId: string, sealed: SealedSecret, write?: WriteOptions): Promise<void> {
    const id = parseId(sessionId, "session id");
    this.#loads.delete(id);
    return await this.#serially(id, async () => {
      let secret: Uint8Array;
      try {
        secret = await decryptSessionSecret(this.#databaseKey, id, sealed);
      } catch (error) {
        throw new SessionError(
          "InvalidInput",
          `the sealed secret does not open under the database key for session ${id}`,
          { cause: error },
        );
      }
      try {
        const previous = await this.#store.getSessionSecret(id).catch((error) => {
          throw toStorageError(error, "reading a session secret");
        });
        await this.#store.setSessionSecret({ sessionId: id, ...sealed }, write).catch((error) => {
          throw toStorageError(error, "storing a session secret");
        });
        if (this.#keychain !== null) {
          try {
            await this.#keychain.set(this.#service, id, encodeBase64(secret));
          } catch (error) {
            const restore = previous === null ? this.#store.deleteSessionSecret(id) : this.#store.setSessionSecret({
              sessionId: id,
              encryptedSecret: previous.encryptedSecret,
              nonce: previous.nonce,
            });
            await restore.catch(() => {});
            throw error;
          }
        }
        this.#cache.insert(id, secret);
      } catch (error) {
        this.#cache.remove(id)?.fill(0);
        throw error;
      } finally {
        secret.fill(0);
      }
    });
  }

  /**
   * Drops the memory copy of the session's secret, after any load in flight, so that the next
   * `resolve` reads the store again: for when the sealed secret was replaced behind the chain's back.
   */
  invalidate(sessionId: string): Promise<void> {
    this.#cache.remove(sessionId)?.fill(0);
    this.#loads.delete(sessionId);
    return this.#serially(sessionId, () => {
      this.#cache.remove(sessionId)?.fill(0);
      return Promise.resolve();
    });
  }

  // Runs `work` after every earlier operation on `id`, whatever their outcome.
  #serially<T>(id: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(id) ?? Promise.resolve();
    const result = previous.then(work, work);
    const tail = result.then(noop, noop);
    this.#tails.set(id, tail);
    // The map holds only ids with work pending, not every id ever seen.
    tail.then(() => {
      if (this.#tails.get(id) === tail) this.#tails.delete(id);
    });
    return result;
  }
}

function noop(): void {}

function decodeKeychainSecret(stored: string, id: string): Uint8Array {
  try {
    const secret = decodeBase64(stored, "keychain entry");
    if (secret.length === SECRET_LENGTH) return secret;
  } catch {
    // reported below, without echoing the entry
  }
  throw new SessionError("Encryption", `the keychain entry of session ${id} is not a ${SECRET_LENGTH}-byte secret`);
}
