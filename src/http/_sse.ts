/**
 * Lifecycle events as server-sent events.
 *
 * @module
 */

import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import type { LifecycleEvent, LifecycleEvents } from "../events.ts";

/** Events a slow client may fall behind by before it is disconnected, so one stuck reader cannot grow memory. */
export const MAX_PENDING_EVENTS = 10_000;

const KEEP_ALIVE_MS = 15_000;

/**
 * Streams every event emitted on `events` to the client, in order, each as `event: <type>` with
 * the event as JSON in `data:` and a running `id:`. A first `ready` event tells the client it is
 * subscribed, so it knows that every change from then on will reach it. The stream ends when the
 * client goes away or `signal` aborts (the server is shutting down).
 */
export function eventStream(c: Context, events: LifecycleEvents, signal: AbortSignal | undefined): Response {
  return streamSSE(c, async (stream) => {
    const pending: LifecycleEvent[] = [];
    let wake: (() => void) | null = null;
    let done = false;
    const rouse = () => {
      const resolve = wake;
      wake = null;
      resolve?.();
    };
    const finish = () => {
      if (done) return;
      done = true;
      rouse();
      // A reader that stopped reading leaves a write waiting on a full socket forever; aborting the
      // stream ends that write, so the subscription is released and shutdown is not held up.
      stream.abort();
    };
    // Subscribed before the first await: nothing emitted after the response starts is missed.
    const unsubscribe = events.subscribe((event) => {
      if (pending.length >= MAX_PENDING_EVENTS) return finish();
      pending.push(event);
      rouse();
    });
    stream.onAbort(finish);
    c.req.raw.signal?.addEventListener("abort", finish, { once: true });
    signal?.addEventListener("abort", finish, { once: true });
    if (signal?.aborted) finish();
    let id = 0;
    try {
      await stream.writeSSE({ event: "ready", data: "{}" });
      while (!done) {
        while (pending.length > 0 && !done) {
          const event = pending.shift()!;
          await stream.writeSSE({ event: event.type, data: JSON.stringify(event), id: String(++id) });
        }
        if (done) break;
        let timer: ReturnType<typeof setTimeout> | undefined;
        const woken = await new Promise<boolean>((resolve) => {
          wake = () => resolve(true);
          timer = setTimeout(() => resolve(false), KEEP_ALIVE_MS);
        });
        clearTimeout(timer);
        wake = null;
        // A comment line keeps proxies and idle timeouts from closing a quiet stream.
        if (!woken && !done) await stream.write(": keep-alive\n\n");
      }
    } finally {
      unsubscribe();
      signal?.removeEventListener("abort", finish);
    }
  });
}
