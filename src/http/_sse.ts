/**
 * Lifecycle events as server-sent events.
 *
 * @module
 */

import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import type { FeedItem } from "../event_feed.ts";
import type { SessionOrchestrator } from "../orchestrator.ts";
import type { ScopedOrchestrator } from "../scope.ts";

/** Events a slow client may fall behind by before it is disconnected, so one stuck reader cannot grow memory. */
export const MAX_PENDING_EVENTS = 10_000;

const KEEP_ALIVE_MS = 15_000;

/**
 * Streams the orchestrator's event feed (see `openEventFeed`) from `lastEventId` to the client:
 * each event as `event: <type>`, its durable id in `id:` and the event as JSON in `data:`. A first
 * `ready` event tells the client it is subscribed; its `id:` is the position the stream is complete
 * from, so a client that reconnects before any event still misses nothing. Events no longer kept
 * come as one `gap` event. A create's progress comes live as `session.progress` events with no
 * `id:` (they are never replayed, and leave the resume position as it was). The stream ends when
 * the client goes away or `signal` aborts (the server is shutting down). A bad `lastEventId`
 * rejects (`InvalidInput`) before anything is sent. With `view`, only the events its scope sees
 * are sent (a scoped token's: those of its sessions).
 */
export async function eventStream(
  c: Context,
  orchestrator: SessionOrchestrator,
  lastEventId: string | undefined,
  signal: AbortSignal | undefined,
  view: ScopedOrchestrator | null = null,
): Promise<Response> {
  let abort: (() => void) | null = null;
  // A create's progress comes many times for one session, whose place in the scope does not change meanwhile.
  const creates = new Map<string, boolean>();
  const sees = async (scope: ScopedOrchestrator, item: Exclude<FeedItem, { kind: "gap" }>): Promise<boolean> => {
    if (item.kind === "event") return await scope.sees(item.event);
    const known = creates.get(item.event.sessionId);
    if (known !== undefined) return known;
    const answer = await scope.sees(item.event);
    if (creates.size >= 1000) creates.clear();
    creates.set(item.event.sessionId, answer);
    return answer;
  };
  // Opened before the response starts: a refused id is an error answer, and no change made after
  // this request arrived is missed.
  const feed = await orchestrator.openEventFeed({
    after: lastEventId ?? null,
    maxPending: MAX_PENDING_EVENTS,
    onOverflow: () => abort?.(),
  });
  return streamSSE(c, async (stream) => {
    const finish = () => {
      feed.close();
      // A reader that stopped reading leaves a write waiting on a full socket forever; aborting the
      // stream ends that write, so shutdown is not held up.
      stream.abort();
    };
    abort = finish;
    stream.onAbort(finish);
    c.req.raw.signal?.addEventListener("abort", finish, { once: true });
    signal?.addEventListener("abort", finish, { once: true });
    if (signal?.aborted || c.req.raw.signal?.aborted) finish();
    try {
      await stream.writeSSE({
        event: "ready",
        data: JSON.stringify({ lastEventId: feed.position }),
        id: feed.position,
      });
      for (;;) {
        const items = await feed.next(KEEP_ALIVE_MS);
        if (items === null) break;
        // A comment line keeps proxies and idle timeouts from closing a quiet stream.
        if (items.length === 0) await stream.write(": keep-alive\n\n");
        for (const item of items) {
          if (view !== null && item.kind !== "gap" && !(await sees(view, item))) continue;
          await stream.writeSSE(frame(item));
        }
      }
    } finally {
      feed.close();
      signal?.removeEventListener("abort", finish);
    }
  });
}

function frame(item: FeedItem): { event: string; data: string; id?: string } {
  if (item.kind === "event") return { event: item.event.type, data: JSON.stringify(item.event), id: item.id };
  // No `id:` line: a transient event leaves the client's Last-Event-ID as it was, so a resume is unaffected.
  if (item.kind === "transient") return { event: item.event.type, data: JSON.stringify(item.event) };
  const data = {
    after: item.after,
    through: item.through,
    message: `the events after ${item.after} up to ${item.through} are no longer kept; what they changed is missed`,
  };
  return { event: "gap", data: JSON.stringify(data), id: item.through };
}
