/**
 * The Postgres event log: each change's event written in the change's transaction without an id,
 * numbered once committed (ids in commit order, with no gap) with one `NOTIFY` per numbering, and
 * followers that read the events after the last one they delivered. Internal to `./postgres`.
 *
 * @module
 */

import type { Sql } from "postgres";
import type {
  EventLog,
  EventLogFollower,
  EventLogPage,
  FollowOptions,
  LifecycleEvent,
  LoggedEventListener,
} from "../events.ts";
import { invalid } from "../_field_checks.ts";

/** Options of the store's event log (`PostgresStoreOptions.eventLog`). */
export interface PostgresEventLogOptions {
  /**
   * Events kept whatever their age (default 10 000): pruning only removes events that are both
   * beyond the newest `keepEvents` and older than `keepSeconds`.
   */
  keepEvents?: number;
  /** Seconds an event is kept whatever the count (default 600). */
  keepSeconds?: number;
  /**
   * How often a follower also reads the log without being notified, in milliseconds (default
   * 1000): a notification lost while the listening connection was down delays an event by at most this.
   */
  pollIntervalMs?: number;
}

/**
 * What a change's statement adds to log its event: `ctes` go after the change's own CTE `from`
 * (one row when something changed, none otherwise), `select` into its final select list (how many
 * events it logged, as `logged_events`). The event goes in without an id and takes no lock beyond
 * its own row, so logged writes of every server commit side by side; the log numbers it once it is
 * committed (see {@linkcode PostgresEventLog.logged}).
 */
export interface LoggedChange {
  /** `, logged_event AS (…)`. */
  ctes: string;
  /** `(…) AS logged_events`. */
  select: string;
  /** The parameters these refer to, to append to the statement's own. */
  params: string[];
}

/** The statements of the event log. */
export const EVENT_SQL = {
  // Numbers what was committed without an id (see the migration that made the function); answers
  // the log's end and how many it numbered.
  number: "SELECT through_id::text AS id, numbered::text AS numbered FROM number_lifecycle_events($1::text)",
  // Ordered by the column, not by the text the select gives the same name ("10" < "9").
  after: `SELECT id::text AS id, origin, event::text AS event FROM lifecycle_events
    WHERE lifecycle_events.id > $1::bigint ORDER BY lifecycle_events.id LIMIT $2`,
  prune: `DELETE FROM lifecycle_events WHERE id <= (SELECT last_id FROM lifecycle_event_counter WHERE id) - $1::bigint
    AND created_at < now() - make_interval(secs => $2::double precision)`,
} as const;

/** How many events one read of a follower takes at most. */
const BATCH = 500;

/**
 * The least time between two numberings that writes ask for, in milliseconds: the first write after
 * a pause is numbered at once, the writes of a busy moment together, in one transaction with one
 * `NOTIFY`, instead of one commit (and its WAL flush) more per write.
 */
const WRITES_NUMBERING_INTERVAL_MS = 10;

/** The notification channel of a schema's log (an identifier: at most 63 bytes). */
export function eventChannel(schema: string): string {
  return `slo_events_${schema}`.slice(0, 63);
}

/**
 * Makes the client a log listens on: one connection (`max: 1`, kept open), whose notifications go
 * to `onnotify` and whose loss is told to `onclose`. `openPostgresStore` makes it from the URL.
 */
export type ListenerFactory = (handlers: {
  onnotify: (channel: string, payload: string) => void;
  onclose: () => void;
}) => Sql;

/**
 * Runs one statement of kind `lane` on the store's client: the store's connection gate, which
 * bounds the wait for a connection. Without one, statements go straight to the client.
 */
export type StatementRunner = <T>(lane: string, work: () => Promise<T>) => Promise<T>;

/**
 * The event log of one `PostgresStore`: it appends each change's event inside the change's
 * transaction, numbers the committed events (after its own writes, before its reads and prunes,
 * and at every poll: whichever store gets there first numbers every store's events), and follows
 * the log for any number of listeners, over one listening connection (re-established after the
 * database comes back) and a poll that catches what a lost notification would have told.
 */
