/**
 * Shared pieces of the store conformance cases: the case shape, inputs and assertions. Internal to
 * `./testing`; a store author only calls {@linkcode testSessionStore} from `./mod.ts`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { newSessionId } from "../ids.ts";
import type { SessionStore } from "../store/store.ts";
import type { ListPosition, NewRepository, NewSession } from "../types.ts";

/** One conformance case: a name and a body that runs against a fresh, empty store. */
export interface StoreCase {
  /** What the case pins, as a sentence. */
  name: string;
  /** The case itself; it throws (an assertion) when the store breaks the contract. */
  run(store: SessionStore): Promise<void>;
}

/** A repository input whose path is unique per call, so cases never collide on the path. */
export function repositoryInput(name = "app"): NewRepository {
  return { path: `/src/${name}-${crypto.randomUUID()}`, name };
}

/** A plain session input of `repositoryId` with a fresh id. */
export function sessionInput(repositoryId: string, overrides: Partial<NewSession> = {}): NewSession {
  return { id: newSessionId(), repositoryId, title: "A session", isWorktree: false, ...overrides };
}

/** A sealed secret of valid shape; the store keeps bytes and never opens them. */
export function sealedSecret(fill?: number): { encryptedSecret: Uint8Array; nonce: Uint8Array } {
  const encryptedSecret = fill === undefined
    ? crypto.getRandomValues(new Uint8Array(48))
    : new Uint8Array(48).fill(fill);
  return { encryptedSecret, nonce: crypto.getRandomValues(new Uint8Array(12)) };
}

/** Asserts that `promise` rejects with a `SessionError` of `kind`, the one error shape the contract allows. */
export async function rejectsWithKind(promise: Promise<unknown>, kind: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.equal((error as { name?: string }).name, "SessionError");
    assert.equal((error as { kind?: string }).kind, kind);
    return true;
  });
}

/**
 * List order, computed independently of the store's code: by `createdAt`, then `id`. Records made
 * within one millisecond share a creation time, so the id is what orders them.
 */
export function byPosition(a: ListPosition, b: ListPosition): number {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** The ids of `records` in list order. */
export function idsInOrder(records: readonly ListPosition[]): string[] {
  return [...records].sort(byPosition).map((record) => record.id);
}

/** The position a following page starts after: the last record of a page. */
export function positionOf(record: ListPosition): ListPosition {
  return { createdAt: record.createdAt, id: record.id };
}
