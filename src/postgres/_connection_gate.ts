/**
 * The store's bounded wait for a pool connection, and what keeps one slow table from taking the
 * whole pool. Internal to `./postgres`.
 *
 * postgres.js never refuses a query: when every connection is busy it pipelines the query onto a
 * busy one, behind whatever that connection runs, or queues it without limit. Behind a statement that
 * waits for a lock, an unrelated read then waits as long, and once every connection holds such a
 * statement every call hangs. The gate lets at most as many statements run as the pool has
 * connections (so each has a connection of its own), makes a call wait at most `acquireTimeoutMs`
 * for its turn, and limits an operation whose statements are timing out (a locked table) to one
 * connection, and all such operations together to half the pool, until one of its statements succeeds.
 *
 * @module
 */

import { SessionError } from "../errors.ts";

/** What the gate needs to know of a statement's failure. */
export type SlowSignal = (error: unknown) => boolean;

interface Waiter {
  lane: string;
  admit: () => void;
}

/**
 * A counting semaphore with lanes: `run(lane, work)` waits (at most `acquireTimeoutMs`) for one of
 * `permits` slots, runs `work`, and frees the slot. A lane (one kind of operation) whose work failed
 * with what `slow` recognizes (a lock or statement timeout) is slow until its work next succeeds:
 * while slow it holds at most one slot, and slow lanes together at most half of them (at least one),
 * so the other lanes keep connections to run on. Waiters are admitted in arrival order, skipping
 * those whose lane is at its limit.
 */
export class ConnectionGate {
  readonly #permits: number;
  readonly #slowShare: number;
  readonly #acquireTimeoutMs: number;
  readonly #slow: SlowSignal;
  readonly #waiters: Waiter[] = [];
  readonly #inUse = new Map<string, number>();
  readonly #slowLanes = new Set<string>();
  #total = 0;

  /**
   * @param permits the pool's size: most statements running at once
   * @param acquireTimeoutMs how long a call waits for a slot before it fails (retryable `Storage`)
   * @param slow whether a failure means that the lane's statements are waiting too long
   */
  constructor(permits: number, acquireTimeoutMs: number, slow: SlowSignal) {
    this.#permits = permits;
    this.#slowShare = Math.max(1, Math.floor(permits / 2));
    this.#acquireTimeoutMs = acquireTimeoutMs;
    this.#slow = slow;
  }

  /** Runs `work` once a slot of `lane` is free; rejects with a retryable `Storage` error if none is in time. */
  async run<T>(lane: string, work: () => Promise<T>): Promise<T> {
    await this.#acquire(lane);
    try {
      const result = await work();
      this.#slowLanes.delete(lane);
      return result;
    } catch (error) {
      if (this.#slow(error)) this.#slowLanes.add(lane);
      throw error;
    } finally {
      this.#release(lane);
    }
  }

  #admissible(lane: string): boolean {
    if (this.#total >= this.#permits) return false;
    if (!this.#slowLanes.has(lane)) return true;
    if ((this.#inUse.get(lane) ?? 0) > 0) return false;
    let slowInUse = 0;
    for (const slowLane of this.#slowLanes) slowInUse += this.#inUse.get(slowLane) ?? 0;
    return slowInUse < this.#slowShare;
  }

  #take(lane: string): void {
    this.#total++;
    this.#inUse.set(lane, (this.#inUse.get(lane) ?? 0) + 1);
  }

  #acquire(lane: string): Promise<void> {
    // Every waiter left after a release is one that does not fit, so a call that fits goes first.
    if (this.#admissible(lane)) {
      this.#take(lane);
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        lane,
        admit: () => {
          clearTimeout(timer);
          this.#take(lane);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) this.#waiters.splice(index, 1);
        reject(
          new SessionError(
            "Storage",
            `no database connection was free for ${this.#acquireTimeoutMs} ms (all ${this.#permits} are busy)`,
            { retryAfterSeconds: 1 },
          ),
        );
      }, this.#acquireTimeoutMs);
      this.#waiters.push(waiter);
    });
  }

  #release(lane: string): void {
    this.#total--;
    const left = (this.#inUse.get(lane) ?? 1) - 1;
    if (left === 0) this.#inUse.delete(lane);
    else this.#inUse.set(lane, left);
    // Every waiter that fits now, in arrival order: a freed slot may admit one lane's waiter while
    // an earlier waiter of a slow lane stays.
    for (let index = 0; index < this.#waiters.length && this.#total < this.#permits;) {
      const waiter = this.#waiters[index];
      if (this.#admissible(waiter.lane)) {
        this.#waiters.splice(index, 1);
        waiter.admit();
      } else {
        index++;
      }
    }
  }
}
