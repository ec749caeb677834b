/**
 * The in-memory layer of the secret chain.
 *
 * @module
 */

/**
 * A map from session id to its secret key bytes. Keys are copied in and out, so a caller that
 * mutates or zeroes its buffer never changes the cache, and the cache never hands out its own.
 * `clone()` and `fromShared()` share one map between handles, as several components of one
 * process should see one cache.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SessionSecretCache } from "./secret_cache.ts";
 *
 * const cache = new SessionSecretCache();
 * cache.insert("session-1", crypto.getRandomValues(new Uint8Array(32)));
 * const key = cache.get("session-1"); // a copy
 * key?.fill(0);
 * assert.notDeepEqual(cache.get("session-1"), key); // the cached key is untouched
 * const shared = cache.clone(); // same map
 * shared.remove("session-1");
 * assert.equal(cache.contains("session-1"), false);
 * ```
 */
export class SessionSecretCache {
  #keys: Map<string, Uint8Array>;

  /** An empty cache with a map of its own. */
  constructor() {
    this.#keys = new Map();
  }

  /** A cache over an existing map: every handle made from the same map sees the same entries. */
  static fromShared(map: Map<string, Uint8Array>): SessionSecretCache {
    const cache = new SessionSecretCache();
    cache.#keys = map;
    return cache;
  }

  /** Adds or replaces the key of `id`, storing a copy. */
  insert(id: string, key: Uint8Array): void {
    const previous = this.#keys.get(id);
    this.#keys.set(id, key.slice());
    previous?.fill(0);
  }

  /** A copy of the key of `id`, or `undefined`. */
  get(id: string): Uint8Array | undefined {
    return this.#keys.get(id)?.slice();
  }

  /** Removes the key of `id` and returns it (the cache keeps no reference), or `undefined`. */
  remove(id: string): Uint8Array | undefined {
    const key = this.#keys.get(id);
    this.#keys.delete(id);
    return key;
  }

  /** Whether the cache holds a key for `id`. */
  contains(id: string): boolean {
    return this.#keys.has(id);
  }

  /** How many keys the cache holds. */
  len(): number {
    return this.#keys.size;
  }

  /** Whether the cache holds no key. */
  isEmpty(): boolean {
    return this.#keys.size === 0;
  }

  /** Overwrites every key's bytes with zeros, then drops them. */
  clear(): void {
    for (const key of this.#keys.values()) key.fill(0);
    this.#keys.clear();
  }

  /** The underlying map, shared with every clone. */
  inner(): Map<string, Uint8Array> {
    return this.#keys;
  }

  /** A new handle on the same map: changes through either are seen by both. */
  clone(): SessionSecretCache {
    return SessionSecretCache.fromShared(this.#keys);
  }
}
