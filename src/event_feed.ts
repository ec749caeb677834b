/**
 * A reader's feed of lifecycle events from a position: what it missed, replayed from the event log,
 * then every new event, with no gap and no duplicate between the two. `GET /v1/events` serializes it.
 *
 * @module
 */

import { toStorageError } from "./errors.ts";
import type { EventReplay, LifecycleEvent, LifecycleEvents, LoggedEvent } from "./events.ts";
import type { TransientEvent } from "./progress.ts";
import { invalid } from "./_field_checks.ts";

/**
 * What a feed delivers: an event, a transient event (a create's progress: live only, with no id,
 * never replayed), or the news that events it should have delivered are no longer kept.
 */
export type FeedItem =
  | { kind: "event"; id: string; event: LifecycleEvent }
  | { kind: "transient"; event: TransientEvent }
  | {
    kind: "gap";
    /** The position asked for (or reached): the events after it… */
    after: string;
    /** … up to and including this one are no longer kept; the feed goes on with the events after it. */
    through: string;
  };

/** Options of {@linkcode EventFeed.open}. */
export interface EventFeedOptions {
  /**
   * The id of the last event the reader has (a `Last-Event-ID`): the feed starts with the events
   * after it. Without it, the feed starts with the next event committed.
   */
  after?: string | null;
  /** New events the reader may fall behind by before the feed ends (default 10 000). */
  maxPending?: number;
  /** Told when the feed ends because the reader fell behind by `maxPending`. */
  onOverflow?: () => void;
}

/** How many events one read of the log takes. */
const PAGE = 500;

// An id as the feed takes it: a whole number, as the logs give them (at most 2^63 - 1, a bigint column).
const ID = /^(0|[1-9][0-9]{0,18})$/;

/**
 * A running feed. Open one with {@linkcode EventFeed.open} (the orchestrator's `openEventFeed`):
 * it subscribes to the live events first and keeps them while it replays the log, then hands them
 * on, skipping those the replay already gave; so no event committed after it opened is missed, and
 * none is given twice. Transient events (a create's progress) that come while it is open are handed
 * on in the order they came, among the live ones; they have no id and are never replayed.
 */
export class EventFeed {
  readonly #replay: EventReplay;
  readonly #maxPending: number;
  readonly #onOverflow: () => void;
  readonly #live: Array<LoggedEvent | { id: null; event: TransientEvent }> = [];
  readonly #unsubscribe: () => void;
  #replaying = false;
  #first: FeedItem[] = [];
  #last = 0n;
  #done = false;
  #wake: (() => void) | null = null;
  /** The id after which the feed holds every event: a reader that has read nothing yet resumes from it. */
  position = "0";

  private constructor(events: LifecycleEvents, replay: EventReplay, options: EventFeedOptions) {
    this.#replay = replay;
    this.#maxPending = options.maxPending ?? 10_000;
    this.#onOverflow = options.onOverflow ?? (() => {});
    this.#unsubscribe = events.subscribeAll((event, { id }) => {
      if (this.#done) return;
      if (this.#live.length >= this.#maxPending) {
        this.close();
        this.#onOverflow();
        return;
      }
      this.#live.push(id === null ? { id, event: event as TransientEvent } : { id, event: event as LifecycleEvent });
      this.#rouse();
    });
  }

  /**
   * Opens a feed of `events` (the live ones) over `replay` (where missed ones are read back).
   * `after` that is not a whole number, or is newer than the newest event, is `InvalidInput`; a
   * log that cannot be read is `Storage`. Close the feed when done.
   */
  static async open(events: LifecycleEvents, replay: EventReplay, options: EventFeedOptions = {}): Promise<EventFeed> {
    const after = options.after ?? null;
    if (after !== null && (typeof after !== "string" || !ID.test(after))) {
      invalid("the last event id must be the id of an event of this stream (a whole number)");
    }
    // Subscribed before the log is read: whatever is committed after the read reaches the feed.
    const feed = new EventFeed(events, replay, options);
    try {
      await feed.#start(after);
    } catch (error) {
      feed.close();
      throw error;
    }
    return feed;
  }

  async #start(after: string | null): Promise<void> {
    const page = await this.#read(after ?? "0", after === null ? 0 : PAGE);
    const lastId = BigInt(page.lastId);
    if (after === null) {
      this.#last = lastId;
    } else {
      if (BigInt(after) > lastId) invalid(`the last event id ${after} is newer than the newest event (${lastId})`);
      this.#last = BigInt(after);
      this.#take(page);
    }
    this.position = String(after ?? lastId);
  }

  async #read(after: string, limit: number) {
    try {
      return await this.#replay.readAfter(after, limit);
    } catch (error) {
      throw toStorageError(error, "reading the event log");
    }
  }

  // A page of the replay: a gap first when the log no longer has the events right after the position.
  #take(page: { events: LoggedEvent[]; lastId: string }): void {
    const next = page.events.length > 0 ? BigInt(page.events[0].id) : BigInt(page.lastId) + 1n;
    if (next > this.#last + 1n) {
      this.#first.push({ kind: "gap", after: String(this.#last), through: String(next - 1n) });
      this.#last = next - 1n;
    }
    for (const { id, event } of page.events) {
      this.#first.push({ kind: "event", id, event });
      this.#last = BigInt(id);
    }
    this.#replaying = page.events.length === PAGE;
  }

  /**
   * The next items, in order: the replay's, then new events, as they come. Resolves with `[]` when
   * nothing came for `waitMs`, and with `null` once the feed is closed (or the reader fell behind).
   */
  async next(waitMs: number): Promise<FeedItem[] | null> {
    if (this.#done) return null;
    if (this.#first.length > 0) return this.#first.splice(0);
    if (this.#replaying) {
      this.#take(await this.#read(String(this.#last), PAGE));
      return this.#done ? null : this.#first.splice(0);
    }
    if (this.#live.length === 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        timer = setTimeout(resolve, waitMs);
      });
      clearTimeout(timer);
      this.#wake = null;
      if (this.#done) return null;
    }
    const items: FeedItem[] = [];
    for (const live of this.#live.splice(0)) {
      // Transient events are live only: handed on as they came, between the logged ones.
      if (live.id === null) {
        items.push({ kind: "transient", event: live.event });
        continue;
      }
      // What the replay gave already (it read the log after the subscription began).
      if (BigInt(live.id) <= this.#last) continue;
      this.#last = BigInt(live.id);
      items.push({ kind: "event", id: live.id, event: live.event });
    }
    return items;
  }

  /** Stops the feed: `next` resolves with `null`. Closing twice is harmless. */
  close(): void {
    if (this.#done) return;
    this.#done = true;
    this.#unsubscribe();
    this.#live.length = 0;
    this.#rouse();
  }

  #rouse(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }
}