export class PostgresEventLog implements EventLog {
  readonly #client: () => Sql;
  readonly #channel: string;
  readonly #keepEvents: number;
  readonly #keepSeconds: number;
  readonly #pollIntervalMs: number;
  readonly #pruneEvery: bigint;
  readonly #makeListener: ListenerFactory | null;
  readonly #run: StatementRunner;
  readonly #followers = new Set<Follower>();
  #listener: Sql | null = null;
  #listening = false;
  #subscribing: Promise<void> | null = null;
  #timer: ReturnType<typeof setInterval> | undefined;
  readonly #numbering: SerialRun<bigint> = new SerialRun(() => this.#number());
  #writesNumbering: ReturnType<typeof setTimeout> | undefined;
  #writesNumberedAt = -Infinity;
  /** Names this store instance in the events it writes, so a follower can tell its own. */
  readonly origin: string = crypto.randomUUID();

  /**
   * The log of the schema `sql`'s connections use.
   *
   * @param sql the store's client, or a function that gives the one in use
   * @param schema the store's schema, for the notification channel
   * @param options retention and polling
   * @param makeListener the listening connection's client; without it followers only poll
   * @param run what runs each statement on `sql` (the store's connection gate); directly without it
   */
  constructor(
    sql: Sql | (() => Sql),
    schema: string,
    options: PostgresEventLogOptions = {},
    makeListener?: ListenerFactory,
    run: StatementRunner = (_lane, work) => work(),
  ) {
    const whole = (value: number | undefined, fallback: number, field: string, min: number) => {
      const result = value ?? fallback;
      if (!Number.isSafeInteger(result) || result < min) {
        invalid(`eventLog.${field} must be a whole number from ${min}`);
      }
      return result;
    };
    // A postgres.js client is itself a function (a tagged template): tell it by its `unsafe`.
    this.#client = "unsafe" in sql ? () => sql as Sql : sql as () => Sql;
    this.#channel = eventChannel(schema);
    this.#keepEvents = whole(options.keepEvents, 10_000, "keepEvents", 0);
    this.#keepSeconds = whole(options.keepSeconds, 600, "keepSeconds", 0);
    this.#pollIntervalMs = whole(options.pollIntervalMs, 1000, "pollIntervalMs", 10);
    // Pruning is one indexed DELETE every so many events, by whichever numbering passes the mark.
    this.#pruneEvery = BigInt(Math.min(1000, Math.max(1, Math.floor(this.#keepEvents / 10))));
    this.#makeListener = makeListener ?? null;
    this.#run = run;
  }

  /**
   * The SQL that logs an event, as `eventJson` (a `json` expression over the CTE `from`) makes it,
   * in the statement that makes the change; the statement's own parameters number `paramCount`.
   */
  change(from: string, eventJson: string, paramCount: number): LoggedChange {
    const origin = `$${paramCount + 1}`;
    return {
      ctes: `, logged_event AS (INSERT INTO lifecycle_events (origin, event)
          SELECT ${origin}::text, ${eventJson} FROM ${from} RETURNING seq)`,
      select: "(SELECT count(*) FROM logged_event)::int AS logged_events",
      params: [this.origin],
    };
  }

