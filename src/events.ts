/**
 * Lifecycle events: what changed, emitted after it is committed.
 *
 * @module
 */

import type { Repository, Session } from "./types.ts";

/** A change in the lifecycle, emitted after it is committed. */
export type LifecycleEvent =
  | { type: "repository.created"; repository: Repository }
  | { type: "repository.deleted"; repository: Repository }
  | { type: "session.created"; session: Session }
  | { type: "session.updated"; session: Session }
  | { type: "session.deleted"; session: Session }
  | { type: "session.secret.stored"; sessionId: string };

/** Receives events. */
export type LifecycleListener = (event: LifecycleEvent) => void;

/**
 * A synchronous fan-out of lifecycle events. A listener that throws never stops the others
 * nor the operation that emitted.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LifecycleEvents } from "./events.ts";
 *
 * const events = new LifecycleEvents();
 * const seen: string[] = [];
 * const stop = events.subscribe((event) => seen.push(event.type));
 * events.subscribe(() => {
 *   throw new Error("a broken listener");
 * });
 * events.emit({ type: "session.secret.stored", sessionId: "x" });
 * stop();
 * events.emit({ type: "session.secret.stored", sessionId: "y" });
 * assert.deepEqual(seen, ["session.secret.stored"]);
 * ```
 */
export class LifecycleEvents {
  readonly #listeners = new Set<LifecycleListener>();

  /** Adds a listener; returns the function that removes it. */
  subscribe(listener: LifecycleListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Delivers `event` to every listener, in subscription order. */
  emit(event: LifecycleEvent): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(event);
      } catch {
        // A broken subscriber must not undo or fail a committed change.
      }
    }
  }

  /** How many listeners are subscribed. */
  get size(): number {
    return this.#listeners.size;
  }
}