  /**
   * Told once a statement that logged `count` events (its `logged_events`, or undefined when it
   * answered no row) has committed: they are numbered in the background, at once or with the other
   * writes of the next {@linkcode WRITES_NUMBERING_INTERVAL_MS}. A numbering that fails leaves them
   * to the next one (the next write's, read's, or poll's, of any store).
   */
  logged(count: unknown): void {
    if (typeof count !== "number" || count === 0 || this.#writesNumbering !== undefined) return;
    const wait = Math.max(0, this.#writesNumberedAt + WRITES_NUMBERING_INTERVAL_MS - performance.now());
    this.#writesNumbering = setTimeout(() => this.#numberWrites(), wait);
  }

  #numberWrites(): void {
    clearTimeout(this.#writesNumbering);
    this.#writesNumbering = undefined;
    this.#writesNumberedAt = performance.now();
    this.#numbering.run().catch(() => {});
  }

  /**
   * Removes the events beyond the newest `keepEvents` that are older than `keepSeconds`; returns how
   * many it removed. Runs by itself as events are numbered; call it to prune now.
   */
  async prune(): Promise<number> {
    await this.#numbering.run();
    return await this.#prune();
  }

  // The one place that numbers events: what was committed without an id gets the next ids, and
  // pruning runs (in the background) whenever the ids given pass a multiple of `#pruneEvery`.
  // Resolves to the log's end.
  async #number(): Promise<bigint> {
    const [row] = await this.#run("numberEvents", () => this.#client().unsafe(EVENT_SQL.number, [this.#channel]));
    const through = BigInt(String(row.id));
    const numbered = BigInt(String(row.numbered));
    if (numbered > 0n && through / this.#pruneEvery !== (through - numbered) / this.#pruneEvery) {
      this.#prune().catch(() => {});
    }
    return through;
  }

  async #prune(): Promise<number> {
    const result = await this.#run(
      "pruneEvents",
      () => this.#client().unsafe(EVENT_SQL.prune, [this.#keepEvents, this.#keepSeconds] as never[]),
    );
    return result.count;
  }

  /** {@inheritDoc EventReplay.readAfter} */
  async readAfter(after: string, limit: number): Promise<EventLogPage> {
    // Numbered first, so that every change committed before this call is in the page; and the end
    // first: an event up to it that the read below lacks was pruned, not yet to come.
    const lastId = await this.#numbering.run();
    const rows = limit === 0 ? [] : await this.#client().unsafe(EVENT_SQL.after, [after, limit] as never[]);
    return {
      lastId: String(lastId),
      events: rows.map((event) => ({ id: String(event.id), event: JSON.parse(String(event.event)) })),
    };
  }

  /** {@inheritDoc EventLog.follow} */
  async follow(listener: LoggedEventListener, options: FollowOptions = {}): Promise<EventLogFollower> {
    // Listening first, then the position: an event numbered after the position was read is
    // notified to a connection that already listens. The position is a numbering's end, so that
    // what was committed before this call is behind it, as it would be in a log of its own.
    await this.#listen();
    const position = await this.#numbering.run();
    const client = this.#client;
    const follower = new Follower(
      (after) => this.#run("followEvents", () => client().unsafe(EVENT_SQL.after, [String(after), BATCH] as never[])),
      this.origin,
      listener,
      options.onError ?? (() => {}),
      position,
    );
    this.#followers.add(follower);
    follower.closed.then(() => {
      this.#followers.delete(follower);
      if (this.#followers.size === 0) this.#stop().catch(() => {});
    });
    // The poll also brings the listening connection back after the database was away, and numbers
    // what a writer left unnumbered (its numbering failed, or its process went away) before the
    // followers read. They read even when the numbering failed: a follower tells an outage once.
    this.#timer ??= setInterval(() => {
      this.#listen().catch(() => {});
      this.#numbering.run().then(() => this.#wake(), () => this.#wake());
    }, this.#pollIntervalMs);
    return follower;
  }

  /** Stops every follower and the listening connection (the store is closing). */
  async close(): Promise<void> {
    await Promise.all([...this.#followers].map((follower) => follower.close()));
    await this.#stop();
  }

  /**
   * Settles once the writes' events are numbered, or their numbering failed: the one waiting for
   * its interval runs now (the store is closing).
   */
  numbered(): Promise<void> {
    if (this.#writesNumbering !== undefined) this.#numberWrites();
    return this.#numbering.settled();
  }

  #wake(): void {
    for (const follower of this.#followers) follower.trigger();
  }

  // LISTEN on the listening connection, unless it already does; once it does, every follower reads,
  // for what was committed while it did not.
  #listen(): Promise<void> {
    if (this.#makeListener === null || this.#listening) return Promise.resolve();
    this.#subscribing ??= (async () => {
      this.#listener ??= this.#makeListener!({
        onnotify: (channel) => {
          if (channel === this.#channel) this.#wake();
        },
        onclose: () => (this.#listening = false),
      });
      try {
        await this.#listener.unsafe(`LISTEN "${this.#channel}"`);
      } catch (error) {
        // A fresh client next time: postgres.js can leave a connection that cannot connect again.
        const broken = this.#listener;
        this.#listener = null;
        await broken?.end({ timeout: 0 }).catch(() => {});
        throw error;
      }
      this.#listening = true;
      this.#wake();
    })().finally(() => (this.#subscribing = null));
    return this.#subscribing;
  }

  async #stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    const listener = this.#listener;
    this.#listener = null;
    this.#listening = false;
    await listener?.end({ timeout: 1 }).catch(() => {});
  }
}

/**
 * Runs `work` one run at a time: a call while none is waiting to start gets a new run, started once
 * the one under way is done; a call while one waits gets that one. Either way its run starts after
 * the call, and runs asked for meanwhile fold into one.
 */
class SerialRun<T> {
  readonly #work: () => Promise<T>;
  #tail: Promise<unknown> = Promise.resolve();
  #waiting: Promise<T> | null = null;

  constructor(work: () => Promise<T>) {
    this.#work = work;
  }

  run(): Promise<T> {
    if (this.#waiting !== null) return this.#waiting;
    const next = this.#tail.then(() => {
      this.#waiting = null;
      return this.#work();
    });
    this.#waiting = next;
    this.#tail = next.catch(() => {});
    return next;
  }

  async settled(): Promise<void> {
    await this.#tail;
  }
}

class Follower implements EventLogFollower {
  readonly #readAfter: (after: bigint) => Promise<readonly Record<string, unknown>[]>;
  readonly #origin: string;
  readonly #listener: LoggedEventListener;
  readonly #onError: (error: unknown) => void;
  #last: bigint;
  #reading: Promise<void> | null = null;
  #again = false;
  #done = false;
  #failing = false;
  #closing: Promise<void> | null = null;
  #markClosed!: () => void;
  readonly closed: Promise<void> = new Promise((resolve) => (this.#markClosed = resolve));

  constructor(
    readAfter: (after: bigint) => Promise<readonly Record<string, unknown>[]>,
    origin: string,
    listener: LoggedEventListener,
    onError: (error: unknown) => void,
    last: bigint,
  ) {
    this.#readAfter = readAfter;
    this.#origin = origin;
    this.#listener = listener;
    this.#onError = onError;
    this.#last = last;
  }

  // One read at a time; a trigger during a read makes it read again when it is done.
  trigger(): void {
    if (this.#done) return;
    if (this.#reading !== null) {
      this.#again = true;
      return;
    }
    this.#reading = (async () => {
      do {
        this.#again = false;
        await this.#read();
      } while (this.#again && !this.#done);
    })().finally(() => (this.#reading = null));
  }

  async #read(): Promise<void> {
    try {
      for (;;) {
        const rows = await this.#readAfter(this.#last);
        this.#failing = false;
        for (const row of rows) {
          if (this.#done) return;
          const id = BigInt(String(row.id));
          if (id !== this.#last + 1n) {
            this.#onError(new Error(`events ${this.#last + 1n} to ${id - 1n} were pruned before they were read`));
          }
          this.#last = id;
          let event: LifecycleEvent;
          try {
            event = JSON.parse(String(row.event));
          } catch (error) {
            this.#onError(error);
            continue;
          }
          try {
            this.#listener(event, { id: String(id), own: row.origin === this.#origin });
          } catch {
            // A broken listener must not stop the log.
          }
        }
        if (rows.length < BATCH) return;
      }
    } catch (error) {
      // The database is away: told once per outage, and read again at the next notification or poll.
      if (!this.#failing) this.#onError(error);
      this.#failing = true;
    }
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#done = true;
      await this.#reading?.catch(() => {});
      this.#markClosed();
    })();
    return this.#closing;
  }
}
